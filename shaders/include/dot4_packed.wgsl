// The int8 matmul's inner product (shaders/matmul_int8.wgsl) with WGSL's packed_4x8_integer_dot_product
// language feature: one dot4I8Packed (SPIR-V OpSDot with DotProductInput4x8BitPacked where the device has
// it). Both words are signed int8: the activation bytes are q_x − off (0..127 on the 7-bit grid, where
// they are q_x itself; q_x − 128 on the 8-bit one), so the integer equals
// shaders/include/dot4_unpack.wgsl's. Prepended first (a `requires` precedes every declaration).
requires packed_4x8_integer_dot_product;

fn dot4(a: u32, b: u32) -> i32 {
    return dot4I8Packed(a, b);
}

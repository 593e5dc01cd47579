// The int8 matmul's inner product (shaders/matmul_int8.wgsl) with WGSL's packed_4x8_integer_dot_product
// language feature: one dot4I8Packed (SPIR-V OpSDot with DotProductInput4x8BitPacked where the device has
// it). The activation bytes are 0..127, so read as signed int8 they are the same values, and the integer
// equals shaders/include/dot4_unpack.wgsl's. Prepended first (a `requires` precedes every declaration).
requires packed_4x8_integer_dot_product;

fn dot4(a: u32, b: u32) -> i32 {
    return dot4I8Packed(a, b);
}

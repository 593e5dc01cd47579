// The int8 matmul's inner product (shaders/matmul_int8.wgsl), portable: Σ of the four products of a word
// of int8 activations (q_x − off: 0..127 on the 7-bit grid, −128..127 on the 8-bit one) and a word of
// int8 weights, both sign-extended with shifts. Prepended where WGSL's packed_4x8_integer_dot_product
// language feature is missing; shaders/include/dot4_packed.wgsl otherwise. Both give the same integer
// (every product and sum is exact in i32).
fn dot4(a: u32, b: u32) -> i32 {
    var s = 0;
    for (var e = 0u; e < 4u; e++) {
        let xa = bitcast<i32>(a << (24u - 8u * e)) >> 24u;
        let wb = bitcast<i32>(b << (24u - 8u * e)) >> 24u;
        s += xa * wb;
    }
    return s;
}

//! The int8 product `acc (m, n) = xq (m, k) · wᵀ` (activations 7-bit unsigned in `[0, 127]`, weights
//! int8), equal as integers to [`crate::cpu::quant::gemm_i8_scalar`].
//!
//! SIMD128: 16 activations and 16 weights are widened to i16 and multiplied pairwise with
//! `i32x4.dot_i16x8_s` (exact: |q_x · q_w| ≤ 127 · 128), in both wasm builds (see [`dot16`] for why the
//! relaxed build does not use `i32x4.relaxed_dot_i8x16_i7x16_add_s` yet). One row of activations against
//! four weight rows at a time; the `k % 16` tail and the `n % 4` columns are summed in scalars.

use core::arch::wasm32::*;

/// `acc + Σ` of four adjacent products per lane. The relaxed-SIMD build uses this same SIMD128 sequence:
/// with `i32x4.relaxed_dot_i8x16_i7x16_add_s` (weights as the i8 operand, activations as the i7 one) the
/// random-shape tests below were equal to the scalar kernel under node 20, but a whole int8 model's logits
/// were not (tests/simd_int8.rs `int8_model_logits_match_scalar`, 2026-11-30) — not understood yet, so it
/// is not used.
#[inline(always)]
unsafe fn dot16(acc: v128, x: v128, w: v128) -> v128 {
    let lo = i32x4_dot_i16x8(u16x8_extend_low_u8x16(x), i16x8_extend_low_i8x16(w));
    let hi = i32x4_dot_i16x8(u16x8_extend_high_u8x16(x), i16x8_extend_high_i8x16(w));
    i32x4_add(acc, i32x4_add(lo, hi))
}

#[inline(always)]
fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

#[inline(always)]
fn tail(x: &[u8], w: &[i8]) -> i32 {
    x.iter().zip(w).map(|(&a, &b)| a as i32 * b as i32).sum()
}

/// `acc (m, n) = xq (m, k) · wᵀ` in i32 (`xq` in `[0, 127]`, `w (n, k)` int8); see the module docs.
pub fn gemm_i8(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    if xq.len() < m * k || w.len() < n * k || acc.len() < m * n {
        return crate::cpu::quant::gemm_i8_scalar(xq, w, acc, m, k, n);
    }
    let kv = k / 16 * 16;
    for i in 0..m {
        let x = &xq[i * k..(i + 1) * k];
        let out = &mut acc[i * n..(i + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let rows = [&w[j * k..(j + 1) * k], &w[(j + 1) * k..(j + 2) * k], &w[(j + 2) * k..(j + 3) * k], &w[(j + 3) * k..(j + 4) * k]];
            let mut a = [i32x4_splat(0); 4];
            let mut kk = 0;
            while kk < kv {
                // SAFETY: kk + 16 ≤ k, and every slice above has k elements.
                unsafe {
                    let xv = v128_load(x.as_ptr().add(kk) as *const v128);
                    for (c, r) in rows.iter().enumerate() {
                        a[c] = dot16(a[c], xv, v128_load(r.as_ptr().add(kk) as *const v128));
                    }
                }
                kk += 16;
            }
            for c in 0..4 {
                out[j + c] = hsum_i32(a[c]).wrapping_add(tail(&x[kv..], &rows[c][kv..]));
            }
            j += 4;
        }
        while j < n {
            let r = &w[j * k..(j + 1) * k];
            let mut a = i32x4_splat(0);
            let mut kk = 0;
            while kk < kv {
                // SAFETY: as above.
                unsafe {
                    a = dot16(a, v128_load(x.as_ptr().add(kk) as *const v128), v128_load(r.as_ptr().add(kk) as *const v128));
                }
                kk += 16;
            }
            out[j] = hsum_i32(a).wrapping_add(tail(&x[kv..], &r[kv..]));
            j += 1;
        }
    }
}

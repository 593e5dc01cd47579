//! Linear layers over f16 and int8 weights ([`crate::model::param::Weight`]), with the semantics of
//! [`crate::quant`]. The integer product `Σ q_x · q_w` is the only part with a fast path
//! (`simd128::gemm_i8`: `i32x4.dot_i16x8_s`, or `i32x4.relaxed_dot_i8x16_i7x16_add_s` with relaxed SIMD);
//! [`gemm_i8_scalar`] is its oracle and the results are equal as integers. Quantizing the activations and
//! the float epilogue are shared scalar code, so every path gives the same bits.

use crate::config::Activation;
use crate::model::param::{HalfWeight, Int8Weight, Weight};
use crate::quant::quantize_activations;
use crate::weights::f16_to_f32;
use std::cell::RefCell;

#[derive(Default)]
struct Scratch {
    xq: Vec<u8>,     // (m, k) quantized activations
    acc: Vec<i32>,   // (m, n) integer products
    widened: Vec<f32>, // (n, k) f16 weights widened to f32
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `acc (m, n) = xq (m, k) · wᵀ` in i32, `w (n, k)` int8: the reference.
pub fn gemm_i8_scalar(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        let x = &xq[i * k..(i + 1) * k];
        for j in 0..n {
            let wr = &w[j * k..(j + 1) * k];
            acc[i * n + j] = x.iter().zip(wr).map(|(&a, &b)| a as i32 * b as i32).sum();
        }
    }
}

/// `acc (m, n) = xq (m, k) · wᵀ`, the fastest kernel this build has (see [`super::kernels`]), in blocks of
/// rows over the thread pool where there is one ([`super::par`]; integer sums: exact in any split).
pub fn gemm_i8(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    let t = super::par::threads();
    if t > 1 && m >= 2 * t && m * k * n >= 1 << 16 && xq.len() >= m * k && w.len() >= n * k && acc.len() >= m * n {
        let blocks = super::par::split(m, t, 4);
        let dst = SharedI32(acc.as_mut_ptr());
        return super::par::run(blocks.len(), &|i| {
            let r = blocks[i].clone();
            // SAFETY: row blocks of `acc (m, n)` are disjoint and in bounds (checked above).
            let a = unsafe { std::slice::from_raw_parts_mut(dst.get().add(r.start * n), r.len() * n) };
            gemm_i8_one(&xq[r.start * k..r.end * k], w, a, r.len(), k, n);
        });
    }
    gemm_i8_one(xq, w, acc, m, k, n)
}

/// A pointer to `acc` that the row-block tasks of [`gemm_i8`] share (each writes its own rows).
#[derive(Clone, Copy)]
struct SharedI32(*mut i32);
impl SharedI32 {
    fn get(self) -> *mut i32 {
        self.0
    }
}
// SAFETY: see gemm_i8: disjoint row blocks.
unsafe impl Send for SharedI32 {}
unsafe impl Sync for SharedI32 {}

fn gemm_i8_one(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if super::fast() {
        return super::simd128::gemm_i8(xq, w, acc, m, k, n);
    }
    gemm_i8_scalar(xq, w, acc, m, k, n)
}

/// `y = f32(raw) · f32(sx · sw) + bias` with one rounding of the product (exact in f64), as fbgemm's fma.
#[inline]
fn dequantize(raw: i32, multiplier: f32, bias: f32) -> f32 {
    ((raw as f32) as f64 * multiplier as f64 + bias as f64) as f32
}

/// `out = act(x · wᵀ + bias)` (or with `accumulate` `out += x · wᵀ + bias`) for an int8 weight, the
/// activations `x (m, k)` quantized dynamically over the whole tensor.
#[allow(clippy::too_many_arguments)]
pub fn linear_int8(x: &[f32], w: &Int8Weight, bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        s.xq.resize(m * k, 0);
        s.acc.resize(m * n, 0);
        let out = &mut out[..m * n];
        let Some(p) = quantize_activations(&x[..m * k], &mut s.xq) else {
            out.iter_mut().for_each(|v| *v = f32::NAN);
            return;
        };
        gemm_i8(&s.xq, &w.q, &mut s.acc, m, k, n);
        let mult: Vec<f32> = w.scales.iter().map(|&sw| p.scale * sw).collect(); // (n)
        for (orow, arow) in out.chunks_exact_mut(n).zip(s.acc.chunks_exact(n)) {
            for j in 0..n {
                let raw = arow[j].wrapping_sub(p.zero_point.wrapping_mul(w.row_sums[j]));
                let y = dequantize(raw, mult[j], bias.map_or(0.0, |b| b[j]));
                if accumulate {
                    orow[j] += y;
                } else {
                    orow[j] = y;
                }
            }
        }
        if let (Some(a), false) = (act, accumulate) {
            super::activation_inplace(out, a);
        }
    })
}

/// The same for an f16 weight: widened to f32 (exact), then the f32 kernels.
#[allow(clippy::too_many_arguments)]
pub fn linear_f16(x: &[f32], w: &HalfWeight, bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    let widened = SCRATCH.with(|s| std::mem::take(&mut s.borrow_mut().widened));
    let mut widened = widened;
    widened.clear();
    widened.extend(w.bits.iter().map(|&b| f16_to_f32(b)));
    super::linear_fused(x, &widened, bias, out, m, k, n, act, accumulate);
    SCRATCH.with(|s| s.borrow_mut().widened = widened);
}

/// [`super::linear_fused`] for any [`Weight`] storage.
#[allow(clippy::too_many_arguments)]
pub fn linear_weight(x: &[f32], w: &Weight, bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    match w {
        Weight::F32(p) => super::linear_fused(x, p.data(), bias, out, m, k, n, act, accumulate),
        Weight::F16(h) => linear_f16(x, h, bias, out, m, k, n, act, accumulate),
        Weight::Int8(q) => linear_int8(x, q, bias, out, m, k, n, act, accumulate),
    }
}

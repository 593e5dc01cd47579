//! Linear layers over f16 and int8 weights ([`crate::model::param::Weight`]), with the semantics of
//! [`crate::quant`]. The reference int8 linear is scalar: [`crate::quant::quantize_activations`],
//! [`gemm_i8_scalar`] (the integer oracle), then the dequantizing epilogue. SIMD builds run
//! `simd128::int8` instead — weights packed once ([`PackedInt8`]), activations quantized into padded rows,
//! register-tiled `i32x4.relaxed_dot_i8x16_i7x16_add_s` / `i32x4.dot_i16x8_s` microkernels with the
//! epilogue fused — and give the same bits: the integer sums are exact, the float epilogue does the same
//! operations in the same order.

use crate::config::Activation;
use crate::model::param::{ActivationGrid, HalfWeight, Int8Weight, Weight};
use crate::quant::quantize_activations_grid;
use crate::weights::f16_to_f32;
pub use encoder_lens_kernels::packed::{gemm_i8_scalar, PackedInt8, KSTEP, PANEL};
use std::cell::RefCell;

#[derive(Default)]
struct Scratch {
    xq: Vec<u8>,     // (m, k) quantized activations; (m, kp) rows padded with zeros on the packed path (u16 values for Dot16)
    acc: Vec<i32>,   // (m, n) integer products
    widened: Vec<f32>, // (n, k) f16 weights widened to f32
    outlier: Vec<f32>, // (m, n) the outlier columns' f32 product
    outlier_t: Vec<f32>, // (c, n) the outlier weights transposed
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    zrs: Vec<i32>,   // (np) zero point · weight row sum (packed path)
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    mult: Vec<f64>,  // (np) f32(scale_x · scale_w) as f64 (packed path)
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    bias: Vec<f64>,  // (np) bias as f64 (packed path)
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    mult32: Vec<f32>, // (np) f32(scale_x · scale_w) (packed path, 8-bit grid)
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    bias32: Vec<f32>, // (np) bias (packed path, 8-bit grid)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
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

/// qnnpack's epilogue: `y = f32(f32(raw) · f32(sx · sw)) + bias`, the product rounded, then the add.
#[inline]
fn dequantize_u8(raw: i32, multiplier: f32, bias: f32) -> f32 {
    (raw as f32) * multiplier + bias
}

/// `t (m, n) = x[:, columns] · woᵀ` for an int8 weight's outlier columns (`x (m, k)`, `wo (n, c)`), in f32:
/// `t[r, o] = (…((0 + x[r, col₀]·wo[o, 0]) + x[r, col₁]·wo[o, 1]) + …)`, each product rounded, then the add
/// (no fma), columns in order. `wt` is scratch for `wo` transposed. Every CPU path runs this one function,
/// so its bits do not depend on the kernels; out-of-range columns (never in a loaded weight) read 0.
#[allow(clippy::too_many_arguments)]
pub fn outlier_product(x: &[f32], k: usize, columns: &[u32], wo: &[f32], m: usize, n: usize, wt: &mut Vec<f32>, t: &mut Vec<f32>) {
    let c = columns.len();
    wt.clear();
    wt.extend((0..c * n).map(|i| wo.get((i % n) * c + i / n).copied().unwrap_or(0.0))); // (c, n)
    t.clear();
    t.resize(m * n, 0.0);
    for (r, tr) in t.chunks_exact_mut(n.max(1)).enumerate().take(m) {
        for (j, &col) in columns.iter().enumerate() {
            let xv = x.get(r * k + col as usize).copied().filter(|_| (col as usize) < k).unwrap_or(0.0);
            for (o, &wv) in tr.iter_mut().zip(&wt[j * n..(j + 1) * n]) {
                *o += xv * wv;
            }
        }
    }
}

/// `out = act(x · wᵀ + bias)` (or with `accumulate` `out += x · wᵀ + bias`) for an int8 weight, the
/// activations `x (m, k)` quantized dynamically over the whole tensor on the weight's grid (its outlier
/// columns left out of the range and computed in f32: [`outlier_product`], added to the dequantized
/// output before the activation or the residual add).
#[allow(clippy::too_many_arguments)]
pub fn linear_int8(x: &[f32], w: &Int8Weight, bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if super::fast()
        && m * k * n > 0
        && w.shape == [n, k]
        && w.q.len() == n * k
        && w.scales.len() >= n
        && w.row_sums.len() >= n
        && x.len() >= m * k
        && out.len() >= m * n
        && bias.is_none_or(|b| b.len() >= n)
    {
        return linear_int8_packed(x, w, bias, out, m, k, n, act, accumulate);
    }
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        s.xq.resize(m * k, 0);
        s.acc.resize(m * n, 0);
        let out = &mut out[..m * n];
        let cols = w.outlier_columns();
        let Some(p) = quantize_activations_grid(&x[..m * k], k, &mut s.xq, w.activation, cols) else {
            out.iter_mut().for_each(|v| *v = f32::NAN);
            return;
        };
        if w.activation == ActivationGrid::U8 {
            // 8-bit activations are not a valid operand of the relaxed dot product `gemm_i8` may pick.
            gemm_i8_scalar(&s.xq, &w.q, &mut s.acc, m, k, n);
        } else {
            gemm_i8(&s.xq, &w.q, &mut s.acc, m, k, n);
        }
        if let Some(o) = &w.outliers {
            outlier_product(x, k, &o.columns, o.weight.data(), m, n, &mut s.outlier_t, &mut s.outlier);
        }
        let extra = w.outliers.is_some().then_some(&s.outlier[..]); // (m, n)
        let u8_grid = w.activation == ActivationGrid::U8;
        let mult: Vec<f32> = w.scales.iter().map(|&sw| p.scale * sw).collect(); // (n)
        for (r, (orow, arow)) in out.chunks_exact_mut(n).zip(s.acc.chunks_exact(n)).enumerate() {
            for j in 0..n {
                let raw = arow[j].wrapping_sub(p.zero_point.wrapping_mul(w.row_sums[j]));
                let b = bias.map_or(0.0, |b| b[j]);
                let mut y = if u8_grid { dequantize_u8(raw, mult[j], b) } else { dequantize(raw, mult[j], b) };
                if let Some(e) = extra {
                    y += e[r * n + j];
                }
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

/// [`linear_int8`] on the SIMD path: activations quantized into padded rows, then the packed microkernels
/// with the fused epilogue over row blocks (tall inputs) or column panels (short ones) of the thread pool.
/// Every output element is computed by the same code in any split, so the bits do not depend on it.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::too_many_arguments)]
fn linear_int8_packed(x: &[f32], w: &Int8Weight, bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    use super::simd128::int8 as simd;
    // The relaxed dot products take a 7-bit activation operand: 8-bit activations run `Dot16`.
    let kernel = if w.activation == ActivationGrid::U8 { simd::Int8Kernel::Dot16 } else { simd::kernel_in_use() };
    let pw = simd::Panels::of(kernel, w);
    let (kp, panels) = (pw.kp(), pw.columns().1);
    let np = panels * PANEL;
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        let row = kp * pw.x_bytes(); // bytes per quantized row
        if s.xq.len() < m * row {
            s.xq.resize(m * row, 0);
        }
        let out = &mut out[..m * n];
        let wide = pw.x_bytes() == 2;
        let Some(p) = super::simd128::act_quant::quantize(&x[..m * k], m, k, kp, &mut s.xq, w.activation, w.outlier_columns(), wide) else {
            out.iter_mut().for_each(|v| *v = f32::NAN);
            return;
        };
        if let Some(o) = &w.outliers {
            outlier_product(x, k, &o.columns, o.weight.data(), m, n, &mut s.outlier_t, &mut s.outlier);
        }
        let u8_grid = w.activation == ActivationGrid::U8;
        s.zrs.clear();
        s.zrs.extend((0..np).map(|j| if j < n { p.zero_point.wrapping_mul(w.row_sums[j]) } else { 0 }));
        let mult = |j: usize| if j < n { p.scale * w.scales[j] } else { 0.0 };
        let b = |j: usize| match bias {
            Some(b) if j < n => b[j],
            _ => 0.0,
        };
        for v in [&mut s.mult, &mut s.bias] {
            v.clear();
        }
        for v in [&mut s.mult32, &mut s.bias32] {
            v.clear();
        }
        if u8_grid {
            s.mult32.extend((0..np).map(mult));
            s.bias32.extend((0..np).map(b));
        } else {
            s.mult.extend((0..np).map(|j| mult(j) as f64));
            s.bias.extend((0..np).map(|j| b(j) as f64));
        }
        let e = simd::Epilogue {
            zrs: &s.zrs,
            mult: &s.mult,
            bias: &s.bias,
            mult32: &s.mult32,
            bias32: &s.bias32,
            u8_grid,
            extra: w.outliers.is_some().then(|| &s.outlier[..m * n]),
            act: if accumulate { None } else { act },
            accumulate,
        };
        let xq = &s.xq[..m * row];
        let dst = super::par::SharedMut(out.as_mut_ptr());
        let t = super::par::threads();
        if t > 1 && m * k * n >= 1 << 16 {
            // Rows when each thread gets at least 32 of them, else panels (a short input reads all of `w` per
            // row block: split the weights instead).
            let by_rows = m >= 32 * t;
            let blocks = if by_rows { super::par::split(m, t, 4) } else { super::par::split(panels, t, 1) };
            return super::par::run(blocks.len(), &|i| {
                let (rows, cols) = if by_rows { (blocks[i].clone(), 0..panels) } else { (0..m, blocks[i].clone()) };
                // SAFETY: `out (m, n)` is in bounds (checked by linear_int8); tasks write disjoint rows or panels.
                unsafe { simd::linear_packed(pw, xq, rows, cols, &e, dst.get()) };
            });
        }
        // SAFETY: as above, one task.
        unsafe { simd::linear_packed(pw, xq, 0..m, 0..panels, &e, dst.get()) };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed layout, element by element: weight `(j, kk)` sits in panel `j / 8`, step `kk / 4`, column
    /// group `(j % 8) / 4`, lane `j % 4`, byte `kk % 4`; padding (k to a multiple of 4, columns to 8) is zero.
    #[test]
    fn packed_int8_layout() {
        let (n, k) = (11, 6); // two panels (the second 3 of 8 columns), k padded 6 → 8
        let q: Vec<i8> = (0..n * k).map(|i| (i as i32 % 250 - 120) as i8).collect();
        let p = PackedInt8::<i8>::new(&q, n, k);
        assert_eq!((p.n, p.k, p.kp, p.panels(), p.data.len()), (11, 6, 8, 2, 2 * 8 * 8));
        let mut seen = 0;
        for (idx, &v) in p.data.iter().enumerate() {
            let (panel, rest) = (idx / (PANEL * p.kp), idx % (PANEL * p.kp));
            let (step, rest) = (rest / (KSTEP * PANEL), rest % (KSTEP * PANEL));
            let (group, rest) = (rest / 16, rest % 16);
            let (lane, byte) = (rest / KSTEP, rest % KSTEP);
            let (j, kk) = (panel * PANEL + group * 4 + lane, step * KSTEP + byte);
            let want = if j < n && kk < k { q[j * k + kk] } else { 0 };
            assert_eq!(v, want, "packed[{idx}] = weight ({j}, {kk})");
            seen += (j < n && kk < k) as usize;
        }
        assert_eq!(seen, n * k);
    }
}

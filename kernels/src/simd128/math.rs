//! Element-wise and per-row kernels: exp, softmax, LayerNorm, BatchNorm, GELU and the other activations, add.

use super::{grow, hmax, hsum, ld, madd, st, SCRATCH};
use crate::Activation;
use core::arch::wasm32::*;

/// `e^x`: Cephes `expf`'s range reduction, then `1 + r + r²·P(r)` with P of degree 4 fitted for relative
/// error on |r| ≤ ln2/2 (Cephes uses degree 5; over [−87, 88] both give 2.1e-7 in f32, the rounding's
/// share); 0 below −87.3, clamped above 88.3. Its multiply-adds go through [`madd`], so the relaxed build
/// runs them as FMAs (the SIMD128 build keeps the separate multiply and add).
#[inline(always)]
pub fn exp4(x: v128) -> v128 {
    // pmin / pmax (one x86 instruction each, where min / max are about seven for their NaN and ±0
    // rules) with `x` first keep a NaN `x`.
    let x = f32x4_pmin(x, f32x4_splat(88.376_26));
    let tiny = f32x4_lt(x, f32x4_splat(-87.336_54));
    let x = f32x4_pmax(x, f32x4_splat(-87.336_54));
    let n = f32x4_nearest(f32x4_mul(x, f32x4_splat(std::f32::consts::LOG2_E)));
    let r = madd(x, n, f32x4_splat(-0.693_359_4));
    let r = madd(r, n, f32x4_splat(2.121_944_4e-4));
    let mut p = f32x4_splat(1.381_473_4e-3);
    for c in [8.368_71e-3, 4.166_838_5e-2, 1.666_652_1e-1, 0.499_999_94] {
        p = madd(f32x4_splat(c), p, r);
    }
    let y = f32x4_add(madd(r, f32x4_mul(p, r), r), f32x4_splat(1.0));
    let pow2 = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23);
    v128_andnot(f32x4_mul(y, pow2), tiny)
}

/// `erf(x)` as the rational minimax approximation Eigen and XLA use for f32, `x · P(x²) / Q(x²)`
/// (absolute error ≤ 4e-7), and exactly ±1 from |x| ≥ 3.9 on (erf(3.9) = 1 − 3.5e-8), so that GELU's
/// `1 + erf` is exactly 0 in the far negative tail as with libm's `erff`. No `exp` and one division, where
/// Abramowitz & Stegun 7.1.26 needed both: this was most of what GELU cost in a matmul's epilogue.
#[inline(always)]
fn erf4(x: v128) -> v128 {
    let saturated = f32x4_ge(f32x4_abs(x), f32x4_splat(3.9));
    let unit = v128_or(f32x4_splat(1.0), v128_and(x, f32x4_splat(-0.0))); // ±1 with x's sign
    let x = f32x4_pmax(f32x4_splat(-3.9), f32x4_pmin(f32x4_splat(3.9), x));
    let x2 = f32x4_mul(x, x);
    // P and Q are independent chains, so their multiply-adds overlap.
    let mut p = f32x4_splat(-2.726_142_3e-10);
    let mut q = f32x4_splat(-1.456_607_2e-5);
    for c in [2.770_681_4e-8, -2.101_024e-6] {
        p = madd(f32x4_splat(c), p, x2);
    }
    for (cp, cq) in [(-5.692_506_4e-5, -2.133_740_6e-4), (-7.349_906_3e-4, -1.682_827e-3), (-2.954_6e-3, -7.373_329e-3), (-1.609_603_3e-2, -1.426_474e-2)] {
        p = madd(f32x4_splat(cp), p, x2);
        q = madd(f32x4_splat(cq), q, x2);
    }
    v128_bitselect(unit, f32x4_div(f32x4_mul(x, p), q), saturated)
}

/// `tanh(x) = sign(x) · (1 − 2 / (e^{2|x|} + 1))`.
#[inline(always)]
fn tanh4(x: v128) -> v128 {
    let sign = v128_and(x, f32x4_splat(-0.0));
    let e = exp4(f32x4_mul(f32x4_abs(x), f32x4_splat(2.0)));
    let e = f32x4_pmin(e, f32x4_splat(1e30)); // keeps 2/(e+1) finite at the clamp (and a NaN `e`)
    let y = f32x4_sub(f32x4_splat(1.0), f32x4_div(f32x4_splat(2.0), f32x4_add(e, f32x4_splat(1.0))));
    v128_or(y, sign)
}

#[inline(always)]
pub(super) fn act4(v: v128, act: Activation) -> v128 {
    match act {
        Activation::Relu => f32x4_pmax(v, f32x4_splat(0.0)), // `v < 0 ? 0 : v`: NaN stays NaN
        Activation::Gelu => {
            let e = erf4(f32x4_mul(v, f32x4_splat(std::f32::consts::FRAC_1_SQRT_2)));
            f32x4_mul(f32x4_mul(f32x4_splat(0.5), v), f32x4_add(f32x4_splat(1.0), e))
        }
        Activation::GeluTanh => {
            let x3 = f32x4_mul(f32x4_mul(v, v), v);
            let inner = f32x4_mul(f32x4_splat(0.797_884_6), f32x4_add(v, f32x4_mul(f32x4_splat(0.044_715), x3)));
            f32x4_mul(f32x4_mul(f32x4_splat(0.5), v), f32x4_add(f32x4_splat(1.0), tanh4(inner)))
        }
        Activation::Silu => f32x4_div(v, f32x4_add(f32x4_splat(1.0), exp4(f32x4_neg(v)))),
        Activation::Tanh => tanh4(v),
    }
}
/// Numerically stable softmax over one row, in place. An all `-inf` row becomes all zeros.
pub fn softmax_inplace(row: &mut [f32]) {
    let n = row.len();
    let v = n / 4 * 4;
    let p = row.as_mut_ptr();
    unsafe {
        let mut mx = f32x4_splat(f32::NEG_INFINITY);
        for i in (0..v).step_by(4) {
            mx = f32x4_max(mx, ld(p.add(i)));
        }
        let mut max = hmax(mx);
        for &x in &row[v..] {
            max = max.max(x);
        }
        if max == f32::NEG_INFINITY {
            row.iter_mut().for_each(|x| *x = 0.0);
            return;
        }
        let mv = f32x4_splat(max);
        let mut s = f32x4_splat(0.0);
        for i in (0..v).step_by(4) {
            let e = exp4(f32x4_sub(ld(p.add(i)), mv));
            st(p.add(i), e);
            s = f32x4_add(s, e);
        }
        let mut sum = hsum(s);
        for x in &mut row[v..] {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        let iv = f32x4_splat(inv);
        for i in (0..v).step_by(4) {
            st(p.add(i), f32x4_mul(ld(p.add(i)), iv));
        }
        for x in &mut row[v..] {
            *x *= inv;
        }
    }
}
/// LayerNorm over the last dimension `d` of `x (rows, d)`; see `scalar::layer_norm`.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: usize,
    d: usize,
    eps: f32,
    mut stats: Option<(&mut [f32], &mut [f32])>,
) {
    let ok = x.len() >= rows * d && out.len() >= rows * d && w.len() >= d && b.len() >= d
        && stats.as_ref().is_none_or(|(m, v)| m.len() >= rows && v.len() >= rows);
    if !ok {
        return crate::scalar::layer_norm(x, w, b, out, rows, d, eps, stats);
    }
    let v = d / 4 * 4;
    for r in 0..rows {
        let xr = &x[r * d..(r + 1) * d];
        let or = &mut out[r * d..(r + 1) * d];
        unsafe {
            let xp = xr.as_ptr();
            // One pass for the row's largest |x| and (assuming the row needs no scale) its sum; the row's
            // scale (scalar::ln_row_scale) is 1 unless |x| reaches 2^50, and then the sum is taken again.
            // Two accumulators per quantity halve the dependency chains.
            let v8 = d / 8 * 8;
            let (mut a0, mut a1) = (f32x4_splat(0.0), f32x4_splat(0.0));
            let (mut s0, mut s1) = (f32x4_splat(0.0), f32x4_splat(0.0));
            for i in (0..v8).step_by(8) {
                let (x0, x1) = (ld(xp.add(i)), ld(xp.add(i + 4)));
                // pmax skips a NaN, which the sum below carries into the row's output anyway.
                a0 = f32x4_pmax(a0, f32x4_abs(x0));
                a1 = f32x4_pmax(a1, f32x4_abs(x1));
                s0 = f32x4_add(s0, x0);
                s1 = f32x4_add(s1, x1);
            }
            if v > v8 {
                let x0 = ld(xp.add(v8));
                a0 = f32x4_pmax(a0, f32x4_abs(x0));
                s0 = f32x4_add(s0, x0);
            }
            let mut amax = hmax(f32x4_max(a0, a1));
            let mut sum = hsum(f32x4_add(s0, s1));
            for &t in &xr[v..] {
                amax = amax.max(t.abs());
                sum += t;
            }
            let sc = crate::scalar::ln_row_scale(amax);
            let sv = f32x4_splat(sc);
            let shift = if sc == 1.0 { 0.0 } else { xr[0] * sc };
            if sc != 1.0 {
                let shv = f32x4_splat(shift);
                let mut s = f32x4_splat(0.0);
                for i in (0..v).step_by(4) {
                    s = f32x4_add(s, f32x4_sub(f32x4_mul(ld(xp.add(i)), sv), shv));
                }
                sum = hsum(s);
                for &t in &xr[v..] {
                    sum += t * sc - shift;
                }
            }
            let mean = shift + sum / d as f32;
            let mv = f32x4_splat(mean);
            let (mut q0, mut q1) = (f32x4_splat(0.0), f32x4_splat(0.0));
            for i in (0..v8).step_by(8) {
                let c0 = f32x4_sub(f32x4_mul(ld(xp.add(i)), sv), mv);
                let c1 = f32x4_sub(f32x4_mul(ld(xp.add(i + 4)), sv), mv);
                q0 = madd(q0, c0, c0);
                q1 = madd(q1, c1, c1);
            }
            if v > v8 {
                let c0 = f32x4_sub(f32x4_mul(ld(xp.add(v8)), sv), mv);
                q0 = madd(q0, c0, c0);
            }
            let mut sq = hsum(f32x4_add(q0, q1));
            for &t in &xr[v..] {
                sq += (t * sc - mean) * (t * sc - mean);
            }
            let var = sq / d as f32;
            let rstd = 1.0 / (var + eps * sc * sc).max(f32::MIN_POSITIVE).sqrt();
            let rv = f32x4_splat(rstd);
            let op = or.as_mut_ptr();
            for i in (0..v).step_by(4) {
                let c = f32x4_sub(f32x4_mul(ld(xp.add(i)), sv), mv);
                let y = f32x4_mul(f32x4_mul(c, rv), ld(w.as_ptr().add(i)));
                st(op.add(i), f32x4_add(y, ld(b.as_ptr().add(i))));
            }
            for i in v..d {
                or[i] = (xr[i] * sc - mean) * rstd * w[i] + b[i];
            }
            if let Some((m, vv)) = stats.as_mut() {
                m[r] = mean / sc;
                vv[r] = (var / sc / sc).min(f32::MAX);
            }
        }
    }
}

/// BatchNorm1d in eval mode over the features of `x (rows, d)`; see `scalar::batch_norm_eval`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_eval(
    x: &[f32],
    mean: &[f32],
    var: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: usize,
    d: usize,
    eps: f32,
) {
    let ok = x.len() >= rows * d && out.len() >= rows * d && [mean, var, w, b].iter().all(|t| t.len() >= d);
    if !ok {
        return crate::scalar::batch_norm_eval(x, mean, var, w, b, out, rows, d, eps);
    }
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let scale = grow(&mut s.vec, d);
        for i in 0..d {
            scale[i] = w[i] / (var[i] + eps).sqrt();
        }
        let v = d / 4 * 4;
        for r in 0..rows {
            unsafe {
                let xp = x.as_ptr().add(r * d);
                let op = out.as_mut_ptr().add(r * d);
                for i in (0..v).step_by(4) {
                    let c = f32x4_sub(ld(xp.add(i)), ld(mean.as_ptr().add(i)));
                    st(op.add(i), f32x4_add(f32x4_mul(c, ld(scale.as_ptr().add(i))), ld(b.as_ptr().add(i))));
                }
            }
            for i in v..d {
                out[r * d + i] = (x[r * d + i] - mean[i]) * scale[i] + b[i];
            }
        }
    });
}

/// `a += b`, element-wise.
pub fn add_inplace(a: &mut [f32], b: &[f32]) {
    let n = a.len().min(b.len());
    let v = n / 4 * 4;
    unsafe {
        for i in (0..v).step_by(4) {
            let p = a.as_mut_ptr().add(i);
            st(p, f32x4_add(ld(p), ld(b.as_ptr().add(i))));
        }
    }
    for i in v..n {
        a[i] += b[i];
    }
}

/// Apply `act` element-wise, in place (SIMD128).
pub fn activation_inplace(x: &mut [f32], act: Activation) {
    let v = x.len() / 4 * 4;
    unsafe {
        for i in (0..v).step_by(4) {
            let p = x.as_mut_ptr().add(i);
            st(p, act4(ld(p), act));
        }
    }
    let tail = &mut x[v..];
    if !tail.is_empty() {
        let mut t = [0.0f32; 4];
        t[..tail.len()].copy_from_slice(tail);
        let y = act4(unsafe { ld(t.as_ptr()) }, act);
        unsafe { st(t.as_mut_ptr(), y) };
        let n = tail.len();
        tail.copy_from_slice(&t[..n]);
    }
}

//! The activation quantization in front of the int8 linear ([`super::int8`]) on wasm SIMD, equal to
//! [`crate::qparams::quantize_activations_grid`] bit for bit: one min/max scan over the input (outlier columns
//! left out), then one pass that scales, rounds, clamps and narrows 16 values at a time into rows padded
//! with zeros to the packed `k`, as bytes or (for the `i32x4.dot_i16x8_s` kernel) as 16-bit values.

use crate::qparams::ActivationGrid;
use crate::qparams::{choose_qparams_grid, ActQuant};
use core::arch::wasm32::*;

/// `(min, max)` of `x` (`(+inf, −inf)` when empty), `None` when a value is NaN or infinite.
fn min_max(x: &[f32]) -> Option<(f32, f32)> {
    // `f32x4.pmin` / `pmax` (one x86 instruction each, against about seven for `f32x4.min` / `max`, whose
    // NaN and ±0 rules take extra steps) pass a NaN lane over, so NaNs are caught by `a ≠ a` beside them;
    // an infinity is an extreme itself. The extremes are the same values as with min / max (a zero may
    // come out as +0 where min gives −0: the quantization parameters are the same for both).
    let (len, v) = (x.len(), x.len() / 4 * 4);
    let (mut lo4, mut hi4) = (f32x4_splat(f32::INFINITY), f32x4_splat(f32::NEG_INFINITY));
    let mut nan4 = i32x4_splat(0);
    let px = x.as_ptr();
    let mut i = 0;
    // SAFETY: i + 4 ≤ v ≤ len = x.len().
    unsafe {
        while i < v {
            let a = v128_load(px.add(i) as *const v128);
            lo4 = f32x4_pmin(lo4, a); // a < lo ? a : lo
            hi4 = f32x4_pmax(hi4, a); // hi < a ? a : hi
            nan4 = v128_or(nan4, f32x4_ne(a, a));
            i += 4;
        }
    }
    if v128_any_true(nan4) {
        return None;
    }
    let lanes = |v: v128| [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)];
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    // (every lane saw a value when v > 0; the initial ±inf must not count otherwise)
    let (lo_lanes, hi_lanes) = (lanes(lo4), lanes(hi4));
    let vector = if v > 0 { lo_lanes.iter().zip(&hi_lanes[..]) } else { lo_lanes[..0].iter().zip(&hi_lanes[..0]) };
    for (&a, &b) in vector.chain(x[v..len].iter().zip(&x[v..len])) {
        if !a.is_finite() || !b.is_finite() {
            return None;
        }
        lo = lo.min(a);
        hi = hi.max(b);
    }
    Some((lo, hi))
}

/// [`crate::qparams::input_range`] with [`min_max`] over each row's runs between the skipped columns.
fn input_range(x: &[f32], k: usize, skip: &[u32]) -> Option<(f32, f32)> {
    if skip.is_empty() {
        return min_max(x);
    }
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut fold = |seg: &[f32]| {
        let (a, b) = min_max(seg)?;
        lo = lo.min(a);
        hi = hi.max(b);
        Some(())
    };
    for row in x.chunks(k.max(1)) {
        let mut start = 0;
        for &c in skip {
            let c = (c as usize).min(row.len());
            if c < start {
                continue;
            }
            fold(&row[start..c])?;
            if row.get(c).is_some_and(|v| !v.is_finite()) {
                return None;
            }
            start = c + 1;
        }
        fold(&row[start.min(row.len())..])?;
    }
    Some((lo, hi))
}

/// Quantize `x (m, k)` as [`crate::qparams::quantize_activations_grid`] does (the same parameters and values,
/// bit for bit), into `q`: rows of `kp` values padded with zeros from `k` to `kp`, one byte each, or with
/// `wide` two (`u16`, little-endian: the `i32x4.dot_i16x8_s` kernel's operand, widened here once instead
/// of at every step of the product). `None` when `x` holds a NaN or an infinity. Needs `m · k > 0`,
/// `x.len() ≥ m·k`, `q.len() ≥ m·kp` values, `kp ≥ k` (else the scalar path runs).
#[allow(clippy::too_many_arguments)]
pub fn quantize(x: &[f32], m: usize, k: usize, kp: usize, q: &mut [u8], grid: ActivationGrid, skip: &[u32], wide: bool) -> Option<ActQuant> {
    let (len, size) = (m * k, 1 + wide as usize);
    let row = kp * size; // bytes per row of q
    if len == 0 || x.len() < len || q.len() < m * row || kp < k {
        let mut dense = vec![0u8; len];
        let p = crate::qparams::quantize_activations_grid(&x[..len.min(x.len())], k, &mut dense, grid, skip)?;
        for (i, src) in dense.chunks(k.max(1)).enumerate().take(m) {
            let dst = &mut q[i * row..(i + 1) * row];
            dst.fill(0);
            for (c, &v) in src.iter().enumerate() {
                dst[c * size] = v; // (the high byte of a wide value is 0)
            }
        }
        return Some(p);
    }
    let (lo, hi) = input_range(&x[..len], k, skip)?;
    let p = choose_qparams_grid(lo, hi, grid);
    let (inv, qmax) = (1.0f32 / p.scale, grid.qmax());
    let (inv4, zp4, lo_q, hi_q) = (f32x4_splat(inv), i32x4_splat(p.zero_point), i32x4_splat(0), i32x4_splat(qmax));
    let k16 = k / 16 * 16;
    for r in 0..m {
        let xr = &x[r * k..(r + 1) * k];
        let qr = &mut q[r * row..(r + 1) * row];
        let mut c = 0;
        // SAFETY: c + 16 ≤ k16 ≤ k = xr.len(), and 16 values of `size` bytes from byte c · size are in qr.
        unsafe {
            while c < k16 {
                let one = |o: usize| {
                    let s = f32x4_nearest(f32x4_mul(v128_load(xr.as_ptr().add(c + o) as *const v128), inv4));
                    i32x4_min(i32x4_max(i32x4_add(i32x4_trunc_sat_f32x4(s), zp4), lo_q), hi_q)
                };
                let lo8 = i16x8_narrow_i32x4(one(0), one(4));
                let hi8 = i16x8_narrow_i32x4(one(8), one(12));
                if wide {
                    v128_store(qr.as_mut_ptr().add(2 * c) as *mut v128, lo8);
                    v128_store(qr.as_mut_ptr().add(2 * c + 16) as *mut v128, hi8);
                } else {
                    v128_store(qr.as_mut_ptr().add(c) as *mut v128, u8x16_narrow_i16x8(lo8, hi8));
                }
                c += 16;
            }
        }
        for (c, &v) in xr.iter().enumerate().skip(k16) {
            let v = ((v * inv).round_ties_even() as i32).saturating_add(p.zero_point).clamp(0, qmax) as u16;
            qr[c * size..(c + 1) * size].copy_from_slice(&v.to_le_bytes()[..size]);
        }
        qr[k * size..].fill(0);
    }
    Some(p)
}

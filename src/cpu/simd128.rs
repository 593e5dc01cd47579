//! WebAssembly SIMD128 kernels with the scalar reference's signatures (and results within float
//! rounding of it). With `+relaxed-simd` the multiply-adds become real FMAs (`f32x4.relaxed_madd`).
//!
//! Matmul: `C (m, n) = A (m, k) · B` where B is read through strides, so the same register-tiled
//! microkernel serves `x · Wᵀ` (nn.Linear), `Q · Kᵀ` and `P · V`. A is packed into panels of 8 rows
//! stored k-major (`(k, 8)`), B values are broadcast from memory; one microkernel call keeps an 8 × 4
//! output tile in eight f32x4 accumulators (two vectors of rows × four columns), i.e. it computes
//! columns of C. The epilogue transposes 4 × 4 blocks back to rows and applies bias, activation and
//! the residual before one store. Blocking: a block of A panels sized for L2 is swept against each
//! group of 4 B columns (which stays in L1).
//!
//! Attention: per (batch, head) and block of 8 queries, scores come from the same microkernel straight
//! into the packed layout the P · V product reads, and softmax runs across lanes (one lane per query).
//! The output streams over blocks of 64 keys (online softmax: running max and sum per query, accumulators
//! rescaled when the max grows), so only 8 × 64 scores ever exist; when the trace asks for the
//! probabilities, the exact 8 × seq strip is computed as well and written into the (heads, seq, seq)
//! trace — the output is the same with or without a trace.
//!
//! Scratch (packed panels, score strips, BatchNorm scale) lives in one thread-local arena that only grows,
//! so repeated forwards allocate nothing here.

use crate::config::Activation;
use core::arch::wasm32::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// k steps per iteration of the row-major-B microkernel.
const KU: usize = 1;
/// Rows per packed A panel (two f32x4 vectors).
const MR: usize = 8;
/// Columns per microkernel tile.
const NR: usize = 4;
/// Target bytes of packed A kept hot while B column groups sweep over it.
const A_BLOCK_BYTES: usize = 192 * 1024;
/// Target bytes of B (weight rows) kept in L2 while the A panels of a block sweep over them; a run-time
/// setting so the benchmark can compare blockings in one page (`set_b_block_bytes`).
static B_BLOCK_BYTES: AtomicUsize = AtomicUsize::new(64 * 1024);

/// Set the B column-block size in bytes (at most 4 columns per block below 16 × k bytes).
pub fn set_b_block_bytes(bytes: usize) {
    B_BLOCK_BYTES.store(bytes, Ordering::Relaxed);
}

/// The build's multiply-add: `acc + a·b`.
#[inline(always)]
fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

// ---------------------------------------------------------------------------------------------------
// Scratch arena

#[derive(Default)]
struct Scratch {
    packed: Vec<f32>, // packed A panels: (panels, k, 8)
    strip: Vec<f32>,  // attention: packed Q (dh, 8) then scores (seq, 8)
    vec: Vec<f32>,    // small per-call vectors (BatchNorm scale)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Grow `v` to at least `n` values (never shrinks, so steady-state calls do not allocate).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

// ---------------------------------------------------------------------------------------------------
// Small vector helpers

#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

#[inline(always)]
unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

#[inline(always)]
unsafe fn splat_ld(p: *const f32) -> v128 {
    v128_load32_splat(p as *const u32)
}

/// Transpose a 4 × 4 block held as four vectors.
#[inline(always)]
fn transpose4(a: v128, b: v128, c: v128, d: v128) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(a, b); // a0 b0 a1 b1
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(a, b); // a2 b2 a3 b3
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(c, d); // c0 d0 c1 d1
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(c, d); // c2 d2 c3 d3
    [
        i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
        i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
        i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
    ]
}

#[inline(always)]
fn hsum(v: v128) -> f32 {
    let s = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let s = f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
    f32x4_extract_lane::<0>(s)
}

#[inline(always)]
fn hmax(v: v128) -> f32 {
    let s = f32x4_max(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let s = f32x4_max(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
    f32x4_extract_lane::<0>(s)
}

/// `e^x`, Cephes `expf` polynomial (relative error ≈ 1e-7); 0 below −87.3, clamped above 88.3.
#[inline(always)]
pub fn exp4(x: v128) -> v128 {
    let x = f32x4_min(x, f32x4_splat(88.376_26));
    let tiny = f32x4_lt(x, f32x4_splat(-87.336_54));
    let x = f32x4_max(x, f32x4_splat(-87.336_54));
    let n = f32x4_nearest(f32x4_mul(x, f32x4_splat(std::f32::consts::LOG2_E)));
    let r = f32x4_sub(x, f32x4_mul(n, f32x4_splat(0.693_359_4)));
    let r = f32x4_add(r, f32x4_mul(n, f32x4_splat(2.121_944_4e-4)));
    let mut p = f32x4_splat(1.987_569_1e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = f32x4_add(f32x4_mul(p, r), f32x4_splat(c));
    }
    let y = f32x4_add(f32x4_add(f32x4_mul(f32x4_mul(p, r), r), r), f32x4_splat(1.0));
    let pow2 = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23);
    v128_andnot(f32x4_mul(y, pow2), tiny)
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7).
#[inline(always)]
fn erf4(x: v128) -> v128 {
    let sign = v128_and(x, f32x4_splat(-0.0));
    let a = f32x4_abs(x);
    let t = f32x4_div(f32x4_splat(1.0), f32x4_add(f32x4_splat(1.0), f32x4_mul(a, f32x4_splat(0.327_591_1))));
    let mut p = f32x4_splat(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        p = f32x4_add(f32x4_mul(p, t), f32x4_splat(c));
    }
    let p = f32x4_mul(p, t);
    let e = exp4(f32x4_neg(f32x4_mul(a, a)));
    let y = f32x4_sub(f32x4_splat(1.0), f32x4_mul(p, e));
    v128_or(y, sign)
}

/// `tanh(x) = sign(x) · (1 − 2 / (e^{2|x|} + 1))`.
#[inline(always)]
fn tanh4(x: v128) -> v128 {
    let sign = v128_and(x, f32x4_splat(-0.0));
    let e = exp4(f32x4_mul(f32x4_abs(x), f32x4_splat(2.0)));
    let e = f32x4_min(e, f32x4_splat(1e30)); // keeps 2/(e+1) finite at the clamp
    let y = f32x4_sub(f32x4_splat(1.0), f32x4_div(f32x4_splat(2.0), f32x4_add(e, f32x4_splat(1.0))));
    v128_or(y, sign)
}

#[inline(always)]
fn act4(v: v128, act: Activation) -> v128 {
    match act {
        Activation::Relu => f32x4_max(v, f32x4_splat(0.0)),
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

// ---------------------------------------------------------------------------------------------------
// Matmul core

/// `acc[c][v]` = rows `4v..4v+4` of output column `c` for one packed A panel:
/// `Σ_kk ap[kk·8 + row] · b[kk·bsk + c·bsj]`, `NC ≤ 4` columns. Generic strides (not used by the model).
#[inline(always)]
unsafe fn micro<const NC: usize>(ap: *const f32, b: *const f32, bsk: usize, bsj: usize, k: usize) -> [[v128; 2]; NR] {
    let z = f32x4_splat(0.0);
    let mut acc = [[z; 2]; NR];
    for kk in 0..k {
        let a0 = ld(ap.add(kk * MR));
        let a1 = ld(ap.add(kk * MR + 4));
        for (c, ac) in acc.iter_mut().enumerate().take(NC) {
            let bv = splat_ld(b.add(kk * bsk + c * bsj));
            ac[0] = madd(ac[0], a0, bv);
            ac[1] = madd(ac[1], a1, bv);
        }
    }
    acc
}

/// [`micro`] for B stored as rows along k (`b[c·ldb + kk]`: `x · Wᵀ`, `Q · Kᵀ`), `KU` k steps per
/// iteration.
#[inline(always)]
unsafe fn micro_krows<const NC: usize>(ap: *const f32, b: *const f32, ldb: usize, k: usize) -> [[v128; 2]; NR] {
    let z = f32x4_splat(0.0);
    let mut acc = [[z; 2]; NR];
    let mut bp = [b; NR];
    for (c, p) in bp.iter_mut().enumerate().take(NC) {
        *p = b.add(c * ldb);
    }
    let mut a = ap;
    let k4 = k / KU * KU;
    let mut kk = 0;
    while kk < k4 {
        for u in 0..KU {
            let a0 = ld(a.add(u * MR));
            let a1 = ld(a.add(u * MR + 4));
            for c in 0..NC {
                let bv = splat_ld(bp[c].add(u));
                acc[c][0] = madd(acc[c][0], a0, bv);
                acc[c][1] = madd(acc[c][1], a1, bv);
            }
        }
        for p in bp.iter_mut().take(NC) {
            *p = p.add(KU);
        }
        a = a.add(KU * MR);
        kk += KU;
    }
    while kk < k {
        let a0 = ld(a);
        let a1 = ld(a.add(4));
        for c in 0..NC {
            let bv = splat_ld(bp[c]);
            acc[c][0] = madd(acc[c][0], a0, bv);
            acc[c][1] = madd(acc[c][1], a1, bv);
            bp[c] = bp[c].add(1);
        }
        a = a.add(MR);
        kk += 1;
    }
    acc
}

/// [`micro`] for B stored as rows along the output columns (`b[kk·ldb + c]`: `P · V`): the four column
/// values sit side by side, one pointer moves by `ldb` per step.
#[inline(always)]
unsafe fn micro_kcols<const NC: usize>(ap: *const f32, b: *const f32, ldb: usize, k: usize) -> [[v128; 2]; NR] {
    let z = f32x4_splat(0.0);
    let mut acc = [[z; 2]; NR];
    let mut a = ap;
    let mut bp = b;
    for _ in 0..k {
        let a0 = ld(a);
        let a1 = ld(a.add(4));
        for (c, ac) in acc.iter_mut().enumerate().take(NC) {
            let bv = splat_ld(bp.add(c));
            ac[0] = madd(ac[0], a0, bv);
            ac[1] = madd(ac[1], a1, bv);
        }
        a = a.add(MR);
        bp = bp.add(ldb);
    }
    acc
}

/// One 8 × `cols` tile (`cols ≤ 4`) with the microkernel that suits B's strides.
#[inline(always)]
unsafe fn tile(ap: *const f32, b: *const f32, bsk: usize, bsj: usize, k: usize, cols: usize) -> [[v128; 2]; NR] {
    macro_rules! pick {
        ($f:ident($($a:expr),*)) => {
            match cols {
                4 => $f::<4>($($a),*),
                3 => $f::<3>($($a),*),
                2 => $f::<2>($($a),*),
                _ => $f::<1>($($a),*),
            }
        };
    }
    if bsk == 1 {
        pick!(micro_krows(ap, b, bsj, k))
    } else if bsj == 1 {
        pick!(micro_kcols(ap, b, bsk, k))
    } else {
        pick!(micro(ap, b, bsk, bsj, k))
    }
}

/// Pack rows `i0..i0+8` of `a (·, lda)` (columns `0..k`) into `dst (k, 8)`, zero-filling missing rows.
#[inline]
fn pack_panel(a: &[f32], lda: usize, i0: usize, rows: usize, k: usize, dst: &mut [f32]) {
    let full = rows == MR;
    if full {
        // 8 rows at a time: gather 4 columns from each row, transpose to k-major.
        let mut kk = 0;
        unsafe {
            while kk + 4 <= k {
                let mut r = [f32x4_splat(0.0); MR];
                for (ri, v) in r.iter_mut().enumerate() {
                    *v = ld(a.as_ptr().add((i0 + ri) * lda + kk));
                }
                let lo = transpose4(r[0], r[1], r[2], r[3]);
                let hi = transpose4(r[4], r[5], r[6], r[7]);
                for c in 0..4 {
                    st(dst.as_mut_ptr().add((kk + c) * MR), lo[c]);
                    st(dst.as_mut_ptr().add((kk + c) * MR + 4), hi[c]);
                }
                kk += 4;
            }
            for kk in kk..k {
                for ri in 0..MR {
                    *dst.get_unchecked_mut(kk * MR + ri) = *a.get_unchecked((i0 + ri) * lda + kk);
                }
            }
        }
    } else {
        for kk in 0..k {
            for ri in 0..MR {
                dst[kk * MR + ri] = if ri < rows { a[(i0 + ri) * lda + kk] } else { 0.0 };
            }
        }
    }
}

/// What happens to an output tile before it is stored.
#[derive(Clone, Copy)]
struct Epilogue<'a> {
    bias: Option<&'a [f32]>,
    act: Option<Activation>,
    /// Add the tile to what `out` already holds (`out += …`, the residual).
    accumulate: bool,
}

/// Store a microkernel tile: rows `i0..i0+rows`, columns `j0..j0+cols` of `out (·, ldc)`.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn store_tile(acc: &[[v128; 2]; NR], out: *mut f32, ldc: usize, i0: usize, rows: usize, j0: usize, cols: usize, ep: Epilogue) {
    let bias = match ep.bias {
        Some(b) if cols == NR => ld(b.as_ptr().add(j0)),
        Some(b) => {
            let mut t = [0.0f32; NR];
            t[..cols].copy_from_slice(&b[j0..j0 + cols]);
            ld(t.as_ptr())
        }
        None => f32x4_splat(0.0),
    };
    for v in 0..2 {
        let rowv = transpose4(acc[0][v], acc[1][v], acc[2][v], acc[3][v]);
        for (r, &val) in rowv.iter().enumerate() {
            let i = 4 * v + r;
            if i >= rows {
                return;
            }
            let mut y = if ep.bias.is_some() { f32x4_add(val, bias) } else { val };
            if let Some(a) = ep.act {
                y = act4(y, a);
            }
            let p = out.add((i0 + i) * ldc + j0);
            if cols == NR {
                if ep.accumulate {
                    y = f32x4_add(ld(p), y);
                }
                st(p, y);
            } else {
                let mut t = [0.0f32; NR];
                st(t.as_mut_ptr(), y);
                for (c, &tv) in t.iter().enumerate().take(cols) {
                    let q = p.add(c);
                    *q = if ep.accumulate { *q + tv } else { tv };
                }
            }
        }
    }
}

/// `out (m, n) [+]= ep(A (m, k) · B)` with B's element `(kk, j)` at `b[kk·bsk + j·bsj]`.
#[allow(clippy::too_many_arguments)]
fn gemm(a: &[f32], lda: usize, b: &[f32], bsk: usize, bsj: usize, out: &mut [f32], ldc: usize, m: usize, k: usize, n: usize, ep: Epilogue) {
    if m == 0 || n == 0 {
        return;
    }
    let panels = m.div_ceil(MR);
    let block = (A_BLOCK_BYTES / (MR * k.max(1) * 4)).clamp(1, panels);
    let nc = (B_BLOCK_BYTES.load(Ordering::Relaxed) / (k.max(1) * 4) / NR * NR).max(NR);
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let packed = grow(&mut s.packed, block * MR * k);
        let mut p0 = 0;
        while p0 < panels {
            let p1 = (p0 + block).min(panels);
            for p in p0..p1 {
                let i0 = p * MR;
                pack_panel(a, lda, i0, (m - i0).min(MR), k, &mut packed[(p - p0) * MR * k..][..MR * k]);
            }
            // B in column blocks that stay in L2 while each A panel (in L1) meets all of the block's
            // 4-column groups.
            let mut jb = 0;
            while jb < n {
                let je = (jb + nc).min(n);
                for p in p0..p1 {
                    let i0 = p * MR;
                    let ap = packed[(p - p0) * MR * k..].as_ptr();
                    let mut j0 = jb;
                    while j0 < je {
                        let cols = (je - j0).min(NR);
                        unsafe {
                            let acc = tile(ap, b.as_ptr().add(j0 * bsj), bsk, bsj, k, cols);
                            store_tile(&acc, out.as_mut_ptr(), ldc, i0, (m - i0).min(MR), j0, cols, ep);
                        }
                        j0 += NR;
                    }
                }
                jb = je;
            }
            p0 = p1;
        }
    });
}

/// True when the slices are large enough for the shapes (the kernels index unchecked inside).
fn linear_shapes_ok(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &[f32], m: usize, k: usize, n: usize) -> bool {
    x.len() >= m * k && w.len() >= n * k && out.len() >= m * n && bias.is_none_or(|b| b.len() >= n)
}

// ---------------------------------------------------------------------------------------------------
// Public kernels (same signatures as `scalar`)

/// `out (m, n) = x (m, k) · wᵀ + bias`, with `w (n, k)` in PyTorch `nn.Linear` layout.
pub fn linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize) {
    linear_fused(x, w, bias, out, m, k, n, None, false)
}

/// `out = act(x · wᵀ + bias)`, or with `accumulate` `out += x · wᵀ + bias` (the residual), in one pass.
#[allow(clippy::too_many_arguments)]
pub fn linear_fused(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    act: Option<Activation>,
    accumulate: bool,
) {
    if !linear_shapes_ok(x, w, bias, out, m, k, n) {
        // Mis-sized buffers are a programming error; the reference path bounds-checks them.
        return super::scalar::linear_fused(x, w, bias, out, m, k, n, act, accumulate);
    }
    gemm(x, k, w, 1, k, out, n, m, k, n, Epilogue { bias, act, accumulate });
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

/// Multi-head scaled dot-product attention with a key-padding mask; see `scalar::attention`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    qkv: &[f32],
    lengths: &[usize],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    out: &mut [f32],
    mut probs: Option<&mut [f32]>,
) {
    let d = heads * head_dim;
    let ok = qkv.len() >= batch * seq * 3 * d
        && out.len() >= batch * seq * d
        && lengths.len() >= batch
        && probs.as_deref().is_none_or(|p| p.len() >= batch * heads * seq * seq);
    if !ok {
        return super::scalar::attention(qkv, lengths, batch, seq, heads, head_dim, out, probs);
    }
    let scale = 1.0 / (head_dim as f32).sqrt();
    let ld3 = 3 * d;
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        // Without a trace only one key block of scores exists at a time; with one, the whole strip.
        let keys = if probs.is_some() { seq } else { seq.min(KEY_BLOCK) };
        let strip = grow(&mut s.strip, (2 * head_dim + keys) * MR);
        let (qp, rest) = strip.split_at_mut(head_dim * MR); // qp (dh, 8)
        let (ot, sp) = rest.split_at_mut(head_dim * MR); // ot (dh, 8): output accumulators | sp (keys, 8)
        for b in 0..batch {
            let len = lengths[b].min(seq);
            let base = b * seq * ld3;
            for h in 0..heads {
                let q = &qkv[base + h * head_dim..];
                let kmat = &qkv[base + d + h * head_dim..];
                let vmat = &qkv[base + 2 * d + h * head_dim..];
                let mut i0 = 0;
                while i0 < seq {
                    let rows = (seq - i0).min(MR);
                    let o = &mut out[(b * seq + i0) * d + h * head_dim..];
                    if len == 0 {
                        for r in 0..rows {
                            o[r * d..r * d + head_dim].iter_mut().for_each(|v| *v = 0.0);
                        }
                    } else {
                        // The output always comes from the streaming pass, so it is the same with and
                        // without a trace; the trace's probabilities are the exact strip, computed apart.
                        pack_panel(q, ld3, i0, rows, head_dim, qp);
                        attend_streaming(qp, kmat, vmat, ld3, head_dim, len, scale, sp, ot);
                        store_transposed(ot, head_dim, o, d, rows);
                        if probs.is_some() {
                            scores_strip(qp, kmat, ld3, head_dim, len, scale, sp);
                            softmax_lanes(&mut sp[..len * MR]);
                        }
                    }
                    if let Some(p) = probs.as_deref_mut() {
                        for r in 0..rows {
                            let pr = &mut p[((b * heads + h) * seq + i0 + r) * seq..][..seq];
                            for (j, v) in pr.iter_mut().enumerate() {
                                *v = if j < len { sp[j * MR + r] } else { 0.0 };
                            }
                        }
                    }
                    i0 += MR;
                }
            }
        }
    });
}

/// Keys per block of the streaming softmax (scores of 8 queries × 64 keys = 2 KB).
const KEY_BLOCK: usize = 64;

/// Online-softmax attention for 8 packed queries `qp (dh, 8)` over keys/values `0..len`, one key block
/// at a time (running max `m` and sum `l` per query lane, accumulators rescaled when the max grows).
/// Leaves the normalised output transposed in `ot (dh, 8)`; `sp` holds one block of scores.
#[allow(clippy::too_many_arguments)]
fn attend_streaming(qp: &[f32], k: &[f32], v: &[f32], ld3: usize, dh: usize, len: usize, scale: f32, sp: &mut [f32], ot: &mut [f32]) {
    let mut m = [f32x4_splat(f32::NEG_INFINITY); 2];
    let mut l = [f32x4_splat(0.0); 2];
    ot[..dh * MR].iter_mut().for_each(|x| *x = 0.0);
    let mut j0 = 0;
    while j0 < len {
        let kl = (len - j0).min(KEY_BLOCK);
        scores_strip(qp, &k[j0 * ld3..], ld3, dh, kl, scale, sp);
        unsafe {
            let p = sp.as_mut_ptr();
            let mut bm = m;
            for j in 0..kl {
                for (h, b) in bm.iter_mut().enumerate() {
                    *b = f32x4_max(*b, ld(p.add(j * MR + 4 * h)));
                }
            }
            let alpha = [exp4(f32x4_sub(m[0], bm[0])), exp4(f32x4_sub(m[1], bm[1]))];
            let mut sum = [f32x4_splat(0.0); 2];
            for j in 0..kl {
                for h in 0..2 {
                    let q = p.add(j * MR + 4 * h);
                    let e = exp4(f32x4_sub(ld(q), bm[h]));
                    st(q, e);
                    sum[h] = f32x4_add(sum[h], e);
                }
            }
            for h in 0..2 {
                l[h] = f32x4_add(f32x4_mul(l[h], alpha[h]), sum[h]);
            }
            m = bm;
            let o = ot.as_mut_ptr();
            let mut c0 = 0;
            while c0 < dh {
                let cols = (dh - c0).min(NR);
                let acc = tile(sp.as_ptr(), v.as_ptr().add(j0 * ld3 + c0), ld3, 1, kl, cols);
                for (c, a) in acc.iter().enumerate().take(cols) {
                    let q = o.add((c0 + c) * MR);
                    st(q, f32x4_add(f32x4_mul(ld(q), alpha[0]), a[0]));
                    st(q.add(4), f32x4_add(f32x4_mul(ld(q.add(4)), alpha[1]), a[1]));
                }
                c0 += NR;
            }
        }
        j0 += kl;
    }
    let inv = [f32x4_div(f32x4_splat(1.0), l[0]), f32x4_div(f32x4_splat(1.0), l[1])];
    unsafe {
        let o = ot.as_mut_ptr();
        for c in 0..dh {
            st(o.add(c * MR), f32x4_mul(ld(o.add(c * MR)), inv[0]));
            st(o.add(c * MR + 4), f32x4_mul(ld(o.add(c * MR + 4)), inv[1]));
        }
    }
}

/// Write `ot (dh, 8)` (columns of 8 query rows) as rows `0..rows` of `o (·, ldo)`, columns `0..dh`.
fn store_transposed(ot: &[f32], dh: usize, o: &mut [f32], ldo: usize, rows: usize) {
    let ep = Epilogue { bias: None, act: None, accumulate: false };
    let mut c0 = 0;
    while c0 < dh {
        let cols = (dh - c0).min(NR);
        let mut acc = [[f32x4_splat(0.0); 2]; NR];
        unsafe {
            for (c, a) in acc.iter_mut().enumerate().take(cols) {
                a[0] = ld(ot.as_ptr().add((c0 + c) * MR));
                a[1] = ld(ot.as_ptr().add((c0 + c) * MR + 4));
            }
            store_tile(&acc, o.as_mut_ptr(), ldo, 0, rows, c0, cols, ep);
        }
        c0 += NR;
    }
}

/// `sp (len, 8)`: scaled scores of the 8 packed queries `qp (dh, 8)` against keys `k (len, ·ldk)`.
fn scores_strip(qp: &[f32], k: &[f32], ldk: usize, dh: usize, len: usize, scale: f32, sp: &mut [f32]) {
    let sv = f32x4_splat(scale);
    let mut j0 = 0;
    while j0 < len {
        let cols = (len - j0).min(NR);
        unsafe {
            let bp = k.as_ptr().add(j0 * ldk);
            let acc = tile(qp.as_ptr(), bp, 1, ldk, dh, cols);
            for (c, a) in acc.iter().enumerate().take(cols) {
                let p = sp.as_mut_ptr().add((j0 + c) * MR);
                st(p, f32x4_mul(a[0], sv));
                st(p.add(4), f32x4_mul(a[1], sv));
            }
        }
        j0 += NR;
    }
}

/// Softmax down the columns of `sp (len, 8)`: one query per lane.
fn softmax_lanes(sp: &mut [f32]) {
    let len = sp.len() / MR;
    let p = sp.as_mut_ptr();
    unsafe {
        let mut m = [f32x4_splat(f32::NEG_INFINITY); 2];
        for j in 0..len {
            for (h, mh) in m.iter_mut().enumerate() {
                *mh = f32x4_max(*mh, ld(p.add(j * MR + 4 * h)));
            }
        }
        let mut s = [f32x4_splat(0.0); 2];
        for j in 0..len {
            for h in 0..2 {
                let q = p.add(j * MR + 4 * h);
                let e = exp4(f32x4_sub(ld(q), m[h]));
                st(q, e);
                s[h] = f32x4_add(s[h], e);
            }
        }
        let inv = [f32x4_div(f32x4_splat(1.0), s[0]), f32x4_div(f32x4_splat(1.0), s[1])];
        for j in 0..len {
            for (h, iv) in inv.iter().enumerate() {
                let q = p.add(j * MR + 4 * h);
                st(q, f32x4_mul(ld(q), *iv));
            }
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
        return super::scalar::layer_norm(x, w, b, out, rows, d, eps, stats);
    }
    let v = d / 4 * 4;
    for r in 0..rows {
        let xr = &x[r * d..(r + 1) * d];
        let or = &mut out[r * d..(r + 1) * d];
        unsafe {
            let xp = xr.as_ptr();
            let mut s = f32x4_splat(0.0);
            for i in (0..v).step_by(4) {
                s = f32x4_add(s, ld(xp.add(i)));
            }
            let mut sum = hsum(s);
            for &t in &xr[v..] {
                sum += t;
            }
            let mean = sum / d as f32;
            let mv = f32x4_splat(mean);
            let mut q = f32x4_splat(0.0);
            for i in (0..v).step_by(4) {
                let c = f32x4_sub(ld(xp.add(i)), mv);
                q = f32x4_add(q, f32x4_mul(c, c));
            }
            let mut sq = hsum(q);
            for &t in &xr[v..] {
                sq += (t - mean) * (t - mean);
            }
            let var = sq / d as f32;
            let rstd = 1.0 / (var + eps).sqrt();
            let rv = f32x4_splat(rstd);
            let op = or.as_mut_ptr();
            for i in (0..v).step_by(4) {
                let y = f32x4_mul(f32x4_mul(f32x4_sub(ld(xp.add(i)), mv), rv), ld(w.as_ptr().add(i)));
                st(op.add(i), f32x4_add(y, ld(b.as_ptr().add(i))));
            }
            for i in v..d {
                or[i] = (xr[i] - mean) * rstd * w[i] + b[i];
            }
            if let Some((m, vv)) = stats.as_mut() {
                m[r] = mean;
                vv[r] = var;
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
        return super::scalar::batch_norm_eval(x, mean, var, w, b, out, rows, d, eps);
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

/// Depth of the L1-resident panels [`peak_kernel`] multiplies.
const PEAK_K: usize = 64;

/// FLOPs per iteration of [`peak_kernel`]: one 8 × 4 tile over `PEAK_K` (multiply + add per element).
pub const PEAK_FLOPS_PER_ITER: f64 = (2 * MR * NR * PEAK_K) as f64;

/// The ceiling for this path: the matmul's own microkernel (8 × 4 register tile, the build's
/// multiply-add) run again and again on a packed A panel and four B rows that stay in L1 (3 KB), so
/// nothing but the multiply-add throughput of the core limits it — no cache misses, no packing, no
/// epilogue. A large matmul's GFLOP/s over this rate is the share of the machine the blocking keeps.
#[inline(never)]
pub fn peak_kernel(iters: u32, seed: f32) -> f32 {
    let a: Vec<f32> = (0..MR * PEAK_K).map(|i| seed + (i % 7) as f32 * 1e-3).collect();
    let b: Vec<f32> = (0..NR * PEAK_K).map(|i| 1.0 - (i % 5) as f32 * 1e-3).collect();
    // Opaque depth: with a constant the compiler unrolls the whole panel into straight-line code that
    // is not what the matmul runs.
    let k = std::hint::black_box(PEAK_K);
    let mut s = f32x4_splat(0.0);
    for _ in 0..iters {
        let acc = unsafe { micro_krows::<4>(a.as_ptr(), b.as_ptr(), k, k) };
        for c in acc {
            s = f32x4_add(s, f32x4_add(c[0], c[1]));
        }
    }
    hsum(s)
}

//! Packed, register-tiled matmul: `linear`, `linear_fused`, the fused epilogue and the peak microkernel.

use super::math::act4;
use super::{grow, hsum, ld, madd, splat_ld, st, transpose4, MR, NR, SCRATCH};
use crate::Activation;
use core::arch::wasm32::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// k steps per iteration of the row-major-B microkernel.
const KU: usize = 1;
/// Target bytes of packed A kept hot while B column groups sweep over it.
const A_BLOCK_BYTES: usize = 192 * 1024;
/// Target bytes of B (weight rows) kept in L2 while the A panels of a block sweep over them; a run-time
/// setting so the benchmark can compare blockings in one page (`set_b_block_bytes`).
static B_BLOCK_BYTES: AtomicUsize = AtomicUsize::new(64 * 1024);

/// Set the B column-block size in bytes (at most 4 columns per block below 16 × k bytes).
pub fn set_b_block_bytes(bytes: usize) {
    B_BLOCK_BYTES.store(bytes, Ordering::Relaxed);
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
pub(super) unsafe fn tile(ap: *const f32, b: *const f32, bsk: usize, bsj: usize, k: usize, cols: usize) -> [[v128; 2]; NR] {
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
pub(super) fn pack_panel(a: &[f32], lda: usize, i0: usize, rows: usize, k: usize, dst: &mut [f32]) {
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
pub(super) struct Epilogue<'a> {
    pub(super) bias: Option<&'a [f32]>,
    pub(super) act: Option<Activation>,
    /// Add the tile to what `out` already holds (`out += …`, the residual).
    pub(super) accumulate: bool,
}

/// Store a microkernel tile: rows `i0..i0+rows`, columns `j0..j0+cols` of `out (·, ldc)`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn store_tile(acc: &[[v128; 2]; NR], out: *mut f32, ldc: usize, i0: usize, rows: usize, j0: usize, cols: usize, ep: Epilogue) {
    let bias = match ep.bias {
        Some(b) if cols == NR => ld(b.as_ptr().add(j0)),
        Some(b) => {
            let mut t = [0.0f32; NR];
            t[..cols].copy_from_slice(&b[j0..j0 + cols]);
            ld(t.as_ptr())
        }
        None => f32x4_splat(0.0),
    };
    // All eight rows' bias and activation first, as independent chains the CPU can overlap (GELU's is
    // long), then the stores.
    let lo = transpose4(acc[0][0], acc[1][0], acc[2][0], acc[3][0]);
    let hi = transpose4(acc[0][1], acc[1][1], acc[2][1], acc[3][1]);
    let mut ys = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
    if ep.bias.is_some() {
        ys.iter_mut().for_each(|y| *y = f32x4_add(*y, bias));
    }
    if let Some(a) = ep.act {
        ys.iter_mut().for_each(|y| *y = act4(*y, a));
    }
    for (i, &y) in ys.iter().enumerate().take(rows) {
        let p = out.add((i0 + i) * ldc + j0);
        if cols == NR {
            st(p, if ep.accumulate { f32x4_add(ld(p), y) } else { y });
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
        return crate::scalar::linear_fused(x, w, bias, out, m, k, n, act, accumulate);
    }
    gemm(x, k, w, 1, k, out, n, m, k, n, Epilogue { bias, act, accumulate });
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

//! Multi-head attention that streams over key blocks with an online softmax.

use super::gemm::{pack_panel, store_tile, tile, Epilogue};
use super::math::exp4;
use super::{grow, ld, st, MR, NR, SCRATCH};
use crate::par::SharedMut;
use core::arch::wasm32::*;

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
    probs: Option<&mut [f32]>,
) {
    let d = heads * head_dim;
    let ok = qkv.len() >= batch * seq * 3 * d
        && out.len() >= batch * seq * d
        && lengths.len() >= batch
        && probs.as_deref().is_none_or(|p| p.len() >= batch * heads * seq * seq);
    if !ok {
        return crate::scalar::attention(qkv, lengths, batch, seq, heads, head_dim, out, probs);
    }
    // One task per (sequence, head) over the thread pool (serially without one): each writes its own
    // columns of `out` and its own (seq, seq) block of `probs`, with the same arithmetic as in one pass.
    let units = batch * heads;
    let o = SharedMut(out.as_mut_ptr());
    let p = probs.map(|p| SharedMut(p.as_mut_ptr()));
    let shape = Shape { seq, heads, head_dim };
    crate::par::run(units, &|u| {
        let (b, h) = (u / heads, u % heads);
        let base = b * seq * 3 * d;
        // SAFETY: `ok` above checked every slice against the shapes; unit (b, h) writes rows b·seq.. of
        // `out`'s columns h·dh.. and `probs` block (b, h) only.
        unsafe { attend_head(&qkv[base..base + seq * 3 * d], lengths[b].min(seq), shape, o.get().add(b * seq * d + h * head_dim), p.map(|p| p.get().add(u * seq * seq)), h) }
    });
}

/// Attention's sizes.
#[derive(Clone, Copy)]
struct Shape {
    seq: usize,
    heads: usize,
    head_dim: usize,
}

/// One (sequence, head): queries, keys and values of head `h` in `qkv (seq, 3·d)` of one sequence whose
/// first `len` tokens are real; the output rows go to `o` (row stride `d`, `head_dim` columns), the
/// probabilities (when asked) to `probs (seq, seq)`.
///
/// # Safety
/// `o` must address `seq` rows of stride `d` (= heads · head_dim) with `head_dim` writable columns, and
/// `probs`, when given, `seq · seq` writable values, none of them touched by anyone else meanwhile.
unsafe fn attend_head(qkv: &[f32], len: usize, sh: Shape, o: *mut f32, probs: Option<*mut f32>, h: usize) {
    let Shape { seq, heads, head_dim } = sh;
    let d = heads * head_dim;
    let ld3 = 3 * d;
    let scale = 1.0 / (head_dim as f32).sqrt();
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        // Without a trace only one key block of scores exists at a time; with one, the whole strip.
        let keys = if probs.is_some() { seq } else { seq.min(KEY_BLOCK) };
        let strip = grow(&mut s.strip, (2 * head_dim + keys) * MR);
        let (qp, rest) = strip.split_at_mut(head_dim * MR); // qp (dh, 8)
        let (ot, sp) = rest.split_at_mut(head_dim * MR); // ot (dh, 8): output accumulators | sp (keys, 8)
        let q = &qkv[h * head_dim..];
        let kmat = &qkv[d + h * head_dim..];
        let vmat = &qkv[2 * d + h * head_dim..];
        let mut i0 = 0;
        while i0 < seq {
            let rows = (seq - i0).min(MR);
            let oi = o.add(i0 * d);
            if len == 0 {
                for r in 0..rows {
                    std::slice::from_raw_parts_mut(oi.add(r * d), head_dim).iter_mut().for_each(|v| *v = 0.0);
                }
            } else {
                // The output always comes from the streaming pass, so it is the same with and
                // without a trace; the trace's probabilities are the exact strip, computed apart.
                pack_panel(q, ld3, i0, rows, head_dim, qp);
                attend_streaming(qp, kmat, vmat, ld3, head_dim, len, scale, sp, ot);
                store_transposed(ot, head_dim, oi, d, rows);
                if probs.is_some() {
                    let max = scores_strip(qp, kmat, ld3, head_dim, len, scale, sp);
                    softmax_lanes(&mut sp[..len * MR], max);
                }
            }
            if let Some(p) = probs {
                for r in 0..rows {
                    let pr = std::slice::from_raw_parts_mut(p.add((i0 + r) * seq), seq);
                    for (j, v) in pr.iter_mut().enumerate() {
                        *v = if j < len { sp[j * MR + r] } else { 0.0 };
                    }
                }
            }
            i0 += MR;
        }
    });
}

/// Keys per block of the streaming softmax (scores of 8 queries × 128 keys = 4 KB; 64 was 1 % slower).
const KEY_BLOCK: usize = 128;

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
        let block_max = scores_strip(qp, &k[j0 * ld3..], ld3, dh, kl, scale, sp);
        unsafe {
            let p = sp.as_mut_ptr();
            let bm = [f32x4_pmax(m[0], block_max[0]), f32x4_pmax(m[1], block_max[1])];
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
///
/// # Safety
/// `o` must address `rows` rows of stride `ldo` with `dh` writable columns.
unsafe fn store_transposed(ot: &[f32], dh: usize, o: *mut f32, ldo: usize, rows: usize) {
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
            store_tile(&acc, o, ldo, 0, rows, c0, cols, ep);
        }
        c0 += NR;
    }
}

/// `sp (len, 8)`: scaled scores of the 8 packed queries `qp (dh, 8)` against keys `k (len, ·ldk)`;
/// returns their maximum per query lane (rows 0–3, rows 4–7), so the softmax needs no pass of its own
/// for it.
fn scores_strip(qp: &[f32], k: &[f32], ldk: usize, dh: usize, len: usize, scale: f32, sp: &mut [f32]) -> [v128; 2] {
    let sv = f32x4_splat(scale);
    let mut max = [f32x4_splat(f32::NEG_INFINITY); 2];
    let mut j0 = 0;
    while j0 < len {
        let cols = (len - j0).min(NR);
        unsafe {
            let bp = k.as_ptr().add(j0 * ldk);
            let acc = tile(qp.as_ptr(), bp, 1, ldk, dh, cols);
            for (c, a) in acc.iter().enumerate().take(cols) {
                let p = sp.as_mut_ptr().add((j0 + c) * MR);
                let (s0, s1) = (f32x4_mul(a[0], sv), f32x4_mul(a[1], sv));
                st(p, s0);
                st(p.add(4), s1);
                // pmax (one x86 instruction; max is about seven) skips a NaN score, whose exp is NaN anyway.
                max = [f32x4_pmax(max[0], s0), f32x4_pmax(max[1], s1)];
            }
        }
        j0 += NR;
    }
    max
}

/// Softmax down the columns of `sp (len, 8)`: one query per lane; `m` is each lane's maximum (as
/// [`scores_strip`] returns it).
fn softmax_lanes(sp: &mut [f32], m: [v128; 2]) {
    let len = sp.len() / MR;
    let p = sp.as_mut_ptr();
    unsafe {
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

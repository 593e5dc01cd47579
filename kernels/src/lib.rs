//! The CPU kernels of `encoder-lens`, on plain slices: `scalar` is the reference (the oracle for every
//! other path); the wasm build with `+simd128` (optionally `+relaxed-simd`) selects the `simd128` kernels,
//! which keep the same signatures. Native builds run the reference kernels (their inner `dot` auto-vectorises).
//!
//! [`set_reference`] switches a SIMD build back to the reference kernels at run time, so tests and the
//! benchmark can compare both inside one wasm module.
//!
//! A crate of its own so that it keeps `opt-level = 3` while the rest of the wasm build is optimised for
//! size (the root `Cargo.toml`'s release profile); `encoder_lens::cpu` re-exports it.

#![deny(missing_docs)]
// The wasm threads build (nightly, `make pkg-threads`): its pool sleeps on `memory.atomic.wait32`.
#![cfg_attr(all(target_arch = "wasm32", target_feature = "atomics"), feature(stdarch_wasm_atomic_wait))]

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

pub mod packed;
pub mod par;
pub mod qparams;
pub mod scalar;
pub mod scratch;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

pub use scalar::{batch_stats, head_ablate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// The feed-forward activation.
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// Exact GELU with erf, PyTorch `F.gelu(x)`.
    Gelu,
    /// `F.gelu(x, approximate="tanh")` (HF `gelu_new` / `gelu_pytorch_tanh`).
    GeluTanh,
    /// `F.silu(x) = x · sigmoid(x)` (swish; DeLighT's activation).
    #[serde(alias = "swish")]
    Silu,
    /// `tanh(x)` (BERT's pooler).
    Tanh,
}

static REFERENCE: AtomicBool = AtomicBool::new(false);

/// Run the scalar reference kernels (`true`) or the fastest this build has (`false`, the default).
pub fn set_reference(on: bool) {
    REFERENCE.store(on, Ordering::Relaxed);
}

/// The kernels [`linear`] and friends run right now: `"scalar"`, `"simd128"` or `"relaxed-simd"`.
pub fn kernels() -> &'static str {
    if !fast() {
        "scalar"
    } else if cfg!(target_feature = "relaxed-simd") {
        "relaxed-simd"
    } else {
        "simd128"
    }
}

/// Whether this build's SIMD kernels are selected (a SIMD build, [`set_reference`] off).
#[inline]
pub fn fast() -> bool {
    cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && !REFERENCE.load(Ordering::Relaxed)
}

/// Dispatch to `simd128::$f` when it is selected, else `scalar::$f`.
macro_rules! select {
    ($f:ident($($a:expr),*)) => {{
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if fast() {
            return simd128::$f($($a),*);
        }
        scalar::$f($($a),*)
    }};
}

/// `out (m, n) = x (m, k) · wᵀ + bias`, with `w (n, k)` in PyTorch `nn.Linear` layout.
pub fn linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize) {
    select!(linear(x, w, bias, out, m, k, n))
}

/// `out = act(x · wᵀ + bias)`, or with `accumulate` `out += x · wᵀ + bias` (the residual).
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
    let t = par::threads();
    if t > 1 && m * k * n >= PAR_MIN_MACS && x.len() >= m * k && w.len() >= n * k && out.len() >= m * n && bias.is_none_or(|b| b.len() >= n) {
        return linear_par(x, w, bias, out, m, k, n, act, accumulate, t);
    }
    linear_one(x, w, bias, out, m, k, n, act, accumulate)
}

#[allow(clippy::too_many_arguments)]
fn linear_one(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool) {
    select!(linear_fused(x, w, bias, out, m, k, n, act, accumulate))
}

/// Smallest matmul (multiply-adds) worth waking the pool for.
const PAR_MIN_MACS: usize = 1 << 16;
/// Rows of a SIMD panel: row blocks start at multiples of it, so every block packs its rows as the whole
/// matmul would.
const PAR_ROW_ALIGN: usize = 8;
/// Rows per thread below which the matmul is split by columns instead (4 panels): a row block reads all of
/// `w`, a column block only its share, so short inputs (a few panels, `w`-bandwidth bound) split by columns.
const PAR_ROWS_PER_THREAD: usize = 4 * PAR_ROW_ALIGN;
/// Columns of a SIMD tile: column blocks start at multiples of it.
const PAR_COL_ALIGN: usize = 4;

/// [`linear_fused`] over `t` threads. Every output element is computed by the same kernel, over the same
/// `k` products in the same order, as in one call: with enough rows, each task takes a block of rows
/// (`x` rows and `out` rows, the whole of `w`); with fewer rows than `32 · t` (short inputs), each task takes
/// a block of output columns (`w` rows `j0..j1`, `bias[j0..j1]`) into a pooled buffer `(m, j1 - j0)` —
/// holding `out`'s old values when accumulating, so `out + y` is the same addition — and copies it back.
#[allow(clippy::too_many_arguments)]
fn linear_par(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize, act: Option<Activation>, accumulate: bool, t: usize) {
    let dst = par::SharedMut(out.as_mut_ptr());
    if m >= PAR_ROWS_PER_THREAD * t {
        let blocks = par::split(m, t, PAR_ROW_ALIGN);
        par::run(blocks.len(), &|i| {
            let r = blocks[i].clone();
            // SAFETY: row blocks are disjoint and within `out (m, n)` (checked by the caller).
            let o = unsafe { std::slice::from_raw_parts_mut(dst.get().add(r.start * n), r.len() * n) };
            linear_one(&x[r.start * k..r.end * k], w, bias, o, r.len(), k, n, act, accumulate);
        });
    } else {
        let blocks = par::split(n, t, PAR_COL_ALIGN);
        par::run(blocks.len(), &|i| {
            let c = blocks[i].clone();
            let nc = c.len();
            let mut o = scratch::take(m * nc); // (m, nc)
            for r in 0..m {
                if accumulate {
                    // SAFETY: reads row r's columns c of `out (m, n)`; column blocks are disjoint.
                    let row = unsafe { std::slice::from_raw_parts(dst.get().add(r * n + c.start), nc) };
                    o[r * nc..(r + 1) * nc].copy_from_slice(row);
                }
            }
            linear_one(x, &w[c.start * k..c.end * k], bias.map(|b| &b[c.clone()]), &mut o, m, k, nc, act, accumulate);
            for r in 0..m {
                // SAFETY: writes row r's columns c: disjoint across tasks.
                let row = unsafe { std::slice::from_raw_parts_mut(dst.get().add(r * n + c.start), nc) };
                row.copy_from_slice(&o[r * nc..(r + 1) * nc]);
            }
            scratch::give(o);
        });
    }
}

/// DeLighT's group linear transformation with mixer and shuffle; see [`scalar::glt`].
#[allow(clippy::too_many_arguments)]
pub fn glt(x: &[f32], mix: Option<&[f32]>, w: &[f32], bias: &[f32], out: &mut [f32], rows: usize, xd: usize, md: usize, n: usize, g: usize) {
    select!(glt(x, mix, w, bias, out, rows, xd, md, n, g))
}

/// Multi-head attention over packed `qkv (batch, seq, 3·d)`; see [`scalar::attention`].
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
    select!(attention(qkv, lengths, batch, seq, heads, head_dim, out, probs))
}

/// LayerNorm over the last dimension; see [`scalar::layer_norm`].
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: usize,
    d: usize,
    eps: f32,
    stats: Option<(&mut [f32], &mut [f32])>,
) {
    let t = par::threads();
    let shapes_ok = x.len() >= rows * d && out.len() >= rows * d && stats.as_ref().is_none_or(|(m, v)| m.len() >= rows && v.len() >= rows);
    if t <= 1 || rows < 2 || rows * d < PAR_MIN_NORM || !shapes_ok {
        return layer_norm_one(x, w, b, out, rows, d, eps, stats);
    }
    // Row blocks over the pool: each row's statistics and outputs come from the same kernel as in one call.
    let blocks = par::split(rows, t, 1);
    let dst = par::SharedMut(out.as_mut_ptr());
    let st = stats.map(|(m, v)| (par::SharedMut(m.as_mut_ptr()), par::SharedMut(v.as_mut_ptr())));
    par::run(blocks.len(), &|i| {
        let r = blocks[i].clone();
        // SAFETY: row blocks are disjoint and within `out (rows, d)` and the `(rows)` statistics (checked above).
        let o = unsafe { std::slice::from_raw_parts_mut(dst.get().add(r.start * d), r.len() * d) };
        let s = st.map(|(m, v)| unsafe { (std::slice::from_raw_parts_mut(m.get().add(r.start), r.len()), std::slice::from_raw_parts_mut(v.get().add(r.start), r.len())) });
        layer_norm_one(&x[r.start * d..r.end * d], w, b, o, r.len(), d, eps, s);
    });
}

/// Smallest LayerNorm (elements) worth waking the pool for.
const PAR_MIN_NORM: usize = 1 << 14;

#[allow(clippy::too_many_arguments)]
fn layer_norm_one(x: &[f32], w: &[f32], b: &[f32], out: &mut [f32], rows: usize, d: usize, eps: f32, stats: Option<(&mut [f32], &mut [f32])>) {
    select!(layer_norm(x, w, b, out, rows, d, eps, stats))
}

/// BatchNorm1d (eval) over features; see [`scalar::batch_norm_eval`].
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
    select!(batch_norm_eval(x, mean, var, w, b, out, rows, d, eps))
}

/// Softmax over one row, in place.
pub fn softmax_inplace(row: &mut [f32]) {
    select!(softmax_inplace(row))
}

/// `a += b`, element-wise.
pub fn add_inplace(a: &mut [f32], b: &[f32]) {
    select!(add_inplace(a, b))
}

/// Apply `act` element-wise, in place.
pub fn activation_inplace(x: &mut [f32], act: Activation) {
    select!(activation_inplace(x, act))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// The thread pool's split (rows for tall inputs, columns for short ones; run serially here) gives the
    /// bits of one call, for every epilogue.
    #[test]
    fn split_linear_is_bit_identical() {
        for &(m, k, n) in &[(3, 37, 50), (7, 64, 129), (16, 32, 64), (20, 64, 33), (64, 16, 128), (131, 24, 40), (200, 9, 7)] {
            let (x, w, b, base) = (values(m * k, 1), values(n * k, 2), values(n, 3), values(m * n, 4));
            for act in [None, Some(Activation::Gelu), Some(Activation::GeluTanh)] {
                for accumulate in [false, true] {
                    let act = if accumulate { None } else { act };
                    let mut one = base.clone();
                    linear_one(&x, &w, Some(&b), &mut one, m, k, n, act, accumulate);
                    for t in [2, 3, 4] {
                        let mut par = base.clone();
                        linear_par(&x, &w, Some(&b), &mut par, m, k, n, act, accumulate, t);
                        let same = one.iter().zip(&par).all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(same, "m {m} k {k} n {n} act {act:?} accumulate {accumulate} threads {t}");
                    }
                }
            }
        }
    }
}

//! CPU kernels. `scalar` is the reference (the oracle for every other path); the wasm build with
//! `+simd128` (optionally `+relaxed-simd`) selects the `simd128` kernels, which keep the same signatures.
//! Native builds run the reference kernels (their inner `dot` auto-vectorises).
//!
//! [`set_reference`] switches a SIMD build back to the reference kernels at run time, so tests and the
//! benchmark can compare both inside one wasm module.

use crate::config::Activation;
use std::sync::atomic::{AtomicBool, Ordering};

pub mod backend;
pub mod quant;
pub mod scalar;
pub mod scratch;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

pub use backend::{forward, CpuBackend};
pub use scalar::{batch_stats, head_ablate};

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

#[inline]
fn fast() -> bool {
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
    select!(linear_fused(x, w, bias, out, m, k, n, act, accumulate))
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

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
//! The output streams over blocks of 128 keys (online softmax: running max and sum per query, accumulators
//! rescaled when the max grows), so only 8 × 128 scores ever exist; when the trace asks for the
//! probabilities, the exact 8 × seq strip is computed as well and written into the (heads, seq, seq)
//! trace — the output is the same with or without a trace.
//!
//! Scratch (packed panels, score strips, BatchNorm scale) lives in one thread-local arena that only grows,
//! so repeated forwards allocate nothing here.
//!
//! Split by concern: `gemm` (packed matmul, `linear`, `linear_fused`, the epilogue and the peak
//! microkernel), `attention` (streaming attention), `math` (exp, softmax, LayerNorm, BatchNorm, GELU,
//! activations, add), `int8` (the int8 linear's microkernels and epilogue), `act_quant` (its input's
//! quantization), `glt` (DeLighT's grouped linear). This module holds what they share: tile sizes, the scratch arena, vector helpers.

pub mod act_quant;
mod attention;
mod gemm;
mod glt;
pub mod int8;
mod math;

pub use attention::attention;
pub use glt::glt;
pub use int8::{gemm_i8, gemm_i8_packed, int8_kernel, kernel_in_use, Panels, peak_int8, peak_int8_ops_per_iter, set_int8_kernel, set_int8_row_block_bytes, Int8Kernel};
pub use gemm::{linear, linear_fused, peak_kernel, set_b_block_bytes, PEAK_FLOPS_PER_ITER};
pub use math::{activation_inplace, add_inplace, batch_norm_eval, exp4, layer_norm, softmax_inplace};

use core::arch::wasm32::*;
use std::cell::RefCell;

/// Rows per packed A panel (two f32x4 vectors).
const MR: usize = 8;
/// Columns per microkernel tile.
const NR: usize = 4;

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

/// The build's multiply-add: `acc + a·b`.
#[inline(always)]
pub(super) fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

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

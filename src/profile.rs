//! Where a forward pass's time goes, measured in Rust: [`Profiled`] wraps a backend with a stopwatch
//! around every op (the same kernels, the same results), used by [`crate::Engine::timed_forward`] (the
//! page's timings panel) and by the `bench` feature's per-op table. On the CPU the timer is
//! [`crate::choice::now_ms`]: `performance.now()` in the browser (`std::time::Instant` panics on wasm32),
//! `Instant` natively. On the GPU each dispatch runs in its own compute pass with timestamp writes, where
//! the device has timestamp queries. Nothing here runs unless timing is asked for: the plain forward uses
//! the backends directly.
//!
//! [`peak_gflops`] measures, once per process, the build's multiply-add ceiling (the SIMD matmul's own
//! microkernel on L1-resident panels; a scalar multiply-add loop without SIMD), so each op's GFLOP/s can be
//! shown as a share of what this machine can do.

use crate::batch::Batch;
use crate::choice::now_ms;
use crate::config::{Activation, Pooling};
use crate::cpu;
use crate::model::backend::{Backend, Normalized};
use crate::model::delight::Glt;
use crate::model::embeddings::Embeddings;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::{AblationMode, BatchNormStats};
use crate::tensor::Tensor;
use serde::Serialize;

/// One kind of op in a forward: how often it ran, its wall time and the floating-point operations it did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpTime {
    /// What ran, e.g. `matmul+bias 384→1152`, `attention (QKᵀ, softmax, ·V)`, `layer norm`.
    pub op: String,
    /// Calls per forward.
    pub calls: u32,
    /// Wall-clock milliseconds per forward, all calls together.
    pub ms: f64,
    /// Floating-point operations counted for it (multiply + add of the matmuls and attention products);
    /// 0 for ops whose time is memory traffic (norms, embeddings, pooling, copies).
    pub flops: f64,
}

/// Per-op timings of a forward pass: the mean over `runs` forwards of the same batch without the slowest fifth.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// "cpu", or the GPU backend's name.
    pub backend: String,
    /// Sequences in the batch.
    pub batch: usize,
    /// Tokens per sequence (padded).
    pub seq: usize,
    /// Forwards timed; times are per forward, the mean without the slowest fifth of the runs.
    pub runs: u32,
    /// Op kinds in the order they first ran; empty where per-op times could not be measured (see `note`).
    pub ops: Vec<OpTime>,
    /// Wall-clock milliseconds of the whole forward.
    pub total_ms: f64,
    /// Floating-point operations counted over all ops.
    pub flops: f64,
    /// The measured multiply-add ceiling of this build on this machine, GFLOP/s (see [`peak_gflops`]);
    /// 0 on the GPU, where no peak is measured.
    pub peak_gflops: f64,
    /// What the peak ran: "simd128 microkernel", "relaxed-simd microkernel" or "scalar multiply-add loop".
    pub peak_kernel: String,
    /// Why some numbers are missing (no per-op times on this backend), if any.
    pub note: Option<String>,
}

/// How a backend tells the time of its ops. The CPU runs each op when it is recorded, so a mark is the
/// clock and a span is a difference of clocks. The GPU records first and runs at `finish`: a mark is the
/// number of dispatches recorded so far, and a span sums those dispatches' GPU timestamps once the
/// forward has finished ([`crate::gpu::GpuBackend::time_next_forward`]).
pub trait OpClock {
    /// Where the backend is now (before or after an op).
    fn mark(&self) -> f64;
    /// Milliseconds between two marks; for the GPU valid only after `finish`.
    fn span_ms(&self, from: f64, to: f64) -> f64;
}

impl OpClock for cpu::CpuBackend<'_> {
    fn mark(&self) -> f64 {
        now_ms()
    }
    fn span_ms(&self, from: f64, to: f64) -> f64 {
        to - from
    }
}

/// A backend with a stopwatch around every op, aggregated per op kind (the same kernels, the same
/// results): on the CPU a wall clock, on the GPU the device's timestamps of each dispatch.
pub struct Profiled<'a, B: Backend + OpClock> {
    inner: &'a mut B,
    /// Op kinds in the order they first ran; `ms` filled in by [`Profiled::ops`].
    kinds: Vec<OpTime>,
    /// Every op run: (index into `kinds`, mark before, mark after).
    spans: Vec<(usize, f64, f64)>,
}

impl<'a, B: Backend + OpClock> Profiled<'a, B> {
    /// A fresh stopwatch over `inner`.
    pub fn new(inner: &'a mut B) -> Self {
        Self { inner, kinds: Vec::new(), spans: Vec::new() }
    }

    /// Run `f` on the backend and add its time (and `flops`) to op kind `op`.
    pub fn time<T>(&mut self, op: String, flops: f64, f: impl FnOnce(&mut B) -> T) -> T {
        let from = self.inner.mark();
        let r = f(self.inner);
        let to = self.inner.mark();
        let i = match self.kinds.iter().position(|o| o.op == op) {
            Some(i) => i,
            None => {
                self.kinds.push(OpTime { op, ..Default::default() });
                self.kinds.len() - 1
            }
        };
        let e = &mut self.kinds[i];
        e.calls += 1;
        e.flops += flops;
        self.spans.push((i, from, to));
        r
    }

    /// Forget every op timed so far (after a warm-up run).
    pub fn clear(&mut self) {
        self.kinds.clear();
        self.spans.clear();
    }

    /// Each op kind with its calls, FLOPs and total milliseconds so far (on the GPU, after `finish`).
    pub fn ops(&self) -> Vec<OpTime> {
        let mut ops = self.kinds.clone();
        for &(i, from, to) in &self.spans {
            ops[i].ms += self.inner.span_ms(from, to);
        }
        ops
    }
}

fn linear_name(l: &Linear, what: &str) -> String {
    format!("{what} {}→{}", l.in_dim(), l.out_dim())
}

/// `2·rows·k·n` for `x (rows, k)` through `l (n, k)`: rows from the op's input length.
fn linear_flops(x_len: usize, l: &Linear) -> f64 {
    2.0 * (x_len / l.in_dim().max(1)) as f64 * l.in_dim() as f64 * l.out_dim() as f64
}

/// Elements of an activation, whatever the backend keeps it in.
pub trait TensorLen {
    /// Number of floats.
    fn len_floats(&self) -> usize;
}

impl TensorLen for Vec<f32> {
    fn len_floats(&self) -> usize {
        self.len()
    }
}

impl<B: Backend + OpClock> Backend for Profiled<'_, B>
where
    B::Tensor: TensorLen,
{
    type Tensor = B::Tensor;
    type Pending = B::Pending;
    type Fetched = B::Fetched;

    fn begin(&mut self, batch: &Batch) -> crate::Result<()> {
        self.inner.begin(batch)
    }
    fn embed(&mut self, e: &Embeddings, batch: &Batch) -> crate::Result<B::Tensor> {
        self.time("embed".into(), 0.0, |b| b.embed(e, batch))
    }
    fn linear(&mut self, x: &B::Tensor, l: &Linear, act: Option<Activation>) -> crate::Result<B::Tensor> {
        let what = match act {
            Some(a) => format!("matmul+bias+{a:?}").to_lowercase(),
            None => "matmul+bias".into(),
        };
        self.time(linear_name(l, &what), linear_flops(x.len_floats(), l), |b| b.linear(x, l, act))
    }
    fn linear_add(&mut self, x: &B::Tensor, l: &Linear, acc: &mut B::Tensor) -> crate::Result<()> {
        self.time(linear_name(l, "matmul+bias+residual"), linear_flops(x.len_floats(), l), |b| b.linear_add(x, l, acc))
    }
    fn glt(&mut self, x: &B::Tensor, mix: Option<&B::Tensor>, g: &Glt) -> crate::Result<B::Tensor> {
        // Each of the `groups` groups maps its (x_dim + mix_dim) / groups inputs to out_dim / groups outputs.
        let rows = x.len_floats() / g.x_dim().max(1);
        let flops = 2.0 * rows as f64 * ((g.x_dim() + g.mix_dim) * g.out_dim) as f64 / g.groups.max(1) as f64;
        self.time("group linear (DeLighT)".into(), flops, |b| b.glt(x, mix, g))
    }
    fn activation(&mut self, x: &mut B::Tensor, act: Activation) -> crate::Result<()> {
        self.time(format!("{act:?} (in place)").to_lowercase(), 0.0, |b| b.activation(x, act))
    }
    fn attention(&mut self, qkv: &B::Tensor, batch: &Batch, heads: usize, probs: bool) -> crate::Result<(B::Tensor, Option<B::Pending>)> {
        // QKᵀ and P·V: 2 · (2·S·S·d) per sequence, d = heads · head_dim = qkv width / 3.
        let d = qkv.len_floats() / batch.rows().max(1) / 3;
        let flops = 4.0 * batch.batch as f64 * (batch.seq * batch.seq) as f64 * d as f64;
        self.time("attention (QKᵀ, softmax, ·V)".into(), flops, |b| b.attention(qkv, batch, heads, probs))
    }
    fn ablate_heads(&mut self, ctx: &mut B::Tensor, batch: &Batch, heads: usize, keep: &[f32], mode: AblationMode) -> crate::Result<()> {
        self.time("head ablation".into(), 0.0, |b| b.ablate_heads(ctx, batch, heads, keep, mode))
    }
    fn norm(&mut self, x: &B::Tensor, n: &Norm, batch: &Batch, bn: BatchNormStats, stats: bool) -> crate::Result<Normalized<Self>> {
        let what = match n {
            Norm::Layer { .. } => "layer norm",
            Norm::Batch { .. } => "batch norm",
        };
        self.time(what.into(), 0.0, |b| b.norm(x, n, batch, bn, stats))
    }
    fn pool(&mut self, x: &B::Tensor, batch: &Batch, pooling: Pooling) -> crate::Result<B::Tensor> {
        self.time("pool".into(), 0.0, |b| b.pool(x, batch, pooling))
    }
    fn softmax(&mut self, x: &B::Tensor, n: usize) -> crate::Result<B::Tensor> {
        self.time("softmax (head)".into(), 0.0, |b| b.softmax(x, n))
    }
    fn read(&mut self, x: &B::Tensor, shape: Vec<usize>) -> B::Pending {
        self.time("read (host copies)".into(), 0.0, |b| b.read(x, shape))
    }
    fn host(&mut self, t: Tensor) -> B::Pending {
        self.inner.host(t)
    }
    fn release(&mut self, x: B::Tensor) {
        self.inner.release(x)
    }
    async fn finish(&mut self) -> crate::Result<B::Fetched> {
        self.inner.finish().await
    }
    fn fetch(&self, fetched: &B::Fetched, p: B::Pending) -> Tensor {
        self.inner.fetch(fetched, p)
    }
}

/// FLOPs per iteration of [`peak_loop`].
fn peak_flops_per_iter() -> f64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::PEAK_FLOPS_PER_ITER
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        (2 * SCALAR_LANES) as f64
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const SCALAR_LANES: usize = 16;

/// `iters` iterations of the build's multiply-add ceiling loop; returns a value so it cannot be elided.
fn peak_loop(iters: u32) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::peak_kernel(iters, 0.5)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        // 16 independent multiply-add chains: no dependency stalls, registers only.
        let x = std::hint::black_box(0.999_9f32);
        let mut acc = [0.5f32; SCALAR_LANES];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = *a * x + 1e-7;
            }
        }
        acc.iter().sum()
    }
}

/// What [`peak_gflops`] runs.
pub fn peak_kernel_name() -> &'static str {
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    {
        "relaxed-simd matmul microkernel"
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128", not(target_feature = "relaxed-simd")))]
    {
        "simd128 matmul microkernel"
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        "scalar multiply-add loop"
    }
}

/// The build's multiply-add ceiling on this machine in GFLOP/s: `peak_loop` in chunks of at least
/// 1 ms, the fastest of 20 (a busy machine preempts some). The browser runs a function's first calls in
/// its baseline compiler and switches to optimised code a few calls later, so the chunk is sized on the
/// fastest run and the round repeated until even that lasts ≥ 1 ms (the timer ticks in up to 0.1 ms
/// steps). Measured on the first call and cached for the process (the worker).
pub fn peak_gflops() -> f64 {
    static PEAK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *PEAK.get_or_init(|| {
        let mut iters = 64u32;
        loop {
            let mut best = f64::INFINITY;
            for _ in 0..20 {
                let t0 = now_ms();
                std::hint::black_box(peak_loop(iters));
                best = best.min(now_ms() - t0);
            }
            if best >= 1.0 || iters >= 1 << 26 {
                return iters as f64 * peak_flops_per_iter() / (best.max(1e-3) * 1e6);
            }
            iters *= if best > 0.1 { 2 } else { 8 };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_measured_once_and_positive() {
        let p = peak_gflops();
        assert!(p.is_finite() && p > 0.01, "peak {p} GFLOP/s");
        assert_eq!(peak_gflops(), p, "cached");
    }
}

//! GPU checks shared by the native tests (`tests/gpu.rs`, wgpu on Vulkan/lavapipe) and the browser tests
//! (`tests/wasm_gpu.rs`, WebGPU on SwiftShader): every kernel against the CPU reference over random
//! shapes (ragged sizes, sequence lengths 1, 7, 128, 300), whole models against the CPU and the PyTorch
//! golden fixtures, one submit per forward, and the CPU fallback.
#![allow(dead_code)]

use crate::common::{assert_close, real_rows, ModelDir};
use encoder_lens::config::{Activation, NormKind};
use encoder_lens::cpu;
use encoder_lens::gpu::ops::{self, matmul::act};
use encoder_lens::gpu::{GpuBackend, GpuContext};
use encoder_lens::{Backend, BatchNormStats, Engine, ForwardOptions, Trace, TraceRequest};

/// Kernel outputs vs the CPU reference: |Δ| <= 1e-4 + 1e-4·|ref|.
const TOL: (f32, f32) = (1e-4, 1e-4);
/// A whole model's intermediate states (trace) vs the CPU. Logits stay at 1e-4 absolute; states inside a
/// post-norm layer sum terms of magnitude ~10 (embeddings scaled by sqrt(d)) before LayerNorm, and
/// SwiftShader's exp/FMA rounding leaves up to ~3e-4 there (lavapipe: < 1e-4).
const TRACE_TOL: (f32, f32) = (1e-3, 1e-4);

macro_rules! say {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

/// CI sets REQUIRE_GPU=1: then a missing adapter fails the test instead of skipping it.
pub fn require_gpu() -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
        return true;
    }
    option_env!("REQUIRE_GPU") == Some("1")
}

/// In the browser all tests run one after another in one page: they share the page's one context (the
/// library's shared context, one per worker), so SwiftShader compiles the pipelines once instead of once per
/// test. Natively each test opens its own (tests run side by side, and some destroy their device).
async fn new_context() -> encoder_lens::Result<GpuContext> {
    let backends = encoder_lens::gpu::context::default_backends();
    if cfg!(target_arch = "wasm32") {
        GpuContext::open_shared(backends).await
    } else {
        GpuContext::new(backends).await
    }
}

/// The platform's GPU, or `None` after printing `SKIPPED: <test>: <why>` (a failure under REQUIRE_GPU=1).
pub async fn gpu_or_skip(test: &str) -> Option<GpuContext> {
    match new_context().await {
        Ok(ctx) => {
            say!("{test}: on {} — {}", ctx.backend_name(), ctx.adapter_name());
            Some(ctx)
        }
        Err(e) => {
            assert!(!require_gpu(), "{test}: REQUIRE_GPU=1 but no GPU: {e}");
            say!("SKIPPED: {test}: {e}");
            None
        }
    }
}

/// xorshift64*: reproducible random shapes and values without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// In `lo..=hi`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.int(0, xs.len() - 1)]
    }
    /// Uniform in [-a, a).
    pub fn f(&mut self, a: f32) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * a
    }
    pub fn vec(&mut self, n: usize, a: f32) -> Vec<f32> {
        (0..n).map(|_| self.f(a)).collect()
    }
}

/// Sequence lengths every sequence-shaped kernel is tried with, then random ones.
const SEQS: [usize; 4] = [1, 7, 128, 300];

fn seq_for(i: usize, rng: &mut Rng, max: usize) -> usize {
    if i < SEQS.len() * 2 { SEQS[i % SEQS.len()].min(max) } else { rng.int(1, max) }
}

pub async fn matmul(ctx: &GpuContext, shapes: usize, max_m: usize, max_dim: usize) {
    let mut rng = Rng::new(1);
    let acts = [act::NONE, act::RELU, act::GELU, act::GELU_TANH, act::TANH];
    for i in 0..shapes {
        let m = seq_for(i, &mut rng, max_m);
        // Alternate k divisible by 4 (vec4 loads) and ragged k; n ragged or a multiple of the tile.
        let k = if i % 2 == 0 { 4 * rng.int(1, max_dim / 4) } else { rng.int(1, max_dim) };
        let n = if i % 5 == 0 { 64 * rng.int(1, 3) } else { rng.int(1, max_dim) };
        let a = acts[i % acts.len()];
        let x = rng.vec(m * k, 1.0);
        let w = rng.vec(n * k, 1.0);
        let bias = (i % 3 != 2).then(|| rng.vec(n, 1.0));
        let residual = (i % 4 == 1).then(|| rng.vec(m * n, 1.0));
        let mut want = vec![0.0; m * n];
        cpu::linear(&x, &w, bias.as_deref(), &mut want, m, k, n);
        match a {
            act::RELU => cpu::activation_inplace(&mut want, Activation::Relu),
            act::GELU => cpu::activation_inplace(&mut want, Activation::Gelu),
            act::GELU_TANH => cpu::activation_inplace(&mut want, Activation::GeluTanh),
            act::TANH => want.iter_mut().for_each(|v| *v = v.tanh()),
            _ => {}
        }
        if let Some(r) = &residual {
            let mut acc = r.clone();
            cpu::add_inplace(&mut acc, &want);
            want = acc;
        }
        // Both entry points where both apply (the 64×64 workgroup-memory tile and the 16-row register tile).
        let entries: &[usize] = if k % 4 == 0 { &[0, 1] } else { &[0] };
        for &e in entries {
            let got = ops::matmul::run(ctx, Some(e), &x, &w, bias.as_deref(), residual.as_deref(), (m, k, n), a).await.expect("gpu linear");
            let what = format!("matmul shape {i} ({}): m {m} k {k} n {n} act {a} residual {}", ops::matmul::SHADER.entries[e], residual.is_some());
            assert_close(&what, &got, &want, TOL.0, TOL.1);
        }
    }
    say!("matmul: {shapes} shapes match the CPU");
    gelu_over_its_range(ctx).await;
}

/// The GPU's GELU (shaders/include/activate.wgsl) over [−20, 20] in steps of 1/64, the far tails and
/// zero, against the scalar reference (libm's `erff`, as PyTorch): within 1e-6 + 1e-6·|y| everywhere, and
/// exactly 0 from x ≤ −5.6 on (erf saturates at −1 from |x|/√2 ≥ 3.9), as on the CPU.
async fn gelu_over_its_range(ctx: &GpuContext) {
    let mut x: Vec<f32> = (-1280..=1280).map(|i| i as f32 / 64.0).collect();
    x.extend([-1e30, -1e6, -88.0, -30.0, 30.0, 88.0, 1e6, 1e30, -0.0, 1e-30, -1e-30]);
    let got = ops::activation::run(ctx, &x, act::GELU).await.expect("gpu gelu");
    let mut want = x.clone();
    cpu::scalar::activation_inplace(&mut want, Activation::Gelu);
    assert_close("GELU over [-20, 20] and the tails", &got, &want, 1e-6, 1e-6);
    for (&xi, &g) in x.iter().zip(&got) {
        assert!(xi > -5.6 || g == 0.0, "GELU({xi}) = {g} on the GPU, expected exactly 0");
    }
    say!("GELU: {} points match libm's erff", x.len());
}

pub async fn attention(ctx: &GpuContext, shapes: usize, max_seq: usize) {
    let mut rng = Rng::new(2);
    for i in 0..shapes {
        let seq = seq_for(i, &mut rng, max_seq);
        let big = seq > 64;
        let batch = rng.int(1, if big { 2 } else { 3 });
        let heads = rng.int(1, if big { 2 } else { 4 });
        let head_dim = rng.pick(&[1, 3, 8, 16, 17, 32, 64, if big { 32 } else { 128 }]);
        let d = heads * head_dim;
        let qkv = rng.vec(batch * seq * 3 * d, 2.0);
        let lengths: Vec<usize> = (0..batch).map(|b| if b == 0 { seq } else { rng.int(1, seq) }).collect();
        let with_probs = i % 3 != 2;
        let mut want = vec![0.0; batch * seq * d];
        let mut want_p = vec![0.0; batch * heads * seq * seq];
        cpu::attention(&qkv, &lengths, batch, seq, heads, head_dim, &mut want, Some(&mut want_p));
        // Both entry points where both apply (`main`, and `main_small` for heads of <= 32 dims in vec4s).
        let entries: &[usize] = if ops::attention::entry(head_dim) == 1 { &[0, 1] } else { &[0] };
        for &e in entries {
            let (out, probs) = ops::attention::run(ctx, Some(e), &qkv, &lengths, (batch, seq, heads, head_dim), with_probs).await.expect("gpu attention");
            let what = format!(
                "attention shape {i} ({}): batch {batch} seq {seq} heads {heads} head_dim {head_dim} lengths {lengths:?}",
                ops::attention::SHADER.entries[e]
            );
            assert_close(&format!("{what} output"), &out, &want, TOL.0, TOL.1);
            if let Some(p) = probs {
                assert_close(&format!("{what} probabilities"), &p, &want_p, 1e-5, 1e-4);
                for (j, (&g, &c)) in p.iter().zip(&want_p).enumerate() {
                    assert!(c != 0.0 || g == 0.0, "{what}: masked key {j} has probability {g}");
                }
            }
        }
    }
    say!("attention: {shapes} shapes match the CPU");
}

pub async fn norms(ctx: &GpuContext, shapes: usize, max_rows: usize) {
    let mut rng = Rng::new(3);
    for i in 0..shapes {
        let rows = seq_for(i, &mut rng, max_rows) * rng.int(1, 2);
        let d = if i % 4 == 0 { 64 * rng.int(1, 3) } else { rng.int(1, 300) };
        let x: Vec<f32> = rng.vec(rows * d, 2.0).iter().map(|v| v + 0.5).collect();
        let (w, b) = (rng.vec(d, 1.5), rng.vec(d, 0.5));
        let eps = rng.pick(&[1e-5, 1e-12, 1e-3]);

        let (out, mean, var) = ops::layer_norm::run(ctx, &x, &w, &b, (rows, d), eps).await.expect("gpu layer norm");
        let (mut want, mut wm, mut wv) = (vec![0.0; rows * d], vec![0.0; rows], vec![0.0; rows]);
        cpu::layer_norm(&x, &w, &b, &mut want, rows, d, eps, Some((&mut wm, &mut wv)));
        let what = format!("norm shape {i}: rows {rows} d {d} eps {eps}");
        // A constant row (d = 1) has variance 0 and is all bias; allow the 1/sqrt(eps) amplification.
        let tol = if d < 4 { 1e-3 } else { TOL.0 };
        assert_close(&format!("{what} layer norm"), &out, &want, tol, TOL.1);
        assert_close(&format!("{what} layer norm mean"), &mean, &wm, TOL.0, TOL.1);
        assert_close(&format!("{what} layer norm var"), &var, &wv, TOL.0, TOL.1);

        let (gm, gv) = ops::batch_stats::run(ctx, &x, (rows, d)).await.expect("gpu batch stats");
        let (mut cm, mut cv) = (vec![0.0; d], vec![0.0; d]);
        cpu::batch_stats(&x, rows, d, &mut cm, &mut cv);
        assert_close(&format!("{what} batch mean"), &gm, &cm, TOL.0, TOL.1);
        assert_close(&format!("{what} batch var"), &gv, &cv, TOL.0, TOL.1);

        let rv: Vec<f32> = rng.vec(d, 1.0).iter().map(|v| v.abs() + 0.1).collect();
        let rm = rng.vec(d, 1.0);
        let out = ops::batch_norm::run(ctx, &x, &rm, &rv, &w, &b, (rows, d), eps).await.expect("gpu batch norm");
        let mut want = vec![0.0; rows * d];
        cpu::batch_norm_eval(&x, &rm, &rv, &w, &b, &mut want, rows, d, eps);
        assert_close(&format!("{what} batch norm"), &out, &want, TOL.0, TOL.1);
    }
    say!("layer norm, batch stats, batch norm: {shapes} shapes match the CPU");
}

pub async fn embed_pool_softmax(ctx: &GpuContext, shapes: usize, max_seq: usize) {
    let mut rng = Rng::new(4);
    for i in 0..shapes {
        let seq = seq_for(i, &mut rng, max_seq);
        let batch = rng.int(1, 3);
        let d = if i % 3 == 0 { 2 * rng.int(1, 64) } else { rng.int(1, 130) };
        let (vocab, types) = (rng.int(1, 60), rng.int(1, 3));
        let rows = batch * seq;
        let word = rng.vec(vocab * d, 1.0);
        let pos = rng.vec(seq * d, 1.0);
        let table = rng.vec(types * d, 1.0);
        let ids: Vec<u32> = (0..rows).map(|_| rng.int(0, vocab - 1) as u32).collect();
        let tids: Vec<u32> = (0..rows).map(|_| rng.int(0, types - 1) as u32).collect();
        let with_types = i % 2 == 0;
        let scale = if i % 2 == 0 { (d as f32).sqrt() } else { 1.0 };
        let got = ops::embed::run(ctx, &ids, with_types.then_some((&tids[..], &table[..])), &word, &pos, (rows, seq, d), scale).await.expect("gpu embed");
        // The CPU Embeddings::forward formula: word · scale + position, then + token type.
        let mut want = vec![0.0; rows * d];
        for r in 0..rows {
            for j in 0..d {
                let mut v = word[ids[r] as usize * d + j] * scale + pos[(r % seq) * d + j];
                if with_types {
                    v += table[tids[r] as usize * d + j];
                }
                want[r * d + j] = v;
            }
        }
        let what = format!("shape {i}: batch {batch} seq {seq} d {d}");
        assert_close(&format!("embed {what}"), &got, &want, 1e-6, 1e-6);

        let lengths: Vec<usize> = (0..batch).map(|_| rng.int(1, seq)).collect();
        for cls in [false, true] {
            let got = ops::pool::run(ctx, &want, &lengths, (batch, seq, d), cls).await.expect("gpu pool");
            let mut expect = vec![0.0f32; batch * d];
            for b in 0..batch {
                let o = &mut expect[b * d..(b + 1) * d];
                if cls {
                    o.copy_from_slice(&want[b * seq * d..b * seq * d + d]);
                } else {
                    for t in 0..lengths[b] {
                        cpu::add_inplace(o, &want[(b * seq + t) * d..(b * seq + t + 1) * d]);
                    }
                    let inv = 1.0 / lengths[b] as f32;
                    o.iter_mut().for_each(|v| *v *= inv);
                }
            }
            assert_close(&format!("pool (cls {cls}) {what} lengths {lengths:?}"), &got, &expect, 1e-5, 1e-5);
        }

        let n = rng.int(1, 9);
        let logits = rng.vec(rows * n, 8.0);
        let got = ops::softmax::run(ctx, &logits, (rows, n)).await.expect("gpu softmax");
        let mut expect = logits.clone();
        expect.chunks_mut(n).for_each(cpu::softmax_inplace);
        assert_close(&format!("softmax rows {rows} n {n}"), &got, &expect, 1e-6, 1e-5);
    }
    say!("embed, pool, softmax: {shapes} shapes match the CPU");
}

/// Dispatches a forward records: embed (+ embedding LN), per layer 2 norms (+ 2 batch-stat reductions
/// for BatchNorm when tracing or in batch mode) + QKV, attention, out-proj, FFN1, FFN2, then final norm,
/// pool, pooler, classifier, softmax.
fn expected_dispatches(m: &ModelDir, stats: bool) -> usize {
    let c: encoder_lens::Config = serde_json::from_str(m.config).expect("config");
    let bn_stats = if c.norm == NormKind::Batch && stats { 2 } else { 0 };
    let norm_extra = |present: bool| if present { 1 + bn_stats / 2 } else { 0 };
    1 + c.embedding_norm as usize
        + c.num_layers * (7 + bn_stats)
        + norm_extra(c.final_norm)
        + 1
        + c.pooler as usize
        + if c.labels.is_empty() { 0 } else { 2 }
}

/// The pipelines the engine builds at load are exactly those a forward of a short text by the model
/// runs: after `prepare(forward_pipelines(config))` on a fresh device, a classification of one sentence
/// builds no other pipeline (the first classification waits for no compiler) and nothing unused was
/// built; a traced forward and a long batch still run (building what they need then).
pub async fn prepared_pipelines(m: &ModelDir, ctx: GpuContext) {
    let c = m.classifier();
    let want = encoder_lens::gpu::ops::forward_pipelines(&c.model.config);
    ctx.prepare(&want).await.expect("prepare");
    let mut sorted = want.clone();
    sorted.sort_by_key(|&(k, e)| (k as usize, e));
    sorted.dedup();
    assert_eq!(ctx.built(), sorted, "{}: built at load", m.name);
    let mut g = GpuBackend::new(ctx.clone(), &c.model).expect("upload");
    let (batch, _) = c.batch(&["a quietly moving film with two fine performances"]).expect("batch");
    c.model.forward(&mut g, &batch, &ForwardOptions::default()).await.expect("gpu forward");
    assert_eq!(ctx.built(), sorted, "{}: the first forward built pipelines that were not prepared", m.name);
    let long = m.fixture().batch(m.fixture().num_batches() - 1);
    c.model.forward(&mut g, &long, &ForwardOptions::default().traced(TraceRequest::ALL)).await.expect("traced gpu forward");
    say!("{}: {} pipelines built at load, none at the first forward; after a traced long batch: {:?}", m.name, sorted.len(), ctx.built());
}

/// Every pipeline of every kernel builds on this device (the engine builds only its model's at load).
pub async fn every_pipeline_builds(ctx: GpuContext) {
    ctx.prepare_all().await.expect("every pipeline builds");
    let all: Vec<_> = ops::Kernel::ALL.iter().flat_map(|&k| (0..k.entries().len()).map(move |e| (k, e))).collect();
    assert_eq!(ctx.built(), all);
}

/// A shape seen before costs no device objects: from the third forward of a batch on (the pool settles
/// after the second), no buffer and no bind group is created and the dispatch params are not rewritten;
/// the results stay equal to the first forward's, and a new shape in between does not break that.
pub async fn reuse(m: &ModelDir, ctx: GpuContext) {
    let c = m.classifier();
    let mut g = GpuBackend::new(ctx, &c.model).expect("upload");
    let fx = m.fixture();
    let (a, b) = (fx.batch(0), fx.batch(fx.num_batches() - 1));
    let opts = ForwardOptions::default();
    let first = c.model.forward(&mut g, &a, &opts).await.expect("gpu forward");
    assert!(g.last.buffers_created > 0 && g.last.bind_groups_created == g.last.dispatches, "first forward: {:?}", g.last);
    for round in 0..2 {
        for _ in 0..3 {
            let out = c.model.forward(&mut g, &a, &opts).await.expect("gpu forward");
            assert_eq!(out.logits.expect("logits").data, first.logits.as_ref().expect("logits").data, "same batch, same logits");
        }
        let s = g.last;
        assert_eq!((s.buffers_created, s.bind_groups_created, s.params_bytes_written), (0, 0, 0), "round {round}: repeated shape: {s:?}");
        assert_eq!((s.submits, s.readbacks), (1, 1));
        // Another shape in between (new bind groups for it), then back.
        c.model.forward(&mut g, &b, &opts).await.expect("gpu forward");
    }
    say!("{}: a repeated shape creates no buffers or bind groups ({} dispatches)", m.name, g.last.dispatches);
}

/// GPU vs CPU vs PyTorch for every golden batch of a model: logits and probabilities (<= 1e-4 absolute),
/// pooled and hidden states, and the whole trace. Returns the largest |GPU − CPU| logit difference.
/// Every `trace_every`-th batch is traced (and its whole trace compared); the others run untraced.
/// `part = (i, n)` checks the i-th of n equal slices of the fixture's batches (the browser splits the
/// larger models over several tests to stay under its per-test timeout).
pub async fn model(m: &ModelDir, ctx: GpuContext, trace_every: usize, part: (usize, usize)) -> f32 {
    let c = m.classifier();
    let mut g = GpuBackend::new(ctx, &c.model).expect("upload");
    let fx = m.fixture();
    let mut max_vs_cpu = 0.0f32;
    let mut max_vs_torch = 0.0f32;
    let per = fx.num_batches().div_ceil(part.1);
    let range = part.0 * per..((part.0 + 1) * per).min(fx.num_batches());
    let checked = range.len();
    for k in range {
        let batch = fx.batch(k);
        let (b, s) = (batch.batch, batch.seq);
        let what = |x: &str| format!("{} batch {k} (b {b} s {s}) {x}", m.name);
        let opts = ForwardOptions::default();
        // Alternate traced and untraced forwards: both paths, and buffer reuse across shapes.
        let tracing = k % trace_every == 0;
        let gpu_opts = if tracing { opts.traced(TraceRequest::ALL) } else { opts };
        let mut out = c.model.forward(&mut g, &batch, &gpu_opts).await.expect("gpu forward");
        assert_eq!((g.last.submits, g.last.readbacks), (1, 1), "{}", what("one submit and one readback per forward"));
        assert_eq!(g.last.dispatches, expected_dispatches(m, tracing), "{}", what("dispatch count"));
        assert_eq!(out.trace.is_some(), tracing, "{}", what("a trace exactly when asked for"));
        let (cpu_out, ct) = crate::common::traced_forward(&c, &batch, &opts);

        let (gl, cl) = (&out.logits.as_ref().expect("logits").data, &cpu_out.logits.as_ref().expect("logits").data);
        let (_, torch) = fx.f32(&format!("b{k}.logits"));
        assert_close(&what("logits vs CPU"), gl, cl, 1e-4, 0.0);
        assert_close(&what("logits vs PyTorch"), gl, &torch, 1e-4, 0.0);
        let (_, torch_p) = fx.f32(&format!("b{k}.probs"));
        assert_close(&what("probabilities vs PyTorch"), &out.probs.as_ref().expect("probs").data, &torch_p, 1e-4, 0.0);
        for (x, y) in gl.iter().zip(cl) {
            max_vs_cpu = max_vs_cpu.max((x - y).abs());
        }
        for (x, y) in gl.iter().zip(&torch) {
            max_vs_torch = max_vs_torch.max((x - y).abs());
        }
        let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
        assert_close(&what("pooled vs CPU"), &out.pooled.data, &cpu_out.pooled.data, TRACE_TOL.0, TRACE_TOL.1);
        if let Some(gt) = out.trace.take() {
            let (gh, ch) = (out.hidden.as_ref().expect("hidden"), cpu_out.hidden.as_ref().expect("hidden"));
            assert_close(&what("final hidden vs CPU"), &real(&gh.data), &real(&ch.data), TRACE_TOL.0, TRACE_TOL.1);
            compare_traces(&what("trace"), &gt, &ct, &batch.lengths);
        } else {
            assert!(out.hidden.is_none(), "{}", what("no hidden states read back unless asked for"));
        }
    }
    say!("{}: GPU vs CPU max |Δlogit| {max_vs_cpu:.2e}, GPU vs PyTorch {max_vs_torch:.2e} over {checked} batches", m.name);

    // Train-mode BatchNorm statistics (batch mode) on the GPU reduction kernel vs the CPU.
    let texts = ["an absolute joy from start to finish", "a dull, lifeless waste of two hours", "fine"];
    let (batch, _) = c.batch(&texts).expect("batch");
    let opts = ForwardOptions { batch_norm: BatchNormStats::Batch, ..Default::default() };
    let out = c.model.forward(&mut g, &batch, &opts).await.expect("gpu forward, batch statistics");
    let cpu_out = encoder_lens::cpu::forward(&c.model, &batch, &opts).expect("cpu forward");
    assert_close(&format!("{} batch-statistics logits vs CPU", m.name), &out.logits.expect("logits").data, &cpu_out.logits.expect("logits").data, 1e-4, 0.0);
    max_vs_cpu
}

fn compare_traces(what: &str, g: &Trace, c: &Trace, lengths: &[usize]) {
    let (b, s) = (c.batch, c.seq);
    let real = |x: &[f32]| real_rows(x, b, s, lengths);
    assert_eq!((g.batch, g.seq, &g.lengths), (c.batch, c.seq, &c.lengths), "{what}: shape");
    assert_eq!(g.positional, c.positional, "{what}: positional rows");
    let (ge, ce) = (g.embeddings.as_ref().expect("embeddings"), c.embeddings.as_ref().expect("embeddings"));
    assert_close(&format!("{what} embeddings"), &ge.data, &ce.data, 1e-5, 1e-5);
    assert_eq!(g.layers.len(), c.layers.len(), "{what}: layers");
    for (l, (gl, cl)) in g.layers.iter().zip(&c.layers).enumerate() {
        let (ga, ca) = (gl.attention.as_ref().expect("attention"), cl.attention.as_ref().expect("attention"));
        assert_eq!(ga.shape, ca.shape, "{what}: layer {l} attention shape");
        assert_close(&format!("{what} layer {l} attention"), &ga.data, &ca.data, 1e-5, 1e-4);
        assert!(
            ga.data.iter().zip(&ca.data).all(|(&x, &y)| y != 0.0 || x == 0.0),
            "{what}: layer {l}: a masked key has non-zero probability"
        );
        let (gh, ch) = (gl.hidden.as_ref().expect("hidden"), cl.hidden.as_ref().expect("hidden"));
        assert_close(&format!("{what} layer {l} hidden"), &real(&gh.data), &real(&ch.data), TRACE_TOL.0, TRACE_TOL.1);
        for (name, gn, cn) in [("norm1", &gl.norm1, &cl.norm1), ("norm2", &gl.norm2, &cl.norm2)] {
            compare_norm(&format!("{what} layer {l} {name}"), gn.as_ref().expect("norm"), cn.as_ref().expect("norm"), &real);
        }
    }
    match (&g.final_norm, &c.final_norm) {
        (Some(gn), Some(cn)) => compare_norm(&format!("{what} final norm"), gn, cn, &real),
        (None, None) => {}
        _ => panic!("{what}: final norm present on one side only"),
    }
}

fn compare_norm(what: &str, g: &encoder_lens::trace::NormTrace, c: &encoder_lens::trace::NormTrace, real: &dyn Fn(&[f32]) -> Vec<f32>) {
    assert_eq!(g.kind, c.kind, "{what}: kind");
    assert_eq!((&g.mean.shape, &g.var.shape), (&c.mean.shape, &c.var.shape), "{what}: stats shape");
    assert_eq!((&g.running_mean, &g.running_var), (&c.running_mean, &c.running_var), "{what}: running stats");
    match g.kind {
        NormKind::Layer => {
            assert_close(&format!("{what} mean"), &real(&g.mean.data), &real(&c.mean.data), TRACE_TOL.0, TRACE_TOL.1);
            assert_close(&format!("{what} var"), &real(&g.var.data), &real(&c.var.data), TRACE_TOL.0, TRACE_TOL.1);
        }
        NormKind::Batch => {
            // Batch statistics include padded positions, as on the CPU.
            assert_close(&format!("{what} batch mean"), &g.mean.data, &c.mean.data, TRACE_TOL.0, TRACE_TOL.1);
            assert_close(&format!("{what} batch var"), &g.var.data, &c.var.data, TRACE_TOL.0, TRACE_TOL.1);
        }
    }
    let (gi, ci) = (g.input.as_ref().expect("norm input"), c.input.as_ref().expect("norm input"));
    assert_close(&format!("{what} input"), &real(&gi.data), &real(&ci.data), TRACE_TOL.0, TRACE_TOL.1);
    assert_close(&format!("{what} output"), &real(&g.output.data), &real(&c.output.data), TRACE_TOL.0, TRACE_TOL.1);
}

/// The checks that build engines on the library's shared GPU context (`Engine::new`: one per process
/// natively) take turns: the tests of a binary run side by side, and a simulated device loss must not reach
/// another test's engine.
fn shared_context_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TEXTS: [&str; 3] = ["an absolute joy from start to finish", "a dull, lifeless waste of two hours", "great"];

/// No adapter (wgpu asked for no backend at all): `auto` runs on the CPU, says why, and gives exactly
/// the CPU's results; `gpu` is an error.
pub async fn fallback_without_adapter(m: &ModelDir) {
    let mut e = Engine::with_gpu_backends(m.classifier(), Backend::Auto, wgpu::Backends::empty()).await.expect("auto engine");
    assert_eq!(e.backend(), "cpu");
    let reason = e.fallback_reason().expect("a fallback reason").to_string();
    assert!(reason.contains("no GPU adapter"), "reason: {reason}");
    let traced = ForwardOptions::default().traced(TraceRequest::ALL);
    let got = e.classify(&TEXTS, &traced).await.expect("classify");
    let want = crate::common::ready(Engine::cpu(m.classifier()).classify(&TEXTS, &traced)).expect("cpu classify");
    for (g, w) in got.predictions.iter().zip(&want.predictions) {
        assert_eq!(g.probabilities, w.probabilities, "fallback must be the CPU path exactly");
        assert_eq!(g.label, w.label);
    }
    assert!(got.trace.is_some());
    let forced = Engine::with_gpu_backends(m.classifier(), Backend::Gpu, wgpu::Backends::empty()).await;
    assert!(matches!(forced, Err(encoder_lens::Error::Gpu(_))), "explicit gpu without an adapter must be an error");
    let cpu = Engine::with_gpu_backends(m.classifier(), Backend::Cpu, wgpu::Backends::all()).await.expect("cpu engine");
    assert_eq!((cpu.backend(), cpu.fallback_reason()), ("cpu", None));
}

/// `auto` on the adapter that is here: a software (fallback) adapter is declined without a probe; on a
/// hardware one the timed probe decides and a second engine of the same model reuses it. The probe itself
/// (`Engine::measured`) runs on any adapter: both timings are real and the engine runs on the faster one,
/// with the CPU's exact results when the CPU wins. Forcing the GPU still gives the GPU.
#[allow(clippy::await_holding_lock)]
pub async fn auto_choice(m: &ModelDir, test: &str) {
    let _turn = shared_context_turn();
    let Some(ctx) = gpu_or_skip(test).await else { return };
    let software = encoder_lens::choice::is_software(&ctx.info);
    let auto = Engine::new(m.classifier(), Backend::Auto).await.expect("auto engine");
    let c = auto.choice().clone();
    assert_eq!(c.requested, Backend::Auto);
    assert_eq!(c.fallback_adapter, software, "{c:?}");
    assert_eq!(c.runs_on, auto.backend());
    if software {
        assert_eq!(auto.backend(), "cpu", "auto must not pick a software adapter: {c:?}");
        assert!(c.probe.is_none(), "no probe on a software adapter");
        assert!(c.reason.contains("software (fallback) adapter"), "{}", c.reason);
        assert_eq!(auto.fallback_reason(), Some(c.reason.as_str()));
    } else {
        let p = c.probe.clone().expect("a probe on a hardware adapter");
        assert_eq!(auto.backend() != "cpu", p.gpu_ms < p.cpu_ms, "{c:?}");
        let again = Engine::new(m.classifier(), Backend::Auto).await.expect("auto engine");
        assert!(again.choice().cached && again.choice().probe == c.probe, "{:?}", again.choice());
    }

    let mut probed = Engine::measured(m.classifier(), ctx.clone()).await.expect("measured engine");
    let c = probed.choice().clone();
    let p = c.probe.clone().expect("probe");
    println!("{test}: adapter {:?}: {}", c.adapter, c.reason);
    assert!(p.cpu_ms > 0.0 && p.gpu_ms > 0.0 && p.gpu_first_ms > 0.0 && p.seq > 2, "{p:?}");
    assert_eq!(probed.backend() != "cpu", p.gpu_ms < p.cpu_ms, "{c:?}");
    assert!(c.reason.contains("timed probe") && c.reason.contains(&format!("{} tokens", p.seq)), "{}", c.reason);
    let got = probed.classify(&TEXTS, &ForwardOptions::default()).await.expect("classify");
    let want = crate::common::ready(Engine::cpu(m.classifier()).classify(&TEXTS, &ForwardOptions::default())).expect("cpu classify");
    for (g, w) in got.predictions.iter().zip(&want.predictions) {
        if probed.backend() == "cpu" {
            assert_eq!(g.probabilities, w.probabilities, "a CPU verdict runs the CPU path exactly");
        }
        assert_eq!(g.label, w.label);
    }
    assert_eq!(probed.forward_count(), 1, "the probe's forwards are not the user's");

    // A reload: the page keeps the probe cache (export) and gives it back to a fresh wasm instance
    // (import, into an empty cache); the same model on the same adapter then takes the kept probe.
    let kept = encoder_lens::choice::export_cache();
    encoder_lens::choice::clear_cache();
    assert!(encoder_lens::choice::import_cache(&kept).expect("import the kept probes") >= 1, "{kept}");
    let reloaded = Engine::measured(m.classifier(), ctx).await.expect("measured engine after a reload");
    let r = reloaded.choice();
    // JSON keeps the times to the last bit or one ulp off (serde_json's float parsing), not more.
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    let (rp, cp) = (r.probe.clone().expect("probe"), c.probe.clone().expect("probe"));
    assert!(r.cached && r.runs_on == c.runs_on && rp.seq == cp.seq, "{r:?} vs {c:?}");
    assert!(same(rp.cpu_ms, cp.cpu_ms) && same(rp.gpu_ms, cp.gpu_ms) && same(rp.gpu_first_ms, cp.gpu_first_ms), "{rp:?} vs {cp:?}");
    assert!(r.reason.starts_with("cached timed probe"), "{}", r.reason);

    let forced = Engine::new(m.classifier(), Backend::Gpu).await.expect("forced gpu engine");
    assert_ne!(forced.backend(), "cpu", "forcing the GPU uses it, software or not");
    assert!(forced.choice().probe.is_none() && forced.choice().fallback_adapter == software);
}

/// The device is lost mid-session: the next forward runs on the CPU, reports why, and matches the CPU
/// exactly (and the earlier GPU result within 1e-4); another engine sharing the device follows it to the CPU,
/// and the next GPU load opens a new device.
#[allow(clippy::await_holding_lock)]
pub async fn fallback_after_device_loss(m: &ModelDir, test: &str) {
    let _turn = shared_context_turn();
    let mut e = match Engine::new(m.classifier(), Backend::Gpu).await {
        Ok(e) => e,
        Err(err) => {
            assert!(!require_gpu(), "{test}: REQUIRE_GPU=1 but no GPU: {err}");
            say!("SKIPPED: {test}: {err}");
            return;
        }
    };
    assert_ne!(e.backend(), "cpu");
    let on_gpu = e.classify(&TEXTS, &ForwardOptions::default()).await.expect("gpu classify");
    assert_eq!(e.gpu().expect("gpu").last.submits, 1);
    // A second engine shares the first one's context (device, queue, pipelines).
    let mut other = Engine::new(m.classifier(), Backend::Gpu).await.expect("second gpu engine");
    let lost = e.gpu().expect("gpu").ctx.clone();
    assert!(other.gpu().expect("gpu").ctx.same_as(&lost), "the second engine shares the device");
    e.gpu().expect("gpu").ctx.simulate_device_loss();
    let after = e.classify(&TEXTS, &ForwardOptions::default()).await.expect("classify after loss");
    assert_eq!(e.backend(), "cpu");
    let reason = e.fallback_reason().expect("reason").to_string();
    assert!(reason.contains("lost"), "reason: {reason}");
    let cpu = crate::common::ready(Engine::cpu(m.classifier()).classify(&TEXTS, &ForwardOptions::default())).expect("cpu");
    for i in 0..TEXTS.len() {
        assert_eq!(after.predictions[i].probabilities, cpu.predictions[i].probabilities, "after loss = CPU exactly");
        assert_close("GPU before loss vs CPU after", &on_gpu.predictions[i].probabilities, &cpu.predictions[i].probabilities, 1e-4, 0.0);
    }
    // The engine that shared the lost device goes to the CPU at its next call; the next load opens a new device.
    let shared_after = other.classify(&TEXTS, &ForwardOptions::default()).await.expect("classify on the other engine");
    assert_eq!(other.backend(), "cpu");
    assert_eq!(shared_after.predictions[0].probabilities, cpu.predictions[0].probabilities);
    let mut fresh = Engine::new(m.classifier(), Backend::Gpu).await.expect("a gpu engine after the loss");
    assert!(!fresh.gpu().expect("gpu").ctx.same_as(&lost), "a load after the loss opens a new device");
    let again = fresh.classify(&TEXTS, &ForwardOptions::default()).await.expect("classify on the new device");
    assert_ne!(fresh.last_backend(), "cpu");
    assert_close("new device vs CPU", &again.predictions[0].probabilities, &cpu.predictions[0].probabilities, 1e-4, 0.0);
    say!("{test}: fell back with reason: {reason}");
}

/// A tensor larger than the storage-binding limit is refused with a clear error, not a validation crash;
/// through the engine, a batch over the limit runs on the CPU alone and the GPU stays for the next one.
pub async fn oversized_tensor_is_refused(m: &ModelDir, mut ctx: GpuContext) {
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let err = ctx.storage_buffer("too big", limit + 4, wgpu::BufferUsages::empty()).expect_err("must be refused");
    let msg = err.to_string();
    assert!(matches!(err, encoder_lens::Error::GpuLimit(_)), "{msg}");
    assert!(msg.contains("maxStorageBufferBindingSize") && msg.contains("too big"), "{msg}");

    // Pretend the device allows only as much as the largest weight (the word embeddings).
    let c = m.classifier();
    let largest = c.model.embeddings.word.data().len() as u64 * 4;
    ctx.limits.max_storage_buffer_binding_size = largest;
    let mut e = Engine::with_context(m.classifier(), Backend::Gpu, Ok(ctx)).expect("gpu engine");
    let gpu_name = e.backend();
    let opts = ForwardOptions::default();
    let small = ["fine"];
    e.classify(&small, &opts).await.expect("small batch");
    assert_eq!(e.last_backend(), gpu_name);
    // Enough rows that the (rows, 3d) QKV activations exceed the limit.
    let cfg = c.config();
    let rows_needed = largest as usize / (3 * cfg.hidden_size * 4) + 1;
    let long = "a very long review that goes on and on about the plot the acting and the music ".repeat(8);
    let n = rows_needed.div_ceil(cfg.max_len).min(encoder_lens::pipeline::MAX_BATCH);
    let texts: Vec<&str> = vec![long.as_str(); n];
    assert!(n * cfg.max_len >= rows_needed, "test setup: batch too small to exceed the limit");
    let big = e.classify(&texts, &opts).await.expect("big batch runs on the CPU");
    assert_eq!(e.last_backend(), "cpu");
    assert_eq!(e.backend(), gpu_name, "the GPU stays in use");
    let reason = e.fallback_reason().expect("reason").to_string();
    assert!(reason.contains("ran on the CPU") && reason.contains("maxStorageBufferBindingSize"), "{reason}");
    let want = crate::common::ready(Engine::cpu(m.classifier()).classify(&texts, &opts)).expect("cpu");
    assert_eq!(big.predictions[0].probabilities, want.predictions[0].probabilities);
    e.classify(&small, &opts).await.expect("small batch again");
    assert_eq!(e.last_backend(), gpu_name);
}

/// The timings panel's timed forward on the GPU: the same output as the plain forward; where the device
/// has timestamp queries, every op kind the CPU's timed forward lists (same calls and FLOPs), each with a
/// GPU time ≥ 0 and some > 0; without them no ops and a note that says why. A plain forward afterwards
/// is untimed again (one compute pass for all dispatches).
pub async fn timed_forward(m: &ModelDir, ctx: GpuContext, test: &str) {
    let c = m.classifier();
    let (batch, _) = c.batch(&["a warm, clever, well-acted film", "dull"]).expect("batch");
    let opts = ForwardOptions::default();
    let mut e = Engine::with_context(m.classifier(), Backend::Gpu, Ok(ctx)).expect("gpu engine");
    let plain = e.forward(&batch, &opts).await.expect("plain forward");
    let (out, t) = e.timed_forward(&batch, &opts, 0.0).await.expect("timed forward");
    assert_eq!(out.logits.expect("logits").data, plain.logits.expect("logits").data, "timing changes no number");
    assert_eq!((t.backend.as_str(), t.batch, t.seq, t.peak_gflops), (e.backend(), 2, batch.seq, 0.0));
    assert!(t.total_ms > 0.0, "{t:?}");
    let note = t.note.clone().expect("the GPU's timings say how they were taken");
    let stamps = e.gpu().expect("still on the GPU").has_timestamps();
    if stamps {
        let mut cpu = Engine::cpu(m.classifier());
        let (_, want) = crate::common::ready(cpu.timed_forward(&batch, &opts, 0.0)).expect("cpu timings");
        let kinds = |t: &encoder_lens::profile::Timings| {
            let mut k: Vec<(String, u32, f64)> = t.ops.iter().filter(|o| o.op != "read (host copies)").map(|o| (o.op.clone(), o.calls, o.flops)).collect();
            k.sort_by(|a, b| a.0.cmp(&b.0));
            k
        };
        assert_eq!(kinds(&t), kinds(&want), "the GPU times the same ops as the CPU");
        assert!(t.ops.iter().all(|o| o.ms >= 0.0 && o.ms.is_finite()) && t.ops.iter().any(|o| o.ms > 0.0), "{:?}", t.ops);
        assert!(note.contains("GPU timestamps"), "{note}");
        assert_eq!(t.flops, t.ops.iter().map(|o| o.flops).sum::<f64>());
        let g = e.gpu().expect("gpu");
        assert_eq!(g.last.compute_passes, g.last.dispatches, "timed: one pass per dispatch");
        let each: Vec<String> = t.ops.iter().map(|o| format!("{} {:.3}", o.op, o.ms)).collect();
        say!("{test}: per-op GPU ms {}; sum {:.3}, whole forward {:.3}", each.join(", "), t.ops.iter().map(|o| o.ms).sum::<f64>(), t.total_ms);
    } else {
        assert!(t.ops.is_empty() && note.contains("does not offer"), "{note}");
        say!("{test}: this adapter has no timestamp queries: {note}");
    }
    e.forward(&batch, &opts).await.expect("plain forward again");
    let g = e.gpu().expect("gpu");
    assert!(g.dispatch_ms.is_empty() && g.last.compute_passes < g.last.dispatches, "untimed again: {:?}", g.last);
}

/// A BERT-style model (learned positions, token types, embedding LayerNorm, tanh pooler, GELU) on the GPU
/// vs the CPU: logits and the whole trace, with token types 0 and 1 in the batch.
pub async fn bert_like(c: &encoder_lens::Classifier, ctx: GpuContext) {
    let mut g = GpuBackend::new(ctx, &c.model).expect("upload");
    let (mut batch, _) = c.batch(&["the film was good !", "bad films", "the"]).expect("batch");
    batch.type_ids = Some((0..batch.ids.len()).map(|i| (i % batch.seq >= 3) as u32).collect());
    for trace in [false, true] {
        let opts = ForwardOptions::default();
        let gpu_opts = if trace { opts.traced(TraceRequest::ALL) } else { opts };
        let mut out = c.model.forward(&mut g, &batch, &gpu_opts).await.expect("gpu forward");
        let (want, ct) = crate::common::traced_forward(c, &batch, &opts);
        assert_close("bert-like logits vs CPU", &out.logits.expect("logits").data, &want.logits.expect("logits").data, 1e-4, 0.0);
        assert_close("bert-like pooled vs CPU", &out.pooled.data, &want.pooled.data, TOL.0, TOL.1);
        if let Some(gt) = out.trace.take() {
            compare_traces("bert-like trace", &gt, &ct, &batch.lengths);
        }
    }
    say!("bert-like tiny model: GPU matches the CPU (types, embedding LN, pooler)");
}

// ---------------------------------------------------------------------------------------------------
// DeLighT

/// A random GLT problem: groups 1..=32 (1, 2, 4, 8, 16, 32 first), group widths not multiples of 4,
/// with the mixed-in input on two shapes of three.
pub struct GltCase {
    pub rows: usize,
    pub xd: usize,
    pub md: usize,
    pub n: usize,
    pub g: usize,
    pub x: Vec<f32>,
    pub mix: Option<Vec<f32>>,
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
}

pub fn glt_case(i: usize, rng: &mut Rng) -> GltCase {
    let g = if i < 6 { [1, 2, 4, 8, 16, 32][i] } else { rng.int(1, 32) };
    let (xg, og) = (rng.int(1, 13), rng.int(1, 11));
    let mg = if i % 3 == 0 { 0 } else { rng.int(1, 7) };
    let rows = rng.int(1, 40);
    let (xd, md, n) = (xg * g, mg * g, og * g);
    GltCase {
        rows,
        xd,
        md,
        n,
        g,
        x: rng.vec(rows * xd, 1.0),
        mix: (md > 0).then(|| rng.vec(rows * md, 1.0)),
        w: rng.vec(g * (xg + mg) * og, 0.5),
        bias: rng.vec(n, 0.5),
    }
}

/// The GLT kernel (mixer + grouped matmul + shuffle) and the in-place activation kernel vs the CPU.
pub async fn glt(ctx: &GpuContext, shapes: usize) {
    let mut rng = Rng::new(34);
    for i in 0..shapes {
        let c = glt_case(i, &mut rng);
        let got = ops::glt::run(ctx, &c.x, c.mix.as_deref(), &c.w, &c.bias, (c.rows, c.xd, c.md, c.n, c.g)).await.expect("gpu glt");
        let mut want = vec![0.0f32; c.rows * c.n];
        cpu::glt(&c.x, c.mix.as_deref(), &c.w, &c.bias, &mut want, c.rows, c.xd, c.md, c.n, c.g);
        assert_close(&format!("gpu glt shape {i}: rows {} xd {} md {} n {} groups {}", c.rows, c.xd, c.md, c.n, c.g), &got, &want, TOL.0, TOL.1);
    }
    for (a, code) in [(Activation::Silu, act::SILU), (Activation::Gelu, act::GELU), (Activation::Relu, act::RELU)] {
        let x = rng.vec(1000, 4.0);
        let got = ops::activation::run(ctx, &x, code).await.expect("gpu activation");
        let mut want = x.clone();
        cpu::activation_inplace(&mut want, a);
        assert_close(&format!("gpu activation {a:?}"), &got, &want, TOL.0, TOL.1);
    }
    say!("glt: {shapes} shapes and 3 activations match the CPU");
}

/// A DeLighT model on the GPU vs the CPU (logits, every block's hidden states and attention) and
/// PyTorch (logits), one submit per forward; `trace_every`-th batches traced, part `part.0` of `part.1`.
pub async fn delight_model(m: &ModelDir, ctx: GpuContext, trace_every: usize, part: (usize, usize)) -> f32 {
    let c = m.classifier();
    let mut g = GpuBackend::new(ctx, &c.model).expect("upload");
    let fx = m.fixture();
    let mut max_diff = 0.0f32;
    let per = fx.num_batches().div_ceil(part.1);
    for k in part.0 * per..((part.0 + 1) * per).min(fx.num_batches()) {
        let batch = fx.batch(k);
        let (b, s) = (batch.batch, batch.seq);
        let what = |x: &str| format!("{} batch {k} (b {b} s {s}) {x}", m.name);
        let tracing = k % trace_every == 0;
        let opts = if tracing { ForwardOptions::default().traced(TraceRequest::ALL) } else { ForwardOptions::default() };
        let out = c.model.forward(&mut g, &batch, &opts).await.expect("gpu forward");
        assert_eq!((g.last.submits, g.last.readbacks), (1, 1), "{}", what("one submit and one readback"));
        let (cpu_out, ct) = crate::common::traced_forward(&c, &batch, &ForwardOptions::default());
        let (gl, cl) = (&out.logits.as_ref().expect("logits").data, &cpu_out.logits.as_ref().expect("logits").data);
        max_diff = max_diff.max(assert_close(&what("logits vs CPU"), gl, cl, 1e-4, 0.0));
        let (_, torch) = fx.f32(&format!("b{k}.logits"));
        assert_close(&what("logits vs PyTorch"), gl, &torch, 1e-4, 0.0);
        if let Some(gt) = out.trace.as_ref() {
            let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
            assert_eq!(gt.layers.len(), ct.layers.len(), "{}", what("blocks"));
            for (l, (gb, cb)) in gt.layers.iter().zip(&ct.layers).enumerate() {
                let (gh, ch) = (gb.hidden.as_ref().expect("hidden"), cb.hidden.as_ref().expect("hidden"));
                assert_close(&what(&format!("block {l} hidden")), &real(&gh.data), &real(&ch.data), TRACE_TOL.0, TRACE_TOL.1);
                let (ga, ca) = (gb.attention.as_ref().expect("attention"), cb.attention.as_ref().expect("attention"));
                assert_eq!(ga.shape, vec![b, 1, s, s], "{}", what("one head"));
                assert_close(&what(&format!("block {l} attention")), &ga.data, &ca.data, 1e-5, 1e-4);
            }
        }
    }
    say!("{}: GPU vs CPU logits max |diff| {max_diff:.2e}", m.name);
    max_diff
}

//! Benchmark entry points for `bench/` (wasm32 with the `bench` feature only: `make bench` builds them into
//! bench/pkg and bench/pkg-relaxed and drives them in headless Chromium; the page's builds leave them out).
//! Each call does a fixed amount of work and JavaScript times it, so the same numbers come out of the
//! scalar reference, the SIMD128 build and the relaxed-SIMD build.

use crate::config::Config;
use crate::cpu;
use crate::model::{Batch, ForwardOptions, Model};
use wasm_bindgen::prelude::*;

/// Which kernels this module runs with reference mode off: "simd128", "relaxed-simd" (or "scalar" in a
/// build without SIMD).
#[wasm_bindgen(js_name = fastKernels)]
pub fn fast_kernels() -> String {
    cpu::set_reference(false);
    cpu::kernels().to_string()
}

/// Run `iters` iterations of the FMA-bound register-only loop; returns a value so it cannot be elided.
/// FLOPs done = `iters × peakFlopsPerIter()`.
#[wasm_bindgen(js_name = peakKernel)]
pub fn peak_kernel(iters: u32, seed: f32) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::peak_kernel(iters, seed)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = (iters, seed);
        f32::NAN
    }
}

/// Floating-point operations one iteration of the peak-FLOPS loop does.
#[wasm_bindgen(js_name = peakFlopsPerIter)]
pub fn peak_flops_per_iter() -> f64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::PEAK_FLOPS_PER_ITER
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        0.0
    }
}

/// Tuning: bytes of weight rows the SIMD matmul keeps in L2 per column block (see `cpu::simd128`).
#[wasm_bindgen(js_name = setBlockBytes)]
pub fn set_block_bytes(bytes: usize) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    cpu::simd128::set_b_block_bytes(bytes);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let _ = bytes;
}

fn fill(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((s >> 8) as f32 / (1u32 << 23) as f32 - 1.0) * scale
        })
        .collect()
}

/// `out (m, n) = x (m, k) · wᵀ + b` on random data, as `nn.Linear` computes it.
#[wasm_bindgen]
pub struct MatmulBench {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    out: Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
}

#[wasm_bindgen]
impl MatmulBench {
    /// An `(m, k) · (n, k)ᵀ` matmul with fixed pseudo-random inputs.
    #[wasm_bindgen(constructor)]
    pub fn new(m: usize, k: usize, n: usize) -> MatmulBench {
        MatmulBench {
            x: fill(m * k, 1, 1.0),
            w: fill(n * k, 2, 1.0 / (k as f32).sqrt()),
            b: fill(n, 3, 0.1),
            out: vec![0.0; m * n],
            m,
            k,
            n,
        }
    }

    /// Floating-point operations of one run: `2·m·k·n`.
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// One matmul with the reference kernel (`reference = true`) or this build's fast kernel.
    pub fn run(&mut self, reference: bool) -> f32 {
        cpu::set_reference(reference);
        cpu::linear(&self.x, &self.w, Some(&self.b), &mut self.out, self.m, self.k, self.n);
        cpu::set_reference(false);
        self.out[self.out.len() / 2]
    }
}

/// Batch-1 forwards of a model on a fixed pseudo-random sequence.
#[wasm_bindgen]
pub struct ForwardBench {
    model: Model,
}

#[wasm_bindgen]
impl ForwardBench {
    /// A model from its config and weights, for timing forward passes.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, weights: &[u8]) -> Result<ForwardBench, JsError> {
        let config: Config = serde_json::from_str(config_json).map_err(|e| JsError::new(&format!("config: {e}")))?;
        Ok(ForwardBench { model: Model::from_bytes(config, weights)? })
    }

    /// The token ids `forward(seq)` uses: `[CLS]`-like 2, then ids spread over the vocabulary.
    pub fn ids(&self, seq: usize) -> Vec<u32> {
        let v = self.model.config.vocab_size.max(1) as u32;
        (0..seq as u32)
            .map(|i| match (i, v > 5) {
                (0, _) => 2 % v,
                (_, true) => 5 + (i * 7919) % (v - 5),
                (_, false) => i % v,
            })
            .collect()
    }

    /// Multiply-accumulates per token of the encoder at `seq` tokens, counted as the DeLighT reference's
    /// `compute_macs_params` counts them (linear weights + biases per token, attention 2·S²·d / S).
    #[wasm_bindgen(js_name = macsPerToken)]
    pub fn macs_per_token(&self, seq: usize) -> f64 {
        let seq = seq.max(1);
        crate::model::delight::summary(&self.model.config, seq).encoder_macs as f64 / seq as f64
    }

    /// Parameters of the encoder (embeddings and head excluded).
    #[wasm_bindgen(js_name = encoderParams)]
    pub fn encoder_params(&self) -> f64 {
        crate::model::delight::summary(&self.model.config, 1).encoder_params as f64
    }

    /// One forward (batch 1, `seq` tokens, no trace); returns the logits.
    pub fn forward(&self, seq: usize, reference: bool) -> Result<Vec<f32>, JsError> {
        let batch = Batch::from_rows(&[self.ids(seq)], self.model.config.pad_token_id)?;
        cpu::set_reference(reference);
        let out = cpu::forward(&self.model, &batch, &ForwardOptions::default());
        cpu::set_reference(false);
        Ok(out?.logits.map(|t| t.data).unwrap_or_default())
    }
}

/// The CPU backend with a stopwatch around every op: where a forward's time goes, per op kind (the
/// per-op table of BENCHMARKS.md). Same kernels, same results; the timer is `performance.now()`
/// (5 µs resolution in a cross-origin-isolated page, which the bench page is).
struct Profiled {
    inner: cpu::CpuBackend,
    /// op kind -> (calls, ms)
    ops: std::collections::BTreeMap<String, (u32, f64)>,
}

impl Profiled {
    fn time<T>(&mut self, op: String, f: impl FnOnce(&mut cpu::CpuBackend) -> T) -> T {
        let t0 = crate::choice::now_ms();
        let r = f(&mut self.inner);
        let e = self.ops.entry(op).or_default();
        e.0 += 1;
        e.1 += crate::choice::now_ms() - t0;
        r
    }
}

fn linear_name(l: &crate::model::linear::Linear, what: &str) -> String {
    format!("{what} {}→{}", l.in_dim(), l.out_dim())
}

impl crate::model::backend::Backend for Profiled {
    type Tensor = Vec<f32>;
    type Pending = crate::tensor::Tensor;
    type Fetched = ();

    fn begin(&mut self, batch: &Batch) -> crate::Result<()> {
        self.inner.begin(batch)
    }
    fn embed(&mut self, e: &crate::model::embeddings::Embeddings, batch: &Batch) -> crate::Result<Vec<f32>> {
        self.time("embed".into(), |b| b.embed(e, batch))
    }
    fn linear(&mut self, x: &Vec<f32>, l: &crate::model::linear::Linear, act: Option<crate::config::Activation>) -> crate::Result<Vec<f32>> {
        let what = match act {
            Some(a) => format!("matmul+bias+{a:?}").to_lowercase(),
            None => "matmul+bias".into(),
        };
        self.time(linear_name(l, &what), |b| b.linear(x, l, act))
    }
    fn linear_add(&mut self, x: &Vec<f32>, l: &crate::model::linear::Linear, acc: &mut Vec<f32>) -> crate::Result<()> {
        self.time(linear_name(l, "matmul+bias+residual"), |b| b.linear_add(x, l, acc))
    }
    fn glt(&mut self, x: &Vec<f32>, mix: Option<&Vec<f32>>, g: &crate::model::delight::Glt) -> crate::Result<Vec<f32>> {
        self.time("group linear (DeLighT)".into(), |b| b.glt(x, mix, g))
    }
    fn activation(&mut self, x: &mut Vec<f32>, act: crate::config::Activation) -> crate::Result<()> {
        self.time(format!("{act:?} (in place)").to_lowercase(), |b| b.activation(x, act))
    }
    fn attention(&mut self, qkv: &Vec<f32>, batch: &Batch, heads: usize, probs: bool) -> crate::Result<(Vec<f32>, Option<crate::tensor::Tensor>)> {
        self.time("attention (QKᵀ, softmax, ·V)".into(), |b| b.attention(qkv, batch, heads, probs))
    }
    fn ablate_heads(&mut self, ctx: &mut Vec<f32>, batch: &Batch, heads: usize, keep: &[f32], mode: crate::model::AblationMode) -> crate::Result<()> {
        self.time("head ablation".into(), |b| b.ablate_heads(ctx, batch, heads, keep, mode))
    }
    fn norm(
        &mut self,
        x: &Vec<f32>,
        n: &crate::model::norm::Norm,
        batch: &Batch,
        bn: crate::model::BatchNormStats,
        stats: bool,
    ) -> crate::Result<crate::model::backend::Normalized<Self>> {
        let what = match n {
            crate::model::norm::Norm::Layer { .. } => "layer norm",
            crate::model::norm::Norm::Batch { .. } => "batch norm",
        };
        self.time(what.into(), |b| b.norm(x, n, batch, bn, stats))
    }
    fn pool(&mut self, x: &Vec<f32>, batch: &Batch, pooling: crate::config::Pooling) -> crate::Result<Vec<f32>> {
        self.time("pool".into(), |b| b.pool(x, batch, pooling))
    }
    fn softmax(&mut self, x: &Vec<f32>, n: usize) -> crate::Result<Vec<f32>> {
        self.time("softmax (head)".into(), |b| b.softmax(x, n))
    }
    fn read(&mut self, x: &Vec<f32>, shape: Vec<usize>) -> crate::tensor::Tensor {
        self.time("read (host copies)".into(), |b| b.read(x, shape))
    }
    fn host(&mut self, t: crate::tensor::Tensor) -> crate::tensor::Tensor {
        self.inner.host(t)
    }
    fn release(&mut self, x: Vec<f32>) {
        self.inner.release(x)
    }
    async fn finish(&mut self) -> crate::Result<()> {
        Ok(())
    }
    fn fetch(&self, _: &(), p: crate::tensor::Tensor) -> crate::tensor::Tensor {
        p
    }
}

/// A model folder as the JS API loads it (HF BERT or this project's format), profiled per op: where the
/// time of `embed([text])` goes — tokenizer, each op kind of the forward, pooling + L2 norm.
#[wasm_bindgen]
pub struct ProfileBench {
    classifier: crate::pipeline::Classifier,
}

#[wasm_bindgen]
impl ProfileBench {
    /// `texts` maps folder paths (`config.json`, `vocab.txt`, …) to their text, as `Engine.load` takes them.
    #[wasm_bindgen(constructor)]
    pub fn new(texts: JsValue, weights: &[u8]) -> Result<ProfileBench, JsError> {
        let texts: std::collections::HashMap<String, String> =
            serde_wasm_bindgen::from_value(texts).map_err(|e| JsError::new(&format!("texts: {e}")))?;
        let files = crate::hf::HfFiles::from_texts(|p| texts.get(p).map(String::as_str), vec![weights])?;
        Ok(ProfileBench { classifier: crate::pipeline::Classifier::from_files(&files)? })
    }

    /// `runs` profiled `embed([text])`s (after one warm-up): `{ tokens, runs, ms: { op: total ms over the
    /// runs }, calls: { op: calls per run }, totalMs }` — divide by `runs` for per-forward figures.
    pub fn profile(&self, text: &str, runs: u32) -> Result<JsValue, JsError> {
        let mut p = Profiled { inner: cpu::CpuBackend, ops: Default::default() };
        let opts = ForwardOptions::default();
        let mut total = 0.0;
        let mut tokens = 0;
        for run in 0..=runs {
            if run == 1 {
                p.ops.clear();
                total = 0.0;
            }
            let t0 = crate::choice::now_ms();
            let (batch, _) = p.time("tokenize + pad".into(), |_| self.classifier.batch(&[text]))?;
            tokens = batch.seq;
            let out = self.classifier.model.record(&mut p, &batch, &opts)?; // the CPU runs each op at once
            let e = p.time("L2 norm (embed)".into(), |_| self.classifier.embeddings(&out));
            std::hint::black_box(e);
            total += crate::choice::now_ms() - t0;
        }
        let ms: std::collections::BTreeMap<_, _> = p.ops.iter().map(|(k, v)| (k.clone(), v.1)).collect();
        let calls: std::collections::BTreeMap<_, _> = p.ops.iter().map(|(k, v)| (k.clone(), v.0 / runs.max(1))).collect();
        let v = serde_json::json!({ "tokens": tokens, "runs": runs, "ms": ms, "calls": calls, "totalMs": total });
        let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
        serde::Serialize::serialize(&v, &ser).map_err(|e| JsError::new(&e.to_string()))
    }
}

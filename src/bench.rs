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

/// Run `iters` iterations of the int8 product's tile on L1-resident data with the current int8 kernel;
/// returns a checksum. Integer operations done = `iters × peakInt8OpsPerIter()`.
#[wasm_bindgen(js_name = peakInt8)]
pub fn peak_int8(iters: u32) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::peak_int8(iters)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = iters;
        0
    }
}

/// Integer operations (2 per multiply-add) one [`peak_int8`] iteration does with the current kernel.
#[wasm_bindgen(js_name = peakInt8OpsPerIter)]
pub fn peak_int8_ops_per_iter() -> f64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::peak_int8_ops_per_iter()
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

/// Tuning: the int8 product's microkernel by name ("dot-i16x8", "relaxed-dot-i8x16-i7x16-add",
/// "relaxed-dot-i8x16-i7x16+extadd"; another name changes nothing); returns the one that runs afterwards
/// (`relaxed-dot-i8x16-i7x16+extadd` where the engine computes the first relaxed one wrongly; "" in a build
/// without SIMD).
#[wasm_bindgen(js_name = setInt8Kernel)]
pub fn set_int8_kernel(name: &str) -> String {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use cpu::simd128::Int8Kernel;
        if let Some(&k) = Int8Kernel::available().iter().find(|k| k.name() == name) {
            cpu::simd128::set_int8_kernel(k);
        }
        cpu::simd128::kernel_in_use().name().to_string()
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let _ = name;
        String::new()
    }
}

/// Tuning: activation bytes per row block of the int8 product (see `cpu::simd128::int8`).
#[wasm_bindgen(js_name = setInt8RowBlockBytes)]
pub fn set_int8_row_block_bytes(bytes: usize) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    cpu::simd128::set_int8_row_block_bytes(bytes);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let _ = bytes;
}

/// The int8 microkernels this build has, by name (empty without SIMD).
#[wasm_bindgen(js_name = int8Kernels)]
pub fn int8_kernels() -> Vec<String> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        cpu::simd128::Int8Kernel::available().iter().map(|k| k.name().to_string()).collect()
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        Vec::new()
    }
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

/// `out (m, n) = x (m, k) · wᵀ + b` with `w` quantized to int8 (per tensor), the activations quantized
/// dynamically each run: the int8 linear of an int8 model ([`cpu::quant::linear_int8`]), on the same random
/// data as [`MatmulBench`], so JavaScript can time the two side by side.
#[wasm_bindgen]
pub struct Int8MatmulBench {
    x: Vec<f32>,
    w: crate::model::param::Int8Weight,
    b: Vec<f32>,
    out: Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
}

#[wasm_bindgen]
impl Int8MatmulBench {
    /// An `(m, k) · (n, k)ᵀ` int8 linear with fixed pseudo-random inputs (the weights of [`MatmulBench`]).
    #[wasm_bindgen(constructor)]
    pub fn new(m: usize, k: usize, n: usize) -> Result<Int8MatmulBench, JsError> {
        let w = crate::quant::quantize_weight(&fill(n * k, 2, 1.0 / (k as f32).sqrt()), [n, k], false)?;
        Ok(Int8MatmulBench { x: fill(m * k, 1, 1.0), w, b: fill(n, 3, 0.1), out: vec![0.0; m * n], m, k, n })
    }

    /// Multiply-accumulates of one run, counted as floating-point operations: `2·m·k·n`.
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// One int8 linear with the reference kernel (`reference = true`) or this build's fast kernel.
    pub fn run(&mut self, reference: bool) -> f32 {
        cpu::set_reference(reference);
        cpu::quant::linear_int8(&self.x, &self.w, Some(&self.b), &mut self.out, self.m, self.k, self.n, None, false);
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
        let mut cpu = crate::cpu::CpuBackend::default();
        let mut p = crate::profile::Profiled::new(&mut cpu);
        let opts = ForwardOptions::default();
        let mut total = 0.0;
        let mut tokens = 0;
        for run in 0..=runs {
            if run == 1 {
                p.clear();
                total = 0.0;
            }
            let t0 = crate::choice::now_ms();
            let (batch, _) = p.time("tokenize + pad".into(), 0.0, |_| self.classifier.batch(&[text]))?;
            tokens = batch.seq;
            let out = self.classifier.model.record(&mut p, &batch, &opts)?; // the CPU runs each op at once
            let e = p.time("L2 norm (embed)".into(), 0.0, |_| self.classifier.embeddings(&out));
            std::hint::black_box(e);
            total += crate::choice::now_ms() - t0;
        }
        let ops = p.ops();
        let ms: std::collections::BTreeMap<_, _> = ops.iter().map(|o| (o.op.clone(), o.ms)).collect();
        let calls: std::collections::BTreeMap<_, _> = ops.iter().map(|o| (o.op.clone(), o.calls / runs.max(1))).collect();
        let v = serde_json::json!({ "tokens": tokens, "runs": runs, "ms": ms, "calls": calls, "totalMs": total });
        let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
        serde::Serialize::serialize(&v, &ser).map_err(|e| JsError::new(&e.to_string()))
    }
}

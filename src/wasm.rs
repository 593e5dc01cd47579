//! The browser boundary: a thin `#[wasm_bindgen]` wrapper. Every method returns `Result<_, JsError>`;
//! nothing here unwraps. JavaScript fetches and caches the bytes; Rust does no I/O.

use crate::engine::Backend;
use crate::model::{BatchNormStats, ForwardOptions};
use crate::trace::TraceRequest;
use crate::pipeline::Classifier;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// Runs when the module is instantiated: panics print to the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Options for `classify`, from a plain JS object; every field is optional.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ClassifyOptions {
    /// Record attention, norm statistics and hidden states for the page.
    trace: bool,
    /// "running" (eval, default) or "batch" (normalise BatchNorm with this batch's statistics).
    batch_norm: BatchNormStats,
}

/// Options for `explain`, from a plain JS object; every field is optional.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ExplainOptions {
    /// The label to explain (index); the prediction by default.
    label: Option<usize>,
    /// "zero" (default) or "mean": what an ablated head's output becomes.
    ablate: crate::model::AblationMode,
}

fn options<T: Default + serde::de::DeserializeOwned>(v: JsValue) -> Result<T, JsError> {
    if v.is_undefined() || v.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(v).map_err(|e| JsError::new(&format!("bad options: {e}")))
}

/// The text files of an HF BERT folder, from a plain JS object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HfFilesJs {
    config: String,
    vocab: String,
    #[serde(default)]
    tokenizer_config: Option<String>,
    #[serde(default)]
    sentence_bert_config: Option<String>,
    #[serde(default)]
    pooling_config: Option<String>,
}

/// A model on a backend (WebGPU or the CPU): classify, embed, inspect.
#[wasm_bindgen]
pub struct Engine {
    /// Borrowed mutably for the whole of an async `classify` (GPU buffers are reused), so a second
    /// call before the first resolves gets an error, not corrupted results.
    inner: RefCell<crate::engine::Engine>,
}

fn busy() -> JsError {
    JsError::new("engine busy: await the previous classify call first")
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let s = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    v.serialize(&s).map_err(|e| JsError::new(&format!("serialising result: {e}")))
}

/// Large results (hundreds of thousands of floats) cross as one JSON string parsed by the browser: several
/// times faster than building the JS arrays element by element.
fn json_to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let s = serde_json::to_string(v).map_err(|e| JsError::new(&format!("serialising result: {e}")))?;
    js_sys::JSON::parse(&s).map_err(|_| JsError::new("parsing the serialised result"))
}

impl Engine {
    fn with<T>(&self, f: impl FnOnce(&Classifier) -> Result<T, JsError>) -> Result<T, JsError> {
        f(&self.inner.try_borrow().map_err(|_| busy())?.classifier)
    }
}

#[wasm_bindgen]
impl Engine {
    /// Build an engine from a model folder's three files: `config.json` text, `model.safetensors` bytes
    /// and `vocab.txt` text. `backend`: "auto" (default: WebGPU where a timed probe finds it faster than the CPU, never a
    /// software adapter; see `choice()`), "gpu" (an
    /// error without WebGPU) or "cpu".
    pub async fn create(config_json: String, weights: Vec<u8>, vocab_txt: String, backend: Option<String>) -> Result<Engine, JsError> {
        let classifier = Classifier::from_bytes(&config_json, &weights, &vocab_txt)?;
        let backend: Backend = backend.as_deref().unwrap_or("auto").parse()?;
        let inner = crate::engine::Engine::new(classifier, backend).await?;
        Ok(Engine { inner: RefCell::new(inner) })
    }

    /// Build an engine from a Hugging Face BERT folder (e.g. all-MiniLM-L6-v2). `files`:
    /// `{ config, vocab, tokenizerConfig?, sentenceBertConfig?, poolingConfig? }` (the texts of
    /// `config.json`, `vocab.txt`, `tokenizer_config.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`); `weights`: an array of `Uint8Array` safetensors files (one, HF shards,
    /// or base + head as listed by `hfWeightFiles`).
    #[wasm_bindgen(js_name = createHf)]
    pub async fn create_hf(files: JsValue, weights: js_sys::Array, backend: Option<String>) -> Result<Engine, JsError> {
        let f: HfFilesJs = serde_wasm_bindgen::from_value(files).map_err(|e| JsError::new(&format!("bad files: {e}")))?;
        let files = crate::hf::HfFiles {
            config_json: &f.config,
            vocab_txt: &f.vocab,
            weights: Vec::new(),
            tokenizer_config_json: f.tokenizer_config.as_deref(),
            sentence_bert_config_json: f.sentence_bert_config.as_deref(),
            pooling_config_json: f.pooling_config.as_deref(),
        };
        let config = crate::config::Config::from_hf_bert_json(&files, &crate::hf::HfOverrides::default())?;
        engine_building(config, &files, weights.into(), backend).await
    }

    /// Build an engine from any model folder this engine reads (this project's format or a Hugging Face
    /// BERT folder): `texts` maps each text file's path in the folder (as `Engine.modelFiles()` lists them:
    /// `config.json`, `vocab.txt`, …) to its content; `weights` is an array of `Uint8Array` safetensors files
    /// (`model.safetensors`, or those `hfWeightFiles(index)` names) — or a promise of that array: a GPU
    /// engine then opens its device and starts compiling its pipelines while the weights are still being
    /// read. `backend` as in `create`.
    pub async fn load(texts: JsValue, weights: JsValue, backend: Option<String>) -> Result<Engine, JsError> {
        let texts: std::collections::HashMap<String, String> =
            serde_wasm_bindgen::from_value(texts).map_err(|e| JsError::new(&format!("texts must map file paths to strings: {e}")))?;
        let files = crate::hf::HfFiles::from_texts(|p| texts.get(p).map(String::as_str), Vec::new())?;
        engine_building(Classifier::folder_config(&files)?, &files, weights, backend).await
    }

    /// The checks on a weights file made from its first 8 bytes and its size, before it is read into memory
    /// (a 4 GB header claim, a file too large for the browser build): an error saying what is wrong.
    #[wasm_bindgen(js_name = checkWeightsFile)]
    pub fn check_weights_file(name: &str, first8: &[u8], size: f64) -> Result<(), JsError> {
        Ok(crate::weights::check_file_claim(name, first8, size.max(0.0) as u64)?)
    }

    /// The timed backend probes `auto` ran (or was given) in this page, as JSON keyed by model shape and
    /// adapter, for the caller to keep across reloads (js/src/probes.js keeps it in the Cache API) and give
    /// back to `seedProbeCache` before creating engines.
    #[wasm_bindgen(js_name = probeCache)]
    pub fn probe_cache() -> String {
        crate::choice::export_cache()
    }

    /// Give back probes kept from an earlier page (`probeCache`'s JSON): an `auto` engine of the same model
    /// shape on the same adapter then uses the kept probe instead of timing one (its choice says `cached`).
    /// Returns how many were added; JSON that is not such a cache is an error and adds nothing.
    #[wasm_bindgen(js_name = seedProbeCache)]
    pub fn seed_probe_cache(json: &str) -> Result<usize, JsError> {
        Ok(crate::choice::import_cache(json)?)
    }

    /// True when `config.json` describes an HF BERT model (use `createHf`), false for this project's format.
    #[wasm_bindgen(js_name = isHfBert)]
    pub fn is_hf_bert(config_json: &str) -> bool {
        crate::hf::is_hf_bert_config(config_json)
    }

    /// The weight files a `model.safetensors.index.json` names, relative to the model folder, in order.
    #[wasm_bindgen(js_name = hfWeightFiles)]
    pub fn hf_weight_files(index_json: &str) -> Result<Vec<String>, JsError> {
        Ok(crate::hf::index_weight_files(index_json)?)
    }

    /// The model's config as a JS object.
    pub fn config(&self) -> Result<JsValue, JsError> {
        self.with(|c| to_js(c.config()))
    }

    /// Which backend runs the forward pass: "webgpu" or "cpu".
    pub fn backend(&self) -> Result<String, JsError> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.backend().into())
    }

    /// Where the engine was set to run when it was built, and why: `{ requested, runsOn, reason, adapter,
    /// fallbackAdapter, probe: { seq, cpuMs, gpuMs, gpuFirstMs } | null, cached }`. With "auto" a
    /// software (fallback) adapter is declined and a hardware one is timed against the CPU.
    pub fn choice(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.try_borrow().map_err(|_| busy())?.choice())
    }

    /// Why the engine runs on the CPU although the GPU was allowed (no WebGPU, device lost, …), or null.
    #[wasm_bindgen(js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Result<Option<String>, JsError> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.fallback_reason().map(str::to_string))
    }

    /// Classify an array of strings as one padded batch. `options`: `{ trace?: bool, batchNorm?: "running" | "batch" }`.
    /// Returns `{ labels, predictions: [{ label, labelIndex, probabilities, tokens, ids, truncated }], trace }`.
    // Holding the borrow across the GPU readback is the point: a concurrent call gets `busy`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn classify(&self, texts: JsValue, options: JsValue) -> Result<JsValue, JsError> {
        let texts: Vec<String> = serde_wasm_bindgen::from_value(texts)
            .map_err(|e| JsError::new(&format!("texts must be an array of strings: {e}")))?;
        let opts: ClassifyOptions = if options.is_undefined() || options.is_null() {
            ClassifyOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("bad options: {e}")))?
        };
        let trace = if opts.trace { TraceRequest::ALL } else { TraceRequest::NONE };
        let fwd = ForwardOptions { batch_norm: opts.batch_norm, trace, ..Default::default() };
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        to_js(&engine.classify(&texts, &fwd).await?)
    }

    /// L2-normalised pooled sentence embeddings, one array per text, computed on the engine's backend. Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn embed(&self, texts: JsValue) -> Result<JsValue, JsError> {
        let texts: Vec<String> = serde_wasm_bindgen::from_value(texts)
            .map_err(|e| JsError::new(&format!("texts must be an array of strings: {e}")))?;
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        to_js(&engine.embed(&texts).await?)
    }

    /// Forward passes this engine has run since it was created (a batch counts once).
    #[wasm_bindgen(js_name = forwardCount)]
    pub fn forward_count(&self) -> Result<f64, JsError> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.forward_count() as f64)
    }

    /// The files of a model folder the engine reads, in fetch order: `[{ path, required, what }]`.
    #[wasm_bindgen(js_name = modelFiles)]
    pub fn model_files() -> Result<JsValue, JsError> {
        to_js(&crate::hf::FOLDER_FILES)
    }

    /// The positional table `(max_len, d)` the model adds: `{ shape, data }`.
    #[wasm_bindgen(js_name = positionalTable)]
    pub fn positional_table(&self) -> Result<JsValue, JsError> {
        self.with(|c| to_js(c.model.positional_table()))
    }

    /// Everything the page draws for `text` (see `inspect::Inspection`), including the batch experiment
    /// with `companion`. `options`: `false` leaves the attention maps out (as before), or an object
    /// `{ attention?, norms?, batchTest? }` (each default true): without `batchTest` it is one forward.
    /// The traced forward runs on the engine's backend (WebGPU: attention from the fused kernel). Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn inspect(&self, text: String, companion: String, options: JsValue) -> Result<JsValue, JsError> {
        let opts = match options.as_bool() {
            Some(attention) => crate::inspect::InspectOptions { attention, ..Default::default() },
            None if options.is_undefined() || options.is_null() => Default::default(),
            None => serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("bad inspect options: {e}")))?,
        };
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        json_to_js(&crate::inspect::inspect(&mut engine, &text, &companion, opts).await?)
    }

    /// The positional table and its position-position dot products: `{ table, similarity }`.
    #[wasm_bindgen(js_name = positionalView)]
    pub fn positional_view(&self) -> Result<JsValue, JsError> {
        self.with(|c| json_to_js(&crate::inspect::positional_view(c)))
    }

    /// Forwards of `text` (no trace) with per-op timings, measured in Rust (see `profile::Timings`),
    /// repeated for at least `minMs` milliseconds (at least once), the mean without the slowest fifth: `{ backend,
    /// batch, seq, runs, ops: [{ op, calls, ms, flops }], totalMs, flops, peakGflops, peakKernel, note }`.
    /// On the CPU every op is timed; on WebGPU only the whole forward (`note` says why). The peak is
    /// measured on the first call and cached. Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn timings(&self, text: String, min_ms: f64) -> Result<JsValue, JsError> {
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let (batch, _) = engine.classifier.batch(&[text])?;
        let min_ms = if min_ms.is_finite() { min_ms.clamp(0.0, 2000.0) } else { 0.0 };
        let (_, t) = engine.timed_forward(&batch, &ForwardOptions::default(), min_ms).await?;
        json_to_js(&t)
    }

    /// The parity check: a PyTorch golden case (`json`: texts per batch; `tensors`: safetensors bytes of
    /// PyTorch's ids, hidden states, pooled vectors, logits, probabilities) run through this engine on its
    /// backend; `{ modelDir, batches, texts, backend, maxAbsDiff, idsEqual, ok, compared: [{ what, values,
    /// maxAbsDiff, worst: [batch, index, pytorch, engine], ok, tol }] }` (see `parity::Parity`). Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn parity(&self, json: String, tensors: Vec<u8>) -> Result<JsValue, JsError> {
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        json_to_js(&crate::parity::check(&mut engine, &json, &tensors).await?)
    }

    /// Why the model labels `text` as it does (see `explain::Explanation`): token attributions by
    /// occlusion and attention rollout, the Δp(label) of ablating each head alone (one batched forward
    /// on the GPU; 1 + layers on the CPU, sharing the layers below the ablated one), and the logit lens.
    /// `options`: `{ label?, ablate?: "zero" | "mean" }`. 4 forwards on the GPU, 4 + layers on the CPU. Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn explain(&self, text: String, options: JsValue) -> Result<JsValue, JsError> {
        let o: ExplainOptions = self::options(options)?;
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        json_to_js(&crate::explain::explain(&mut engine, &text, o.label, o.ablate).await?)
    }

    /// Classify `text` with the attention heads `heads` (`[[layer, head], …]`) ablated: `{ probabilities,
    /// plain }` (with and without the ablation). `options`: `{ ablate?: "zero" | "mean" }`. 2 forwards. Async.
    #[wasm_bindgen(js_name = classifyAblated)]
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn classify_ablated(&self, text: String, heads: JsValue, options: JsValue) -> Result<JsValue, JsError> {
        let heads: Vec<(usize, usize)> =
            serde_wasm_bindgen::from_value(heads).map_err(|e| JsError::new(&format!("heads must be [[layer, head], …]: {e}")))?;
        let o: ExplainOptions = self::options(options)?;
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let s = crate::explain::subject(&mut engine, &text, o.label).await?;
        let probabilities = crate::explain::classify_ablated(&mut engine, &s, &heads, o.ablate).await?;
        to_js(&serde_json::json!({ "probabilities": probabilities, "plain": s.probabilities, "labelIndex": s.label_index }))
    }

    /// Teach the engine your labels: train a softmax head on the pooled features of `examples[i]` (texts of
    /// `labels[i]`), and classify with it from now on. Returns `{ report, config, weights }`: the training
    /// report, and the head as `head.json` text and `head.safetensors` bytes (to save; `setHead` loads them).
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn teach(&self, labels: JsValue, examples: JsValue) -> Result<JsValue, JsError> {
        let labels: Vec<String> = serde_wasm_bindgen::from_value(labels).map_err(|e| JsError::new(&format!("labels must be an array of strings: {e}")))?;
        let examples: Vec<Vec<String>> =
            serde_wasm_bindgen::from_value(examples).map_err(|e| JsError::new(&format!("examples must be an array of arrays of strings: {e}")))?;
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let (head, report) = crate::teach::train(&mut engine, &labels, &examples).await?;
        let (config, weights) = (head.config_json(), head.safetensors());
        engine.set_head(head)?;
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &k.into(), v).map(|_| ()).map_err(|_| JsError::new("building the result"));
        set("report", &to_js(&report)?)?;
        set("config", &config.into())?;
        set("weights", &js_sys::Uint8Array::from(&weights[..]).into())?;
        Ok(out.into())
    }

    /// Classify with a head saved by `teach` (or `classify --teach`): `head.json` text and
    /// `head.safetensors` bytes. Returns the new labels.
    #[wasm_bindgen(js_name = setHead)]
    pub fn set_head(&self, config_json: String, weights: Vec<u8>) -> Result<JsValue, JsError> {
        let head = crate::teach::Head::from_files(&config_json, &weights)?;
        let mut engine = self.inner.try_borrow_mut().map_err(|_| busy())?;
        engine.set_head(head)?;
        to_js(&engine.classifier.config().labels)
    }

    /// The encoder as the architecture view draws it, at sequence length `seq`: per block its kind
    /// ("delight" or "transformer"), depth and width multiplier, DExTra's layers `{ in_dim, out_dim, groups }`,
    /// attention heads and width, FFN width, `cost: { params, macs, attention_macs }`; plus `standardLayer`,
    /// the cost of one standard Transformer layer of the same width (FFN 4·d, the default models').
    pub fn architecture(&self, seq: usize) -> Result<JsValue, JsError> {
        self.with(|c| {
            let cfg = c.config();
            let seq = seq.clamp(1, cfg.max_len);
            let mut v = serde_json::to_value(crate::model::delight::summary(cfg, seq)).map_err(|e| JsError::new(&e.to_string()))?;
            v["standardLayer"] = serde_json::to_value(crate::model::delight::transformer_cost(cfg.hidden_size, 4 * cfg.hidden_size, seq)).map_err(|e| JsError::new(&e.to_string()))?;
            json_to_js(&v)
        })
    }

    /// Token strings for `text`, as the model will see them (after truncation).
    pub fn tokenize(&self, text: &str) -> Result<JsValue, JsError> {
        self.with(|c| {
            let (_, enc) = c.batch(&[text])?;
            let tokens: Vec<&str> = enc[0].ids.iter().map(|&i| c.tokenizer.token(i)).collect();
            to_js(&tokens)
        })
    }
}

/// A model in three precisions for the page's precision panel (see `quant_report::Lab`): its f32 files,
/// and the f16 / int8 versions the page downloaded (the others are converted here from the f32 files, as
/// `classify quantize` converts them), each on its own CPU engine.
#[wasm_bindgen]
pub struct PrecisionLab {
    inner: RefCell<crate::quant_report::Lab>,
}

/// A weights file as JavaScript holds it: tensors are copied from it one by one into the vectors that keep
/// them, never the whole file into wasm memory first (MiniLM: 90 MB of fresh memory touched at load instead
/// of 180 MB; see [`crate::weights::ByteSource`]).
struct JsFile(js_sys::Uint8Array);

impl crate::weights::ByteSource for JsFile {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, start: usize, dst: &mut [u8]) {
        self.0.subarray(start as u32, (start + dst.len()) as u32).copy_to(dst);
    }
}

/// An array of `Uint8Array` weights files.
struct JsFiles(Vec<JsFile>);

/// A `Uint8Array` as it is (`new Uint8Array(u8array)` would copy all of it); anything else (an `ArrayBuffer`,
/// an array of numbers) through the `Uint8Array` constructor.
fn u8_array(v: JsValue) -> js_sys::Uint8Array {
    v.dyn_into::<js_sys::Uint8Array>().unwrap_or_else(|v| js_sys::Uint8Array::new(&v))
}

/// The message of a thrown JavaScript value (an `Error`'s `message`, a string as it is).
fn js_message(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}

fn js_bytes(weights: &js_sys::Array) -> JsFiles {
    JsFiles(weights.iter().map(|w| JsFile(u8_array(w))).collect())
}

impl JsFiles {
    fn weights(&self) -> crate::Result<crate::weights::Weights<'_>> {
        let files: Vec<&dyn crate::weights::ByteSource> = self.0.iter().map(|f| f as &dyn crate::weights::ByteSource).collect();
        crate::weights::Weights::from_sources(&files)
    }
}

/// An engine for `config` whose classifier is read from `files` and `weights` (an array of `Uint8Array`
/// files, or a promise of one, awaited here) while the GPU (for a GPU backend) compiles the forward's
/// pipelines.
async fn engine_building(config: crate::config::Config, files: &crate::hf::HfFiles<'_>, weights: JsValue, backend: Option<String>) -> Result<Engine, JsError> {
    let backend: Backend = backend.as_deref().unwrap_or("auto").parse()?;
    let build = Box::pin(async {
        let weights = match weights.dyn_into::<js_sys::Promise>() {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.map_err(|e| crate::Error::Read(js_message(&e)))?,
            Err(w) => w,
        };
        Classifier::with_config(config.clone(), files, &js_bytes(weights.unchecked_ref()).weights()?)
    });
    let inner = crate::engine::Engine::building(&config, build, backend, crate::gpu::context::default_backends()).await?;
    Ok(Engine { inner: RefCell::new(inner) })
}

/// `{ texts: { path: text }, weights: [Uint8Array] }` → model files.
fn model_files(v: &JsValue) -> Result<crate::quant_report::ModelFiles, JsError> {
    let get = |k: &str| js_sys::Reflect::get(v, &k.into()).map_err(|_| JsError::new(&format!("model files need `{k}`")));
    let texts = serde_wasm_bindgen::from_value(get("texts")?).map_err(|e| JsError::new(&format!("texts must map file paths to strings: {e}")))?;
    let weights = js_sys::Array::from(&get("weights")?).iter().map(|w| u8_array(w).to_vec()).collect();
    Ok(crate::quant_report::ModelFiles { texts, weights })
}

#[wasm_bindgen]
impl PrecisionLab {
    /// `f32`: the f32 model's files `{ texts, weights }` (as `Engine.load` takes them); `downloaded`: an array of
    /// such files of its f16 / int8 versions fetched by the page (may be empty). An error when `f32` is not
    /// an f32 model or a version has other labels or another vocabulary.
    #[wasm_bindgen(constructor)]
    pub fn new(f32: JsValue, downloaded: js_sys::Array) -> Result<PrecisionLab, JsError> {
        let base = model_files(&f32)?;
        let down = downloaded.iter().map(|d| model_files(&d)).collect::<Result<Vec<_>, _>>()?;
        Ok(PrecisionLab { inner: RefCell::new(crate::quant_report::Lab::new(base, down)?) })
    }

    /// The linear weight matrices the histogram can show: `[{ name, layer, part, shape }]`.
    pub fn matrices(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.try_borrow().map_err(|_| busy())?.matrices())
    }

    /// `text` through every precision on the CPU (see `quant_report::Report`): `{ text, tokens, backend, labels,
    /// layers, rows: [{ precision, source, bytes, sizeRatio, ms, runs, labelIndex, label, p, probabilities,
    /// maxAbsDp, maxAbsDlogit, sameLabel, pooledCosine, layers: [{ maxAbs, meanAbs, refMaxAbs }] }] }`;
    /// forwards are timed for at least `minMs` (clamped to 0..2000) each. Async.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn report(&self, text: String, min_ms: f64) -> Result<JsValue, JsError> {
        let min_ms = if min_ms.is_finite() { min_ms.clamp(0.0, 2000.0) } else { 0.0 };
        let mut lab = self.inner.try_borrow_mut().map_err(|_| busy())?;
        json_to_js(&lab.report(&text, min_ms).await?)
    }

    /// Weight matrix `name` of the f32 model in `bins` bins with the int8 grid over it (see
    /// `quant_report::Histogram`).
    pub fn histogram(&self, name: &str, bins: usize) -> Result<JsValue, JsError> {
        json_to_js(&self.inner.try_borrow().map_err(|_| busy())?.histogram(name, bins)?)
    }
}

/// True in the wasm threads build (shared memory + atomics, `make pkg-threads`): its CPU kernels can run
/// over a pool of Web Workers (js/src/threads.js starts them).
#[wasm_bindgen(js_name = threadsBuild)]
pub fn threads_build() -> bool {
    cfg!(target_feature = "atomics")
}

/// Threads the CPU kernels use now, the caller included (1 in the single-thread builds).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    crate::cpu::par::threads()
}

/// Pool workers started so far (0 in the single-thread builds).
#[wasm_bindgen(js_name = poolWorkers)]
pub fn pool_workers() -> usize {
    crate::cpu::par::workers()
}

/// Parallel jobs the pool has run (matmuls and attentions shared out; 0 in the single-thread builds).
#[wasm_bindgen(js_name = poolJobs)]
pub fn pool_jobs() -> usize {
    crate::cpu::par::jobs()
}

/// Use at most `n` threads, the caller included (clamped to 1 ..= workers + 1); returns the count in effect.
#[wasm_bindgen(js_name = setThreads)]
pub fn set_threads(n: usize) -> usize {
    crate::cpu::par::set_threads(n)
}

/// A pool worker's entry: js/src/threads.js calls it in each Web Worker once the module is instantiated on
/// the shared memory; it never returns (the worker waits for the kernels' tasks).
#[cfg(target_feature = "atomics")]
#[wasm_bindgen(js_name = poolWorker)]
pub fn pool_worker() {
    crate::cpu::par::worker_loop()
}

/// What a pool worker needs to join this instance: `[WebAssembly.Module, WebAssembly.Memory]` (the shared
/// memory in the threads build).
#[wasm_bindgen(js_name = poolShare)]
pub fn pool_share() -> js_sys::Array {
    js_sys::Array::of2(&wasm_bindgen::module(), &wasm_bindgen::memory())
}

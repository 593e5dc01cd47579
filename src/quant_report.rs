//! What quantization does to one model, on one text (the page's precision panel): the model's f32 files,
//! plus its f16 and int8 versions — downloaded where the page has them (a committed `…-int8` twin), else
//! converted here from the f32 files by [`crate::quant::convert_files`], the function `classify quantize`
//! runs — each on its own CPU engine. [`Lab::report`] runs the text through every precision: the size of
//! the weights as stored, ms per forward (timed in the engine), the prediction and its agreement with f32,
//! and per layer the max / mean |hidden − hidden_f32| from the traced forwards. [`Lab::histogram`] bins one
//! f32 weight matrix and gives the int8 grid PyTorch's `quantize_dynamic` puts over it (per-tensor scale,
//! zero point 0). Plain data only; the page draws it.

use crate::config::Precision;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hf::HfFiles;
use crate::model::ForwardOptions;
use crate::pipeline::Classifier;
use crate::quant::{self, Target};
use crate::trace::TraceRequest;
use serde::Serialize;
use std::collections::HashMap;

/// A model folder's files in memory: texts by folder path (`config.json`, `vocab.txt`, …) and the
/// safetensors files.
#[derive(Clone, Debug, Default)]
pub struct ModelFiles {
    /// Text files by path in the folder.
    pub texts: HashMap<String, String>,
    /// The safetensors files, in order.
    pub weights: Vec<Vec<u8>>,
}

impl ModelFiles {
    /// The borrowed view the loader and the converter read.
    pub fn files(&self) -> Result<HfFiles<'_>> {
        HfFiles::from_texts(|p| self.texts.get(p).map(String::as_str), self.weights.iter().map(|w| &w[..]).collect())
    }

    /// Bytes of the weight files.
    pub fn weights_bytes(&self) -> usize {
        self.weights.iter().map(Vec::len).sum()
    }
}

/// Where a precision's weights came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Fetched as files (the f32 model, or a quantized twin on the server).
    Downloaded,
    /// Made in this engine from the f32 files ([`quant::convert_files`]).
    Converted,
}

struct Variant {
    precision: Precision,
    source: Source,
    /// Bytes of the weights as stored (the safetensors file(s)).
    bytes: usize,
    engine: Engine,
}

/// One weight matrix the histogram can show: a linear layer's weight of the f32 model.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// Tensor name in the f32 file.
    pub name: String,
    /// The layer it belongs to (the first all-digit part of its name), if any.
    pub layer: Option<usize>,
    /// The name after the layer number (the whole name without one): the same matrix in every layer.
    pub part: String,
    /// `(out, in)`.
    pub shape: [usize; 2],
}

/// |a − b| over one traced tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorStats {
    /// Largest |hidden − hidden_f32|.
    pub max_abs: f32,
    /// Mean |hidden − hidden_f32|.
    pub mean_abs: f32,
    /// Largest |hidden_f32| (the scale the error is on).
    pub ref_max_abs: f32,
}

/// One precision's answer on the text.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrecisionRow {
    /// "f32", "f16" or "int8".
    pub precision: Precision,
    /// Downloaded or converted in the engine.
    pub source: Source,
    /// Bytes of the weights as stored.
    pub bytes: usize,
    /// `bytes` as a share of the f32 model's.
    pub size_ratio: f64,
    /// Milliseconds per forward of the text on the CPU (the engine's timer; mean without the slowest fifth).
    pub ms: f64,
    /// Forwards timed.
    pub runs: u32,
    /// Top label index (models with a classifier).
    pub label_index: Option<usize>,
    /// Its name.
    pub label: Option<String>,
    /// Its probability.
    pub p: Option<f32>,
    /// Every label's probability.
    pub probabilities: Option<Vec<f32>>,
    /// Largest |p − p_f32| over the labels.
    pub max_abs_dp: Option<f32>,
    /// Largest |logit − logit_f32|.
    pub max_abs_dlogit: Option<f32>,
    /// Same top label as f32.
    pub same_label: Option<bool>,
    /// Cosine of the pooled vector with f32's.
    pub pooled_cosine: f32,
    /// Per traced tensor (see [`Report::layers`]): |hidden − hidden_f32|.
    pub layers: Vec<ErrorStats>,
}

/// The precision panel's numbers for one text.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The text.
    pub text: String,
    /// Tokens the model saw.
    pub tokens: usize,
    /// Where the forwards ran ("cpu").
    pub backend: String,
    /// Label names (empty without a classifier).
    pub labels: Vec<String>,
    /// Names of the traced tensors the per-layer errors are over: "embeddings", "layer 0", …, and
    /// "final norm" where the model has one.
    pub layers: Vec<String>,
    /// f32 first, then f16 and int8.
    pub rows: Vec<PrecisionRow>,
}

/// One weight matrix binned, with the int8 grid over it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Histogram {
    /// Tensor name.
    pub name: String,
    /// `(out, in)`.
    pub shape: [usize; 2],
    /// Values binned (`out · in`).
    pub count: usize,
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
    /// `bins + 1` edges, evenly spaced from `min` to `max`.
    pub edges: Vec<f32>,
    /// Values per bin (the last bin includes `max`); they sum to `count`.
    pub counts: Vec<u32>,
    /// The int8 grid's step: PyTorch's per-tensor `MinMaxObserver` scale (symmetric qint8).
    pub scale: f32,
    /// The grid's zero point (0: symmetric).
    pub zero_point: i32,
    /// Smallest and largest int8 value the grid has (−128, 127).
    pub qmin: i32,
    /// See `qmin`.
    pub qmax: i32,
    /// Smallest and largest int8 value this matrix uses.
    pub q_lo: i32,
    /// See `q_lo`.
    pub q_hi: i32,
    /// Distinct int8 values used.
    pub levels_used: usize,
    /// Largest |w − q · scale|.
    pub max_error: f32,
    /// Mean |w − q · scale|.
    pub mean_error: f32,
}

/// A model in three precisions, each on a CPU engine (see the module docs).
pub struct Lab {
    variants: Vec<Variant>, // f32 first, then f16, int8
    f32_weights: Vec<Vec<u8>>,
    matrices: Vec<Matrix>,
}

fn layer_of(name: &str) -> (Option<usize>, String) {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.iter().position(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        Some(i) => (parts[i].parse().ok(), parts[i + 1..].join(".")),
        None => (None, name.to_string()),
    }
}

impl Lab {
    /// The lab of the f32 model `f32_files`, with `downloaded` quantized versions of it (f16 or int8 model
    /// folders the page fetched; their labels and vocabulary must be the f32 model's). The precisions not
    /// downloaded are converted from the f32 files. An error when `f32_files` is not an f32 model.
    pub fn new(f32_files: ModelFiles, downloaded: Vec<ModelFiles>) -> Result<Self> {
        let f32c = Classifier::from_files(&f32_files.files()?)?;
        if f32c.config().precision != Precision::F32 {
            return Err(Error::Input(format!(
                "the precision lab starts from an f32 model; this one is {} (load its f32 original)",
                f32c.config().precision.name()
            )));
        }
        let w = crate::weights::Weights::from_parts(&f32_files.weights.iter().map(|b| &b[..]).collect::<Vec<_>>())?;
        let mut names = w.names();
        names.sort_unstable();
        let mut matrices = Vec::new();
        for name in names {
            let view = w.view(&name)?;
            let float = matches!(view.dtype(), safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16);
            if float && quant::is_linear_weight(&name, view.shape()) {
                let (layer, part) = layer_of(&name);
                matrices.push(Matrix { shape: [view.shape()[0], view.shape()[1]], name, layer, part });
            }
        }
        let mut variants = vec![Variant { precision: Precision::F32, source: Source::Downloaded, bytes: f32_files.weights_bytes(), engine: Engine::cpu(f32c) }];
        let mut have: HashMap<&'static str, Variant> = HashMap::new();
        for d in downloaded {
            let c = Classifier::from_files(&d.files()?)?;
            let p = c.config().precision;
            let base = &variants[0].engine.classifier;
            if p == Precision::F32 {
                return Err(Error::Input("a downloaded version given to the precision lab is f32, not f16 or int8".into()));
            }
            if c.config().labels != base.config().labels || d.texts.get("vocab.txt") != f32_files.texts.get("vocab.txt") {
                return Err(Error::Input(format!("the downloaded {} model has other labels or another vocabulary than the f32 model", p.name())));
            }
            have.insert(p.name(), Variant { precision: p, source: Source::Downloaded, bytes: d.weights_bytes(), engine: Engine::cpu(c) });
        }
        for target in [Target::F16, Target::Int8] {
            let p = target.precision();
            let v = match have.remove(p.name()) {
                Some(v) => v,
                None => {
                    let conv = quant::convert_files(&f32_files.files()?, target)?;
                    let texts = |path: &str| if path == "config.json" { Some(conv.config_json.as_str()) } else { f32_files.texts.get(path).map(String::as_str) };
                    let c = Classifier::from_files(&HfFiles::from_texts(texts, vec![&conv.weights[..]])?)?;
                    Variant { precision: p, source: Source::Converted, bytes: conv.weights.len(), engine: Engine::cpu(c) }
                }
            };
            variants.push(v);
        }
        Ok(Self { variants, f32_weights: f32_files.weights, matrices })
    }

    /// The weight matrices [`Lab::histogram`] can bin, sorted by name.
    pub fn matrices(&self) -> &[Matrix] {
        &self.matrices
    }

    /// Run `text` through every precision (a traced forward each, then forwards timed for at least
    /// `min_ms`, at least once) and compare each with f32.
    pub async fn report(&mut self, text: &str, min_ms: f64) -> Result<Report> {
        let traced = ForwardOptions { trace: TraceRequest { hidden: true, embeddings: true, ..TraceRequest::NONE }, ..Default::default() };
        // The build's multiply-add peak is measured once per process on the first timed forward, inside
        // timed_forward's `min_ms` budget: measure it before, so the first precision gets its runs too.
        crate::profile::peak_gflops();
        let mut runs = Vec::new(); // per variant: (output, timings)
        let mut tokens = 0;
        for v in &mut self.variants {
            let (batch, _) = v.engine.classifier.batch(&[text])?;
            tokens = batch.seq;
            let out = v.engine.forward(&batch, &traced).await?;
            let (_, t) = v.engine.timed_forward(&batch, &ForwardOptions::default(), min_ms).await?;
            runs.push((out, t));
        }
        let base = &self.variants[0].engine.classifier;
        let labels = base.config().labels.clone();
        // Every traced tensor: (name, (batch = 1, seq, d)) in forward order.
        let traced_tensors = |o: &crate::model::Output| -> Vec<(String, Vec<f32>)> {
            let mut v = Vec::new();
            if let Some(t) = &o.trace {
                if let Some(e) = &t.embeddings {
                    v.push(("embeddings".to_string(), e.data.clone()));
                }
                for (i, l) in t.layers.iter().enumerate() {
                    if let Some(h) = &l.hidden {
                        v.push((format!("layer {i}"), h.data.clone()));
                    }
                }
                if let Some(n) = &t.final_norm {
                    v.push(("final norm".to_string(), n.output.data.clone()));
                }
            }
            v
        };
        let reference = traced_tensors(&runs[0].0);
        let f32_probs = runs[0].0.probs.as_ref().map(|p| p.data.clone());
        let f32_logits = runs[0].0.logits.as_ref().map(|p| p.data.clone());
        let f32_pooled = runs[0].0.pooled.data.clone();
        let f32_bytes = self.variants[0].bytes as f64;
        let argmax = |r: &[f32]| r.iter().enumerate().fold(0, |m, (i, v)| if *v > r[m] { i } else { m });
        let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let mut rows = Vec::new();
        for (v, (out, t)) in self.variants.iter().zip(&runs) {
            let probs = out.probs.as_ref().map(|p| p.data.clone());
            let label_index = probs.as_deref().map(argmax);
            let ours = traced_tensors(out);
            if ours.len() != reference.len() {
                return Err(Error::Input(format!("the {} model traced {} tensors, the f32 model {}", v.precision.name(), ours.len(), reference.len())));
            }
            let layers = ours.iter().zip(&reference).map(|((_, a), (_, b))| error_stats(a, b)).collect();
            rows.push(PrecisionRow {
                precision: v.precision,
                source: v.source,
                bytes: v.bytes,
                size_ratio: v.bytes as f64 / f32_bytes,
                ms: t.total_ms,
                runs: t.runs,
                label_index,
                label: label_index.and_then(|i| labels.get(i).cloned()),
                p: label_index.zip(probs.as_ref()).map(|(i, p)| p[i]),
                max_abs_dp: probs.as_deref().zip(f32_probs.as_deref()).map(|(a, b)| max_diff(a, b)),
                max_abs_dlogit: out.logits.as_ref().map(|l| &l.data[..]).zip(f32_logits.as_deref()).map(|(a, b)| max_diff(a, b)),
                same_label: label_index.zip(f32_probs.as_deref()).map(|(i, b)| i == argmax(b)),
                pooled_cosine: cosine(&out.pooled.data, &f32_pooled),
                layers,
                probabilities: probs,
            });
        }
        Ok(Report { text: text.to_string(), tokens, backend: "cpu".into(), labels, layers: reference.into_iter().map(|(n, _)| n).collect(), rows })
    }

    /// Matrix `name` (one of [`Lab::matrices`]) of the f32 model in `bins` bins (clamped to 8 ..= 512),
    /// with the int8 grid [`quant::quantize_weight`] puts over it (per-tensor, as `classify quantize --to int8`).
    pub fn histogram(&self, name: &str, bins: usize) -> Result<Histogram> {
        let m = self
            .matrices
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::Input(format!("`{name}` is not a linear weight of this model")))?;
        let w = crate::weights::Weights::from_parts(&self.f32_weights.iter().map(|b| &b[..]).collect::<Vec<_>>())?;
        let values = w.get(name, &m.shape)?.data; // (out, in)
        histogram(name, &values, m.shape, bins)
    }
}

/// |a − b| statistics of two equally long tensors (`b` the f32 reference).
pub fn error_stats(a: &[f32], b: &[f32]) -> ErrorStats {
    let mut s = ErrorStats::default();
    let mut sum = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        s.max_abs = s.max_abs.max(d);
        s.ref_max_abs = s.ref_max_abs.max(y.abs());
        sum += d as f64;
    }
    s.mean_abs = if b.is_empty() { 0.0 } else { (sum / b.len() as f64) as f32 };
    s
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        ab += (*x as f64) * (*y as f64);
        aa += (*x as f64).powi(2);
        bb += (*y as f64).powi(2);
    }
    if aa == 0.0 || bb == 0.0 {
        return if aa == bb { 1.0 } else { 0.0 };
    }
    (ab / (aa.sqrt() * bb.sqrt())) as f32
}

/// `values` (a weight `shape = (out, in)`) in `bins` equal bins from min to max, with its per-tensor int8
/// quantization ([`quant::quantize_weight`]): the grid and the rounding error.
pub fn histogram(name: &str, values: &[f32], shape: [usize; 2], bins: usize) -> Result<Histogram> {
    if values.is_empty() {
        return Err(Error::Input(format!("weight `{name}` of shape {shape:?} has no values to bin")));
    }
    let q = quant::quantize_weight(values, shape, false)?; // errors on non-finite / misshaped
    let bins = bins.clamp(8, 512);
    let (min, max) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (max - min) as f64;
    let mut edges: Vec<f32> = (0..=bins).map(|i| (min as f64 + span * i as f64 / bins as f64) as f32).collect(); // (bins + 1)
    edges[bins] = max;
    let mut counts = vec![0u32; bins];
    for &v in values {
        let i = if span > 0.0 { (((v - min) as f64 / span) * bins as f64) as usize } else { 0 };
        counts[i.min(bins - 1)] += 1;
    }
    let scale = q.scales[0];
    let mut used = [false; 256];
    let (mut max_error, mut sum) = (0.0f32, 0.0f64);
    for (&v, &k) in values.iter().zip(&q.q) {
        used[(k as i32 + 128) as usize] = true;
        let e = (v - k as f32 * scale).abs();
        max_error = max_error.max(e);
        sum += e as f64;
    }
    let q_lo = q.q.iter().copied().min().unwrap_or(0) as i32;
    let q_hi = q.q.iter().copied().max().unwrap_or(0) as i32;
    Ok(Histogram {
        name: name.to_string(),
        shape,
        count: values.len(),
        min,
        max,
        edges,
        counts,
        scale,
        zero_point: 0,
        qmin: -128,
        qmax: 127,
        q_lo,
        q_hi,
        levels_used: used.iter().filter(|&&u| u).count(),
        max_error,
        mean_error: (sum / values.len().max(1) as f64) as f32,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::path::Path;

    fn folder(dir: &str) -> ModelFiles {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let f = crate::folder::Folder::read(&root.join(dir)).unwrap();
        let mut texts = HashMap::new();
        for p in crate::hf::FOLDER_FILES.iter().map(|f| f.path) {
            if let Some(t) = f.text(p) {
                texts.insert(p.to_string(), t.to_string());
            }
        }
        ModelFiles { texts, weights: f.weights }
    }

    const TEXT: &str = "A quiet, beautifully acted film that stays with you.";

    #[test]
    fn f32_row_has_zero_error_and_quantized_rows_agree() {
        let mut lab = Lab::new(folder("models/sentiment-ln"), vec![]).unwrap();
        let r = pollster::block_on(lab.report(TEXT, 0.0)).unwrap();
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.layers, ["embeddings", "layer 0", "layer 1"]);
        let f32 = &r.rows[0];
        assert_eq!(f32.precision, Precision::F32);
        assert_eq!(f32.max_abs_dp, Some(0.0));
        assert_eq!(f32.same_label, Some(true));
        for (name, e) in r.layers.iter().zip(&f32.layers) {
            assert_eq!((e.max_abs, e.mean_abs), (0.0, 0.0), "f32 vs f32 at {name}");
            assert!(e.ref_max_abs > 0.0);
        }
        for row in &r.rows[1..] {
            assert_eq!(row.source, Source::Converted);
            let dp = row.max_abs_dp.unwrap();
            assert!(dp > 0.0 && dp < 0.05, "{:?}: max |Δp| {dp}", row.precision);
            assert_eq!(row.same_label, Some(true));
            // Both change the embeddings too (f16 tables; int8: uint8 per row, as PyTorch's embedding qconfig).
            assert!(row.layers.iter().all(|e| e.max_abs > 0.0 && e.mean_abs <= e.max_abs), "{:?}: {:?}", row.precision, row.layers);
            assert!(row.ms > 0.0 && row.runs >= 1);
        }
        let (f16, int8) = (&r.rows[1], &r.rows[2]);
        eprintln!("{}", serde_json::to_string(&r).unwrap());
        assert!(f16.size_ratio <= 0.51 && f16.size_ratio > 0.45, "f16 {}", f16.size_ratio);
        assert!(int8.size_ratio <= 0.27 && int8.size_ratio > 0.2, "int8 {}", int8.size_ratio);
        // int8 moves the hidden states more than f16 does, at every layer.
        for (a, b) in f16.layers.iter().zip(&int8.layers).skip(1) {
            assert!(a.mean_abs < b.mean_abs, "f16 {a:?} vs int8 {b:?}");
        }
    }

    #[test]
    fn converted_int8_equals_the_committed_int8_model() {
        let mut conv = Lab::new(folder("models/sentiment-ln"), vec![]).unwrap();
        let mut down = Lab::new(folder("models/sentiment-ln"), vec![folder("models/sentiment-ln-int8")]).unwrap();
        let a = pollster::block_on(conv.report(TEXT, 0.0)).unwrap();
        let b = pollster::block_on(down.report(TEXT, 0.0)).unwrap();
        assert_eq!(b.rows[2].source, Source::Downloaded);
        assert_eq!(b.rows[1].source, Source::Converted);
        assert_eq!(a.rows[2].bytes, b.rows[2].bytes);
        assert_eq!(a.rows[2].probabilities, b.rows[2].probabilities);
        assert_eq!(a.rows[2].layers, b.rows[2].layers);
    }

    #[test]
    fn lab_needs_an_f32_model_and_a_matching_twin() {
        let e = Lab::new(folder("models/sentiment-ln-int8"), vec![]).err().unwrap().to_string();
        assert!(e.contains("f32 model") && e.contains("int8"), "{e}");
        let e = Lab::new(folder("models/sentiment-ln"), vec![folder("models/sentiment-ln")]).err().unwrap().to_string();
        assert!(e.contains("is f32"), "{e}");
    }

    #[test]
    fn histogram_counts_every_value_and_uses_pytorchs_grid() {
        let lab = Lab::new(folder("models/sentiment-ln"), vec![]).unwrap();
        let names: Vec<&str> = lab.matrices().iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"encoder.layers.0.self_attn.in_proj_weight"), "{names:?}");
        let m = lab.matrices().iter().find(|m| m.name == "encoder.layers.1.linear1.weight").unwrap();
        assert_eq!((m.layer, m.part.as_str(), m.shape), (Some(1), "linear1.weight", [512, 128]));
        // PyTorch's scales (quantize_dynamic on this model, scripts/quantize_reference.py).
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(root.join("tests/fixtures/golden/quant-sentiment-ln-int8.safetensors")).unwrap();
        let fx = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut checked = 0;
        for m in lab.matrices() {
            let h = lab.histogram(&m.name, 64).unwrap();
            assert_eq!(h.counts.iter().map(|&c| c as usize).sum::<usize>(), m.shape[0] * m.shape[1], "{}", m.name);
            assert_eq!((h.count, h.counts.len(), h.edges.len()), (m.shape[0] * m.shape[1], 64, 65));
            assert_eq!((h.edges[0], h.edges[64]), (h.min, h.max));
            assert_eq!((h.zero_point, h.qmin, h.qmax), (0, -128, 127));
            assert!(h.max_error <= h.scale / 2.0 * 1.0001, "{}: error {} vs scale {}", m.name, h.max_error, h.scale);
            assert!(h.levels_used <= (h.q_hi - h.q_lo + 1) as usize && h.q_lo >= -128 && h.q_hi <= 127);
            // symmetric: the side with the larger |w| reaches ±127 (or −128)
            assert!(h.q_hi >= 127 || h.q_lo <= -127, "{}: {}..{}", m.name, h.q_lo, h.q_hi);
            if let Ok(t) = fx.tensor(&format!("weights.{}.scale", m.name)) {
                let torch = f32::from_le_bytes(t.data()[..4].try_into().unwrap());
                assert_eq!(h.scale, torch, "{}: grid step vs PyTorch's scale", m.name);
                checked += 1;
            }
        }
        assert!(checked >= 8, "only {checked} scales compared with PyTorch's");
        let e = lab.histogram("encoder.layers.0.norm1.weight", 32).err().unwrap().to_string();
        assert!(e.contains("not a linear weight"), "{e}");
    }

    #[test]
    fn histogram_of_a_constant_matrix() {
        let h = histogram("w", &[0.0; 6], [2, 3], 4).unwrap();
        assert_eq!(h.counts.iter().sum::<u32>(), 6);
        assert_eq!(h.counts.len(), 8); // at least 8 bins
        assert_eq!(h.scale, f32::EPSILON);
        assert_eq!((h.q_lo, h.q_hi, h.levels_used, h.max_error), (0, 0, 1, 0.0));
        assert!(histogram("w", &[f32::NAN; 6], [2, 3], 8).is_err());
        assert!(histogram("w", &[0.0; 5], [2, 3], 8).is_err());
        assert!(histogram("w", &[], [0, 3], 8).is_err());
    }
}

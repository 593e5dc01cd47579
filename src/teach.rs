//! "Teach it your labels": a softmax classifier head trained on the encoder's pooled features from a few
//! examples per label, in Rust (the page runs it in its worker), deterministically — zero initial weights,
//! full-batch gradient descent on standardised features in f64, a fixed number of steps — then folded back
//! into one `Linear (labels, d)` on the raw pooled vector, the same head shape a checkpoint's classifier has.
//!
//! The head is exported as `head.safetensors` (`classifier.weight (labels, d)`, `classifier.bias (labels)`)
//! plus `head.json` (`{ labels, hidden_size, examples, train_accuracy }`), and loads back onto any engine of
//! the same hidden size ([`Head::from_files`], [`crate::Engine::set_head`]): the CLI's `--head DIR` and the
//! page both read these two files.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::linear::Linear;
use crate::model::param::{Param, Weight};
use crate::model::ForwardOptions;
use crate::tensor::Tensor;
use crate::weights::Weights;
use serde::{Deserialize, Serialize};

/// Gradient-descent steps.
pub const STEPS: usize = 300;
/// Step size on standardised features.
pub const LEARNING_RATE: f64 = 0.5;
/// L2 weight decay.
pub const L2: f64 = 1e-3;
/// Most labels a head is trained for.
pub const MAX_LABELS: usize = 32;
/// Most examples a head is trained from (bounds the work).
pub const MAX_EXAMPLES: usize = 1024;

/// A classifier head: labels and `Linear (labels, d)` on the pooled vector.
#[derive(Clone, Debug)]
pub struct Head {
    /// Labels and the training summary (`head.json`).
    pub info: HeadInfo,
    /// `Linear (labels, d)` on the pooled vector.
    pub linear: Linear, // weight (labels, d), bias (labels)
}

/// `head.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub struct HeadInfo {
    /// The label names, in output order.
    pub labels: Vec<String>,
    /// Size of the pooled features the head reads.
    pub hidden_size: usize,
    #[serde(default)]
    /// Examples it was trained on.
    pub examples: usize,
    #[serde(default)]
    /// Accuracy on its own examples.
    pub train_accuracy: f32,
}

/// What training reports besides the head.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trained {
    /// The label names, in output order.
    pub labels: Vec<String>,
    /// Examples trained on.
    pub examples: usize,
    /// Accuracy on the training examples.
    pub train_accuracy: f32,
    /// Final cross-entropy on them.
    pub final_loss: f64,
    /// Milliseconds of the forwards computing the features.
    pub features_ms: f64,
    /// Milliseconds of the gradient descent.
    pub train_ms: f64,
}

fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// The checks on a teaching set: ≥ 2 distinct, non-empty label names, every label with an example, ≥ 2
/// examples in all, no text given for two different labels.
pub fn check(labels: &[String], examples: &[Vec<String>]) -> Result<()> {
    let bad = |m: String| Err(Error::Input(m));
    if labels.len() != examples.len() {
        return bad(format!("{} labels but {} example lists", labels.len(), examples.len()));
    }
    if labels.len() < 2 {
        return bad("teach at least two labels".into());
    }
    if labels.len() > MAX_LABELS {
        return bad(format!("{} labels; at most {MAX_LABELS}", labels.len()));
    }
    let mut seen = std::collections::HashMap::new();
    for l in labels {
        let key = l.trim().to_lowercase();
        if key.is_empty() {
            return bad("a label has no name".into());
        }
        if seen.insert(key, ()).is_some() {
            return bad(format!("the label `{}` is given twice: each label once, with all its examples", l.trim()));
        }
    }
    let total: usize = examples.iter().map(Vec::len).sum();
    if total > MAX_EXAMPLES {
        return bad(format!("{total} examples; at most {MAX_EXAMPLES}"));
    }
    if total < 2 {
        return bad("one example only: give at least one example for each label".into());
    }
    let mut owner: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, (l, ex)) in labels.iter().zip(examples).enumerate() {
        if ex.iter().all(|t| t.trim().is_empty()) {
            return bad(format!("the label `{}` has no examples", l.trim()));
        }
        for t in ex.iter().filter(|t| !t.trim().is_empty()) {
            if let Some(&j) = owner.get(t.trim()) {
                if j != i {
                    return bad(format!("the example `{}` is given for both `{}` and `{}`", t.trim(), labels[j].trim(), l.trim()));
                }
            }
            owner.insert(t.trim(), i);
        }
    }
    Ok(())
}

/// The pooled features `(n, d)` of `texts` on the engine's backend (batches of at most `MAX_BATCH`).
async fn features(e: &mut Engine, texts: &[&str]) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for chunk in texts.chunks(crate::pipeline::MAX_BATCH) {
        let (batch, _) = e.classifier.batch(chunk)?;
        let o = e.forward(&batch, &ForwardOptions::default()).await?;
        if let Some(v) = o.pooled.data.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("pooled features are not finite ({v})")));
        }
        out.extend_from_slice(&o.pooled.data);
    }
    Ok(out)
}

/// Softmax regression on `x (n, d)` with targets `y (n)` in `0..k`: `(w (k, d), b (k), loss, accuracy)` on
/// the raw features (standardisation folded in). Deterministic: same inputs, same bits.
pub fn fit(x: &[f32], y: &[usize], d: usize, k: usize) -> (Vec<f32>, Vec<f32>, f64, f32) {
    let n = y.len();
    let mut mu = vec![0.0f64; d];
    let mut sd = vec![0.0f64; d];
    for r in x.chunks_exact(d) {
        r.iter().zip(&mut mu).for_each(|(&v, m)| *m += v as f64 / n as f64);
    }
    for r in x.chunks_exact(d) {
        r.iter().zip(&mu).zip(&mut sd).for_each(|((&v, m), s)| *s += (v as f64 - m).powi(2) / n as f64);
    }
    sd.iter_mut().for_each(|s| *s = s.sqrt().max(1e-6));
    let z: Vec<f64> = x.chunks_exact(d).flat_map(|r| r.iter().zip(&mu).zip(&sd).map(|((&v, m), s)| (v as f64 - m) / s)).collect(); // (n, d)
    let (mut w, mut b) = (vec![0.0f64; k * d], vec![0.0f64; k]); // (k, d), (k)
    let mut p = vec![0.0f64; n * k]; // (n, k)
    let mut loss = 0.0;
    let scores = |w: &[f64], b: &[f64], p: &mut [f64]| -> f64 {
        let mut loss = 0.0;
        for i in 0..n {
            let zi = &z[i * d..(i + 1) * d];
            let row = &mut p[i * k..(i + 1) * k];
            for c in 0..k {
                row[c] = b[c] + w[c * d..(c + 1) * d].iter().zip(zi).map(|(a, b)| a * b).sum::<f64>();
            }
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let s: f64 = row.iter_mut().map(|v| {
                *v = (*v - m).exp();
                *v
            }).sum();
            row.iter_mut().for_each(|v| *v /= s);
            loss -= row[y[i]].max(1e-300).ln() / n as f64;
        }
        loss
    };
    for _ in 0..STEPS {
        loss = scores(&w, &b, &mut p);
        let (mut gw, mut gb) = (vec![0.0f64; k * d], vec![0.0f64; k]);
        for i in 0..n {
            let zi = &z[i * d..(i + 1) * d];
            for c in 0..k {
                let g = (p[i * k + c] - (y[i] == c) as u8 as f64) / n as f64;
                gb[c] += g;
                gw[c * d..(c + 1) * d].iter_mut().zip(zi).for_each(|(a, &v)| *a += g * v);
            }
        }
        for (wv, g) in w.iter_mut().zip(&gw) {
            *wv -= LEARNING_RATE * (g + L2 * *wv);
        }
        for (bv, g) in b.iter_mut().zip(&gb) {
            *bv -= LEARNING_RATE * g;
        }
    }
    scores(&w, &b, &mut p);
    let correct = (0..n).filter(|&i| (0..k).fold(0, |best, c| if p[i * k + c] > p[i * k + best] { c } else { best }) == y[i]).count();
    // Fold the standardisation in: w' = w / sd, b' = b − Σ w' · mu.
    let wf: Vec<f64> = (0..k * d).map(|j| w[j] / sd[j % d]).collect();
    let bf: Vec<f32> = (0..k).map(|c| (b[c] - (0..d).map(|j| wf[c * d + j] * mu[j]).sum::<f64>()) as f32).collect();
    (wf.iter().map(|&v| v as f32).collect(), bf, loss, correct as f32 / n as f32)
}

/// Train a head for `labels` from `examples[i]` (texts of label `i`) on the engine's pooled features.
pub async fn train(e: &mut Engine, labels: &[String], examples: &[Vec<String>]) -> Result<(Head, Trained)> {
    check(labels, examples)?;
    let (mut texts, mut y) = (Vec::new(), Vec::new());
    for (i, ex) in examples.iter().enumerate() {
        for t in ex.iter().filter(|t| !t.trim().is_empty()) {
            texts.push(t.trim());
            y.push(i);
        }
    }
    let d = e.classifier.config().hidden_size;
    let t0 = now_ms();
    let x = features(e, &texts).await?; // (n, d)
    let t1 = now_ms();
    let (w, b, final_loss, acc) = fit(&x, &y, d, labels.len());
    let t2 = now_ms();
    let labels: Vec<String> = labels.iter().map(|l| l.trim().to_string()).collect();
    let info = HeadInfo { labels: labels.clone(), hidden_size: d, examples: y.len(), train_accuracy: acc };
    let head = Head::new(info, w, b)?;
    Ok((head, Trained { labels, examples: y.len(), train_accuracy: acc, final_loss, features_ms: t1 - t0, train_ms: t2 - t1 }))
}

impl Head {
    fn new(info: HeadInfo, w: Vec<f32>, b: Vec<f32>) -> Result<Self> {
        let (k, d) = (info.labels.len(), info.hidden_size);
        let linear = Linear {
            weight: Weight::F32(Param::new(Tensor::new(vec![k, d], w)?)),
            bias: Some(Param::new(Tensor::new(vec![k], b)?)),
            names: Vec::new(),
        };
        Ok(Self { info, linear })
    }

    /// `head.safetensors` bytes: `classifier.weight (labels, d)` and `classifier.bias (labels)`, f32.
    pub fn safetensors(&self) -> Vec<u8> {
        let (k, d) = (self.info.labels.len(), self.info.hidden_size);
        let w = &self.linear.weight.to_f32(); // (labels, d): the head is f32; any other storage widened
        let b = self.linear.bias.as_ref().map(|b| &b.tensor.data[..]).unwrap_or(&[]);
        let header = serde_json::json!({
            "classifier.bias": { "dtype": "F32", "shape": [k], "data_offsets": [0, 4 * k] },
            "classifier.weight": { "dtype": "F32", "shape": [k, d], "data_offsets": [4 * k, 4 * k + 4 * k * d] },
        })
        .to_string();
        let mut h = header.into_bytes();
        while h.len() % 8 != 0 {
            h.push(b' ');
        }
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        b.iter().chain(w).for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        out
    }

    /// `head.json`.
    pub fn config_json(&self) -> String {
        serde_json::to_string_pretty(&self.info).unwrap_or_default()
    }

    /// Load `head.json` + `head.safetensors` (shapes checked against the labels and hidden size).
    pub fn from_files(config_json: &str, weights: &[u8]) -> Result<Self> {
        let info: HeadInfo = serde_json::from_str(config_json)?;
        if info.labels.len() < 2 || info.hidden_size == 0 {
            return Err(Error::Config("head.json needs at least two labels and a hidden_size".into()));
        }
        let k = info.labels.len();
        let w = Weights::from_bytes(weights)?;
        let s = w.pp("classifier");
        let weight = s.get("weight", &[k, info.hidden_size])?;
        let bias = s.get("bias", &[k])?;
        Ok(Self { linear: Linear { weight: Weight::F32(Param::new(weight)), bias: Some(Param::new(bias)), names: vec!["classifier.weight".into()] }, info })
    }
}

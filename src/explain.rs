//! Why the model chose its label, computed by the engine from its own forward passes (the page and the CLI
//! only draw these numbers):
//! - **head ablation sweep**: Δp(label) when each attention head alone is ablated ([`Ablation::sweep`]),
//!   every layer × head in one batched forward of copies of the text on the GPU; on the CPU the layers
//!   below each ablated layer run once for all its heads ([`sweep_cpu`], the same numbers bit for bit);
//! - **occlusion**: Δp(label) when one word piece is left out (negative: the piece supported the label), every
//!   piece in one batched forward;
//! - **attention rollout** (Abnar & Zuidema 2020): per layer the head-averaged attention plus the residual
//!   identity, `0.5·A + 0.5·I`, multiplied through the layers, read at the pooled positions;
//! - **logit lens**: the model's own head (final norm if any, pooling, pooler, classifier, softmax) applied
//!   to each layer's hidden states — how the prediction forms layer by layer.
//!
//! Each function runs on the engine's backend (CPU or GPU) through [`Engine::forward`].

use crate::batch::Batch;
use crate::config::Pooling;
use crate::cpu::CpuBackend;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::backend::Backend;
use crate::model::{Ablation, AblationMode, BatchNormStats, ForwardOptions};
use crate::trace::TraceRequest;
use serde::Serialize;

/// Most sequences in one forward of a sweep or an occlusion (larger ones run in several forwards).
pub const MAX_ROWS: usize = 128;

/// The text as the model saw it, and what it predicted.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// The model's labels.
    pub labels: Vec<String>,
    /// The word pieces the model saw, `[CLS]` … `[SEP]`.
    pub tokens: Vec<String>,
    /// Their ids.
    pub ids: Vec<u32>,
    /// The label explained (the prediction unless another was asked for).
    pub label_index: usize,
    /// p(label) for every label, without intervention `(labels)`.
    pub probabilities: Vec<f32>, // (labels)
}

/// Δp(label) of ablating each head alone.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadSweep {
    /// How the heads were ablated.
    pub mode: AblationMode,
    /// Encoder layers.
    pub layers: usize,
    /// Heads per layer.
    pub heads: usize,
    /// The label whose probability is tracked.
    pub label_index: usize,
    /// p(label) with nothing ablated.
    pub base: f32,
    /// `(layers, heads)`: p(label | that head ablated) − base.
    pub delta: Vec<f32>, // (layers, heads): p(label | head ablated) − base
    /// `(layers, heads, labels)`: every label's probability with that head ablated.
    pub probs: Vec<f32>, // (layers, heads, labels)
    /// Wall-clock milliseconds of the sweep's forwards.
    pub millis: f64,
}

/// Token attributions, one value per token of the text (`[CLS]` … `[SEP]`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    /// `occlusion` or `attention rollout`.
    pub method: &'static str,
    /// `None` where the method gives no value (occlusion never removes `[CLS]`/`[SEP]`).
    pub values: Vec<Option<f32>>, // (tokens)
}

/// The model's head on each layer's output: `probs (layers, labels)`; the last row is the model's output.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogitLens {
    /// The model's labels.
    pub labels: Vec<String>,
    /// `(layers, labels)`: softmax of the head on each layer's output.
    pub probs: Vec<Vec<f32>>,  // (layers, labels)
    /// `(layers, labels)`: the logits before the softmax.
    pub logits: Vec<Vec<f32>>, // (layers, labels)
}

/// Everything `classify --explain` prints for one text, and the page's explanation panels draw.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The text explained.
    pub text: String,
    #[serde(flatten)]
    /// The text, its tokens and the prediction.
    pub subject: Subject,
    /// Leave-one-token-out attributions.
    pub occlusion: Attribution,
    /// Attention-rollout attributions.
    pub rollout: Attribution,
    /// The head-ablation sweep.
    pub ablation: HeadSweep,
    /// The logit lens.
    pub lens: LogitLens,
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

fn probs_of(out: &crate::model::Output) -> Result<&crate::tensor::Tensor> {
    let p = out.probs.as_ref().ok_or_else(|| Error::Config("this model has no classifier head (no labels)".into()))?;
    if let Some(v) = p.data.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!("the model's probabilities are not finite ({v})")));
    }
    Ok(p)
}

/// Tokenize `text` (truncated to the model's length) and run it alone: the subject of an explanation.
pub async fn subject(e: &mut Engine, text: &str, label: Option<usize>) -> Result<Subject> {
    e.classifier.check_classifier()?;
    let (batch, enc) = e.classifier.batch(&[text])?;
    let out = e.forward(&batch, &ForwardOptions::default()).await?;
    let probs = probs_of(&out)?.data.clone();
    let labels = e.classifier.config().labels.clone();
    let label_index = match label {
        Some(l) if l >= labels.len() => return Err(Error::Input(format!("label {l} is outside the model's {} labels", labels.len()))),
        Some(l) => l,
        None => (0..probs.len()).fold(0, |best, i| if probs[i] > probs[best] { i } else { best }),
    };
    let ids = enc.into_iter().next().map(|e| e.ids).unwrap_or_default();
    let tokens = ids.iter().map(|&i| e.classifier.tokenizer.token(i).to_string()).collect();
    Ok(Subject { labels, tokens, ids, label_index, probabilities: probs })
}

/// `rows` sequences of ids through the engine, [`MAX_ROWS`] per forward, with per-row ablation masks
/// (`ablation` has one row per sequence) or none: the probabilities `(rows, labels)`.
async fn run_rows(e: &mut Engine, rows: &[Vec<u32>], ablation: Option<&Ablation>) -> Result<Vec<f32>> {
    let pad = e.classifier.tokenizer.pad_id();
    let mut probs = Vec::new();
    for (k, chunk) in rows.chunks(MAX_ROWS).enumerate() {
        let batch = Batch::from_rows(chunk, pad)?;
        let part = ablation.map(|a| {
            let per = a.layers * a.heads;
            let first = k * MAX_ROWS;
            Ablation { rows: chunk.len(), ablated: a.ablated[first * per..(first + chunk.len()) * per].to_vec(), ..a.clone() }
        });
        let out = e.forward(&batch, &ForwardOptions { ablate: part.as_ref(), ..Default::default() }).await?;
        probs.extend_from_slice(&probs_of(&out)?.data);
    }
    Ok(probs)
}

/// Ablate every head alone (and nothing, the base) on the subject's ids: on the GPU one batched forward
/// of `1 + layers·heads` copies (in [`MAX_ROWS`] chunks), on the CPU [`sweep_cpu`] (1 + layers forwards
/// that share the layers below the ablated one).
pub async fn head_sweep(e: &mut Engine, s: &Subject, mode: AblationMode) -> Result<HeadSweep> {
    let t0 = now_ms();
    let c = e.classifier.config();
    let (layers, heads, n) = (c.num_layers, c.num_heads, c.num_labels());
    let probs = if e.gpu().is_none() && e.classifier.model.blocks.is_empty() {
        e.count_forwards(1 + layers as u64);
        sweep_cpu(&e.classifier.model, &s.ids, e.classifier.tokenizer.pad_id(), mode)? // (1 + layers·heads, labels)
    } else {
        let a = Ablation::sweep(mode, layers, heads);
        let rows = vec![s.ids.clone(); a.rows];
        run_rows(e, &rows, Some(&a)).await? // (1 + layers·heads, labels)
    };
    let base = probs[s.label_index];
    let delta = (0..layers * heads).map(|i| probs[(1 + i) * n + s.label_index] - base).collect();
    Ok(HeadSweep { mode, layers, heads, label_index: s.label_index, base, delta, probs: probs[n..].to_vec(), millis: now_ms() - t0 })
}

/// The sweep on the CPU, with the work the rows share done once: the layers below layer `l` see the same
/// input for every head of layer `l` (and for the unablated base), so the text runs through the model
/// once, keeping each layer's input, and the `heads` copies that ablate a head of layer `l` start there —
/// `L + heads·L(L+1)/2` layer passes instead of `(1 + heads·L)·L` (258 instead of 438 for MiniLM). Each
/// row computes exactly what [`Ablation::sweep`]'s batched forward computes for it (tests/explain.rs).
/// Returns the probabilities `(1 + layers·heads, labels)`: row 0 the base, row `1 + l·heads + h` head
/// `(l, h)` ablated.
pub fn sweep_cpu(model: &crate::model::Model, ids: &[u32], pad: u32, mode: AblationMode) -> Result<Vec<f32>> {
    let (layers, heads) = (model.layers.len(), model.config.num_heads);
    let be = &mut CpuBackend::default();
    let opts = ForwardOptions::default();
    let one = Batch::from_rows(&[ids.to_vec()], pad)?;
    model.embeddings.check_ids(&one)?;
    one.check(model.config.max_len)?;
    be.begin(&one)?;
    let mut inputs: Vec<Vec<f32>> = Vec::with_capacity(layers); // (layers) × (seq, d): each layer's input
    let mut x = model.embeddings.forward(be, &one)?; // (seq, d)
    for layer in &model.layers {
        inputs.push(x.clone());
        x = layer.forward(be, x, &one, &opts, None, None)?;
    }
    let base = model.record_from(be, x, layers, &one, &opts, None)?;
    let mut probs = probs_of(&base)?.data.clone(); // (1 + layers·heads, labels) when done
    let copies = Batch::from_rows(&vec![ids.to_vec(); heads], pad)?;
    be.begin(&copies)?;
    for (l, input) in inputs.into_iter().enumerate() {
        let mut a = Ablation::none(mode, heads, layers, heads); // row h ablates head h of layer l
        for h in 0..heads {
            a.set(h, l, h)?;
        }
        let x = input.repeat(heads); // (heads·seq, d)
        let out = model.record_from(be, x, l, &copies, &ForwardOptions { ablate: Some(&a), ..opts }, None)?;
        probs.extend_from_slice(&probs_of(&out)?.data);
    }
    Ok(probs)
}

/// The subject's ids with position `i` left out.
pub fn without(ids: &[u32], i: usize) -> Vec<u32> {
    ids.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &t)| t).collect()
}

/// Leave-one-token-out: `p(label | text without piece i) − p(label | text)` for every word piece (never
/// `[CLS]`, `[SEP]`), all in one batched forward (the full text is row 0 of the same batch).
pub async fn occlusion(e: &mut Engine, s: &Subject) -> Result<Attribution> {
    let len = s.ids.len();
    let pieces: Vec<usize> = (1..len.saturating_sub(1)).collect();
    let mut values = vec![None; len];
    if !pieces.is_empty() {
        let rows: Vec<Vec<u32>> = std::iter::once(s.ids.clone()).chain(pieces.iter().map(|&i| without(&s.ids, i))).collect();
        let n = s.labels.len();
        let probs = run_rows(e, &rows, None).await?; // (1 + pieces, labels)
        let base = probs[s.label_index];
        for (k, &i) in pieces.iter().enumerate() {
            values[i] = Some(probs[(1 + k) * n + s.label_index] - base);
        }
    }
    Ok(Attribution { method: "occlusion", values })
}

/// Attention rollout from the per-layer attention `(heads, seq, seq)` of one sequence of `len` tokens:
/// `R = Â_L ··· Â_1`, `Â = 0.5·mean_h(A) + 0.5·I`; the attribution is R's row at the pooled position
/// (`[CLS]`) or the mean of its real rows (mean pooling). Sums to 1.
pub fn rollout(attention: &[&[f32]], heads: usize, seq: usize, len: usize, pooling: Pooling) -> Vec<f32> {
    let mut r: Vec<f64> = (0..len * len).map(|k| if k / len == k % len { 1.0 } else { 0.0 }).collect(); // (len, len)
    for a in attention {
        let mut hat = vec![0.0f64; len * len]; // (len, len)
        for h in 0..heads {
            for i in 0..len {
                for j in 0..len {
                    hat[i * len + j] += a[(h * seq + i) * seq + j] as f64 / heads as f64;
                }
            }
        }
        for i in 0..len {
            hat[i * len + i] += 1.0;
            let sum: f64 = hat[i * len..(i + 1) * len].iter().sum();
            hat[i * len..(i + 1) * len].iter_mut().for_each(|v| *v /= sum);
        }
        let mut next = vec![0.0f64; len * len]; // Â · R
        for i in 0..len {
            for k in 0..len {
                let v = hat[i * len + k];
                for j in 0..len {
                    next[i * len + j] += v * r[k * len + j];
                }
            }
        }
        r = next;
    }
    let read: Vec<usize> = match pooling {
        Pooling::Cls => vec![0],
        Pooling::Mean => (0..len).collect(),
    };
    (0..len).map(|j| (read.iter().map(|&i| r[i * len + j]).sum::<f64>() / read.len() as f64) as f32).collect()
}

/// Rollout and the logit lens from one traced forward (attention + every layer's hidden states).
pub async fn rollout_and_lens(e: &mut Engine, s: &Subject) -> Result<(Attribution, LogitLens)> {
    let pad = e.classifier.tokenizer.pad_id();
    let batch = Batch::from_rows(std::slice::from_ref(&s.ids), pad)?;
    let req = TraceRequest { attention: true, hidden: true, ..TraceRequest::NONE };
    let mut out = e.forward(&batch, &ForwardOptions::default().traced(req)).await?;
    let trace = out.trace.take().ok_or_else(|| Error::Config("the forward recorded no trace".into()))?;
    let (seq, len, heads) = (batch.seq, s.ids.len(), e.classifier.config().num_heads);
    let attention: Vec<&[f32]> = trace.layers.iter().filter_map(|l| l.attention.as_ref().map(|t| &t.data[..])).collect();
    let r = rollout(&attention, heads, seq, len, e.classifier.config().pooling);
    let hidden: Vec<&crate::tensor::Tensor> = trace.layers.iter().filter_map(|l| l.hidden.as_ref()).collect();
    let lens = logit_lens(e, &batch, &hidden)?;
    Ok((Attribution { method: "attention rollout", values: r.into_iter().map(Some).collect() }, lens))
}

/// The model's head on each hidden state `(1, seq, d)`: final norm (pre-norm models), pooling, pooler,
/// classifier, softmax — the same ops the forward runs, on the CPU backend.
pub fn logit_lens(e: &Engine, batch: &Batch, hidden: &[&crate::tensor::Tensor]) -> Result<LogitLens> {
    let m = &e.classifier.model;
    let c = m.classifier.as_ref().ok_or_else(|| Error::Config("this model has no classifier head (no labels)".into()))?;
    let be = &mut CpuBackend::default();
    let (mut probs, mut logits) = (Vec::new(), Vec::new());
    for h in hidden {
        let mut x = h.data.clone(); // (seq, d)
        if let Some(n) = &m.final_norm {
            x = be.norm(&x, n, batch, BatchNormStats::Running, false)?.0;
        }
        let mut pooled = be.pool(&x, batch, m.config.pooling)?; // (1, d)
        if let Some(p) = &m.pooler {
            pooled = be.linear(&pooled, p, Some(crate::config::Activation::Tanh))?;
        }
        let l = be.linear(&pooled, c, None)?; // (1, labels)
        probs.push(be.softmax(&l, c.out_dim())?);
        logits.push(l);
    }
    Ok(LogitLens { labels: m.config.labels.clone(), probs, logits })
}

/// Classify the subject with the listed `(layer, head)`s ablated: the probabilities `(labels)`.
pub async fn classify_ablated(e: &mut Engine, s: &Subject, heads: &[(usize, usize)], mode: AblationMode) -> Result<Vec<f32>> {
    let c = e.classifier.config();
    let a = Ablation::heads(mode, c.num_layers, c.num_heads, heads)?;
    run_rows(e, std::slice::from_ref(&s.ids), Some(&a)).await
}

/// Everything for one text: 4 forwards (the text; its head sweep; its occlusion; one traced).
pub async fn explain(e: &mut Engine, text: &str, label: Option<usize>, mode: AblationMode) -> Result<Explanation> {
    let subject = subject(e, text, label).await?;
    let ablation = head_sweep(e, &subject, mode).await?;
    let occlusion = occlusion(e, &subject).await?;
    let (rollout, lens) = rollout_and_lens(e, &subject).await?;
    Ok(Explanation { text: text.to_string(), subject, occlusion, rollout, ablation, lens })
}

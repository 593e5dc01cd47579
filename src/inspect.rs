//! What the page draws beyond one forward pass, computed here so that JavaScript does no model math:
//! the LayerNorm-vs-BatchNorm batch experiment (the same text normalised alone and in a batch with another,
//! longer text), the statistics of each norm's output, and the positional table with its position-position
//! dot products. Shapes are in the comments.
//!
//! One inspection is exactly three forward passes on the engine's backend: the traced eval-mode pass whose
//! label, tokens, attention and norms the page shows, then the batch experiment's two (alone, together).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{BatchNormStats, ForwardOptions};
use crate::pipeline::{Classification, Classifier, Prediction};
use crate::tensor::Tensor;
use crate::config::NormKind;
use crate::trace::{NormTrace, Stats, Trace, TraceRequest};
use serde::Serialize;

/// One norm layer in the batch experiment, restricted to the text's own `n` tokens.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormShift {
    /// The text's normalised output in the two-text batch minus alone.
    pub diff: Tensor,          // (n, d): the text's normalised output in the two-text batch − alone
    /// Max |together − alone| per token.
    pub token_shift: Vec<f32>, // (n): max |together − alone| per token
    /// Max over the whole difference.
    pub max_shift: f32,        // max over the whole (n, d)
    /// The statistics the norm used alone: LN per token, BN per feature.
    pub stats_alone: Stats,    // the statistics the norm used: LN per token (n), BN per feature (d)
    /// The same, in the batch with the companion.
    pub stats_together: Stats, // same, in the batch with the companion
}

/// The same text classified alone and in a batch with `companion`, normalising BatchNorm with the batch's own
/// statistics (as in training). LayerNorm's output cannot change; BatchNorm's does.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTest {
    /// Which statistics BatchNorm used.
    pub batch_norm: BatchNormStats,
    /// The text classified alone.
    pub alone: Prediction,
    /// The text's row of the two-text batch.
    pub together: Prediction,         // the text's row of the two-text batch
    /// Padded length of the two-text batch.
    pub together_seq: usize,          // padded length of the two-text batch
    /// Real tokens of text and companion.
    pub together_lengths: Vec<usize>, // (2): real tokens of text and companion
    /// Per layer, the text's attention `(heads, together_seq, together_seq)` in the two-text batch: its padded
    /// key positions get weight 0.
    pub together_attention: Vec<Tensor>,
    /// Per layer: norm1, norm2.
    pub layers: Vec<[NormShift; 2]>, // per layer: norm1, norm2
}

/// What an inspection computes; every part defaults to on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InspectOptions {
    /// Attention maps (per layer and head, and the head average).
    pub attention: bool,
    /// Norm statistics and outputs, and the statistics of the outputs.
    pub norms: bool,
    /// The LN-vs-BN batch experiment (one or two more forward passes; implies `norms`).
    pub batch_test: bool,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self { attention: true, norms: true, batch_test: true }
    }
}

/// Everything the page draws for one text and one model.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// The text inspected.
    pub text: String,
    /// The text batched with it in the experiment.
    pub companion: String,
    /// `[text]` alone in eval mode (BatchNorm uses its running statistics), with a trace of only what the
    /// page draws: attention, norm statistics and outputs (no embeddings, layer inputs or hidden states).
    pub result: Classification,
    /// Per layer, norm1/norm2: statistics of the normalised output of the text's tokens — per token `(n)` and
    /// per feature `(d)` — to set beside the input statistics in the trace.
    pub output_token_stats: Vec<[Stats; 2]>,
    /// Per layer, norm1/norm2: per-feature statistics of the normalised output of the text's tokens.
    pub output_feature_stats: Vec<[Stats; 2]>,
    /// Per layer, attention averaged over heads for the text: `(seq, seq)`.
    pub attention_mean: Vec<Tensor>,
    /// The LN-vs-BN batch experiment, when asked for.
    pub batch_test: Option<BatchTest>,
    /// Forward passes this inspection ran.
    pub forwards: usize,
}

/// The positional table and how similar positions are to each other.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionalView {
    /// The positional table.
    pub table: Tensor,      // (max_len, d)
    /// Dot products of its rows.
    pub similarity: Tensor, // (max_len, max_len): dot product of the rows
}

/// Batch row 0 of a `(batch, ...)` tensor.
fn first_item(t: &Tensor) -> Tensor {
    let n: usize = t.shape[1..].iter().product();
    Tensor { shape: t.shape[1..].to_vec(), data: t.data[..n].to_vec() }
}

fn norms_of(tr: &Trace) -> Result<Vec<[&NormTrace; 2]>> {
    tr.layers
        .iter()
        .map(|l| match (&l.norm1, &l.norm2) {
            (Some(a), Some(b)) => Ok([a, b]),
            _ => Err(Error::Input("the trace has no norm statistics".into())),
        })
        .collect()
}

fn shift(a: &NormTrace, b: &NormTrace, n: usize) -> Result<NormShift> {
    let short = || Error::Input("trace is shorter than the text".into());
    let (alone, together) = (a.output_rows(n).ok_or_else(short)?, b.output_rows(n).ok_or_else(short)?);
    let d = a.output.last_dim();
    let diff: Vec<f32> = together.iter().zip(alone).map(|(b, a)| b - a).collect();
    let token_shift: Vec<f32> = diff.chunks(d.max(1)).map(|row| row.iter().map(|v| v.abs()).fold(0.0, f32::max)).collect();
    let max_shift = token_shift.iter().copied().fold(0.0, f32::max);
    let diff = Tensor { shape: vec![n, d], data: diff };
    Ok(NormShift { diff, token_shift, max_shift, stats_alone: a.used_stats(n), stats_together: b.used_stats(n) })
}

async fn traced(e: &mut Engine, texts: &[&str], opts: ForwardOptions<'_>) -> Result<(Classification, Trace)> {
    let mut r = e.classify(texts, &opts).await?;
    let tr = r.trace.take().ok_or_else(|| Error::Input("no trace recorded".into()))?;
    Ok((r, tr))
}

/// Run what the page shows for `text`; `companion` is the longer text of the batch experiment. Every
/// forward runs on the engine's backend (on WebGPU the attention maps come from the fused attention kernel
/// itself): one traced eval-mode pass — label, tokens, attention and norms from the same pass — then, for the
/// batch experiment, the text alone and together with `companion` with BatchNorm on batch statistics. A model
/// without BatchNorm normalises the same way in both modes, so its eval pass is reused as "alone": two
/// passes for LayerNorm models, three for BatchNorm ones, one without the batch experiment.
pub async fn inspect(e: &mut Engine, text: &str, companion: &str, opts: InspectOptions) -> Result<Inspection> {
    let norms = opts.norms || opts.batch_test;
    let page = TraceRequest { attention: opts.attention, norms, ..TraceRequest::NONE };
    let start = e.forward_count();
    let result = e.classify(&[text], &ForwardOptions::default().traced(page)).await?;
    let tr = result.trace.as_ref().ok_or_else(|| Error::Input("no trace recorded".into()))?;
    let n = tr.lengths[0];
    let (mut output_token_stats, mut output_feature_stats) = (Vec::new(), Vec::new());
    if opts.norms {
        for pair in norms_of(tr)? {
            let short = || Error::Input("trace is shorter than the text".into());
            let ((t1, f1), (t2, f2)) = (pair[0].output_stats(n).ok_or_else(short)?, pair[1].output_stats(n).ok_or_else(short)?);
            output_token_stats.push([t1, t2]);
            output_feature_stats.push([f1, f2]);
        }
    }
    let attention_mean = tr.layers.iter().filter_map(|l| l.head_mean()).collect();
    let batch_test = if opts.batch_test { Some(batch_test(e, &result, text, companion, page).await?) } else { None };
    let mut result = result;
    if !opts.norms {
        // Asked for only to compute the batch experiment.
        if let Some(t) = result.trace.as_mut() {
            t.layers.iter_mut().for_each(|l| (l.norm1, l.norm2) = (None, None));
            t.final_norm = None;
        }
    }
    Ok(Inspection {
        text: text.to_string(),
        companion: companion.to_string(),
        result,
        output_token_stats,
        output_feature_stats,
        attention_mean,
        batch_test,
        forwards: (e.forward_count() - start) as usize,
    })
}

/// The LN-vs-BN experiment for `text` (whose eval-mode classification with norms traced is `eval`).
async fn batch_test(e: &mut Engine, eval: &Classification, text: &str, companion: &str, page: TraceRequest) -> Result<BatchTest> {
    let bn = BatchNormStats::Batch;
    let experiment = ForwardOptions { batch_norm: bn, trace: page, ..Default::default() };
    let has_batch_norm = e.classifier.config().norm == NormKind::Batch;
    let (alone, tr_alone) = if has_batch_norm {
        traced(e, &[text], ForwardOptions { trace: TraceRequest { attention: false, ..page }, ..experiment }).await?
    } else {
        let mut c = eval.clone();
        let tr = c.trace.take().ok_or_else(|| Error::Input("no trace recorded".into()))?;
        (c, tr)
    };
    let (mut together, tr_together) = traced(e, &[text, companion], experiment).await?;
    let n = tr_alone.lengths[0];
    let layers = norms_of(&tr_alone)?
        .into_iter()
        .zip(norms_of(&tr_together)?)
        .map(|(a, b)| Ok([shift(a[0], b[0], n)?, shift(a[1], b[1], n)?]))
        .collect::<Result<Vec<_>>>()?;
    let mut alone = alone;
    Ok(BatchTest {
        batch_norm: bn,
        alone: alone.predictions.swap_remove(0),
        together: together.predictions.swap_remove(0),
        together_seq: tr_together.seq,
        together_lengths: tr_together.lengths.clone(),
        together_attention: tr_together.layers.iter().filter_map(|l| l.attention.as_ref().map(first_item)).collect(),
        layers,
    })
}

/// The model's positional table and the dot product of every pair of its rows.
pub fn positional_view(c: &Classifier) -> PositionalView {
    let table = c.model.positional_table().clone();
    let (l, d) = (table.shape[0], table.last_dim());
    let mut sim = vec![0.0f32; l * l];
    for i in 0..l {
        for j in 0..l {
            let (a, b) = (&table.data[i * d..(i + 1) * d], &table.data[j * d..(j + 1) * d]);
            sim[i * l + j] = a.iter().zip(b).map(|(x, y)| x * y).sum();
        }
    }
    PositionalView { table, similarity: Tensor { shape: vec![l, l], data: sim } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `inspect` on the CPU backend, driven to completion.
    fn run(name: &str, text: &str, companion: &str, attention: bool) -> Result<Inspection> {
        let mut e = Engine::cpu(load(name));
        let insp = pollster::block_on(inspect(&mut e, text, companion, InspectOptions { attention, ..Default::default() }))?;
        // LayerNorm models reuse the eval pass as "alone"; BatchNorm models run it with batch statistics.
        let want = if e.classifier.config().norm == NormKind::Batch { 3 } else { 2 };
        assert_eq!((e.forward_count(), insp.forwards), (want, want as usize), "forward passes of one inspection");
        Ok(insp)
    }

    fn load(name: &str) -> Classifier {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(name);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        Classifier::from_bytes(
            &String::from_utf8(read("config.json")).unwrap(),
            &read("model.safetensors"),
            &String::from_utf8(read("vocab.txt")).unwrap(),
        )
        .unwrap()
    }

    const TEXT: &str = "a quiet, lovely film";
    const LONG: &str = "the plot wanders for two hours and every scene drags on long after its point is made";

    #[test]
    fn layer_norm_output_does_not_depend_on_the_batch() {
        let insp = run("prenorm-gelu", TEXT, LONG, true).unwrap();
        for (l, pair) in insp.batch_test.as_ref().unwrap().layers.iter().enumerate() {
            for s in pair {
                assert!(s.max_shift < 1e-5, "layer {l}: LN output moved by {}", s.max_shift);
            }
        }
        let (a, b) = (&insp.batch_test.as_ref().unwrap().alone.probabilities, &insp.batch_test.as_ref().unwrap().together.probabilities);
        assert!((a[0] - b[0]).abs() < 1e-5, "LN probabilities moved: {a:?} vs {b:?}");
    }

    #[test]
    fn batch_norm_output_shifts_with_the_batch() {
        let insp = run("prenorm-bn", TEXT, LONG, true).unwrap();
        let first = &insp.batch_test.as_ref().unwrap().layers[0][0];
        assert!(first.max_shift > 1e-2, "BN output moved only {}", first.max_shift);
        assert_eq!(first.stats_alone.mean.len(), 64);
        assert_ne!(first.stats_alone.mean, first.stats_together.mean);
        // Eval mode (running statistics) does not depend on the batch: the trace's output equals alone's.
        let n = insp.result.trace.as_ref().unwrap().lengths[0];
        assert_eq!(insp.output_token_stats[0][0].mean.len(), n);
        // The padded copy of the text's attention puts no weight on padding keys, and rows sum to 1.
        let s2 = insp.batch_test.as_ref().unwrap().together_seq;
        let att = &insp.batch_test.as_ref().unwrap().together_attention[0];
        assert_eq!(att.shape, vec![2, s2, s2]);
        assert!(s2 > n);
        let row: f32 = att.data[..s2].iter().sum();
        assert!((row - 1.0).abs() < 1e-5 && att.data[n..s2].iter().all(|&w| w == 0.0));
        let mean_row: f32 = insp.attention_mean[0].data[..n].iter().sum();
        assert!((mean_row - 1.0).abs() < 1e-5);
    }

    #[test]
    fn layer_norm_output_statistics_are_those_of_gamma_and_beta() {
        // With γ = 1, β = 0 the output of LN has mean 0 and variance ≈ 1 per token; in general it has the
        // mean of β + γ·x̂ — check against a direct computation on the trace.
        let insp = run("prenorm-gelu", TEXT, LONG, true).unwrap();
        let tr = insp.result.trace.as_ref().unwrap();
        let out = &tr.layers[1].norm2.as_ref().unwrap().output;
        let d = out.last_dim();
        let m: f32 = out.data[..d].iter().sum::<f32>() / d as f32;
        assert!((insp.output_token_stats[1][1].mean[0] - m).abs() < 1e-5);
    }

    #[test]
    fn without_attention_the_maps_are_left_out_and_the_rest_is_the_same() {
        let (a, b) = (run("prenorm-bn", TEXT, LONG, true).unwrap(), run("prenorm-bn", TEXT, LONG, false).unwrap());
        assert!(b.attention_mean.is_empty() && b.batch_test.as_ref().unwrap().together_attention.is_empty());
        assert!(b.result.trace.as_ref().unwrap().layers.iter().all(|l| l.attention.is_none()));
        assert_eq!(a.batch_test.as_ref().unwrap().layers[1][1].diff, b.batch_test.as_ref().unwrap().layers[1][1].diff);
        assert_eq!(a.result.predictions[0].probabilities, b.result.predictions[0].probabilities);
    }

    #[test]
    fn without_the_batch_test_an_inspection_is_one_forward() {
        let mut e = Engine::cpu(load("prenorm-bn"));
        let opts = InspectOptions { batch_test: false, norms: false, attention: true };
        let insp = pollster::block_on(inspect(&mut e, TEXT, LONG, opts)).unwrap();
        assert_eq!((e.forward_count(), insp.forwards), (1, 1));
        assert!(insp.batch_test.is_none() && insp.output_token_stats.is_empty());
        let tr = insp.result.trace.as_ref().unwrap();
        assert!(tr.layers.iter().all(|l| l.attention.is_some() && l.norm1.is_none()));
        // The same label and attention as the full inspection's eval pass.
        let full = run("prenorm-bn", TEXT, LONG, true).unwrap();
        assert_eq!(insp.result.predictions[0].probabilities, full.result.predictions[0].probabilities);
        assert_eq!(insp.attention_mean, full.attention_mean);
    }

    #[test]
    fn positional_similarity_is_the_row_dot_product() {
        let c = load("prenorm-gelu");
        let v = positional_view(&c);
        let d = v.table.last_dim();
        let l = v.table.shape[0];
        // Sinusoidal rows have norm² = d/2 (d/2 pairs of sin² + cos²).
        assert!((v.similarity.data[0] - d as f32 / 2.0).abs() < 1e-3, "{}", v.similarity.data[0]);
        assert!((v.similarity.data[5 * l + 5] - d as f32 / 2.0).abs() < 1e-3);
        assert!((v.similarity.data[3 * l + 7] - v.similarity.data[7 * l + 3]).abs() < 1e-5);
    }
}

//! What the page draws beyond one forward pass, computed here so that JavaScript does no model math:
//! the LayerNorm-vs-BatchNorm batch experiment (the same text normalised alone and in a batch with another,
//! longer text), the statistics of each norm's output, and the positional table with its position-position
//! dot products. Shapes are in the comments.

use crate::error::{Error, Result};
use crate::model::{BatchNormStats, ForwardOptions};
use crate::engine::Engine;
use crate::pipeline::{Classification, Classifier, Prediction};
use crate::tensor::Tensor;
use crate::trace::{NormTrace, Trace};
use serde::Serialize;

/// Mean and biased variance of a set of vectors.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// One norm layer in the batch experiment, restricted to the text's own `n` tokens.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormShift {
    pub diff: Tensor,           // (n, d): the text's normalised output in the two-text batch − alone
    pub token_shift: Vec<f32>,  // (n): max |together − alone| per token
    pub max_shift: f32,         // max over the whole (n, d)
    pub stats_alone: Stats,     // the statistics the norm used: LN per token (n), BN per feature (d)
    pub stats_together: Stats,  // same, in the batch with the companion
}

/// The same text classified alone and in a batch with `companion`, normalising BatchNorm with the batch's own
/// statistics (as in training). LayerNorm's output cannot change; BatchNorm's does.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTest {
    pub batch_norm: BatchNormStats,
    pub alone: Prediction,
    pub together: Prediction,        // the text's row of the two-text batch
    pub together_seq: usize,         // padded length of the two-text batch
    pub together_lengths: Vec<usize>, // (2): real tokens of text and companion
    /// Per layer, the text's attention `(heads, together_seq, together_seq)` in the two-text batch: its padded
    /// key positions get weight 0.
    pub together_attention: Vec<Tensor>,
    pub layers: Vec<[NormShift; 2]>, // per layer: norm1, norm2
}

/// Everything the page draws for one text and one model.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    pub text: String,
    pub companion: String,
    /// `[text]` alone in eval mode (BatchNorm uses its running statistics), with its trace trimmed to what the
    /// page draws: attention, norm statistics and outputs (no embeddings, layer inputs or hidden states).
    pub result: Classification,
    /// Per layer, norm1/norm2: statistics of the normalised output of the text's tokens — per token `(n)` and
    /// per feature `(d)` — to set beside the input statistics in the trace.
    pub output_token_stats: Vec<[Stats; 2]>,
    pub output_feature_stats: Vec<[Stats; 2]>,
    /// Per layer, attention averaged over heads for the text: `(seq, seq)`.
    pub attention_mean: Vec<Tensor>,
    pub batch_test: BatchTest,
}

/// The positional table and how similar positions are to each other.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionalView {
    pub table: Tensor,      // (max_len, d)
    pub similarity: Tensor, // (max_len, max_len): dot product of the rows
}

/// Statistics of `rows` vectors of length `d` laid out in `x (rows, d)`: per row, or per column.
fn row_stats(x: &[f32], rows: usize, d: usize) -> Stats {
    let (mut mean, mut var) = (vec![0.0; rows], vec![0.0; rows]);
    for r in 0..rows {
        let v = &x[r * d..(r + 1) * d];
        let m = v.iter().map(|&a| a as f64).sum::<f64>() / d as f64;
        mean[r] = m as f32;
        var[r] = (v.iter().map(|&a| (a as f64 - m).powi(2)).sum::<f64>() / d as f64) as f32;
    }
    Stats { mean, var }
}

fn col_stats(x: &[f32], rows: usize, d: usize) -> Stats {
    let (mut mean, mut var) = (vec![0.0; d], vec![0.0; d]);
    for j in 0..d {
        let m = (0..rows).map(|r| x[r * d + j] as f64).sum::<f64>() / rows.max(1) as f64;
        mean[j] = m as f32;
        var[j] = ((0..rows).map(|r| (x[r * d + j] as f64 - m).powi(2)).sum::<f64>() / rows.max(1) as f64) as f32;
    }
    Stats { mean, var }
}

/// The first `n` token rows of batch row 0 of a `(batch, seq, d)` tensor.
fn first_rows(t: &Tensor, n: usize) -> Result<Tensor> {
    let d = t.last_dim();
    let data = t.data.get(..n * d).ok_or_else(|| Error::Input("trace is shorter than the text".into()))?;
    Ok(Tensor { shape: vec![n, d], data: data.to_vec() })
}

/// Drop what the page never draws, so less crosses into JavaScript.
fn trim(t: &mut Trace, attention: bool) {
    let empty = || Tensor::zeros(vec![0]);
    t.embeddings = None;
    t.positional = None;
    t.pooled = None;
    for l in &mut t.layers {
        l.hidden = empty();
        l.norm1.input = empty();
        l.norm2.input = empty();
        if !attention {
            l.attention = empty();
        }
    }
    if let Some(f) = t.final_norm.as_mut() {
        f.input = empty();
    }
}

/// Batch row 0 of a `(batch, ...)` tensor.
fn first_item(t: &Tensor) -> Tensor {
    let n: usize = t.shape[1..].iter().product();
    Tensor { shape: t.shape[1..].to_vec(), data: t.data[..n].to_vec() }
}

/// Batch row 0 of `(batch, heads, s, s)` attention, averaged over heads: `(s, s)`.
fn head_mean(t: &Tensor) -> Tensor {
    let (h, s) = (t.shape[1], t.shape[2]);
    let mut m = vec![0.0f32; s * s];
    for head in t.data[..h * s * s].chunks(s * s) {
        m.iter_mut().zip(head).for_each(|(a, &b)| *a += b / h as f32);
    }
    Tensor { shape: vec![s, s], data: m }
}

/// The statistics a norm used, for batch row 0's first `n` tokens (LN) or all features (BN).
fn used_stats(t: &NormTrace, n: usize) -> Stats {
    match t.mean.shape.len() {
        2 => Stats { mean: t.mean.data[..n].to_vec(), var: t.var.data[..n].to_vec() },
        _ => Stats { mean: t.mean.data.clone(), var: t.var.data.clone() },
    }
}

fn norms(tr: &Trace) -> impl Iterator<Item = [&NormTrace; 2]> {
    tr.layers.iter().map(|l| [&l.norm1, &l.norm2])
}

fn shift(a: &NormTrace, b: &NormTrace, n: usize) -> Result<NormShift> {
    let (alone, together) = (first_rows(&a.output, n)?, first_rows(&b.output, n)?);
    let d = alone.last_dim();
    let diff: Vec<f32> = together.data.iter().zip(&alone.data).map(|(b, a)| b - a).collect();
    let token_shift: Vec<f32> =
        diff.chunks(d.max(1)).map(|row| row.iter().map(|v| v.abs()).fold(0.0, f32::max)).collect();
    let max_shift = token_shift.iter().copied().fold(0.0, f32::max);
    let diff = Tensor { shape: vec![n, d], data: diff };
    Ok(NormShift { diff, token_shift, max_shift, stats_alone: used_stats(a, n), stats_together: used_stats(b, n) })
}

fn traced(c: &Classifier, texts: &[&str], bn: BatchNormStats) -> Result<(Classification, Trace)> {
    let mut r = c.classify(texts, &ForwardOptions { batch_norm: bn }, true)?;
    let tr = r.trace.take().ok_or_else(|| Error::Input("no trace recorded".into()))?;
    Ok((r, tr))
}

/// Run everything the page shows for `text`; `companion` is the longer text of the batch experiment. Without
/// `attention`, the attention maps are left out (the page's LN-vs-BN panel does not draw them).
///
/// The traced forward pass of `text` runs on the engine's backend, so on WebGPU the attention maps come from
/// the fused attention kernel itself; the batch experiment (batch statistics, alone vs padded with
/// `companion`) runs on the CPU reference path.
pub async fn inspect(e: &mut Engine, text: &str, companion: &str, attention: bool) -> Result<Inspection> {
    let result = e.classify(&[text], &ForwardOptions::default(), true).await?;
    let c = &e.classifier;
    let tr = result.trace.as_ref().ok_or_else(|| Error::Input("no trace recorded".into()))?;
    let n = tr.lengths[0];
    let mut output_token_stats = Vec::new();
    let mut output_feature_stats = Vec::new();
    for pair in norms(tr) {
        let outs = [first_rows(&pair[0].output, n)?, first_rows(&pair[1].output, n)?];
        let d = outs[0].last_dim();
        output_token_stats.push([row_stats(&outs[0].data, n, d), row_stats(&outs[1].data, n, d)]);
        output_feature_stats.push([col_stats(&outs[0].data, n, d), col_stats(&outs[1].data, n, d)]);
    }
    let attention_mean = if attention { tr.layers.iter().map(|l| head_mean(&l.attention)).collect() } else { vec![] };
    let mut result = result;
    if let Some(t) = result.trace.as_mut() {
        trim(t, attention);
    }
    let bn = BatchNormStats::Batch;
    let (mut alone, tr_alone) = traced(c, &[text], bn)?;
    let (mut together, tr_together) = traced(c, &[text, companion], bn)?;
    let layers = norms(&tr_alone)
        .zip(norms(&tr_together))
        .map(|(a, b)| Ok([shift(a[0], b[0], n)?, shift(a[1], b[1], n)?]))
        .collect::<Result<Vec<_>>>()?;
    let batch_test = BatchTest {
        batch_norm: bn,
        alone: alone.predictions.swap_remove(0),
        together: together.predictions.swap_remove(0),
        together_seq: tr_together.seq,
        together_lengths: tr_together.lengths.clone(),
        together_attention: if attention {
            tr_together.layers.iter().map(|l| first_item(&l.attention)).collect()
        } else {
            vec![]
        },
        layers,
    };
    Ok(Inspection {
        text: text.to_string(),
        companion: companion.to_string(),
        result,
        output_token_stats,
        output_feature_stats,
        attention_mean,
        batch_test,
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
        let mut e = pollster::block_on(Engine::new(load(name), crate::engine::Backend::Cpu))?;
        pollster::block_on(inspect(&mut e, text, companion, attention))
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
        for (l, pair) in insp.batch_test.layers.iter().enumerate() {
            for s in pair {
                assert!(s.max_shift < 1e-5, "layer {l}: LN output moved by {}", s.max_shift);
            }
        }
        let (a, b) = (&insp.batch_test.alone.probabilities, &insp.batch_test.together.probabilities);
        assert!((a[0] - b[0]).abs() < 1e-5, "LN probabilities moved: {a:?} vs {b:?}");
    }

    #[test]
    fn batch_norm_output_shifts_with_the_batch() {
        let insp = run("prenorm-bn", TEXT, LONG, true).unwrap();
        let first = &insp.batch_test.layers[0][0];
        assert!(first.max_shift > 1e-2, "BN output moved only {}", first.max_shift);
        assert_eq!(first.stats_alone.mean.len(), 64);
        assert_ne!(first.stats_alone.mean, first.stats_together.mean);
        // Eval mode (running statistics) does not depend on the batch: the trace's output equals alone's.
        let n = insp.result.trace.as_ref().unwrap().lengths[0];
        assert_eq!(insp.output_token_stats[0][0].mean.len(), n);
        // The padded copy of the text's attention puts no weight on padding keys, and rows sum to 1.
        let s2 = insp.batch_test.together_seq;
        let att = &insp.batch_test.together_attention[0];
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
        let out = &tr.layers[1].norm2.output;
        let d = out.last_dim();
        let m: f32 = out.data[..d].iter().sum::<f32>() / d as f32;
        assert!((insp.output_token_stats[1][1].mean[0] - m).abs() < 1e-5);
    }

    #[test]
    fn without_attention_the_maps_are_left_out_and_the_rest_is_the_same() {
        let (a, b) = (run("prenorm-bn", TEXT, LONG, true).unwrap(), run("prenorm-bn", TEXT, LONG, false).unwrap());
        assert!(b.attention_mean.is_empty() && b.batch_test.together_attention.is_empty());
        assert!(b.result.trace.as_ref().unwrap().layers.iter().all(|l| l.attention.is_empty()));
        assert_eq!(a.batch_test.layers[1][1].diff, b.batch_test.layers[1][1].diff);
        assert_eq!(a.result.predictions[0].probabilities, b.result.predictions[0].probabilities);
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

//! What the page draws: everything a forward pass computed on the way to the logits, recorded only when
//! asked for ([`TraceRequest`]). While the forward runs, each recorded tensor is a backend's pending read
//! (`Trace<B::Pending>`); [`Trace::map`] turns it into host tensors. Shapes are in the comments.

use crate::config::NormKind;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// What a forward pass records besides its outputs. Nothing that is not asked for is computed or read back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceRequest {
    /// Every layer's attention probabilities `(batch, heads, seq, seq)`.
    pub attention: bool,
    /// Every norm's statistics and output.
    pub norms: bool,
    /// Every norm's input too (needs `norms`).
    pub norm_inputs: bool,
    /// Every layer's output, and the final hidden states in `Output::hidden`.
    pub hidden: bool,
    /// The embeddings (input to the first layer) and the positional rows added to them.
    pub embeddings: bool,
}

impl TraceRequest {
    /// Record nothing.
    pub const NONE: Self = Self { attention: false, norms: false, norm_inputs: false, hidden: false, embeddings: false };
    /// Record everything.
    pub const ALL: Self = Self { attention: true, norms: true, norm_inputs: true, hidden: true, embeddings: true };

    /// Whether a [`Trace`] is recorded at all.
    pub fn any(&self) -> bool {
        self.attention || self.norms || self.norm_inputs || self.hidden || self.embeddings
    }
}

#[derive(Clone, Debug, Serialize)]
/// What one forward pass recorded, for the page to draw.
pub struct Trace<T = Tensor> {
    /// Texts.
    pub batch: usize,
    /// Padded length.
    pub seq: usize,
    /// Real tokens per text.
    pub lengths: Vec<usize>,        // (batch)
    /// The positional rows added to this input.
    pub positional: Option<Tensor>, // (seq, d): the positional rows added to this input
    /// Input to the first layer.
    pub embeddings: Option<T>,      // (batch, seq, d): input to the first layer
    /// One per layer.
    pub layers: Vec<LayerTrace<T>>, // one per layer
    /// The norm after the last layer, if the model has one.
    pub final_norm: Option<NormTrace<T>>,
}

#[derive(Clone, Debug, Serialize)]
/// What one encoder layer recorded.
pub struct LayerTrace<T = Tensor> {
    /// Softmax probabilities, 0 on padded keys.
    pub attention: Option<T>, // (batch, heads, seq, seq): softmax probabilities, 0 on padded keys
    /// The norm around attention.
    pub norm1: Option<NormTrace<T>>,
    /// The norm around the feed-forward block.
    pub norm2: Option<NormTrace<T>>,
    /// The layer's output.
    pub hidden: Option<T>, // (batch, seq, d): the layer's output
}

/// The statistics one norm layer used, and what went in and came out.
#[derive(Clone, Debug, Serialize)]
pub struct NormTrace<T = Tensor> {
    /// LayerNorm or BatchNorm.
    pub kind: NormKind,
    /// LayerNorm: per-token mean `(batch, seq)`. BatchNorm: this batch's per-feature mean over all
    /// batch × positions, padding included `(d)` (what train-mode BN would use).
    pub mean: T,
    /// Biased variance, same shape as `mean`.
    pub var: T,
    /// BatchNorm's running mean.
    pub running_mean: Option<Tensor>, // BatchNorm only: (d)
    /// BatchNorm's running variance.
    pub running_var: Option<Tensor>,  // BatchNorm only: (d)
    /// The norm's input, when norm inputs were asked for.
    pub input: Option<T>,             // (batch, seq, d), when norm inputs were asked for
    /// The norm's output.
    pub output: T,                    // (batch, seq, d)
}

impl<T> Trace<T> {
    /// An empty trace for a batch.
    pub fn new(batch: usize, seq: usize, lengths: Vec<usize>) -> Self {
        Self { batch, seq, lengths, positional: None, embeddings: None, layers: Vec::new(), final_norm: None }
    }

    /// The same trace with every recorded tensor passed through `f` (a backend's pending reads → host tensors).
    pub fn map<U>(self, f: &mut impl FnMut(T) -> U) -> Trace<U> {
        Trace {
            batch: self.batch,
            seq: self.seq,
            lengths: self.lengths,
            positional: self.positional,
            embeddings: self.embeddings.map(&mut *f),
            layers: self
                .layers
                .into_iter()
                .map(|l| LayerTrace {
                    attention: l.attention.map(&mut *f),
                    norm1: l.norm1.map(|n| n.map(f)),
                    norm2: l.norm2.map(|n| n.map(f)),
                    hidden: l.hidden.map(&mut *f),
                })
                .collect(),
            final_norm: self.final_norm.map(|n| n.map(f)),
        }
    }
}

impl<T> NormTrace<T> {
    /// The same trace with every recorded tensor passed through `f`.
    pub fn map<U>(self, f: &mut impl FnMut(T) -> U) -> NormTrace<U> {
        NormTrace {
            kind: self.kind,
            mean: f(self.mean),
            var: f(self.var),
            running_mean: self.running_mean,
            running_var: self.running_var,
            input: self.input.map(&mut *f),
            output: f(self.output),
        }
    }
}

/// Mean and biased variance of a set of vectors.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Means.
    pub mean: Vec<f32>,
    /// Biased variances.
    pub var: Vec<f32>,
}

impl Stats {
    /// Per row of `x (rows, d)`: `(rows)`.
    pub fn of_rows(x: &[f32], rows: usize, d: usize) -> Self {
        let (mut mean, mut var) = (vec![0.0; rows], vec![0.0; rows]);
        for r in 0..rows {
            let v = &x[r * d..(r + 1) * d];
            let m = v.iter().map(|&a| a as f64).sum::<f64>() / d as f64;
            mean[r] = m as f32;
            var[r] = (v.iter().map(|&a| (a as f64 - m).powi(2)).sum::<f64>() / d as f64) as f32;
        }
        Stats { mean, var }
    }

    /// Per column of `x (rows, d)`: `(d)`.
    pub fn of_columns(x: &[f32], rows: usize, d: usize) -> Self {
        let (mut mean, mut var) = (vec![0.0; d], vec![0.0; d]);
        for j in 0..d {
            let m = (0..rows).map(|r| x[r * d + j] as f64).sum::<f64>() / rows.max(1) as f64;
            mean[j] = m as f32;
            var[j] = ((0..rows).map(|r| (x[r * d + j] as f64 - m).powi(2)).sum::<f64>() / rows.max(1) as f64) as f32;
        }
        Stats { mean, var }
    }
}

impl NormTrace {
    /// The output rows of batch item 0's first `n` tokens, `(n, d)`.
    pub fn output_rows(&self, n: usize) -> Option<&[f32]> {
        self.output.data.get(..n * self.output.last_dim())
    }

    /// Statistics of the output of batch item 0's first `n` tokens: per token `(n)` and per feature `(d)`.
    pub fn output_stats(&self, n: usize) -> Option<(Stats, Stats)> {
        let d = self.output.last_dim();
        let rows = self.output_rows(n)?;
        Some((Stats::of_rows(rows, n, d), Stats::of_columns(rows, n, d)))
    }

    /// The statistics this norm used for batch item 0's first `n` tokens: LayerNorm per token `(n)`,
    /// BatchNorm per feature `(d)`.
    pub fn used_stats(&self, n: usize) -> Stats {
        match self.kind {
            NormKind::Layer => Stats { mean: self.mean.data[..n.min(self.mean.len())].to_vec(), var: self.var.data[..n.min(self.var.len())].to_vec() },
            NormKind::Batch => Stats { mean: self.mean.data.clone(), var: self.var.data.clone() },
        }
    }
}

impl LayerTrace {
    /// Batch item 0's attention averaged over heads: `(seq, seq)`.
    pub fn head_mean(&self) -> Option<Tensor> {
        let t = self.attention.as_ref()?;
        let (h, s) = (t.shape[1], t.shape[2]);
        let mut m = vec![0.0f32; s * s];
        for head in t.data[..h * s * s].chunks(s * s) {
            m.iter_mut().zip(head).for_each(|(a, &b)| *a += b / h as f32);
        }
        Some(Tensor { shape: vec![s, s], data: m })
    }
}

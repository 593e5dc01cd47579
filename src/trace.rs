//! What the page draws: everything a forward pass computed on the way to the logits, recorded only when
//! asked for. Shapes are in the comments.

use crate::config::NormKind;
use crate::model::Batch;
use crate::tensor::Tensor;
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    pub batch: usize,
    pub seq: usize,
    pub lengths: Vec<usize>,          // (batch)
    pub positional: Option<Tensor>,   // (seq, d): the positional rows added to this input
    pub embeddings: Option<Tensor>,   // (batch, seq, d): input to the first layer
    pub layers: Vec<LayerTrace>,      // one per layer
    pub final_norm: Option<NormTrace>,
    pub pooled: Option<Tensor>,       // (batch, d)
}

impl Trace {
    pub fn new(batch: &Batch) -> Self {
        Self { batch: batch.batch, seq: batch.seq, lengths: batch.lengths.clone(), ..Default::default() }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerTrace {
    pub attention: Tensor, // (batch, heads, seq, seq): softmax probabilities, 0 on padded keys
    pub norm1: NormTrace,
    pub norm2: NormTrace,
    pub hidden: Tensor, // (batch, seq, d): the layer's output
}

/// The statistics one norm layer used, and what went in and came out.
#[derive(Clone, Debug, Serialize)]
pub struct NormTrace {
    pub kind: NormKind,
    /// LayerNorm: per-token mean `(batch, seq)`. BatchNorm: this batch's per-feature mean over all
    /// batch × positions, padding included `(d)` (what train-mode BN would use).
    pub mean: Tensor,
    /// Biased variance, same shape as `mean`.
    pub var: Tensor,
    pub running_mean: Option<Tensor>, // BatchNorm only: (d)
    pub running_var: Option<Tensor>,  // BatchNorm only: (d)
    pub input: Tensor,                // (batch, seq, d)
    pub output: Tensor,               // (batch, seq, d)
}

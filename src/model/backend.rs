//! The seam between the model and the hardware. [`Model::forward`](super::Model::forward) is written
//! once against this trait; a backend supplies the ops. The CPU backend (`cpu::CpuBackend`) runs
//! each op at once (scalar or SIMD kernels); the GPU backend (`gpu::GpuBackend`) records them into
//! one command encoder and submits once in [`Backend::finish`].
//!
//! Activations are `(rows, cols)` row-major f32 on the backend ([`Backend::Tensor`]); what the caller
//! wants on the host (logits, the trace) is asked for with [`Backend::read`] during the forward and is
//! available after [`Backend::finish`] through [`Backend::fetch`].

use crate::batch::Batch;
use crate::config::{Activation, Pooling};
use crate::error::Result;
use crate::model::delight::Glt;
use crate::model::embeddings::Embeddings;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::{AblationMode, BatchNormStats};
use crate::tensor::Tensor;

/// A normalised activation and, when asked for, the statistics used (mean, variance).
pub type Normalized<B> = (<B as Backend>::Tensor, Option<[<B as Backend>::Pending; 2]>);

/// The ops a backend implements; [`crate::Model::record`] writes the forward once in terms of them.
pub trait Backend {
    /// An activation on this backend, `(rows, cols)` row-major f32.
    type Tensor;
    /// A host copy asked for during the forward, ready after [`Backend::finish`].
    type Pending;
    /// What [`Backend::finish`] returns; [`Backend::fetch`] turns a [`Backend::Pending`] into a tensor.
    type Fetched;

    /// Start a forward pass over `batch` (its ids, types and lengths are what the ops below read).
    fn begin(&mut self, batch: &Batch) -> Result<()>;
    /// `(batch·seq, d)`: `word[id] · scale + position[s] (+ token_type[type])`.
    fn embed(&mut self, e: &Embeddings, batch: &Batch) -> Result<Self::Tensor>;
    /// `act(x (rows, in) · Wᵀ + b)`: `(rows, out)`.
    fn linear(&mut self, x: &Self::Tensor, l: &Linear, act: Option<Activation>) -> Result<Self::Tensor>;
    /// `acc (rows, out) += x (rows, in) · Wᵀ + b`: the residual added in the matmul's epilogue.
    fn linear_add(&mut self, x: &Self::Tensor, l: &Linear, acc: &mut Self::Tensor) -> Result<()>;
    /// DeLighT's group linear transformation ([`Glt`]): `x (rows, x_dim)` and, when the layer mixes it in,
    /// `mix (rows, mix_dim)` → `(rows, out)`, grouped matmul + bias with the feature shuffle folded into
    /// the output index (`j · groups + k`) and the input mixer into the input index.
    fn glt(&mut self, x: &Self::Tensor, mix: Option<&Self::Tensor>, g: &Glt) -> Result<Self::Tensor>;
    /// `x = act(x)`, element-wise in place.
    fn activation(&mut self, x: &mut Self::Tensor, act: Activation) -> Result<()>;
    /// Multi-head scaled dot-product attention over packed `qkv (batch·seq, 3·heads·head_dim)` with the
    /// batch's key-padding mask: the context `(batch·seq, heads·head_dim)`, and the probabilities
    /// `(batch, heads, seq, seq)` (0 on padded keys) when `probs`.
    fn attention(&mut self, qkv: &Self::Tensor, batch: &Batch, heads: usize, probs: bool) -> Result<(Self::Tensor, Option<Self::Pending>)>;
    /// Head ablation on an attention context `ctx (batch·seq, heads·head_dim)`: for every sequence `b`
    /// and head `h` with `keep[b·heads + h] == 0` (`keep (batch, heads)`), that head's columns of every
    /// row of the sequence become 0 ([`AblationMode::Zero`]) or their mean over the sequence's real
    /// tokens ([`AblationMode::Mean`]); everything else is left exactly as it is.
    fn ablate_heads(&mut self, ctx: &mut Self::Tensor, batch: &Batch, heads: usize, keep: &[f32], mode: AblationMode) -> Result<()>;
    /// `n` applied to `x (batch·seq, d)`. With `stats`, also the statistics: LayerNorm's per-row mean and
    /// variance `(batch, seq)`; BatchNorm's per-feature mean and variance of this batch `(d)` over all rows,
    /// padding included (whichever statistics `bn` says to normalise with).
    fn norm(&mut self, x: &Self::Tensor, n: &Norm, batch: &Batch, bn: BatchNormStats, stats: bool) -> Result<Normalized<Self>>;
    /// `x (batch·seq, d)` → `(batch, d)`: mean over each row's real tokens, or its first token.
    fn pool(&mut self, x: &Self::Tensor, batch: &Batch, pooling: Pooling) -> Result<Self::Tensor>;
    /// Row softmax of `x (rows, n)`.
    fn softmax(&mut self, x: &Self::Tensor, n: usize) -> Result<Self::Tensor>;
    /// Ask for a host copy of `x` as it is at this point of the forward, with `shape`.
    fn read(&mut self, x: &Self::Tensor, shape: Vec<usize>) -> Self::Pending;
    /// A host tensor handed through as a [`Backend::Pending`] (e.g. the positional rows of the trace).
    fn host(&mut self, t: Tensor) -> Self::Pending;
    /// Give an activation back for reuse.
    fn release(&mut self, x: Self::Tensor);
    /// Run what was recorded (GPU: one submit, one readback) and return the host copies.
    #[allow(async_fn_in_trait)]
    async fn finish(&mut self) -> Result<Self::Fetched>;
    /// The tensor a [`Backend::read`] asked for.
    fn fetch(&self, fetched: &Self::Fetched, p: Self::Pending) -> Tensor;
}

//! Model parameters: a host tensor with an identity, so a backend can keep its own copy (the GPU uploads
//! each parameter once and finds it again by [`ParamId`]). A linear layer's weight is a [`Weight`]: the
//! storage it is kept in (f32 today; a new precision is a new variant plus its kernels).

use crate::tensor::Tensor;
use crate::weights::Stored;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// A parameter's identity, unique per process: backends key uploaded weights by it.
pub struct ParamId(u64);

/// One parameter tensor. Clones share the id (and the values).
#[derive(Clone, Debug)]
pub struct Param {
    /// Its identity.
    pub id: ParamId,
    /// Its values.
    pub tensor: Tensor,
}

impl Param {
    /// A parameter with a fresh id.
    pub fn new(tensor: Tensor) -> Self {
        Self { id: ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed)), tensor }
    }

    /// Its values.
    pub fn data(&self) -> &[f32] {
        &self.tensor.data
    }

    /// Its shape.
    pub fn shape(&self) -> &[usize] {
        &self.tensor.shape
    }
}

/// The storage of a linear layer's weight `(out, in)`.
#[derive(Clone, Debug)]
pub enum Weight {
    /// Full precision (F16/BF16 checkpoints are widened to this at load).
    F32(Param),
}

impl Weight {
    /// The storage for a weight `shape` read from a file. F16/BF16 are widened to f32 here: the kernels
    /// for half-precision weights come with the quantization work, as a new variant.
    pub fn from_stored(shape: &[usize], stored: Stored) -> Self {
        Weight::F32(Param::new(Tensor { shape: shape.to_vec(), data: stored.to_f32() }))
    }

    /// `(out, in)`.
    pub fn shape(&self) -> &[usize] {
        match self {
            Weight::F32(p) => p.shape(),
        }
    }

    /// The parameter holding the weight.
    pub fn param(&self) -> &Param {
        match self {
            Weight::F32(p) => p,
        }
    }
}

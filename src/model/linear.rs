//! `nn.Linear`: weight `(out, in)` in a [`Weight`] storage, optional bias `(out)`.

use crate::error::Result;
use crate::model::param::{Param, Weight};
use crate::tensor::Tensor;
use crate::weights::Scope;

#[derive(Clone, Debug)]
/// `y = x · Wᵀ + b`.
pub struct Linear {
    /// The weight.
    pub weight: Weight,       // (out, in)
    /// The bias, when there is one.
    pub bias: Option<Param>,  // (out)
}

impl Linear {
    /// Read `weight (out_dim, in_dim)` and an optional `bias (out_dim)` under `w`.
    pub fn load(w: &Scope, in_dim: usize, out_dim: usize) -> Result<Self> {
        let shape = [out_dim, in_dim];
        Ok(Self { weight: Weight::from_stored(&shape, w.get_stored("weight", &shape)?), bias: Some(Param::new(w.get("bias", &[out_dim])?)) })
    }

    /// Several linears with the same input stacked into one: weights `(Σ out, in)`, biases concatenated
    /// (e.g. BERT's separate query, key and value in PyTorch's packed `in_proj` order).
    pub fn stack(parts: &[Linear]) -> Self {
        let in_dim = parts.first().map_or(0, Linear::in_dim);
        let out: usize = parts.iter().map(Linear::out_dim).sum();
        let weight = parts.iter().flat_map(|l| l.weight.param().data().iter().copied()).collect();
        let bias = parts.iter().all(|l| l.bias.is_some()).then(|| {
            Param::new(Tensor { shape: vec![out], data: parts.iter().flat_map(|l| l.bias.iter().flat_map(|b| b.data().iter().copied())).collect() })
        });
        Self { weight: Weight::F32(Param::new(Tensor { shape: vec![out, in_dim], data: weight })), bias }
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Its parameters (for upload to a backend).
    pub fn params(&self) -> Vec<&Param> {
        std::iter::once(self.weight.param()).chain(&self.bias).collect()
    }
}

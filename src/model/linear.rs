//! `nn.Linear`: weight (out, in), optional bias (out).

use crate::config::Activation;
use crate::cpu;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::weights::Scope;

#[derive(Clone, Debug)]
pub struct Linear {
    pub weight: Tensor, // (out, in)
    pub bias: Option<Tensor>, // (out)
}

impl Linear {
    pub fn load(w: &Scope, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Self { weight: w.get("weight", &[out_dim, in_dim])?, bias: Some(w.get("bias", &[out_dim])?) })
    }

    pub fn in_dim(&self) -> usize {
        self.weight.shape[1]
    }

    pub fn out_dim(&self) -> usize {
        self.weight.shape[0]
    }

    /// `x (rows, in)` → `(rows, out)`.
    pub fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let (k, n) = (self.in_dim(), self.out_dim());
        let mut out = vec![0.0; rows * n];
        cpu::linear(x, &self.weight.data, self.bias.as_ref().map(|b| &b.data[..]), &mut out, rows, k, n);
        out
    }

    /// `out = act(x · Wᵀ + b)`, or with `accumulate` `out += x · Wᵀ + b` (a residual added in the
    /// matmul's epilogue): `x (rows, in)`, `out (rows, out)`.
    pub fn forward_into(&self, x: &[f32], rows: usize, out: &mut [f32], act: Option<Activation>, accumulate: bool) {
        let (k, n) = (self.in_dim(), self.out_dim());
        let bias = self.bias.as_ref().map(|b| &b.data[..]);
        cpu::linear_fused(x, &self.weight.data, bias, out, rows, k, n, act, accumulate);
    }
}

//! `nn.MultiheadAttention` self-attention: packed `in_proj` (q, k, v) then `out_proj`.

use crate::config::{Architecture, Config};
use crate::cpu;
use crate::error::Result;
use crate::model::linear::Linear;
use crate::model::scratch;
use crate::tensor::Tensor;
use crate::weights::Scope;

#[derive(Clone, Debug)]
pub struct SelfAttention {
    pub in_proj: Linear,  // weight (3d, d), bias (3d): rows [q; k; v]
    pub out_proj: Linear, // weight (d, d), bias (d)
    pub heads: usize,
}

impl SelfAttention {
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let d = c.hidden_size;
        let in_proj = match c.architecture {
            Architecture::EncoderClassifier => Linear {
                weight: w.get("in_proj_weight", &[3 * d, d])?,
                bias: Some(w.get("in_proj_bias", &[3 * d])?),
            },
            Architecture::Bert => {
                // HF keeps query, key and value separate; stack them in PyTorch's packed order.
                let s = w.pp("self");
                let (q, k, v) = (Linear::load(&s.pp("query"), d, d)?, Linear::load(&s.pp("key"), d, d)?, Linear::load(&s.pp("value"), d, d)?);
                let cat = |f: fn(&Linear) -> &Tensor| -> Vec<f32> {
                    [f(&q), f(&k), f(&v)].iter().flat_map(|t| t.data.iter().copied()).collect()
                };
                Linear {
                    weight: Tensor { shape: vec![3 * d, d], data: cat(|l| &l.weight) },
                    bias: Some(Tensor {
                        shape: vec![3 * d],
                        data: [&q, &k, &v].iter().flat_map(|l| l.bias.iter().flat_map(|b| b.data.iter().copied())).collect(),
                    }),
                }
            }
        };
        let out_proj = match c.architecture {
            Architecture::EncoderClassifier => Linear::load(&w.pp("out_proj"), d, d)?,
            Architecture::Bert => Linear::load(&w.pp("output.dense"), d, d)?,
        };
        Ok(Self { in_proj, out_proj, heads: c.num_heads })
    }

    /// `x (batch·seq, d)` → `(batch·seq, d)`; `probs (batch, heads, seq, seq)` when asked.
    pub fn forward(&self, x: &[f32], batch: usize, seq: usize, lengths: &[usize], probs: Option<&mut [f32]>) -> Vec<f32> {
        let rows = batch * seq;
        let mut out = vec![0.0; rows * self.out_proj.out_dim()];
        self.forward_add(x, batch, seq, lengths, probs, &mut out);
        out
    }

    /// `acc += self_attention(x)`: the residual is added in `out_proj`'s epilogue.
    pub fn forward_add(&self, x: &[f32], batch: usize, seq: usize, lengths: &[usize], probs: Option<&mut [f32]>, acc: &mut [f32]) {
        let rows = batch * seq;
        let d = self.out_proj.out_dim();
        let mut qkv = scratch::take(rows * 3 * d); // (batch, seq, 3d)
        self.in_proj.forward_into(x, rows, &mut qkv, None, false);
        let mut ctx = scratch::take(rows * d); // (batch, seq, d), heads concatenated
        cpu::attention(&qkv, lengths, batch, seq, self.heads, d / self.heads, &mut ctx, probs);
        self.out_proj.forward_into(&ctx, rows, acc, None, true);
        scratch::give(qkv);
        scratch::give(ctx);
    }
}

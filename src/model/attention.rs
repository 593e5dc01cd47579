//! `nn.MultiheadAttention` self-attention: packed `in_proj` (q, k, v), attention, then `out_proj`.

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::{Architecture, Config};
use crate::error::Result;
use crate::model::linear::Linear;
use crate::model::param::Param;
use crate::model::AblationMode;
use crate::weights::Scope;

#[derive(Clone, Debug)]
/// Multi-head self-attention with packed Q/K/V projections (`nn.MultiheadAttention`'s layout).
pub struct SelfAttention {
    /// Packed projection: rows `[q; k; v]`.
    pub in_proj: Linear,  // weight (3d, d), bias (3d): rows [q; k; v]
    /// Output projection.
    pub out_proj: Linear, // weight (d, d), bias (d)
    /// Number of heads.
    pub heads: usize,
}

impl SelfAttention {
    /// Read `in_proj_weight`/`in_proj_bias` and `out_proj` under `w`.
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let d = c.hidden_size;
        let in_proj = match c.architecture {
            Architecture::EncoderClassifier | Architecture::Delight => Linear::load_named(w, "in_proj_weight", "in_proj_bias", d, 3 * d)?,
            // HF keeps query, key and value separate; stack them in PyTorch's packed order.
            Architecture::Bert => {
                let s = w.pp("self");
                Linear::stack(&[Linear::load(&s.pp("query"), d, d)?, Linear::load(&s.pp("key"), d, d)?, Linear::load(&s.pp("value"), d, d)?])?
            }
        };
        let out_proj = match c.architecture {
            Architecture::EncoderClassifier | Architecture::Delight => Linear::load(&w.pp("out_proj"), d, d)?,
            Architecture::Bert => Linear::load(&w.pp("output.dense"), d, d)?,
        };
        Ok(Self { in_proj, out_proj, heads: c.num_heads })
    }

    /// Its parameters (for upload to a backend).
    pub fn params(&self) -> Vec<&Param> {
        let mut p = self.in_proj.params();
        p.extend(self.out_proj.params());
        p
    }

    /// `acc (batch·seq, d) += out_proj(attention(in_proj(x)))`: the residual is added in `out_proj`'s
    /// epilogue. `x` may be `acc` itself (post-norm): it is read before `acc` is written. Returns the
    /// attention probabilities `(batch, heads, seq, seq)` when `probs`. Heads whose `ablate` gate
    /// `(batch, heads)` is 0 are ablated before `out_proj`.
    pub fn forward_add<B: Backend>(
        &self,
        be: &mut B,
        x: Option<&B::Tensor>,
        acc: &mut B::Tensor,
        batch: &Batch,
        probs: bool,
        ablate: Option<(&[f32], AblationMode)>,
    ) -> Result<Option<B::Pending>> {
        let qkv = be.linear(x.unwrap_or(acc), &self.in_proj, None)?; // (batch·seq, 3d)
        let (mut ctx, p) = be.attention(&qkv, batch, self.heads, probs)?; // (batch·seq, d), heads concatenated
        be.release(qkv);
        if let Some((keep, mode)) = ablate {
            be.ablate_heads(&mut ctx, batch, self.heads, keep, mode)?;
        }
        be.linear_add(&ctx, &self.out_proj, acc)?;
        be.release(ctx);
        Ok(p)
    }
}

//! One encoder layer, `nn.TransformerEncoderLayer` semantics:
//! post-norm `x = norm1(x + sa(x)); x = norm2(x + ff(x))`, pre-norm `x = x + sa(norm1(x)); x = x + ff(norm2(x))`.

use crate::config::{Activation, Architecture, Config};
use crate::error::Result;
use crate::model::attention::SelfAttention;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::scratch;
use crate::model::BatchNormStats;
use crate::tensor::Tensor;
use crate::trace::LayerTrace;
use crate::weights::Scope;

#[derive(Clone, Debug)]
pub struct EncoderLayer {
    pub self_attn: SelfAttention,
    pub linear1: Linear, // (ffn, d)
    pub linear2: Linear, // (d, ffn)
    pub norm1: Norm,
    pub norm2: Norm,
    pub activation: Activation,
    pub norm_first: bool,
}

impl EncoderLayer {
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let (d, f, eps) = (c.hidden_size, c.ffn_size, c.norm_eps);
        Ok(match c.architecture {
            Architecture::EncoderClassifier => Self {
                self_attn: SelfAttention::load(&w.pp("self_attn"), c)?,
                linear1: Linear::load(&w.pp("linear1"), d, f)?,
                linear2: Linear::load(&w.pp("linear2"), f, d)?,
                norm1: Norm::load(&w.pp("norm1"), c.norm, d, eps)?,
                norm2: Norm::load(&w.pp("norm2"), c.norm, d, eps)?,
                activation: c.activation,
                norm_first: c.norm_first,
            },
            Architecture::Bert => Self {
                self_attn: SelfAttention::load(&w.pp("attention"), c)?,
                linear1: Linear::load(&w.pp("intermediate.dense"), d, f)?,
                linear2: Linear::load(&w.pp("output.dense"), f, d)?,
                norm1: Norm::load(&w.pp("attention.output.LayerNorm"), c.norm, d, eps)?,
                norm2: Norm::load(&w.pp("output.LayerNorm"), c.norm, d, eps)?,
                activation: c.activation,
                norm_first: c.norm_first,
            },
        })
    }

    /// `acc += linear2(act(linear1(x)))`, activation and residual fused into the matmul epilogues.
    fn feed_forward_add(&self, x: &[f32], rows: usize, acc: &mut [f32]) {
        let mut h = scratch::take(rows * self.linear1.out_dim()); // (rows, ffn)
        self.linear1.forward_into(x, rows, &mut h, Some(self.activation), false);
        self.linear2.forward_into(&h, rows, acc, None, true);
        scratch::give(h);
    }

    /// `x (batch·seq, d)` → `(batch·seq, d)`.
    pub fn forward(
        &self,
        x: Vec<f32>,
        batch: usize,
        seq: usize,
        lengths: &[usize],
        bn: BatchNormStats,
        trace: Option<&mut Vec<LayerTrace>>,
    ) -> Vec<f32> {
        let rows = batch * seq;
        let tracing = trace.is_some();
        let heads = self.self_attn.heads;
        let mut probs = tracing.then(|| vec![0.0f32; batch * heads * seq * seq]);
        let (x, n1, n2) = if self.norm_first {
            let (h, n1) = self.norm1.forward(&x, batch, seq, bn, tracing);
            let mut x = x;
            self.self_attn.forward_add(&h, batch, seq, lengths, probs.as_deref_mut(), &mut x);
            scratch::give(h);
            let (h, n2) = self.norm2.forward(&x, batch, seq, bn, tracing);
            self.feed_forward_add(&h, rows, &mut x);
            scratch::give(h);
            (x, n1, n2)
        } else {
            // x + sublayer(x): the residual is the accumulator the matmul epilogue adds into.
            let mut t = scratch::take_copy(&x);
            self.self_attn.forward_add(&x, batch, seq, lengths, probs.as_deref_mut(), &mut t);
            scratch::give(x);
            let (x, n1) = self.norm1.forward(&t, batch, seq, bn, tracing);
            t.copy_from_slice(&x);
            self.feed_forward_add(&x, rows, &mut t);
            scratch::give(x);
            let (x, n2) = self.norm2.forward(&t, batch, seq, bn, tracing);
            scratch::give(t);
            (x, n1, n2)
        };
        if let (Some(tr), Some(p), Some(n1), Some(n2)) = (trace, probs, n1, n2) {
            let d = x.len() / rows.max(1);
            tr.push(LayerTrace {
                attention: Tensor { shape: vec![batch, heads, seq, seq], data: p },
                norm1: n1,
                norm2: n2,
                hidden: Tensor { shape: vec![batch, seq, d], data: x.clone() },
            });
        }
        x
    }
}

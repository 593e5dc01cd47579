//! One encoder layer, `nn.TransformerEncoderLayer` semantics:
//! post-norm `x = norm1(x + sa(x)); x = norm2(x + ff(x))`, pre-norm `x = x + sa(norm1(x)); x = x + ff(norm2(x))`.

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::{Activation, Architecture, Config};
use crate::error::Result;
use crate::model::attention::SelfAttention;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::param::Param;
use crate::model::{AblationMode, ForwardOptions};
use crate::trace::LayerTrace;
use crate::weights::Scope;

#[derive(Clone, Debug)]
/// One encoder layer: self-attention and feed-forward, each with a residual and a norm.
pub struct EncoderLayer {
    /// The attention block.
    pub self_attn: SelfAttention,
    /// First feed-forward projection.
    pub linear1: Linear, // (ffn, d)
    /// Second feed-forward projection.
    pub linear2: Linear, // (d, ffn)
    /// Norm around attention.
    pub norm1: Norm,
    /// Norm around the feed-forward block.
    pub norm2: Norm,
    /// Feed-forward activation.
    pub activation: Activation,
    /// Pre-norm (`x + f(norm(x))`) instead of post-norm.
    pub norm_first: bool,
}

impl EncoderLayer {
    /// Read one layer's weights under `w`.
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let (d, f, eps) = (c.hidden_size, c.ffn_size, c.norm_eps);
        let names = match c.architecture {
            Architecture::EncoderClassifier | Architecture::Delight => ["self_attn", "linear1", "linear2", "norm1", "norm2"],
            Architecture::Bert => ["attention", "intermediate.dense", "output.dense", "attention.output.LayerNorm", "output.LayerNorm"],
        };
        Ok(Self {
            self_attn: SelfAttention::load(&w.pp(names[0]), c)?,
            linear1: Linear::load(&w.pp(names[1]), d, f)?,
            linear2: Linear::load(&w.pp(names[2]), f, d)?,
            norm1: Norm::load(&w.pp(names[3]), c.norm, d, eps)?,
            norm2: Norm::load(&w.pp(names[4]), c.norm, d, eps)?,
            activation: c.activation,
            norm_first: c.norm_first,
        })
    }

    /// Its parameters (for upload to a backend).
    pub fn params(&self) -> Vec<&Param> {
        let mut p = self.self_attn.params();
        for part in [self.linear1.params(), self.linear2.params(), self.norm1.params(), self.norm2.params()] {
            p.extend(part);
        }
        p
    }

    /// `acc += linear2(act(linear1(x)))`, activation and residual fused into the matmul epilogues.
    fn feed_forward_add<B: Backend>(&self, be: &mut B, x: Option<&B::Tensor>, acc: &mut B::Tensor) -> Result<()> {
        let h = be.linear(x.unwrap_or(acc), &self.linear1, Some(self.activation))?; // (batch·seq, ffn)
        be.linear_add(&h, &self.linear2, acc)?;
        be.release(h);
        Ok(())
    }

    /// `x (batch·seq, d)` → `(batch·seq, d)`, with the heads `ablate` gates to 0 ablated; pushes this layer's trace when one is recorded.
    pub fn forward<B: Backend>(
        &self,
        be: &mut B,
        x: B::Tensor,
        batch: &Batch,
        opts: &ForwardOptions,
        ablate: Option<(&[f32], AblationMode)>, // keep-gate (batch, heads) of this layer
        trace: Option<&mut Vec<LayerTrace<B::Pending>>>,
    ) -> Result<B::Tensor> {
        let (req, bn) = (&opts.trace, opts.batch_norm);
        let probs = trace.is_some() && req.attention;
        let (x, attention, n1, n2) = if self.norm_first {
            let mut x = x;
            let (h, n1) = self.norm1.forward(be, &x, batch, bn, req)?;
            let attention = self.self_attn.forward_add(be, Some(&h), &mut x, batch, probs, ablate)?;
            be.release(h);
            let (h, n2) = self.norm2.forward(be, &x, batch, bn, req)?;
            self.feed_forward_add(be, Some(&h), &mut x)?;
            be.release(h);
            (x, attention, n1, n2)
        } else {
            // x + sublayer(x): the residual is the accumulator the matmul epilogue adds into.
            let mut x = x;
            let attention = self.self_attn.forward_add(be, None, &mut x, batch, probs, ablate)?;
            let (mut h, n1) = self.norm1.forward(be, &x, batch, bn, req)?;
            be.release(x);
            self.feed_forward_add(be, None, &mut h)?;
            let (x, n2) = self.norm2.forward(be, &h, batch, bn, req)?;
            be.release(h);
            (x, attention, n1, n2)
        };
        if let Some(t) = trace {
            let d = self.norm1.dim();
            let hidden = req.hidden.then(|| be.read(&x, vec![batch.batch, batch.seq, d]));
            t.push(LayerTrace { attention, norm1: n1, norm2: n2, hidden });
        }
        Ok(x)
    }
}

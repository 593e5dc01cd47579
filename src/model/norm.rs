//! The two normalisations the page compares: LayerNorm (per token) and BatchNorm1d over features
//! (eval mode: running statistics; optionally this batch's statistics, as in training).

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::NormKind;
use crate::error::Result;
use crate::model::param::Param;
use crate::model::BatchNormStats;
use crate::tensor::Tensor;
use crate::trace::{NormTrace, TraceRequest};
use crate::weights::Scope;

/// A normalised activation and, when a trace is recorded, what the norm did.
pub type Traced<B> = (<B as Backend>::Tensor, Option<NormTrace<<B as Backend>::Pending>>);

#[derive(Clone, Debug)]
/// A norm layer's parameters.
pub enum Norm {
    /// `nn.LayerNorm`: per-token statistics.
    Layer {
        /// Scale.
        weight: Param, // (d)
        /// Shift.
        bias: Param,   // (d)
        /// Epsilon.
        eps: f32,
    },
    /// `nn.BatchNorm1d` over features.
    Batch {
        /// Scale.
        weight: Param,  // (d)
        /// Shift.
        bias: Param,    // (d)
        /// Running mean and variance, stacked.
        running: Param, // (2, d): [running_mean; running_var]
        /// Epsilon.
        eps: f32,
    },
}

impl Norm {
    /// Read a norm of `kind` over `d` features under `w`.
    pub fn load(w: &Scope, kind: NormKind, d: usize, eps: f32) -> Result<Self> {
        let p = |name: &str| Ok::<_, crate::Error>(Param::new(w.get(name, &[d])?));
        Ok(match kind {
            // Older BERT checkpoints (TF-converted) name the LayerNorm parameters `gamma` / `beta`.
            NormKind::Layer if !w.contains("weight") && w.contains("gamma") => Norm::Layer { weight: p("gamma")?, bias: p("beta")?, eps },
            NormKind::Layer => Norm::Layer { weight: p("weight")?, bias: p("bias")?, eps },
            NormKind::Batch => {
                let (mean, var) = (w.get("running_mean", &[d])?, w.get("running_var", &[d])?);
                let running = Tensor { shape: vec![2, d], data: mean.data.into_iter().chain(var.data).collect() };
                Norm::Batch { weight: p("weight")?, bias: p("bias")?, running: Param::new(running), eps }
            }
        })
    }

    /// LayerNorm or BatchNorm.
    pub fn kind(&self) -> NormKind {
        match self {
            Norm::Layer { .. } => NormKind::Layer,
            Norm::Batch { .. } => NormKind::Batch,
        }
    }

    /// Its epsilon.
    pub fn eps(&self) -> f32 {
        match self {
            Norm::Layer { eps, .. } | Norm::Batch { eps, .. } => *eps,
        }
    }

    /// The number of features `d` it normalises.
    pub fn dim(&self) -> usize {
        match self {
            Norm::Layer { weight, .. } | Norm::Batch { weight, .. } => weight.data().len(),
        }
    }

    /// BatchNorm's running mean and variance, `(d)` each.
    pub fn running(&self) -> Option<(&[f32], &[f32])> {
        match self {
            Norm::Batch { running, .. } => Some(running.data().split_at(running.data().len() / 2)),
            Norm::Layer { .. } => None,
        }
    }

    /// Its parameters (for upload to a backend).
    pub fn params(&self) -> Vec<&Param> {
        match self {
            Norm::Layer { weight, bias, .. } => vec![weight, bias],
            Norm::Batch { weight, bias, running, .. } => vec![weight, bias, running],
        }
    }

    /// Normalise `x (batch·seq, d)`; with `req.norms`, record the statistics used and the output (and the
    /// input with `req.norm_inputs`).
    pub fn forward<B: Backend>(
        &self,
        be: &mut B,
        x: &B::Tensor,
        batch: &Batch,
        bn: BatchNormStats,
        req: &TraceRequest,
    ) -> Result<Traced<B>> {
        let (b, s, d) = (batch.batch, batch.seq, self.dim());
        let input = (req.norms && req.norm_inputs).then(|| be.read(x, vec![b, s, d]));
        let (y, stats) = be.norm(x, self, batch, bn, req.norms)?;
        let trace = match stats {
            Some([mean, var]) if req.norms => {
                let running = self.running().map(|(m, v)| (Tensor { shape: vec![d], data: m.to_vec() }, Tensor { shape: vec![d], data: v.to_vec() }));
                Some(NormTrace {
                    kind: self.kind(),
                    mean,
                    var,
                    running_mean: running.as_ref().map(|r| r.0.clone()),
                    running_var: running.map(|r| r.1),
                    input,
                    output: be.read(&y, vec![b, s, d]),
                })
            }
            _ => None,
        };
        Ok((y, trace))
    }
}

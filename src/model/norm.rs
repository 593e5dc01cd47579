//! The two normalisations the page compares: LayerNorm (per token) and BatchNorm1d over features
//! (eval mode: running statistics; optionally this batch's statistics, as in training).

use crate::config::NormKind;
use crate::cpu;
use crate::error::Result;
use crate::model::{scratch, BatchNormStats};
use crate::tensor::Tensor;
use crate::trace::NormTrace;
use crate::weights::Scope;

#[derive(Clone, Debug)]
pub enum Norm {
    Layer {
        weight: Tensor, // (d)
        bias: Tensor,   // (d)
        eps: f32,
    },
    Batch {
        weight: Tensor,       // (d)
        bias: Tensor,         // (d)
        running_mean: Tensor, // (d)
        running_var: Tensor,  // (d)
        eps: f32,
    },
}

impl Norm {
    pub fn load(w: &Scope, kind: NormKind, d: usize, eps: f32) -> Result<Self> {
        Ok(match kind {
            // Older BERT checkpoints (TF-converted) name the LayerNorm parameters `gamma` / `beta`.
            NormKind::Layer if !w.contains("weight") && w.contains("gamma") => {
                Norm::Layer { weight: w.get("gamma", &[d])?, bias: w.get("beta", &[d])?, eps }
            }
            NormKind::Layer => Norm::Layer { weight: w.get("weight", &[d])?, bias: w.get("bias", &[d])?, eps },
            NormKind::Batch => Norm::Batch {
                weight: w.get("weight", &[d])?,
                bias: w.get("bias", &[d])?,
                running_mean: w.get("running_mean", &[d])?,
                running_var: w.get("running_var", &[d])?,
                eps,
            },
        })
    }

    pub fn kind(&self) -> NormKind {
        match self {
            Norm::Layer { .. } => NormKind::Layer,
            Norm::Batch { .. } => NormKind::Batch,
        }
    }

    /// Normalise `x (batch·seq, d)`. With `trace`, also returns the statistics used and both sides.
    pub fn forward(
        &self,
        x: &[f32],
        batch: usize,
        seq: usize,
        bn: BatchNormStats,
        trace: bool,
    ) -> (Vec<f32>, Option<NormTrace>) {
        let rows = batch * seq;
        let d = x.len() / rows.max(1);
        let mut out = scratch::take(x.len());
        let t = match self {
            Norm::Layer { weight, bias, eps } => {
                // Per-row statistics are only kept for the trace.
                let (mut mean, mut var) = if trace { (vec![0.0; rows], vec![0.0; rows]) } else { (Vec::new(), Vec::new()) };
                let stats = trace.then_some((&mut mean[..], &mut var[..]));
                cpu::layer_norm(x, &weight.data, &bias.data, &mut out, rows, d, *eps, stats);
                trace.then(|| NormTrace {
                    kind: NormKind::Layer,
                    mean: Tensor { shape: vec![batch, seq], data: mean },
                    var: Tensor { shape: vec![batch, seq], data: var },
                    running_mean: None,
                    running_var: None,
                    input: Tensor { shape: vec![batch, seq, d], data: x.to_vec() },
                    output: Tensor::zeros(vec![0]),
                })
            }
            Norm::Batch { weight, bias, running_mean, running_var, eps } => {
                let need_batch = trace || bn == BatchNormStats::Batch;
                let (mut mean, mut var) = (vec![0.0; d], vec![0.0; d]);
                if need_batch {
                    cpu::batch_stats(x, rows, d, &mut mean, &mut var);
                }
                let (m, v) = match bn {
                    BatchNormStats::Running => (&running_mean.data[..], &running_var.data[..]),
                    BatchNormStats::Batch => (&mean[..], &var[..]),
                };
                cpu::batch_norm_eval(x, m, v, &weight.data, &bias.data, &mut out, rows, d, *eps);
                trace.then(|| NormTrace {
                    kind: NormKind::Batch,
                    mean: Tensor { shape: vec![d], data: mean },
                    var: Tensor { shape: vec![d], data: var },
                    running_mean: Some(running_mean.clone()),
                    running_var: Some(running_var.clone()),
                    input: Tensor { shape: vec![batch, seq, d], data: x.to_vec() },
                    output: Tensor::zeros(vec![0]),
                })
            }
        };
        let t = t.map(|mut t| {
            t.output = Tensor { shape: vec![batch, seq, d], data: out.clone() };
            t
        });
        (out, t)
    }
}

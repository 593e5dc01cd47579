//! The CPU backend: every op runs at once on host memory with the kernels [`super`] selects (scalar
//! reference, SIMD128 or relaxed SIMD). Activations come from a small buffer pool ([`super::scratch`]), so
//! repeated forwards do not allocate; a read is a copy made on the spot.

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::{Activation, Pooling};
use crate::cpu::{self, scratch};
use crate::error::Result;
use crate::model::delight::Glt;
use crate::model::embeddings::Embeddings;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::{AblationMode, BatchNormStats, ForwardOptions, Model, Output};
use crate::tensor::Tensor;

#[derive(Default)]
/// The CPU backend: runs every op at once with the scalar or SIMD kernels of [`crate::cpu`].
pub struct CpuBackend<'o> {
    /// Shown every linear's input just before the linear runs (e.g. `classify quantize`'s calibration).
    pub observer: Option<&'o mut dyn LinearObserver>,
}

/// What a [`CpuBackend`] shows its observer.
pub trait LinearObserver {
    /// `x (rows, l.in_dim())`, the input of linear `l` at this point of the forward (find the linear by
    /// its weight's [`crate::model::param::ParamId`], or the checkpoint tensors by [`Linear::names`]).
    fn linear_input(&mut self, l: &Linear, x: &[f32]);
}

/// `model`'s forward pass on the CPU backend, which runs every op at once (nothing to await).
pub fn forward(model: &Model, batch: &Batch, opts: &ForwardOptions) -> Result<Output> {
    model.record(&mut CpuBackend::default(), batch, opts)
}

/// [`forward`], showing `observer` each linear's input.
pub fn forward_observed(model: &Model, batch: &Batch, opts: &ForwardOptions, observer: &mut dyn LinearObserver) -> Result<Output> {
    model.record(&mut CpuBackend { observer: Some(observer) }, batch, opts)
}

fn bias(l: &Linear) -> Option<&[f32]> {
    l.bias.as_ref().map(|b| b.data())
}


impl Backend for CpuBackend<'_> {
    type Tensor = Vec<f32>;
    type Pending = Tensor;
    type Fetched = ();

    fn begin(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }

    fn embed(&mut self, e: &Embeddings, batch: &Batch) -> Result<Vec<f32>> {
        let d = e.dim();
        let mut x = scratch::take(batch.rows() * d); // every element is written below
        for (row, out) in x.chunks_exact_mut(d).enumerate() {
            let word = e.word.tensor.row(batch.ids[row] as usize);
            let pos = e.position.tensor.row(row % batch.seq);
            for i in 0..d {
                out[i] = word[i] * e.scale + pos[i];
            }
            if let Some(tt) = &e.token_type {
                let t = batch.type_ids.as_ref().map_or(0, |t| t[row]) as usize;
                cpu::add_inplace(out, tt.tensor.row(t));
            }
        }
        Ok(x)
    }

    fn linear(&mut self, x: &Vec<f32>, l: &Linear, act: Option<Activation>) -> Result<Vec<f32>> {
        if let Some(o) = self.observer.as_deref_mut() {
            o.linear_input(l, x);
        }
        let (k, n) = (l.in_dim(), l.out_dim());
        let rows = x.len() / k;
        let mut out = scratch::take(rows * n);
        cpu::quant::linear_weight(x, &l.weight, bias(l), &mut out, rows, k, n, act, false);
        Ok(out)
    }

    fn linear_add(&mut self, x: &Vec<f32>, l: &Linear, acc: &mut Vec<f32>) -> Result<()> {
        if let Some(o) = self.observer.as_deref_mut() {
            o.linear_input(l, x);
        }
        let (k, n) = (l.in_dim(), l.out_dim());
        cpu::quant::linear_weight(x, &l.weight, bias(l), acc, x.len() / k, k, n, None, true);
        Ok(())
    }

    fn glt(&mut self, x: &Vec<f32>, mix: Option<&Vec<f32>>, g: &Glt) -> Result<Vec<f32>> {
        let (xd, md, n) = (g.x_dim(), g.mix_dim, g.out_dim);
        let rows = x.len() / xd;
        if mix.is_some_and(|m| m.len() != rows * md) || (mix.is_none() && md != 0) {
            return Err(crate::Error::Input(format!("glt: mixed input does not match ({} rows, width {md})", rows)));
        }
        let mut out = scratch::take(rows * n); // every element is written below
        cpu::glt(x, mix.map(|m| &m[..]), g.weight.data(), g.bias.data(), &mut out, rows, xd, md, n, g.groups);
        Ok(out)
    }

    fn activation(&mut self, x: &mut Vec<f32>, act: Activation) -> Result<()> {
        cpu::activation_inplace(x, act);
        Ok(())
    }

    fn attention(&mut self, qkv: &Vec<f32>, batch: &Batch, heads: usize, probs: bool) -> Result<(Vec<f32>, Option<Tensor>)> {
        let (b, s) = (batch.batch, batch.seq);
        let d = qkv.len() / (3 * batch.rows());
        let mut p = probs.then(|| Tensor::zeros(vec![b, heads, s, s]));
        let mut ctx = scratch::take(batch.rows() * d);
        cpu::attention(qkv, &batch.lengths, b, s, heads, d / heads, &mut ctx, p.as_mut().map(|t| &mut t.data[..]));
        Ok((ctx, p))
    }

    fn ablate_heads(&mut self, ctx: &mut Vec<f32>, batch: &Batch, heads: usize, keep: &[f32], mode: AblationMode) -> Result<()> {
        let (b, s) = (batch.batch, batch.seq);
        let d = ctx.len() / batch.rows();
        if keep.len() != b * heads || heads == 0 || d % heads != 0 {
            return Err(crate::Error::Input(format!("head gate of {} values for {b} sequences × {heads} heads", keep.len())));
        }
        cpu::head_ablate(ctx, keep, &batch.lengths, b, s, heads, d / heads, mode == AblationMode::Mean);
        Ok(())
    }

    fn norm(&mut self, x: &Vec<f32>, n: &Norm, batch: &Batch, bn: BatchNormStats, stats: bool) -> Result<(Vec<f32>, Option<[Tensor; 2]>)> {
        let d = n.dim();
        let rows = x.len() / d;
        let mut out = scratch::take(x.len());
        let stats = match n {
            Norm::Layer { weight, bias, eps } => {
                // Per-row statistics are only kept for the trace.
                let mut s = stats.then(|| [Tensor::zeros(vec![batch.batch, batch.seq]), Tensor::zeros(vec![batch.batch, batch.seq])]);
                let slices = s.as_mut().map(|[m, v]| (&mut m.data[..], &mut v.data[..]));
                cpu::layer_norm(x, weight.data(), bias.data(), &mut out, rows, d, *eps, slices);
                s
            }
            Norm::Batch { weight, bias, eps, .. } => {
                let (mut mean, mut var) = (Tensor::zeros(vec![d]), Tensor::zeros(vec![d]));
                if stats || bn == BatchNormStats::Batch {
                    cpu::batch_stats(x, rows, d, &mut mean.data, &mut var.data);
                }
                let (m, v) = match (bn, n.running()) {
                    (BatchNormStats::Running, Some(r)) => r,
                    _ => (&mean.data[..], &var.data[..]),
                };
                cpu::batch_norm_eval(x, m, v, weight.data(), bias.data(), &mut out, rows, d, *eps);
                stats.then_some([mean, var])
            }
        };
        Ok((out, stats))
    }

    fn pool(&mut self, x: &Vec<f32>, batch: &Batch, pooling: Pooling) -> Result<Vec<f32>> {
        let (s, d) = (batch.seq, x.len() / batch.rows());
        let mut out = vec![0.0f32; batch.batch * d];
        for (b, o) in out.chunks_exact_mut(d).enumerate() {
            match pooling {
                Pooling::Cls => o.copy_from_slice(&x[b * s * d..b * s * d + d]),
                Pooling::Mean => {
                    let len = batch.lengths[b];
                    for t in 0..len {
                        cpu::add_inplace(o, &x[(b * s + t) * d..(b * s + t + 1) * d]);
                    }
                    let inv = 1.0 / len as f32;
                    o.iter_mut().for_each(|v| *v *= inv);
                }
            }
        }
        Ok(out)
    }

    fn softmax(&mut self, x: &Vec<f32>, n: usize) -> Result<Vec<f32>> {
        let mut p = x.clone();
        p.chunks_mut(n).for_each(cpu::softmax_inplace);
        Ok(p)
    }

    fn read(&mut self, x: &Vec<f32>, shape: Vec<usize>) -> Tensor {
        Tensor { shape, data: x.clone() }
    }

    fn host(&mut self, t: Tensor) -> Tensor {
        t
    }

    fn release(&mut self, x: Vec<f32>) {
        scratch::give(x);
    }

    async fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn fetch(&self, _: &(), p: Tensor) -> Tensor {
        p
    }
}

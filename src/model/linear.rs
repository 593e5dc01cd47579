//! `nn.Linear`: weight `(out, in)` in a [`Weight`] storage, optional bias `(out)`.

use crate::error::{Error, Result};
use crate::model::param::{HalfWeight, Int8Weight, OutlierColumns, Param, Weight};
use crate::tensor::Tensor;
use crate::weights::Scope;

#[derive(Clone, Debug)]
/// `y = x · Wᵀ + b`.
pub struct Linear {
    /// The weight.
    pub weight: Weight,       // (out, in)
    /// The bias, when there is one.
    pub bias: Option<Param>,  // (out)
    /// The checkpoint tensors the weight was read from, full paths: one, or several when stacked (BERT's
    /// query, key, value); empty for a linear made in code.
    pub names: Vec<String>,
}

impl Linear {
    /// Read `weight (out_dim, in_dim)` and an optional `bias (out_dim)` under `w`.
    pub fn load(w: &Scope, in_dim: usize, out_dim: usize) -> Result<Self> {
        Self::load_named(w, "weight", "bias", in_dim, out_dim)
    }

    /// A linear whose tensors are `weight_name` and `bias_name` in scope `w` (e.g. MHA's `in_proj_weight`).
    pub fn load_named(w: &Scope, weight_name: &str, bias_name: &str, in_dim: usize, out_dim: usize) -> Result<Self> {
        let weight = Weight::load(w, weight_name, [out_dim, in_dim], w.precision)?;
        Ok(Self { weight, bias: Some(Param::new(w.get(bias_name, &[out_dim])?)), names: vec![w.path(weight_name)] })
    }

    /// Several linears with the same input stacked into one: weights `(Σ out, in)`, biases concatenated
    /// (e.g. BERT's separate query, key and value in PyTorch's packed `in_proj` order). int8 parts keep
    /// their own scales row by row (the same numbers as running them one by one: they share the input's
    /// quantization).
    pub fn stack(parts: &[Linear]) -> Result<Self> {
        let in_dim = parts.first().map_or(0, Linear::in_dim);
        let out: usize = parts.iter().map(Linear::out_dim).sum();
        let shape = [out, in_dim];
        let bias = parts.iter().all(|l| l.bias.is_some()).then(|| {
            Param::new(Tensor { shape: vec![out], data: parts.iter().flat_map(|l| l.bias.iter().flat_map(|b| b.data().iter().copied())).collect() })
        });
        let mixed = || Error::WeightsFormat("linears stacked together must share one precision".into());
        let weight = match parts.first().map(|l| &l.weight) {
            Some(Weight::F16(_)) => {
                let bits = parts.iter().map(|l| match &l.weight {
                    Weight::F16(h) => Ok(h.bits.iter().copied()),
                    _ => Err(mixed()),
                });
                let bits = bits.collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
                Weight::F16(HalfWeight::new(shape, bits))
            }
            Some(Weight::Int8(first)) => {
                let (mut q, mut scales, mut per_channel) = (Vec::new(), Vec::new(), false);
                let mut outlier_rows = Vec::new(); // (Σ out, n)
                for l in parts {
                    let Weight::Int8(w) = &l.weight else { return Err(mixed()) };
                    if w.activation != first.activation {
                        return Err(Error::WeightsFormat("int8 linears stacked together must share one activation grid".into()));
                    }
                    if w.outlier_columns() != first.outlier_columns() {
                        return Err(Error::WeightsFormat(format!(
                            "int8 linears stacked together (e.g. query, key, value) must share their outlier columns: {:?} vs {:?}",
                            first.outlier_columns(),
                            w.outlier_columns()
                        )));
                    }
                    q.extend_from_slice(&w.q);
                    scales.extend_from_slice(&w.scales);
                    per_channel |= w.per_channel;
                    if let Some(o) = &w.outliers {
                        outlier_rows.extend_from_slice(o.weight.data());
                    }
                }
                let mut w = Int8Weight::new(shape, q, scales, per_channel || parts.len() > 1);
                w.activation = first.activation;
                w.outliers = first.outliers.as_ref().map(|o| OutlierColumns {
                    columns: o.columns.clone(),
                    weight: Param::new(Tensor { shape: vec![out, o.columns.len()], data: outlier_rows }),
                });
                Weight::Int8(w)
            }
            _ => {
                let data = parts.iter().map(|l| l.weight.as_f32().map(|p| p.data().iter().copied()).ok_or_else(mixed));
                let data = data.collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
                Weight::F32(Param::new(Tensor { shape: shape.to_vec(), data }))
            }
        };
        Ok(Self { weight, bias, names: parts.iter().flat_map(|l| l.names.iter().cloned()).collect() })
    }

    /// Input features.
    pub fn in_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output features.
    pub fn out_dim(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The f32 parameters (what the GPU backend uploads): the weight when it is stored in f32, an int8
    /// weight's f32 outlier columns, the bias.
    pub fn params(&self) -> Vec<&Param> {
        let outliers = match &self.weight {
            Weight::Int8(q) => q.outliers.as_ref().map(|o| &o.weight),
            _ => None,
        };
        self.weight.as_f32().into_iter().chain(outliers).chain(&self.bias).collect()
    }
}

//! Head ablation, an option of the single forward pass ([`super::ForwardOptions::ablate`]): chosen
//! attention heads' outputs are zeroed (or replaced by their mean over the sequence's real tokens) in the
//! attention step, before the output projection, so the model runs on as if those heads had said nothing.
//! Each sequence of the batch may ablate different heads — a sweep over every layer × head is one
//! batched forward of copies of one text.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What an ablated head's output becomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AblationMode {
    /// The head's context vectors are 0 (`out_proj` then adds only its bias for that head's part).
    #[default]
    Zero,
    /// Each context vector of the head is replaced by the head's mean over the sequence's real tokens.
    Mean,
}

impl std::str::FromStr for AblationMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "zero" => Ok(Self::Zero),
            "mean" => Ok(Self::Mean),
            _ => Err(Error::Input(format!("ablation mode must be zero or mean, got `{s}`"))),
        }
    }
}

/// Which heads to ablate, per sequence: `ablated (rows, layers, heads)`, `rows` 1 (every sequence of the
/// batch alike) or the batch size (one mask per sequence).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ablation {
    /// What an ablated head's output becomes.
    pub mode: AblationMode,
    /// Masks given: 1 (one for every sequence) or the batch size.
    pub rows: usize,
    /// Encoder layers of the model.
    pub layers: usize,
    /// Heads per layer.
    pub heads: usize,
    /// `(rows, layers, heads)`: true = ablate.
    pub ablated: Vec<bool>, // (rows, layers, heads)
}

impl Ablation {
    /// No head ablated, for `rows` sequences of a `layers × heads` model.
    pub fn none(mode: AblationMode, rows: usize, layers: usize, heads: usize) -> Self {
        Self { mode, rows, layers, heads, ablated: vec![false; rows * layers * heads] }
    }

    /// One mask for every sequence: the `(layer, head)` pairs listed are ablated.
    pub fn heads(mode: AblationMode, layers: usize, heads: usize, list: &[(usize, usize)]) -> Result<Self> {
        let mut a = Self::none(mode, 1, layers, heads);
        for &(l, h) in list {
            a.set(0, l, h)?;
        }
        Ok(a)
    }

    /// The sweep: row 0 ablates nothing, row `1 + l·heads + h` ablates head `h` of layer `l` alone.
    pub fn sweep(mode: AblationMode, layers: usize, heads: usize) -> Self {
        let mut a = Self::none(mode, 1 + layers * heads, layers, heads);
        for i in 0..layers * heads {
            a.ablated[(1 + i) * layers * heads + i] = true;
        }
        a
    }

    /// Ablate head `h` of layer `l` in sequence `row`.
    pub fn set(&mut self, row: usize, l: usize, h: usize) -> Result<()> {
        if row >= self.rows || l >= self.layers || h >= self.heads {
            return Err(Error::Input(format!(
                "head ({l}, {h}) of row {row} is outside {} rows × {} layers × {} heads",
                self.rows, self.layers, self.heads
            )));
        }
        self.ablated[(row * self.layers + l) * self.heads + h] = true;
        Ok(())
    }

    /// The checks every backend relies on: the mask fits the model and the batch.
    pub fn check(&self, layers: usize, heads: usize, batch: usize) -> Result<()> {
        if self.layers != layers || self.heads != heads {
            return Err(Error::Input(format!(
                "head mask is for {} layers × {} heads, the model has {layers} × {heads}",
                self.layers, self.heads
            )));
        }
        if self.rows != 1 && self.rows != batch {
            return Err(Error::Input(format!("head mask has {} rows; the batch has {batch} sequences (or give 1 row for all)", self.rows)));
        }
        if self.ablated.len() != self.rows * layers * heads {
            return Err(Error::Input("head mask length does not match its rows × layers × heads".into()));
        }
        Ok(())
    }

    /// Layer `l`'s keep-gate for a batch of `batch` sequences, `(batch, heads)`: 1 keep, 0 ablate; `None`
    /// when no sequence ablates a head of this layer (the layer then runs exactly as without ablation).
    pub fn layer_gate(&self, l: usize, batch: usize) -> Option<Vec<f32>> {
        let row = |b: usize| {
            let r = if self.rows == 1 { 0 } else { b };
            &self.ablated[(r * self.layers + l) * self.heads..(r * self.layers + l + 1) * self.heads]
        };
        if !(0..self.rows).any(|r| row(r).iter().any(|&a| a)) {
            return None;
        }
        Some((0..batch).flat_map(|b| row(b).iter().map(|&a| if a { 0.0 } else { 1.0 })).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_rows_ablate_one_head_each() {
        let a = Ablation::sweep(AblationMode::Zero, 2, 3);
        assert_eq!(a.rows, 7);
        assert_eq!(a.layer_gate(0, 7).unwrap(), [[1., 1., 1.], [0., 1., 1.], [1., 0., 1.], [1., 1., 0.], [1.; 3], [1.; 3], [1.; 3]].concat());
        assert_eq!(a.layer_gate(1, 7).unwrap()[4 * 3..], [0., 1., 1., 1., 0., 1., 1., 1., 0.]);
        assert!(Ablation::none(AblationMode::Zero, 1, 2, 3).layer_gate(0, 4).is_none());
    }

    #[test]
    fn bad_masks_are_errors() {
        let a = Ablation::heads(AblationMode::Mean, 2, 3, &[(1, 2)]).unwrap();
        assert_eq!(a.layer_gate(1, 2).unwrap(), [1., 1., 0., 1., 1., 0.]);
        assert!(a.check(2, 4, 1).is_err());
        assert!(Ablation::sweep(AblationMode::Zero, 2, 3).check(2, 3, 5).is_err());
        assert!(Ablation::heads(AblationMode::Zero, 2, 3, &[(2, 0)]).is_err());
        assert!("half".parse::<AblationMode>().is_err());
    }
}

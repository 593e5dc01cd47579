//! A minimal tensor: a shape and contiguous row-major `f32` storage. No backend code lives here.

use crate::error::{Error, Result};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
/// A shape and contiguous row-major `f32` values.
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of `shape` holding `data` (an error when the sizes differ).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::Input(format!(
                "tensor of shape {shape:?} needs {n} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self { shape, data: vec![0.0; n] }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Size of the last dimension (1 for a scalar).
    pub fn last_dim(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }

    /// Row `i` when the tensor is viewed as (rows, last_dim).
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.last_dim();
        &self.data[i * d..(i + 1) * d]
    }
}

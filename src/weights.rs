//! Weights from safetensors bytes (PyTorch `state_dict` names). One load path for native and browser:
//! it takes bytes, never a path or URL. Every lookup checks name, dtype and shape and names the full
//! tensor path in its error.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use safetensors::{Dtype, SafeTensors};

pub struct Weights<'a> {
    st: SafeTensors<'a>,
}

impl<'a> Weights<'a> {
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::WeightsFormat(e.to_string()))?;
        Ok(Self { st })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    pub fn names(&self) -> Vec<String> {
        self.st.names().into_iter().map(|s| s.to_string()).collect()
    }

    /// A view that prefixes every name with `prefix.`.
    pub fn pp(&self, prefix: &str) -> Scope<'_, 'a> {
        Scope { w: self, prefix: prefix.to_string() }
    }

    /// The tensor `name` as f32, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let view = self.st.tensor(name).map_err(|_| Error::MissingTensor(name.to_string()))?;
        if view.shape() != shape {
            return Err(Error::TensorShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: view.shape().to_vec(),
            });
        }
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                .collect(),
            other => return Err(Error::TensorDtype { name: name.to_string(), dtype: format!("{other:?}") }),
        };
        Tensor::new(shape.to_vec(), data)
    }
}

/// A name prefix over [`Weights`], so module structs mirror the checkpoint's name tree.
pub struct Scope<'w, 'a> {
    w: &'w Weights<'a>,
    prefix: String,
}

impl<'w, 'a> Scope<'w, 'a> {
    pub fn pp(&self, sub: &str) -> Scope<'w, 'a> {
        Scope { w: self.w, prefix: self.path(sub) }
    }

    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.w.get(&self.path(name), shape)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.w.contains(&self.path(name))
    }
}

/// IEEE half to single precision (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f * 2^-24.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}

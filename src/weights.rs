//! Weights from safetensors bytes (PyTorch `state_dict` names). One load path for native and browser:
//! it takes bytes, never a path or URL. Every lookup checks name, dtype and shape and names the full
//! tensor path in its error.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use safetensors::{Dtype, SafeTensors};

/// Largest safetensors JSON header accepted (the safetensors crate's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest weights file the browser build reads (wasm32 memory is at most 4 GiB, and the engine needs room
/// besides the file).
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// The checks on a safetensors file that need only its first 8 bytes and its size, made before the file is
/// read into memory: the header length it claims fits in the file and under [`MAX_HEADER_BYTES`], and the file
/// is under [`MAX_FILE_BYTES`]. `name` is for the message.
pub fn check_file_claim(name: &str, first8: &[u8], size: u64) -> Result<()> {
    let bad = |m: String| Err(Error::WeightsFormat(format!("{name}: {m}")));
    if size > MAX_FILE_BYTES {
        return bad(format!("{size} bytes is more than the {} GiB this engine reads", MAX_FILE_BYTES >> 30));
    }
    let Some(len) = first8.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes) else {
        return bad(format!("{size} bytes is too short for a safetensors file (no 8-byte header length)"));
    };
    if len > MAX_HEADER_BYTES {
        return bad(format!("claims a {len}-byte header; at most {MAX_HEADER_BYTES} bytes are accepted"));
    }
    if len.saturating_add(8) > size {
        return bad(format!("claims a {len}-byte header but the file has only {size} bytes"));
    }
    Ok(())
}

/// Safetensors weights, read without copying until a tensor is asked for.
pub struct Weights<'a> {
    /// One or more safetensors files (HF shards, or a base model plus a separately stored head); each
    /// tensor name lives in exactly one of them.
    parts: Vec<SafeTensors<'a>>,
}

impl<'a> Weights<'a> {
    /// One safetensors file.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::from_parts(&[bytes])
    }

    /// Several safetensors files read as one name space. A name found in two files is an error.
    pub fn from_parts(files: &[&'a [u8]]) -> Result<Self> {
        if files.is_empty() {
            return Err(Error::WeightsFormat("no weights file given".into()));
        }
        let parts = files
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SafeTensors::deserialize(b).map_err(|e| {
                    Error::WeightsFormat(if files.len() > 1 { format!("file {i}: {e}") } else { e.to_string() })
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        for p in &parts {
            for n in p.names() {
                if !seen.insert(n) {
                    return Err(Error::WeightsFormat(format!("tensor `{n}` appears in more than one weights file")));
                }
            }
        }
        Ok(Self { parts })
    }

    fn find(&self, name: &str) -> Option<safetensors::tensor::TensorView<'a>> {
        self.parts.iter().find_map(|p| p.tensor(name).ok())
    }

    /// Whether a tensor named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Every tensor name.
    pub fn names(&self) -> Vec<String> {
        self.parts.iter().flat_map(|p| p.names()).map(|s| s.to_string()).collect()
    }

    /// A view that prefixes every name with `prefix.`.
    pub fn pp(&self, prefix: &str) -> Scope<'_, 'a> {
        Scope { w: self, prefix: prefix.to_string() }
    }

    /// The tensor `name`, which must have exactly `shape`, in the float type the file stores it in.
    pub fn get_stored(&self, name: &str, shape: &[usize]) -> Result<Stored> {
        let view = self.find(name).ok_or_else(|| Error::MissingTensor(name.to_string()))?;
        if view.shape() != shape {
            return Err(Error::TensorShape { name: name.to_string(), expected: shape.to_vec(), actual: view.shape().to_vec() });
        }
        let raw = view.data();
        let halves = || raw.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        let stored = match view.dtype() {
            Dtype::F32 => Stored::F32(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
            Dtype::F16 => Stored::F16(halves()),
            Dtype::BF16 => Stored::BF16(halves()),
            other => return Err(Error::TensorDtype { name: name.to_string(), dtype: format!("{other:?}") }),
        };
        // A NaN or infinite weight would only show up later as a confident-looking answer from a broken model.
        if let Some((i, v)) = stored.first_non_finite() {
            return Err(Error::NonFinite(format!("tensor `{name}` holds {v} at index {i}: the weights file is broken")));
        }
        Ok(stored)
    }

    /// The tensor `name` widened to f32, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        Tensor::new(shape.to_vec(), self.get_stored(name, shape)?.to_f32())
    }
}

/// A tensor's values in the float type its file stores them in.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// f32 values.
    F32(Vec<f32>),
    /// IEEE half-precision bit patterns.
    F16(Vec<u16>),
    /// bfloat16 bit patterns (the upper half of an f32).
    BF16(Vec<u16>),
}

impl Stored {
    /// The first NaN or infinite value, with its index.
    pub fn first_non_finite(&self) -> Option<(usize, f32)> {
        let half = |v: &[u16], exp_mask: u16, widen: fn(u16) -> f32| {
            v.iter().position(|&h| h & exp_mask == exp_mask).map(|i| (i, widen(v[i])))
        };
        match self {
            Stored::F32(v) => v.iter().position(|x| !x.is_finite()).map(|i| (i, v[i])),
            Stored::F16(v) => half(v, 0x7c00, f16_to_f32),
            Stored::BF16(v) => half(v, 0x7f80, |h| f32::from_bits((h as u32) << 16)),
        }
    }

    /// The values as f32 (exact: every f16 and bf16 value is an f32).
    pub fn to_f32(self) -> Vec<f32> {
        match self {
            Stored::F32(v) => v,
            Stored::F16(v) => v.into_iter().map(f16_to_f32).collect(),
            Stored::BF16(v) => v.into_iter().map(|h| f32::from_bits((h as u32) << 16)).collect(),
        }
    }
}

/// A name prefix over [`Weights`], so module structs mirror the checkpoint's name tree.
pub struct Scope<'w, 'a> {
    w: &'w Weights<'a>,
    prefix: String,
}

impl<'w, 'a> Scope<'w, 'a> {
    /// A narrower scope: `prefix.sub`.
    pub fn pp(&self, sub: &str) -> Scope<'w, 'a> {
        Scope { w: self.w, prefix: self.path(sub) }
    }

    /// The full name of `name` in this scope.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    /// Tensor `name` in this scope as f32, checked against `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.w.get(&self.path(name), shape)
    }

    /// Tensor `name` in this scope as stored, checked against `shape`.
    pub fn get_stored(&self, name: &str, shape: &[usize]) -> Result<Stored> {
        self.w.get_stored(&self.path(name), shape)
    }

    /// Whether tensor `name` exists in this scope.
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

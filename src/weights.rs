//! Weights from safetensors bytes (PyTorch `state_dict` names). One load path for native and browser:
//! it takes bytes, never a path or URL. Every lookup checks name, dtype and shape and names the full
//! tensor path in its error.

use crate::error::{Error, Result};
use crate::model::param::{ActivationGrid, Precision};
use crate::tensor::Tensor;
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensorError};

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

/// Where a safetensors file's bytes are when they are not in this memory: the browser build's weights stay in
/// the `Uint8Array` JavaScript read them into, and each tensor is copied from there straight into the vector
/// that keeps it ([`Weights::from_sources`]), instead of the whole file into wasm memory first and each tensor
/// out of that copy again (a second pass over ~90 MB of fresh memory for MiniLM).
pub trait ByteSource {
    /// The file's size in bytes.
    fn len(&self) -> usize;
    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy bytes `start..start + dst.len()` into `dst` (callers stay within `len()`).
    fn read(&self, start: usize, dst: &mut [u8]);
}

/// Bytes in this memory are a source too (what the tests compare the two load paths with).
impl ByteSource for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, start: usize, dst: &mut [u8]) {
        dst.copy_from_slice(&self[start..start + dst.len()]);
    }
}

/// One safetensors file: its parsed header and where its data section is.
struct Part<'a> {
    meta: Metadata,
    names: Vec<String>, // in the order of their data
    data: Data<'a>,
}

enum Data<'a> {
    /// The data section, in this memory.
    Here(&'a [u8]),
    /// The file elsewhere; the data section starts at byte `start`.
    Outside { source: &'a dyn ByteSource, start: usize },
}

/// One tensor of a [`Part`].
struct Found<'w, 'a> {
    info: &'w TensorInfo,
    data: &'w Data<'a>,
}

impl<'a> Found<'_, 'a> {
    fn dtype(&self) -> Dtype {
        self.info.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.info.shape
    }

    /// The tensor's bytes: borrowed from the file in this memory, or read from the source.
    fn bytes(&self) -> std::borrow::Cow<'a, [u8]> {
        let (s, e) = self.info.data_offsets;
        match self.data {
            Data::Here(d) => std::borrow::Cow::Borrowed(&d[s..e]),
            Data::Outside { source, start } => {
                let mut v = vec![0u8; e - s];
                source.read(start + s, &mut v);
                std::borrow::Cow::Owned(v)
            }
        }
    }

    /// The tensor's little-endian values (safetensors stores little-endian; the bytes need not be aligned),
    /// copied once from wherever the file is into the vector returned.
    fn values<T: bytemuck::Pod, const N: usize>(&self, from: fn([u8; N]) -> T) -> Vec<T> {
        debug_assert_eq!(std::mem::size_of::<T>(), N);
        let (s, e) = self.info.data_offsets;
        if cfg!(target_endian = "big") {
            return self.bytes().chunks_exact(N).map(|b| from(b.try_into().unwrap())).collect();
        }
        let mut v = vec![T::zeroed(); (e - s) / N];
        let dst = bytemuck::cast_slice_mut::<T, u8>(&mut v);
        match self.data {
            Data::Here(d) => dst.copy_from_slice(&d[s..s + dst.len()]),
            Data::Outside { source, start } => source.read(start + s, dst),
        }
        v
    }
}

/// The header of a safetensors file, in this memory or outside it — one parser for both load paths — checked
/// as `SafeTensors::deserialize` checks one (the same errors): the header length, the JSON, and that the
/// tensors' data exactly fill the file. Also the tensor names in the order of their data.
fn read_header(source: &dyn ByteSource) -> std::result::Result<(usize, Metadata, Vec<String>), SafeTensorError> {
    let len = source.len();
    if len < 8 {
        return Err(SafeTensorError::HeaderTooSmall);
    }
    let mut first8 = [0u8; 8];
    source.read(0, &mut first8);
    let n = usize::try_from(u64::from_le_bytes(first8)).map_err(|_| SafeTensorError::HeaderTooLarge)?;
    if n as u64 > MAX_HEADER_BYTES {
        return Err(SafeTensorError::HeaderTooLarge);
    }
    if n.checked_add(8).is_none_or(|stop| stop > len) {
        return Err(SafeTensorError::InvalidHeaderLength);
    }
    let mut header = vec![0u8; n];
    source.read(8, &mut header);
    let text = std::str::from_utf8(&header).map_err(SafeTensorError::InvalidHeader)?;
    /// The header as the safetensors crate reads it before checking it (its own `HashMetadata`; the name is
    /// part of serde's messages, so both paths give the same error).
    #[derive(serde::Deserialize)]
    struct HashMetadata {
        #[serde(rename = "__metadata__")]
        metadata: Option<std::collections::HashMap<String, String>>,
        #[serde(flatten)]
        tensors: std::collections::HashMap<String, TensorInfo>,
    }
    let header: HashMetadata = serde_json::from_str(text).map_err(SafeTensorError::InvalidHeaderDeserialization)?;
    let mut tensors: Vec<(String, TensorInfo)> = header.tensors.into_iter().collect();
    // (ties — empty tensors at one offset — in any order, as from the HashMap: safetensors' own sort_by is stable
    // over HashMap order)
    tensors.sort_unstable_by(|(_, a), (_, b)| a.data_offsets.cmp(&b.data_offsets));
    // The names in the order of their data: what `Metadata::offset_keys` gives, without its own stable sort
    // (a driftsort instance in the .wasm).
    let names = tensors.iter().map(|(name, _)| name.clone()).collect();
    let meta = Metadata::new(header.metadata, tensors)?;
    if meta.data_len().checked_add(8 + n) != Some(len) {
        return Err(SafeTensorError::MetadataIncompleteBuffer);
    }
    Ok((n, meta, names))
}

/// Safetensors weights, read without copying until a tensor is asked for.
pub struct Weights<'a> {
    /// One or more safetensors files (HF shards, or a base model plus a separately stored head); each
    /// tensor name lives in exactly one of them.
    parts: Vec<Part<'a>>,
}

impl<'a> Weights<'a> {
    /// One safetensors file.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::from_parts(&[bytes])
    }

    /// Several safetensors files read as one name space. A name found in two files is an error.
    pub fn from_parts(files: &[&'a [u8]]) -> Result<Self> {
        Self::from(files.iter().map(|&b| read_header(&b).map(|(n, meta, names)| Part { meta, names, data: Data::Here(&b[8 + n..]) })).collect())
    }

    /// As [`Weights::from_parts`], with the files outside this memory: each tensor is copied from its source
    /// when it is asked for, straight into the vector that keeps it. [`Weights::view`] is not available.
    pub fn from_sources(files: &[&'a dyn ByteSource]) -> Result<Self> {
        Self::from(files.iter().map(|&source| read_header(source).map(|(n, meta, names)| Part { meta, names, data: Data::Outside { source, start: 8 + n } })).collect())
    }

    fn from(parts: Vec<std::result::Result<Part<'a>, SafeTensorError>>) -> Result<Self> {
        let count = parts.len();
        if count == 0 {
            return Err(Error::WeightsFormat("no weights file given".into()));
        }
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.map_err(|e| Error::WeightsFormat(if count > 1 { format!("file {i}: {e}") } else { e.to_string() })))
            .collect::<Result<Vec<_>>>()?;
        let mut seen = std::collections::HashSet::new();
        for p in &parts {
            for n in &p.names {
                if !seen.insert(n) {
                    return Err(Error::WeightsFormat(format!("tensor `{n}` appears in more than one weights file")));
                }
            }
        }
        Ok(Self { parts })
    }

    fn find(&self, name: &str) -> Option<Found<'_, 'a>> {
        self.parts.iter().find_map(|p| p.meta.info(name).map(|info| Found { info, data: &p.data }))
    }

    /// Whether a tensor named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The raw view of tensor `name` (dtype, shape, bytes), of weights in this memory
    /// ([`Weights::from_parts`]).
    pub fn view(&self, name: &str) -> Result<safetensors::tensor::TensorView<'a>> {
        let found = self.found(name)?;
        match found.data {
            Data::Here(_) => {
                let std::borrow::Cow::Borrowed(bytes) = found.bytes() else { unreachable!("bytes in this memory are borrowed") };
                safetensors::tensor::TensorView::new(found.dtype(), found.shape().to_vec(), bytes).map_err(|e| Error::WeightsFormat(format!("tensor `{name}`: {e}")))
            }
            Data::Outside { .. } => Err(Error::WeightsFormat(format!("tensor `{name}`: weights read tensor by tensor have no views"))),
        }
    }

    /// Tensor `name`, or the error naming it.
    fn found(&self, name: &str) -> Result<Found<'_, 'a>> {
        self.find(name).ok_or_else(|| Error::MissingTensor(name.to_string()))
    }

    /// Tensor `name`, which must have exactly `shape`.
    fn shaped(&self, name: &str, shape: &[usize]) -> Result<Found<'_, 'a>> {
        let view = self.found(name)?;
        if view.shape() != shape {
            return Err(Error::TensorShape { name: name.to_string(), expected: shape.to_vec(), actual: view.shape().to_vec() });
        }
        Ok(view)
    }

    /// The view of tensor `name`, which must have exactly `shape` and be stored as `dtype`.
    fn typed(&self, name: &str, shape: &[usize], dtype: Dtype) -> Result<Found<'_, 'a>> {
        let view = self.shaped(name, shape)?;
        if view.dtype() != dtype {
            return Err(Error::WeightsFormat(format!("tensor `{name}` is {:?}, expected {dtype:?}", view.dtype())));
        }
        Ok(view)
    }

    /// Every tensor name.
    pub fn names(&self) -> Vec<String> {
        self.parts.iter().flat_map(|p| p.names.iter().cloned()).collect()
    }

    /// A view that prefixes every name with `prefix.`.
    pub fn pp(&self, prefix: &str) -> Scope<'_, 'a> {
        Scope { w: self, prefix: prefix.to_string(), precision: Precision::F32, activation: ActivationGrid::U7 }
    }

    /// The tensor `name`, which must have exactly `shape`, in the float type the file stores it in.
    pub fn get_stored(&self, name: &str, shape: &[usize]) -> Result<Stored> {
        let view = self.shaped(name, shape)?;
        let stored = match view.dtype() {
            Dtype::F32 => Stored::F32(view.values(f32::from_le_bytes)),
            Dtype::F16 => Stored::F16(view.values(u16::from_le_bytes)),
            Dtype::BF16 => Stored::BF16(view.values(u16::from_le_bytes)),
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

    /// The stored dtype of tensor `name` (`"F32"`, `"F16"`, `"I8"`, …).
    pub fn dtype(&self, name: &str) -> Result<String> {
        Ok(format!("{:?}", self.found(name)?.dtype()))
    }

    /// The int8 tensor `name`, which must have exactly `shape`.
    pub fn get_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>> {
        Ok(self.typed(name, shape, Dtype::I8)?.values(i8::from_le_bytes))
    }

    /// The I32 tensor `name`, which must have exactly `shape`.
    pub fn get_i32(&self, name: &str, shape: &[usize]) -> Result<Vec<i32>> {
        Ok(self.typed(name, shape, Dtype::I32)?.values(i32::from_le_bytes))
    }

    /// The shape of tensor `name`.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.found(name)?.shape().to_vec())
    }

    /// The quantization scale `name` of a weight with `rows` output rows: F32 of shape `[]` (per tensor,
    /// repeated on every row) or `[rows]` (per channel), every value positive and finite. Returns the
    /// per-row scales and whether the file had one per row.
    pub fn get_scale(&self, name: &str, rows: usize) -> Result<(Vec<f32>, bool)> {
        let view = self.found(name)?;
        let per_channel = match view.shape() {
            [] => false,
            [r] if *r == rows => true,
            other => {
                return Err(Error::WeightsFormat(format!(
                    "scale `{name}` has shape {other:?}; expected [] (per tensor) or [{rows}] (per output row)"
                )))
            }
        };
        if view.dtype() != Dtype::F32 {
            return Err(Error::WeightsFormat(format!("scale `{name}` is {:?}, expected F32", view.dtype())));
        }
        let v: Vec<f32> = view.values(f32::from_le_bytes);
        if let Some((i, s)) = v.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::WeightsFormat(format!("scale `{name}` holds {s} at index {i}: scales must be positive and finite")));
        }
        Ok(if per_channel { (v, true) } else { (vec![v[0]; rows], false) })
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
    ///
    /// A value is NaN or infinite exactly when its exponent bits are all ones, and then
    /// `(bits & exponent) + lowest exponent bit` carries into the sign bit. OR-ing that over the tensor is
    /// branch-free (it vectorises, and a fuzzer's compare tracing costs nothing per value); only a tensor
    /// that has such a value is searched for its index.
    pub fn first_non_finite(&self) -> Option<(usize, f32)> {
        let half = |v: &[u16], exp_mask: u16, widen: fn(u16) -> f32| {
            let low = exp_mask & exp_mask.wrapping_neg();
            let any = v.iter().fold(0u16, |a, &h| a | ((h & exp_mask) + low)) & 0x8000 != 0;
            if !any {
                return None;
            }
            v.iter().position(|&h| h & exp_mask == exp_mask).map(|i| (i, widen(v[i])))
        };
        match self {
            Stored::F32(v) => {
                let any = v.iter().fold(0u32, |a, x| a | ((x.to_bits() & 0x7f80_0000) + 0x0080_0000)) & 0x8000_0000 != 0;
                if !any {
                    return None;
                }
                v.iter().position(|x| !x.is_finite()).map(|i| (i, v[i]))
            }
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
    /// How the model's linear weights are stored (config.json `precision`), for [`crate::model::param::Weight::load`].
    pub precision: Precision,
    /// The grid int8 linears quantize their input to (config.json `activation_range`).
    pub activation: ActivationGrid,
}

impl<'w, 'a> Scope<'w, 'a> {
    /// A narrower scope: `prefix.sub`.
    pub fn pp(&self, sub: &str) -> Scope<'w, 'a> {
        Scope { w: self.w, prefix: self.path(sub), precision: self.precision, activation: self.activation }
    }

    /// This scope, loading linear weights stored in `precision`.
    pub fn with_precision(self, precision: Precision) -> Self {
        Self { precision, ..self }
    }

    /// This scope, its int8 linears quantizing their input to `activation`.
    pub fn with_activation(self, activation: ActivationGrid) -> Self {
        Self { activation, ..self }
    }

    /// [`Weights::get_i32`] of `name` in this scope.
    pub fn get_i32(&self, name: &str, shape: &[usize]) -> Result<Vec<i32>> {
        self.w.get_i32(&self.path(name), shape)
    }

    /// [`Weights::shape`] of `name` in this scope.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        self.w.shape(&self.path(name))
    }

    /// [`Weights::dtype`] of `name` in this scope.
    pub fn dtype(&self, name: &str) -> Result<String> {
        self.w.dtype(&self.path(name))
    }

    /// [`Weights::get_i8`] of `name` in this scope.
    pub fn get_i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>> {
        self.w.get_i8(&self.path(name), shape)
    }

    /// [`Weights::get_scale`] of `name` in this scope.
    pub fn get_scale(&self, name: &str, rows: usize) -> Result<(Vec<f32>, bool)> {
        self.w.get_scale(&self.path(name), rows)
    }

    /// An embedding table `(rows, d)` as f32: float storage widened, or PyTorch's weight-only quantized
    /// embedding (`float_qparams_weight_only_qconfig`): U8 values with F32 `<name>_scale` and
    /// `<name>_zero_point` of shape `[rows]`, dequantized here as `fma(q, scale, −zero_point·scale)`, what
    /// `quantized::embedding_byte` computes.
    pub fn get_table(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        if self.dtype(name)? != "U8" {
            return self.get(name, shape);
        }
        let path = self.path(name);
        let view = self.w.shaped(&path, shape)?;
        let rows = shape[0];
        let (sn, zn) = (format!("{name}_scale"), format!("{name}_zero_point"));
        for n in [&sn, &zn] {
            if !self.contains(n) {
                return Err(Error::WeightsFormat(format!("uint8 embedding `{path}` has no `{}`", self.path(n))));
            }
        }
        let (scales, per_row) = self.get_scale(&sn, rows)?;
        let zp = self.get(&zn, &[rows]).map_err(|e| Error::WeightsFormat(format!("zero point `{}`: {e}", self.path(&zn))))?.data;
        if !per_row {
            return Err(Error::WeightsFormat(format!("scale `{}` must have one value per row ([{rows}])", self.path(&sn))));
        }
        let d = shape[1].max(1);
        let bytes = view.bytes();
        let data = bytes.iter().enumerate().map(|(i, &q)| {
            let (s, z) = (scales[i / d], zp[i / d]);
            (q as f32).mul_add(s, -(z * s))
        });
        Tensor::new(shape.to_vec(), data.collect())
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

    /// The two load paths (the file in this memory, or read tensor by tensor from a [`ByteSource`]) see the
    /// same tensors with the same values, and refuse broken files with the same errors.
    #[test]
    fn sources_read_what_bytes_read() {
        let bytes: &[u8] = include_bytes!("../models/sentiment-ln/model.safetensors");
        let (here, outside) = (Weights::from_bytes(bytes).unwrap(), Weights::from_sources(&[&bytes as &dyn ByteSource]).unwrap());
        let (mut a, mut b) = (here.names(), outside.names());
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(a.len() > 10, "{} tensors", a.len());
        for name in &a {
            let shape = here.shape(name).unwrap();
            assert_eq!(outside.shape(name).unwrap(), shape, "{name}");
            assert_eq!(outside.dtype(name).unwrap(), here.dtype(name).unwrap(), "{name}");
            assert_eq!(outside.get_stored(name, &shape).unwrap(), here.get_stored(name, &shape).unwrap(), "{name}");
        }
        assert!(outside.view(&a[0]).is_err() && here.view(&a[0]).is_ok());

        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut bad_json = bytes.to_vec();
        bad_json[8] = b'[';
        let mut long_claim = bytes.to_vec();
        long_claim[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        let cases: [&[u8]; 6] = [&bytes[..bytes.len() - 1], &bytes[..8 + n], &bytes[..4], &[], &bad_json, &long_claim];
        for (i, case) in cases.into_iter().enumerate() {
            let (e1, e2) = (Weights::from_bytes(case).err(), Weights::from_sources(&[&case as &dyn ByteSource]).err());
            assert_eq!(e1.map(|e| e.to_string()), e2.map(|e| e.to_string()), "case {i}");
        }
    }

    /// The branch-free test agrees with `is_finite` on every f16 and bf16 bit pattern (alone and after
    /// finite values) and on f32 values of every exponent, and the reported index is the first bad one.
    #[test]
    fn first_non_finite_every_pattern() {
        let bf16 = |h: u16| f32::from_bits((h as u32) << 16);
        for h in 0..=u16::MAX {
            for (stored, value) in [
                (Stored::F16(vec![0x3c00, 0x0001, h, h]), f16_to_f32(h)),
                (Stored::BF16(vec![0x3f80, 0x0001, h, h]), bf16(h)),
            ] {
                let found = stored.first_non_finite();
                assert_eq!(found.map(|f| f.0), if value.is_finite() { None } else { Some(2) }, "{stored:?}");
            }
        }
        let mut values: Vec<f32> = (0..=255u32)
            .flat_map(|e| [0u32, 1, 0x40_0000, 0x7f_ffff].map(move |m| f32::from_bits(e << 23 | m)))
            .flat_map(|x| [x, -x])
            .collect();
        values.extend([f32::MAX, f32::MIN, f32::MIN_POSITIVE, f32::EPSILON, 0.0, -0.0]);
        for &x in &values {
            let stored = Stored::F32(vec![1.0, f32::MAX, x, f32::NAN]);
            let expect = if x.is_finite() { 3 } else { 2 };
            assert_eq!(stored.first_non_finite().map(|f| f.0), Some(expect), "{x:e} ({:#x})", x.to_bits());
            assert_eq!(Stored::F32(vec![x; 33]).first_non_finite().is_some(), !x.is_finite(), "{x:e}");
        }
    }
}

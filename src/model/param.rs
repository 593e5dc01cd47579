//! Model parameters: a host tensor with an identity, so a backend can keep its own copy (the GPU uploads
//! each parameter once and finds it again by [`ParamId`]). A linear layer's weight is a [`Weight`]: the
//! storage it is kept in — f32, f16 (computed in f32) or int8 with f32 scales (PyTorch's dynamic
//! quantization, see [`crate::quant`]).

use crate::error::{Error, Result};
use crate::quant;
use crate::tensor::Tensor;
use crate::weights::{Scope, Stored};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// A parameter's identity, unique per process: backends key uploaded weights by it.
pub struct ParamId(u64);

impl ParamId {
    fn next() -> Self {
        ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

/// One parameter tensor. Clones share the id (and the values).
#[derive(Clone, Debug)]
pub struct Param {
    /// Its identity.
    pub id: ParamId,
    /// Its values.
    pub tensor: Tensor,
}

impl Param {
    /// A parameter with a fresh id.
    pub fn new(tensor: Tensor) -> Self {
        Self { id: ParamId::next(), tensor }
    }

    /// Its values.
    pub fn data(&self) -> &[f32] {
        &self.tensor.data
    }

    /// Its shape.
    pub fn shape(&self) -> &[usize] {
        &self.tensor.shape
    }
}

/// How a model's linear weights are stored (`precision` in `config.json`; absent = `f32`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Precision {
    /// f32 (F16/BF16 files are widened at load).
    #[default]
    F32,
    /// Linear weights (and the embedding tables) stored as IEEE f16, computed in f32: PyTorch's
    /// `quantize_dynamic(dtype=torch.float16)`.
    F16,
    /// Linear weights int8 with an f32 scale per tensor or per output row, activations quantized per
    /// forward: PyTorch's `quantize_dynamic(dtype=torch.qint8)` on the x86/fbgemm engine.
    Int8,
}

impl TryFrom<String> for Precision {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.as_str() {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "int8" => Ok(Precision::Int8),
            _ => Err(format!("precision `{s}` is not one of f32, f16, int8")),
        }
    }
}

impl Precision {
    /// The name `config.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

/// A linear weight `(out, in)` kept as IEEE half-precision bit patterns.
#[derive(Clone, Debug)]
pub struct HalfWeight {
    /// Identity (as a [`Param`]'s).
    pub id: ParamId,
    /// `(out, in)`.
    pub shape: [usize; 2],
    /// `(out, in)` IEEE half bit patterns.
    pub bits: Vec<u16>,
}

impl HalfWeight {
    /// A new weight with a fresh id.
    pub fn new(shape: [usize; 2], bits: Vec<u16>) -> Self {
        Self { id: ParamId::next(), shape, bits }
    }
}

pub use encoder_lens_kernels::qparams::ActivationGrid;

/// The input columns of an int8 linear that run in f32 (an LLM.int8()-style split): the linear computes
/// `int8_linear(x with these columns at 0) + x[:, columns] · weightᵀ`.
#[derive(Clone, Debug)]
pub struct OutlierColumns {
    /// `(n)` input column indices, strictly increasing, each `< in`.
    pub columns: Vec<u32>,
    /// `(out, n)` the f32 weights of those columns.
    pub weight: Param,
}

/// A linear weight `(out, in)` quantized symmetrically to int8 (zero point 0): `w ≈ q · scale[row]`.
#[derive(Clone, Debug)]
pub struct Int8Weight {
    /// Identity (as a [`Param`]'s).
    pub id: ParamId,
    /// `(out, in)`.
    pub shape: [usize; 2],
    /// `(out, in)` int8 values.
    pub q: Vec<i8>,
    /// `(out)`: one scale per output row; a per-tensor scale is repeated on every row.
    pub scales: Vec<f32>,
    /// The file stores one scale per row (`true`) or one for the tensor.
    pub per_channel: bool,
    /// `(out)`: `Σ_k q[row, k]`, for the activation zero point's correction.
    pub row_sums: Vec<i32>,
    /// The grid the input is quantized to at each forward (fbgemm's 7 bits or qnnpack's 8).
    pub activation: ActivationGrid,
    /// Input columns computed in f32 instead (their columns of `q` are 0 and their values take no part in
    /// the input's quantization range), when the model has any for this linear.
    pub outliers: Option<OutlierColumns>,
    /// `q` in the layout the SIMD int8 microkernel streams ([`crate::cpu::quant::PackedInt8`]), made on
    /// first use by the CPU backend ([`Int8Weight::packed`]) and kept; builds and backends that never ask
    /// for it pay nothing. `q` must not change after that.
    packed: std::sync::OnceLock<crate::cpu::quant::PackedInt8>,
    /// The same layout widened to i16, for the `i32x4.dot_i16x8_s` kernel ([`Int8Weight::packed_wide`]):
    /// made on first use; a weight runs one kernel, so it holds one of the two.
    packed_wide: std::sync::OnceLock<crate::cpu::quant::PackedInt8<i16>>,
}

impl Int8Weight {
    /// A new weight with a fresh id; the row sums are computed here.
    pub fn new(shape: [usize; 2], q: Vec<i8>, scales: Vec<f32>, per_channel: bool) -> Self {
        let row_sums = q.chunks(shape[1].max(1)).map(|r| r.iter().map(|&v| v as i32).sum()).collect();
        let (activation, outliers) = (ActivationGrid::default(), None);
        Self { id: ParamId::next(), shape, q, scales, per_channel, row_sums, activation, outliers, packed: std::sync::OnceLock::new(), packed_wide: std::sync::OnceLock::new() }
    }

    /// `q` packed for the SIMD int8 kernels (packed once, on the first call).
    pub fn packed(&self) -> &crate::cpu::quant::PackedInt8 {
        self.packed.get_or_init(|| crate::cpu::quant::PackedInt8::new(&self.q, self.shape[0], self.shape[1]))
    }

    /// `q` packed and widened to i16 for the `i32x4.dot_i16x8_s` kernel (once, on the first call).
    pub fn packed_wide(&self) -> &crate::cpu::quant::PackedInt8<i16> {
        self.packed_wide.get_or_init(|| crate::cpu::quant::PackedInt8::new(&self.q, self.shape[0], self.shape[1]))
    }

    /// The weight as f32 values `q · scale` (what the int8 weights stand for), the outlier columns' f32
    /// values in their place.
    pub fn dequantize(&self) -> Vec<f32> {
        let k = self.shape[1].max(1);
        let mut w: Vec<f32> = self.q.iter().enumerate().map(|(i, &v)| v as f32 * self.scales[i / k]).collect(); // (out, in)
        if let Some(o) = &self.outliers {
            let n = o.columns.len();
            for (row, wo) in w.chunks_mut(k).zip(o.weight.data().chunks(n.max(1))) {
                for (&c, &v) in o.columns.iter().zip(wo) {
                    row[c as usize] = v;
                }
            }
        }
        w
    }

    /// The input columns that run in f32 (empty when none).
    pub fn outlier_columns(&self) -> &[u32] {
        self.outliers.as_ref().map_or(&[], |o| &o.columns[..])
    }
}

impl encoder_lens_kernels::packed::Int8Panels for Int8Weight {
    fn packed(&self) -> &crate::cpu::quant::PackedInt8 {
        Int8Weight::packed(self)
    }
    fn packed_wide(&self) -> &crate::cpu::quant::PackedInt8<i16> {
        Int8Weight::packed_wide(self)
    }
}

/// The storage of a linear layer's weight `(out, in)`.
#[derive(Clone, Debug)]
pub enum Weight {
    /// Full precision.
    F32(Param),
    /// f16 storage, computed in f32.
    F16(HalfWeight),
    /// int8 storage with f32 scales; the product runs in integers (see [`crate::quant`]).
    Int8(Int8Weight),
}

impl Weight {
    /// The storage for a weight `shape` read from a file, widened to f32.
    pub fn from_stored(shape: &[usize], stored: Stored) -> Self {
        Weight::F32(Param::new(Tensor { shape: shape.to_vec(), data: stored.to_f32() }))
    }

    /// The linear weight `name` of shape `(out, in)` as the model's `precision` stores it: `f32` takes any
    /// float type (widened); `f16` takes F16 (kept as f16); `int8` takes I8 plus an F32 `<name>_scale` of
    /// shape `[]` or `[out]` holding positive finite values, optionally outlier columns
    /// (`Weight::load_outliers`), and quantizes its input to the scope's activation grid. Anything
    /// else is an error naming the tensor.
    pub fn load(w: &Scope, name: &str, shape: [usize; 2], precision: Precision) -> Result<Self> {
        let path = w.path(name);
        let scale_name = format!("{name}_scale");
        let dtype = w.dtype(name)?;
        match precision {
            Precision::F32 | Precision::F16 if dtype == "I8" => Err(Error::WeightsFormat(format!(
                "tensor `{path}` is int8 but config.json says precision {} (int8 models have \"precision\": \"int8\")",
                precision.name()
            ))),
            Precision::F32 => {
                Self::no_int8_extras(w, name, precision)?;
                Ok(Self::from_stored(&shape, w.get_stored(name, &shape)?))
            }
            Precision::F16 => match Self::no_int8_extras(w, name, precision).and_then(|()| w.get_stored(name, &shape))? {
                Stored::F16(bits) => Ok(Weight::F16(HalfWeight::new(shape, bits))),
                _ => Err(Error::WeightsFormat(format!("tensor `{path}` is {dtype} but config.json says precision f16"))),
            },
            Precision::Int8 => {
                if dtype != "I8" {
                    return Err(Error::WeightsFormat(format!("tensor `{path}` is {dtype} but config.json says precision int8")));
                }
                let q = w.get_i8(name, &shape)?;
                if !w.contains(&scale_name) {
                    return Err(Error::WeightsFormat(format!("int8 tensor `{path}` has no scale `{}`", w.path(&scale_name))));
                }
                let (scales, per_channel) = w.get_scale(&scale_name, shape[0])?;
                if shape[1] > quant::MAX_INT8_IN {
                    return Err(Error::WeightsFormat(format!(
                        "int8 tensor `{path}` has {} inputs; int32 accumulation allows at most {}",
                        shape[1],
                        quant::MAX_INT8_IN
                    )));
                }
                let outliers = Self::load_outliers(w, name, &q, shape)?;
                let mut weight = Int8Weight::new(shape, q, scales, per_channel);
                weight.activation = w.activation;
                weight.outliers = outliers;
                Ok(Weight::Int8(weight))
            }
        }
    }

    /// The outlier columns of int8 weight `name` (`q (out, in)`): `<name>_outlier_columns` (I32 `(n)`,
    /// strictly increasing, each `< in`) and `<name>_outlier` (F32 `(out, n)`, finite), both or neither;
    /// `q` must be 0 in those columns. `None` when there are none (or `n = 0`).
    fn load_outliers(w: &Scope, name: &str, q: &[i8], shape: [usize; 2]) -> Result<Option<OutlierColumns>> {
        let (cols_name, weight_name) = (format!("{name}_outlier_columns"), format!("{name}_outlier"));
        let (cols_path, weight_path) = (w.path(&cols_name), w.path(&weight_name));
        match (w.contains(&cols_name), w.contains(&weight_name)) {
            (false, false) => return Ok(None),
            (true, false) => return Err(Error::WeightsFormat(format!("outlier columns `{cols_path}` have no f32 weights `{weight_path}`"))),
            (false, true) => return Err(Error::WeightsFormat(format!("outlier weights `{weight_path}` have no column indices `{cols_path}`"))),
            (true, true) => {}
        }
        let [out, k] = shape;
        let n = match w.shape(&cols_name)?[..] {
            [n] => n,
            ref other => return Err(Error::WeightsFormat(format!("outlier columns `{cols_path}` have shape {other:?}; expected [n]"))),
        };
        let raw = w.get_i32(&cols_name, &[n])?;
        let mut columns = Vec::with_capacity(n);
        for (i, &c) in raw.iter().enumerate() {
            if c < 0 || c as usize >= k {
                return Err(Error::WeightsFormat(format!("outlier columns `{cols_path}` hold {c} at index {i}: not a column of the {k} inputs")));
            }
            if i > 0 && c <= raw[i - 1] {
                return Err(Error::WeightsFormat(format!(
                    "outlier columns `{cols_path}` hold {c} after {} at index {i}: they must be strictly increasing (sorted, no duplicates)",
                    raw[i - 1]
                )));
            }
            columns.push(c as u32);
        }
        if w.dtype(&weight_name)? != "F32" {
            return Err(Error::WeightsFormat(format!("outlier weights `{weight_path}` are {}, expected F32", w.dtype(&weight_name)?)));
        }
        let weight = w.get(&weight_name, &[out, n])?;
        for (row, r) in q.chunks(k.max(1)).enumerate() {
            if let Some(&c) = columns.iter().find(|&&c| r[c as usize] != 0) {
                return Err(Error::WeightsFormat(format!(
                    "int8 tensor `{}` holds {} at ({row}, {c}), an outlier column of `{cols_path}`: those columns must be 0",
                    w.path(name),
                    r[c as usize]
                )));
            }
        }
        Ok((n > 0).then(|| OutlierColumns { columns, weight: Param::new(weight) }))
    }

    /// The error for quantization tensors of `name` (scale, outlier columns) in a model whose `precision`
    /// is not int8.
    fn no_int8_extras(w: &Scope, name: &str, precision: Precision) -> Result<()> {
        for (suffix, what) in [("_scale", "a quantization scale"), ("_outlier_columns", "int8 outlier columns"), ("_outlier", "int8 outlier weights")] {
            let extra = format!("{name}{suffix}");
            if w.contains(&extra) {
                return Err(Error::WeightsFormat(format!(
                    "tensor `{}` is {what} but config.json says precision {}",
                    w.path(&extra),
                    precision.name()
                )));
            }
        }
        Ok(())
    }

    /// `(out, in)`.
    pub fn shape(&self) -> &[usize] {
        match self {
            Weight::F32(p) => p.shape(),
            Weight::F16(h) => &h.shape,
            Weight::Int8(q) => &q.shape,
        }
    }

    /// The f32 parameter, when the weight is stored in f32.
    pub fn as_f32(&self) -> Option<&Param> {
        match self {
            Weight::F32(p) => Some(p),
            _ => None,
        }
    }

    /// Its identity.
    pub fn id(&self) -> ParamId {
        match self {
            Weight::F32(p) => p.id,
            Weight::F16(h) => h.id,
            Weight::Int8(q) => q.id,
        }
    }

    /// The storage's precision.
    pub fn precision(&self) -> Precision {
        match self {
            Weight::F32(_) => Precision::F32,
            Weight::F16(_) => Precision::F16,
            Weight::Int8(_) => Precision::Int8,
        }
    }

    /// The values as f32 (`(out, in)`): exact for f32 and f16, `q · scale` for int8.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Weight::F32(p) => p.data().to_vec(),
            Weight::F16(h) => h.bits.iter().map(|&b| crate::weights::f16_to_f32(b)).collect(),
            Weight::Int8(q) => q.dequantize(),
        }
    }
}

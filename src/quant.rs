//! Quantization as PyTorch's dynamic quantization computes it — `torch.ao.quantization.quantize_dynamic`
//! on the x86 engine (fbgemm), checked bit for bit by `scripts/quantize_reference.py`:
//!
//! - **Weights** (`MinMaxObserver`, qint8, per-tensor or per-channel symmetric): `amax = max(-min(w, 0),
//!   max(w, 0))` over the tensor (or row), `scale = max(amax / 127.5, f32::EPSILON)` in f32,
//!   `q = clamp(round_half_even(w · (1/scale)), -128, 127)` with `1/scale` rounded to f32; zero point 0.
//! - **Activations**, per forward over the whole input tensor `(rows, in)` (all rows: in a batch the
//!   quantization depends on every text in it, as in PyTorch): `min`/`max` widened to include 0, then
//!   fbgemm's `ChooseQuantizationParams(min, max, 0, 255, reduce_range = true)` → range `[0, 127]`,
//!   `scale = (max − min) / 127` computed in f64 and stored as f32 (0.1 if that is 0; raised to 6.1e-5 with
//!   min/max stretched if smaller), zero point `round_half_even` of `qmin − min/scale` or `qmax − max/scale`
//!   (whichever has the smaller error term, in f64 with the f64 scale), clamped to `[0, 127]`;
//!   `q = clamp(round_half_even(f32(x · (1/scale))) + zp, 0, 127)`.
//!   Seven-bit activations are what keeps fbgemm's `vpmaddubsw` pair sums from saturating, and what lets
//!   wasm's `i32x4.relaxed_dot_i8x16_i7x16_add_s` take them as its 7-bit operand exactly.
//! - **Product**: `acc = Σ_k q_x · q_w` in i32, `raw = acc − zp · Σ_k q_w`, then
//!   `y = fma(f32(raw), f32(scale_x · scale_w), bias)` (fbgemm's AVX2 `ReQuantizeForFloat`), in f64 here:
//!   `f32(raw) · f32(scale)` is exact in f64, so only the bias add rounds twice, which differs from one
//!   fma rounding only when the f64 sum lands exactly on an f32 midpoint.
//! - **f16** (`quantize_dynamic(dtype=torch.float16)`): weights rounded to f16 (round-half-even, saturated at
//!   ±65504 as fbgemm's fp16 packing does), the product in f32.
//!
//! A model may instead use PyTorch's **qnnpack** engine (`"activation_range": "u8"` in `config.json`,
//! checked bit for bit by `scripts/quant_sensitivity.py qnnpack-check`): activations on `[0, 255]`
//! (`ChooseQuantizationParams(min, max, 0, 255)`, qnnpack ignores `reduce_range`), the same int8 weights, and
//! the epilogue `y = f32(f32(raw) · f32(scale_x · scale_w)) + bias`, rounded twice. And an int8 linear may
//! have **outlier columns** (LLM.int8()-style): input columns computed in f32 (`<name>_outlier_columns` I32
//! `(n)`, `<name>_outlier` F32 `(out, n)`; their int8 columns are 0). They take no part in the input's
//! range (the range of the other columns; equivalently the input with them at 0), and their product
//! `Σ_j x[r, col_j] · w_out[o, j]` (f32, in column order, [`crate::cpu::quant::outlier_product`]) is added to
//! the dequantized output before the activation or the residual — `quant_sensitivity.py`'s `OutlierLinear`.
//! `classify quantize --outliers T` picks the columns whose max |x| on [`CHECK_TEXTS`] exceeds `T`
//! ([`calibrate`]).

use crate::error::{Error, Result};
use crate::model::param::{ActivationGrid, HalfWeight, Int8Weight, Weight};
use std::collections::HashMap;

pub use encoder_lens_kernels::qparams::{choose_qparams, choose_qparams_grid, input_range, quantize_activations, quantize_activations_grid, ActQuant, SMALL_SCALE};

/// Largest `in` an int8 linear may have: `in · 255 · 128` (qnnpack's 8-bit activations times the most
/// negative int8 weight) must fit an i32 accumulator.
pub const MAX_INT8_IN: usize = (i32::MAX / (255 * 128)) as usize;

/// The symmetric int8 scale of values whose extremes are `min`, `max` (PyTorch `MinMaxObserver`).
fn weight_scale(min: f32, max: f32) -> f32 {
    let amax = (-min.min(0.0)).max(max.max(0.0));
    (amax / 127.5).max(f32::EPSILON)
}

fn quantize_row(w: &[f32], scale: f32, q: &mut Vec<i8>) {
    let inv = 1.0f32 / scale;
    q.extend(w.iter().map(|&v| (v * inv).round_ties_even().clamp(-128.0, 127.0) as i8));
}

/// `w (out, in)` quantized to int8 as PyTorch does, one scale for the tensor or one per output row.
pub fn quantize_weight(w: &[f32], shape: [usize; 2], per_channel: bool) -> Result<Int8Weight> {
    let [out, k] = shape;
    if w.len() != out * k || k == 0 {
        return Err(Error::Input(format!("weight of shape {shape:?} needs {} values, got {}", out * k, w.len())));
    }
    if let Some(v) = w.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!("weight holds {v}: cannot quantize it")));
    }
    if k > MAX_INT8_IN {
        return Err(Error::Input(format!("a linear with {k} inputs overflows int32 accumulation (at most {MAX_INT8_IN})")));
    }
    let extremes = |r: &[f32]| r.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let mut q = Vec::with_capacity(w.len());
    let scales = if per_channel {
        w.chunks(k).map(|r| {
            let (lo, hi) = extremes(r);
            let s = weight_scale(lo, hi);
            quantize_row(r, s, &mut q);
            s
        }).collect()
    } else {
        let (lo, hi) = extremes(w);
        let s = weight_scale(lo, hi);
        quantize_row(w, s, &mut q);
        vec![s; out]
    };
    Ok(Int8Weight::new(shape, q, scales, per_channel))
}

/// An embedding table `(rows, d)` quantized per row as PyTorch's `float_qparams_weight_only_qconfig` does
/// (quint8, float zero points): `scale = (max − min) / 255` (1 when that is ≤ f32 epsilon),
/// `zero_point = −min / scale`, `q = clamp(round_half_even(w · f32(1/scale) + zero_point), 0, 255)`.
/// Returns `(q, scales, zero_points)`.
pub fn quantize_table(w: &[f32], d: usize) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let (mut q, mut scales, mut zps) = (Vec::with_capacity(w.len()), Vec::new(), Vec::new());
    for row in w.chunks(d.max(1)) {
        let (lo, hi) = row.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let s = (hi - lo) / 255.0;
        let s = if s > f32::EPSILON { s } else { 1.0 };
        let z = -lo / s;
        let inv = 1.0f32 / s;
        q.extend(row.iter().map(|&v| (v * inv + z).round_ties_even().clamp(0.0, 255.0) as u8));
        scales.push(s);
        zps.push(z);
    }
    (q, scales, zps)
}

/// IEEE half from single precision, round-half-even; overflow becomes ±inf, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = b & 0x7fff_ffff;
    if a >= 0x7f80_0000 {
        return sign | 0x7c00 | if a > 0x7f80_0000 { 0x200 } else { 0 };
    }
    if a >= 0x477f_f000 {
        return sign | 0x7c00; // ≥ 65520 rounds to infinity
    }
    if a < 0x3880_0000 {
        // below 2^-14: a subnormal half, value · 2^24 rounded (the scaling is exact)
        return sign | (f32::from_bits(a) * 16_777_216.0).round_ties_even() as u16;
    }
    let a = a + 0xfff + ((a >> 13) & 1);
    sign | ((a >> 13) - ((127 - 15) << 10)) as u16
}

/// `w (out, in)` as f16 storage (saturated at ±65504, as fbgemm's fp16 packing does).
pub fn half_weight(w: &[f32], shape: [usize; 2]) -> HalfWeight {
    HalfWeight::new(shape, w.iter().map(|&v| f32_to_f16(v.clamp(-65504.0, 65504.0))).collect())
}

/// A weight converted to `precision` from its f32 values. Converting a weight that is not f32 is an error
/// (quantizing twice would compound the rounding).
pub fn convert(w: &Weight, to: crate::config::Precision, per_channel: bool) -> Result<Weight> {
    use crate::config::Precision;
    let Weight::F32(p) = w else {
        return Err(Error::Input(format!("weight is already {}: convert the f32 model", w.precision().name())));
    };
    let shape = [p.shape()[0], p.shape()[1]];
    Ok(match to {
        Precision::F32 => w.clone(),
        Precision::F16 => Weight::F16(half_weight(p.data(), shape)),
        Precision::Int8 => Weight::Int8(quantize_weight(p.data(), shape, per_channel)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::f16_to_f32;

    #[test]
    fn f16_round_trip_and_rounding() {
        for h in (0u16..0x7c00).step_by(7) {
            assert_eq!(f32_to_f16(f16_to_f32(h)), h, "{h:#x}");
            assert_eq!(f32_to_f16(-f16_to_f32(h)), h | 0x8000, "-{h:#x}");
        }
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00); // tie → even
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02); // tie → even (up)
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(2.0f32.powi(-25)), 0); // tie between 0 and the smallest subnormal → 0
    }

    #[test]
    fn qparams_match_fbgemm_cases() {
        // As scripts/quantize_reference.py's choose_qparams (checked bit for bit against torch) computes them.
        let p = choose_qparams(-1.0, 1.0);
        assert_eq!(p.zero_point, 64);
        assert_eq!(p.scale, (2.0f64 / 127.0) as f32);
        let p = choose_qparams(0.5, 3.0); // min widened to 0
        assert_eq!(p.zero_point, 0);
        let p = choose_qparams(-3.0, -0.5);
        assert_eq!(p.zero_point, 127);
        let p = choose_qparams(0.0, 0.0);
        assert_eq!(p.scale, 0.1);
        let p = choose_qparams(-1e-6, 1e-6); // tiny range: scale raised to 6.1e-5
        assert_eq!(p.scale, SMALL_SCALE);
    }

    #[test]
    fn weight_quantization_is_symmetric() {
        let w = [0.5f32, -1.0, 0.25, 1.0, 0.0, -0.125];
        let q = quantize_weight(&w, [2, 3], false).unwrap();
        assert_eq!(q.scales, vec![1.0 / 127.5; 2]);
        // torch 2.15 gives [[64, -127, 32], [127, 0, -16]]: 1/scale rounds to just under 127.5 in f32, so
        // −1.0 → −127.49… → −127 and 1.0 → 127 (PyTorch multiplies by the f32 reciprocal, never divides)
        assert_eq!(q.q, vec![64, -127, 32, 127, 0, -16]);
        let q = quantize_weight(&w, [2, 3], true).unwrap();
        assert_eq!(q.scales, vec![1.0 / 127.5, 1.0 / 127.5]);
        assert_eq!(q.q, vec![64, -127, 32, 127, 0, -16]); // torch, per_channel_dynamic_qconfig: the same
        assert_eq!(q.row_sums, vec![64 - 127 + 32, 127 - 16]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Converting a model folder

/// What `classify quantize --to` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// int8, one scale per weight tensor (PyTorch's default `quantize_dynamic` qconfig).
    Int8,
    /// int8, one scale per output row (`per_channel_dynamic_qconfig`).
    Int8PerChannel,
    /// f16 storage for linear weights and embedding tables.
    F16,
}

impl std::str::FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "int8" => Ok(Target::Int8),
            "int8-per-channel" => Ok(Target::Int8PerChannel),
            "f16" => Ok(Target::F16),
            _ => Err(Error::Input(format!("unknown precision `{s}` (int8, int8-per-channel or f16)"))),
        }
    }
}

impl Target {
    /// The `precision` the converted `config.json` says.
    pub fn precision(self) -> crate::config::Precision {
        match self {
            Target::Int8 | Target::Int8PerChannel => crate::config::Precision::Int8,
            Target::F16 => crate::config::Precision::F16,
        }
    }
}

/// A converted model: its new `config.json` and single safetensors file (the other files are unchanged).
pub struct Converted {
    /// The new `config.json` (with `precision`).
    pub config_json: String,
    /// The new `model.safetensors`.
    pub weights: Vec<u8>,
    /// Tensor names converted, in file order.
    pub converted: Vec<String>,
    /// Input columns computed in f32 (all linears together).
    pub outlier_columns: usize,
    /// Linears that have some.
    pub outlier_linears: usize,
}

/// Is tensor `name` of `shape` a linear layer's weight (what the engine reads through
/// [`Weight::load`])? 2-D, named `…weight` (MultiheadAttention's `in_proj_weight` included), and not an
/// embedding table.
pub fn is_linear_weight(name: &str, shape: &[usize]) -> bool {
    shape.len() == 2 && name.ends_with("weight") && !name.contains("embedding")
}

/// Is tensor `name` an embedding table (stored as f16 by the f16 conversion)?
fn is_embedding_table(name: &str, shape: &[usize]) -> bool {
    shape.len() == 2 && name.contains("embedding") && name.ends_with("weight")
}

/// How `classify quantize` converts: the target precision and, for int8, the activation grid and the
/// outlier columns.
#[derive(Clone, Copy, Debug)]
pub struct Scheme<'a> {
    /// The storage.
    pub target: Target,
    /// The grid int8 linears quantize their input to (`activation_range` in `config.json`).
    pub activation: ActivationGrid,
    /// Outlier columns: every input column of an int8 linear whose calibration max |x| exceeds the
    /// threshold runs in f32 (`<name>_outlier_columns`, `<name>_outlier`), its int8 column 0 (the weight's
    /// scale is taken without it).
    pub outliers: Option<Outliers<'a>>,
}

/// The outlier columns of a [`Scheme`].
#[derive(Clone, Copy, Debug)]
pub struct Outliers<'a> {
    /// Columns whose max |x| is above this go to f32.
    pub threshold: f32,
    /// Per linear weight tensor (checkpoint name): the max |x| of each input column ([`calibrate`]).
    pub column_max: &'a HashMap<String, Vec<f32>>,
}

impl Scheme<'_> {
    /// `target` as PyTorch's fbgemm engine computes it, no outlier columns.
    pub fn plain(target: Target) -> Self {
        Scheme { target, activation: ActivationGrid::U7, outliers: None }
    }
}

/// The input columns of linear weight `name` whose max |x| exceeds the threshold (none without
/// outliers, or for a linear the calibration never ran).
fn columns_over_threshold(scheme: &Scheme, name: &str, k: usize) -> Vec<usize> {
    let Some(o) = scheme.outliers else { return Vec::new() };
    let Some(m) = o.column_max.get(name).filter(|m| m.len() == k) else { return Vec::new() };
    (0..k).filter(|&c| m[c] > o.threshold).collect()
}

/// What a [`CpuBackend`](crate::cpu::CpuBackend) observer collects for [`calibrate`]: per linear weight
/// tensor, the max |x| of each input column over the real tokens (padding rows left out).
struct ColumnMax<'b> {
    batch: &'b crate::batch::Batch,
    max: HashMap<String, Vec<f32>>,
}

impl crate::cpu::LinearObserver for ColumnMax<'_> {
    fn linear_input(&mut self, l: &crate::model::linear::Linear, x: &[f32]) {
        let k = l.in_dim().max(1);
        let (b, s) = (self.batch.batch, self.batch.seq);
        let rows = x.len() / k;
        let mut m = vec![0.0f32; k]; // (k)
        for (r, row) in x.chunks_exact(k).enumerate() {
            // (batch·seq, k) inputs: real tokens only; (batch, k) ones (pooled): every row
            if rows == b * s && r % s.max(1) >= self.batch.lengths[r / s.max(1)] {
                continue;
            }
            for (a, &v) in m.iter_mut().zip(row) {
                *a = a.max(v.abs());
            }
        }
        for name in &l.names {
            let e = self.max.entry(name.clone()).or_insert_with(|| vec![0.0; k]);
            for (a, &v) in e.iter_mut().zip(&m) {
                *a = a.max(v);
            }
        }
    }
}

/// The max |x| of every input column of every linear of `c` (keyed by checkpoint tensor name) over the
/// real tokens of [`CHECK_TEXTS`] (one batch, the CPU forward): `classify quantize`'s outlier calibration.
pub fn calibrate(c: &crate::pipeline::Classifier) -> Result<HashMap<String, Vec<f32>>> {
    let (batch, _) = c.batch(&CHECK_TEXTS)?;
    let mut obs = ColumnMax { batch: &batch, max: HashMap::new() };
    crate::cpu::forward_observed(&c.model, &batch, &crate::model::ForwardOptions::default(), &mut obs)?;
    Ok(obs.max)
}

/// Convert a model folder's files (this project's format or HF BERT) to `to`: every linear weight
/// quantized from its f32 values (see the module docs), `<name>_scale` added for int8; the embedding
/// tables f16, or for int8 uint8 per row with `<name>_scale` and `<name>_zero_point` ([`quantize_table`]); every other tensor copied as stored; `precision` set in `config.json`. The
/// source must be an f32 model (converting twice is an error naming the first converted tensor).
pub fn convert_files(files: &crate::hf::HfFiles, to: Target) -> Result<Converted> {
    convert_folder::<false>(files, &Scheme::plain(to))
}

/// [`convert_files`] with a [`Scheme`]: for int8 also `activation_range` in `config.json` (when `u8`) and
/// each linear's outlier columns.
pub fn convert_files_with(files: &crate::hf::HfFiles, scheme: &Scheme) -> Result<Converted> {
    if scheme.target == Target::F16 && (scheme.activation != ActivationGrid::U7 || scheme.outliers.is_some()) {
        return Err(Error::Input("an activation range and outlier columns are for int8 targets, not f16".into()));
    }
    if let Some(t) = scheme.outliers.map(|o| o.threshold).filter(|t| !(t.is_finite() && *t >= 0.0)) {
        return Err(Error::Input(format!("outlier threshold {t}: it must be a finite number ≥ 0")));
    }
    convert_folder::<true>(files, scheme)
}

/// The conversion; `SCHEME`: `scheme` may have outlier columns (a build that only ever calls
/// [`convert_files`], the browser's, leaves that code out).
fn convert_folder<const SCHEME: bool>(files: &crate::hf::HfFiles, scheme: &Scheme) -> Result<Converted> {
    let to = scheme.target;
    let mut config: serde_json::Value = serde_json::from_str(files.config_json)?;
    let had = config.get("precision").and_then(|p| p.as_str()).unwrap_or("f32");
    if had != "f32" {
        return Err(Error::Input(format!("the model is already {had} (config.json precision): convert its f32 original")));
    }
    let w = crate::weights::Weights::from_parts(&files.weights)?;
    let mut names = w.names();
    names.sort_unstable();
    if let Some(n) = names.iter().find(|n| n.ends_with("_scale") || w.dtype(n).is_ok_and(|d| d == "I8" || d == "U8")) {
        return Err(Error::Input(format!("tensor `{n}` is already quantized: convert the f32 model")));
    }
    let mut out: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut converted = Vec::new();
    let (mut outlier_columns, mut outlier_linears) = (0, 0);
    for name in &names {
        let view = w.view(name)?;
        let shape = view.shape().to_vec();
        let float = matches!(view.dtype(), safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16);
        if float && is_linear_weight(name, &shape) {
            let values = w.get(name, &shape)?.data;
            let dims = [shape[0], shape[1]];
            match to {
                Target::F16 => out.push((name.clone(), safetensors::Dtype::F16, shape, half_bytes(&half_weight(&values, dims).bits))),
                Target::Int8 | Target::Int8PerChannel => {
                    let per_channel = to == Target::Int8PerChannel;
                    let [rows, k] = dims;
                    let cols = if SCHEME { columns_over_threshold(scheme, name, k) } else { Vec::new() };
                    let mut values = values;
                    let mut outlier = Vec::with_capacity(rows * cols.len()); // (out, n)
                    for row in values.chunks_mut(k.max(1)).take(if SCHEME && !cols.is_empty() { rows } else { 0 }) {
                        for &c in &cols {
                            outlier.push(row[c]);
                            row[c] = 0.0;
                        }
                    }
                    let q = quantize_weight(&values, dims, per_channel).map_err(|e| Error::Input(format!("tensor `{name}`: {e}")))?;
                    out.push((name.clone(), safetensors::Dtype::I8, shape, q.q.iter().map(|&v| v as u8).collect()));
                    let (sshape, scales) = if per_channel { (vec![dims[0]], q.scales.clone()) } else { (vec![], vec![q.scales[0]]) };
                    out.push((format!("{name}_scale"), safetensors::Dtype::F32, sshape, scales.iter().flat_map(|s| s.to_le_bytes()).collect()));
                    if SCHEME && !cols.is_empty() {
                        (outlier_columns, outlier_linears) = (outlier_columns + cols.len(), outlier_linears + 1);
                        let idx: Vec<u8> = cols.iter().flat_map(|&c| (c as i32).to_le_bytes()).collect();
                        out.push((format!("{name}_outlier_columns"), safetensors::Dtype::I32, vec![cols.len()], idx));
                        let wo: Vec<u8> = outlier.iter().flat_map(|v| v.to_le_bytes()).collect();
                        out.push((format!("{name}_outlier"), safetensors::Dtype::F32, vec![rows, cols.len()], wo));
                    }
                }
            }
            converted.push(name.clone());
        } else if float && is_embedding_table(name, &shape) {
            let values = w.get(name, &shape)?.data;
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(Error::NonFinite(format!("tensor `{name}` holds {v}: cannot convert it")));
            }
            if to == Target::F16 {
                out.push((name.clone(), safetensors::Dtype::F16, shape, half_bytes(&half_weight(&values, [0, 0]).bits)));
            } else {
                let (q, scales, zps) = quantize_table(&values, shape[1]);
                let rows = vec![shape[0]];
                out.push((name.clone(), safetensors::Dtype::U8, shape, q));
                out.push((format!("{name}_scale"), safetensors::Dtype::F32, rows.clone(), scales.iter().flat_map(|s| s.to_le_bytes()).collect()));
                out.push((format!("{name}_zero_point"), safetensors::Dtype::F32, rows, zps.iter().flat_map(|s| s.to_le_bytes()).collect()));
            }
            converted.push(name.clone());
        } else {
            out.push((name.clone(), view.dtype(), shape, view.data().to_vec()));
        }
    }
    let views = out
        .iter()
        .map(|(n, d, s, b)| safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::WeightsFormat(e.to_string()))?;
    let weights = safetensors::serialize(views, None).map_err(|e| Error::WeightsFormat(e.to_string()))?;
    if let Some(obj) = config.as_object_mut() {
        obj.insert("precision".into(), serde_json::Value::String(to.precision().name().into()));
        if SCHEME && scheme.activation != ActivationGrid::U7 {
            obj.insert("activation_range".into(), serde_json::Value::String(scheme.activation.name().into()));
        }
    }
    Ok(Converted { config_json: serde_json::to_string_pretty(&config)? + "\n", weights, converted, outlier_columns, outlier_linears })
}

fn half_bytes(bits: &[u16]) -> Vec<u8> {
    bits.iter().flat_map(|b| b.to_le_bytes()).collect()
}

/// Texts `classify quantize` compares the converted model on.
pub const CHECK_TEXTS: [&str; 8] = [
    "This movie was wonderful, I loved every minute of it.",
    "Terrible acting and a boring plot. Avoid.",
    "It was okay, I guess — nothing special but not bad either.",
    "Not good. Not good at all.",
    "a",
    "The soundtrack was great but the story made no sense whatsoever.",
    "What a masterpiece: brilliant performances, stunning visuals.",
    "I went into this movie with low expectations and came out genuinely surprised; the leads are sharp, funny and occasionally heartbreaking.",
];

/// Largest |difference| between two models' outputs on [`CHECK_TEXTS`] (one batch, CPU): logits when both
/// have a classifier, else the pooled vectors; and how many texts get the same top label.
pub fn compare(a: &crate::pipeline::Classifier, b: &crate::pipeline::Classifier) -> Result<(f32, usize)> {
    let (batch, _) = a.batch(&CHECK_TEXTS)?;
    let opts = crate::model::ForwardOptions::default();
    let (oa, ob) = (crate::cpu::forward(&a.model, &batch, &opts)?, crate::cpu::forward(&b.model, &batch, &opts)?);
    let (ta, tb) = match (oa.logits, ob.logits) {
        (Some(x), Some(y)) => (x, y),
        _ => (oa.pooled, ob.pooled),
    };
    let diff = ta.data.iter().zip(&tb.data).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let argmax = |r: &[f32]| r.iter().enumerate().fold(0, |m, (i, v)| if *v > r[m] { i } else { m });
    let d = ta.last_dim();
    let same = ta.data.chunks(d).zip(tb.data.chunks(d)).filter(|(x, y)| argmax(x) == argmax(y)).count();
    Ok((diff, same))
}

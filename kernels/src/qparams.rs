//! The activation quantization's parameters as PyTorch's dynamic quantization chooses them (the crate's
//! `quant` module describes the scheme), and its scalar reference: what the SIMD quantizer
//! (`simd128::act_quant`, wasm builds only) must equal bit for bit.

/// The unsigned grid a dynamic int8 linear quantizes its input to, per forward, with PyTorch's
/// `ChooseQuantizationParams(min, max, 0, qmax)` over the input (0 always inside the range).
/// `activation_range` in `config.json` (`"u7"`, the default, omitted; or `"u8"`; int8 models only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ActivationGrid {
    /// fbgemm, PyTorch's x86 default: `reduce_range`, `0..=127`; epilogue `fma(acc, s_x·s_w, bias)`.
    #[default]
    U7,
    /// qnnpack: `0..=255`; epilogue `f32(f32(acc)·f32(s_x·s_w)) + bias` (rounded twice).
    U8,
}

impl TryFrom<String> for ActivationGrid {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.as_str() {
            "u7" => Ok(ActivationGrid::U7),
            "u8" => Ok(ActivationGrid::U8),
            _ => Err(format!("activation_range `{s}` is not one of u7 (fbgemm, the default), u8 (qnnpack)")),
        }
    }
}

impl ActivationGrid {
    /// The name `config.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            ActivationGrid::U7 => "u7",
            ActivationGrid::U8 => "u8",
        }
    }

    /// The grid's largest value: 127 or 255.
    pub fn qmax(self) -> i32 {
        match self {
            ActivationGrid::U7 => 127,
            ActivationGrid::U8 => 255,
        }
    }
}

/// fbgemm's `SMALL_SCALE_THRESHOLD` (the smallest normal f16).
pub const SMALL_SCALE: f32 = 6.1e-5;

/// An activation tensor's quantization: `x ≈ (q − zero_point) · scale`, `q` in `[0, qmax]` (127 or 255).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActQuant {
    /// f32 step of the grid.
    pub scale: f32,
    /// The quantized value of 0, in `[0, qmax]`.
    pub zero_point: i32,
}

/// fbgemm's `ChooseQuantizationParams(min, max, qmin 0, qmax 255, preserve_sparsity false,
/// force_scale_power_of_two false, reduce_range true)` as ATen's `quant_utils` computes it.
pub fn choose_qparams(min: f32, max: f32) -> ActQuant {
    choose_qparams_grid(min, max, ActivationGrid::U7)
}

/// [`choose_qparams`] on `grid`: `[0, 127]` (fbgemm's `reduce_range`) or `[0, 255]` (qnnpack, which
/// ignores `reduce_range`); otherwise the same arithmetic.
pub fn choose_qparams_grid(min: f32, max: f32, grid: ActivationGrid) -> ActQuant {
    let (qmin, qmax) = (0i32, grid.qmax()); // U7: 0/2, 255/2 (reduce_range)
    let (mut min, mut max) = (min.min(0.0), max.max(0.0));
    let mut scale = (max as f64 - min as f64) / (qmax - qmin) as f64;
    if scale as f32 == 0.0 || (1.0f32 / scale as f32).is_infinite() {
        scale = 0.1;
    }
    if scale < SMALL_SCALE as f64 {
        let org = scale as f32;
        scale = SMALL_SCALE as f64;
        let span = (qmax - qmin) as f32;
        if min == 0.0 {
            max = SMALL_SCALE * span;
        } else if max == 0.0 {
            min = -SMALL_SCALE * span;
        } else {
            let amplifier = SMALL_SCALE / org;
            min *= amplifier;
            max *= amplifier;
        }
    }
    let (lo, hi) = (min as f64 / scale, max as f64 / scale);
    let from_min = qmin as f64 - lo;
    let from_max = qmax as f64 - hi;
    let err_min = (qmin as f64).abs() - lo.abs();
    let err_max = (qmax as f64).abs() - hi.abs();
    let initial = if err_min < err_max { from_min } else { from_max };
    let zero_point = if initial < qmin as f64 {
        qmin
    } else if initial > qmax as f64 {
        qmax
    } else {
        initial.round_ties_even() as i32
    };
    ActQuant { scale: scale as f32, zero_point }
}

/// Quantize `x` (the whole activation tensor) into `q` (same length) on fbgemm's 7-bit grid: `None` when
/// `x` holds a NaN or an infinity (the caller then produces NaN, which the forward reports).
pub fn quantize_activations(x: &[f32], q: &mut [u8]) -> Option<ActQuant> {
    quantize_activations_grid(x, x.len().max(1), q, ActivationGrid::U7, &[])
}

/// The range `(min, max)` of `x (rows, k)` over every column but `skip` (an int8 linear's outlier
/// columns, increasing; `(+inf, −inf)` when nothing is left, which [`choose_qparams`] treats as 0): `None`
/// when any value of `x`, a skipped one included, is NaN or infinite.
pub fn input_range(x: &[f32], k: usize, skip: &[u32]) -> Option<(f32, f32)> {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut fold = |seg: &[f32]| {
        for &v in seg {
            if !v.is_finite() {
                return false;
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
        true
    };
    if skip.is_empty() {
        return fold(x).then_some((lo, hi));
    }
    for row in x.chunks(k.max(1)) {
        let mut start = 0;
        for &c in skip {
            let c = (c as usize).min(row.len());
            if c < start {
                continue; // (not increasing: never in a loaded weight)
            }
            if !fold(&row[start..c]) || row.get(c).is_some_and(|v| !v.is_finite()) {
                return None;
            }
            start = c + 1;
        }
        if !fold(&row[start.min(row.len())..]) {
            return None;
        }
    }
    Some((lo, hi))
}

/// Quantize `x (rows, k)` into `q` (same length) on `grid`, its range taken over every column but `skip`
/// ([`input_range`]; the values of the skipped columns are quantized too, clamped to the grid, and must
/// meet weight columns of 0): `q = clamp(round_half_even(f32(x · f32(1/scale))) + zp, 0, qmax)`. `None`
/// when `x` holds a NaN or an infinity.
pub fn quantize_activations_grid(x: &[f32], k: usize, q: &mut [u8], grid: ActivationGrid, skip: &[u32]) -> Option<ActQuant> {
    let (lo, hi) = input_range(x, k, skip)?;
    let p = choose_qparams_grid(lo, hi, grid);
    let (inv, qmax) = (1.0f32 / p.scale, grid.qmax());
    for (o, &v) in q.iter_mut().zip(x) {
        *o = ((v * inv).round_ties_even() as i32).saturating_add(p.zero_point).clamp(0, qmax) as u8;
    }
    Some(p)
}

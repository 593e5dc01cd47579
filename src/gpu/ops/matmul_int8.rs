//! `shaders/matmul_int8.wgsl`: `out (m, n) = act(dequant(quant(x (m, k)) · q_wᵀ) + bias + x[:, cols] ·
//! w_outᵀ)` (or `out += …`) for an int8 weight, with the activation parameters of [`super::act_quant`] —
//! PyTorch's dynamic quantization as [`crate::cpu::quant::linear_int8`] computes it, the integer product
//! exact: fbgemm's 7-bit activation grid or qnnpack's 8-bit one, and the weight's f32 outlier columns
//! ([`crate::model::param::OutlierColumns`]) in the same dispatch.

use super::Access::{Read as R, ReadWrite as RW};
use super::{act_quant, act_quant::Grid, out_buffer, read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use crate::model::param::{ActivationGrid, Int8Weight};
use bytemuck::{Pod, Zeroable};

/// `matmul_int8.wgsl` after `activate` and a `dot4` (the inner product of a word of activations and a
/// word of weights): `include/dot4_unpack.wgsl` (shifts, portable) here, `include/dot4_packed.wgsl`
/// (`dot4I8Packed`) in [`SOURCE_PACKED`]. The context compiles the packed one where WGSL's
/// `packed_4x8_integer_dot_product` language feature is there
/// ([`crate::gpu::GpuContext::packed_dot4`]); both give the same integers.
macro_rules! int8_source {
    ($dot4:literal) => {
        concat!(
            include_str!(concat!(env!("OUT_DIR"), "/shaders/include/", $dot4)),
            include_str!(concat!(env!("OUT_DIR"), "/shaders/include/activate.wgsl")),
            include_str!(concat!(env!("OUT_DIR"), "/shaders/matmul_int8.wgsl"))
        )
    };
}

/// The int8 matmul with `dot4I8Packed` (its `requires` directive first).
pub const SOURCE_PACKED: &str = int8_source!("dot4_packed.wgsl");

/// `matmul_int8.wgsl` (the portable unpack path) and its bindings.
pub const SHADER: Shader = Shader {
    file: "matmul_int8.wgsl",
    source: int8_source!("dot4_unpack.wgsl"),
    // x, qp, w, rows, bias, out, cols, w_out (8: WebGPU's default per-stage limit of storage buffers)
    storage: &[R, R, R, R, R, RW, R, R],
    params_size: size_of::<MatmulInt8Params>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `matmul_int8.wgsl`'s `Params`.
pub struct MatmulInt8Params {
    /// Rows of x.
    pub m: u32,
    /// Output features.
    pub n: u32,
    /// Input features.
    pub k: u32,
    /// u32 words per weight row: `ceil(k / 4)`.
    pub kw: u32,
    /// One of the [`super::matmul::act`] codes.
    pub act: u32,
    /// 1: add the bias.
    pub has_bias: u32,
    /// 1: add into the output (residual).
    pub accumulate: u32,
    /// 1: write the integers `acc − zp · rowsum` (as f32 bit patterns) instead of floats.
    pub raw: u32,
    /// The activation grid: 0 fbgemm's 7 bits (fma epilogue), 1 qnnpack's 8 bits (mul, then add).
    pub grid: u32,
    /// Outlier columns: `cols` holds their indices, `w_out` their f32 weights `(n, ncols)`.
    pub ncols: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// An int8 weight in the kernel's layout.
pub struct Packed {
    /// `(n, ceil(k/4))` u32: four int8 per word, the outlier columns 0.
    pub words: Vec<u32>,
    /// `(n)` `[scale bits, rowsum]`, the sums without the outlier columns.
    pub rows: Vec<[u32; 2]>,
    /// The outlier columns `(ncols)`, checked (their f32 weights are the model's parameter
    /// [`crate::model::param::OutlierColumns::weight`], uploaded with the others).
    pub cols: Vec<u32>,
}

/// An int8 weight in the kernel's layout. Its outlier columns are zeroed in the words (and left out of
/// the row sums) whatever `q` holds there, so the integer product is that of `x` with those columns at 0.
/// Malformed outliers (columns not strictly increasing below `in`, a weight not `(out, n)`) are an error.
pub fn pack(w: &Int8Weight) -> Result<Packed> {
    let [n, k] = w.shape;
    let cols: &[u32] = w.outliers.as_ref().map_or(&[], |o| &o.columns); // (ncols)
    if let Some(o) = &w.outliers {
        if cols.windows(2).any(|p| p[0] >= p[1]) || cols.last().is_some_and(|&c| c as usize >= k) {
            return Err(Error::Input(format!("int8 weight ({n}, {k}): outlier columns {cols:?} are not strictly increasing below {k}")));
        }
        if o.weight.shape() != [n, cols.len()] || o.weight.data().len() != n * cols.len() {
            return Err(Error::Input(format!("int8 weight ({n}, {k}): outlier weight {:?} is not ({n}, {})", o.weight.shape(), cols.len())));
        }
    }
    let kw = k.div_ceil(4);
    let mut words = vec![0u32; n * kw]; // (n, kw)
    let mut sums = w.row_sums.clone(); // (n)
    for (r, row) in w.q.chunks(k.max(1)).enumerate().take(n) {
        for (i, &q) in row.iter().enumerate() {
            words[r * kw + i / 4] |= (q as u8 as u32) << (8 * (i % 4));
        }
        for &c in cols {
            let c = c as usize;
            words[r * kw + c / 4] &= !(0xff << (8 * (c % 4)));
            if let (Some(s), Some(&q)) = (sums.get_mut(r), row.get(c)) {
                *s = s.wrapping_sub(q as i32);
            }
        }
    }
    let rows = w.scales.iter().zip(&sums).map(|(s, &t)| [s.to_bits(), t as u32]).collect(); // (n)
    Ok(Packed { words, rows, cols: cols.to_vec() })
}

/// The device copy of an int8 weight: packed words, per-row `[scale, rowsum]`, its grid and its outlier
/// columns (their f32 weights are an ordinary parameter buffer, passed to [`record`]).
pub struct Int8Buffers {
    /// `(n, ceil(k/4))` u32.
    pub words: wgpu::Buffer,
    /// `(n)` `[scale bits, rowsum]`.
    pub rows: wgpu::Buffer,
    /// The outlier columns `(ncols)` u32, when there are any.
    pub cols: Option<wgpu::Buffer>,
    /// Outlier columns.
    pub ncols: usize,
    /// The activation grid.
    pub grid: ActivationGrid,
}

impl Int8Buffers {
    /// Upload `w` (once per weight: the backend keys it by the weight's id).
    pub fn upload(ctx: &GpuContext, w: &Int8Weight) -> Result<Self> {
        let p = pack(w)?;
        let cols = (!p.cols.is_empty()).then(|| ctx.upload("int8 outlier columns", &p.cols)).transpose()?;
        Ok(Self { words: ctx.upload("int8 weight", &p.words)?, rows: ctx.upload("int8 scales", &p.rows)?, cols, ncols: p.cols.len(), grid: w.activation })
    }

    /// Device buffers this weight holds.
    pub fn buffers(&self) -> usize {
        2 + self.cols.is_some() as usize
    }

    /// The grid and outlier columns [`act_quant::record`] takes for an input of rows of `k` floats.
    pub fn act_grid(&self, k: usize) -> Grid<'_> {
        Grid { qmax: self.grid.qmax() as u32, outliers: self.cols.as_ref().map(|b| (b, k, self.ncols)) }
    }
}

/// Record `out = act(x · wᵀ + bias + x[:, cols] · w_outᵀ)` (or `out += …`) for `x (m, k)` whose
/// parameters are in `qp` (written before by [`act_quant::record`]); `w_out (n, ncols)` is the outlier
/// columns' f32 weight buffer, needed when `w` has outlier columns; `raw` writes the integers instead
/// (tests).
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    qp: &wgpu::Buffer,
    w: &Int8Buffers,
    w_out: Option<&wgpu::Buffer>,
    bias: Option<&wgpu::Buffer>,
    out: &wgpu::Buffer,
    (m, k, n): (usize, usize, usize),
    act: u32,
    accumulate: bool,
    raw: bool,
) -> Result<()> {
    if k > crate::quant::MAX_INT8_IN {
        return Err(Error::Input(format!("an int8 linear with {k} inputs overflows int32 accumulation")));
    }
    let (cols, w_out) = match (&w.cols, w_out) {
        (None, _) => (None, None),
        (Some(c), Some(o)) => (Some(c), Some(o)),
        (Some(_), None) => return Err(Error::Input("an int8 linear with outlier columns needs their f32 weights".into())),
    };
    let ncols = if cols.is_some() { w.ncols } else { 0 };
    let p = MatmulInt8Params {
        m: u(m),
        n: u(n),
        k: u(k),
        kw: u(k.div_ceil(4)),
        act,
        has_bias: bias.is_some() as u32,
        accumulate: accumulate as u32,
        raw: raw as u32,
        grid: (w.grid == ActivationGrid::U8) as u32,
        ncols: u(ncols),
        _pad: [0; 2],
    };
    let dummy = &rec.ctx.dummy.clone();
    let (cols, w_out) = (cols.unwrap_or(dummy), w_out.unwrap_or(dummy));
    rec.dispatch(Kernel::MatmulInt8, &p, &[x, qp, &w.words, &w.rows, bias.unwrap_or(dummy), out, cols, w_out], [u(n.div_ceil(64)), u(m.div_ceil(64)), 1])
}

/// What [`run`] returns: the activation parameters, the integers `acc − zp · rowsum` `(m, n)` and the
/// float outputs `(m, n)`.
pub struct Int8Run {
    /// Scale, zero point (`None`: the input held a NaN or an infinity).
    pub qp: Option<crate::quant::ActQuant>,
    /// `(m, n)` integer parts.
    pub raw: Vec<i32>,
    /// `(m, n)` outputs.
    pub out: Vec<f32>,
}

/// Over host slices, in one submit: the parameters, the integer parts and `act(x · wᵀ + bias)` (plus
/// `residual` when given).
pub async fn run(
    ctx: &GpuContext,
    x: &[f32],
    w: &Int8Weight,
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    act: u32,
) -> Result<Int8Run> {
    let [n, k] = w.shape;
    let m = x.len() / k.max(1);
    let xb = ctx.upload("x", x)?;
    let wb = Int8Buffers::upload(ctx, w)?;
    let wo = w.outliers.as_ref().map(|o| ctx.upload("outlier weight", o.weight.data())).transpose()?; // (n, ncols)
    let bb = bias.map(|b| ctx.upload("bias", b)).transpose()?;
    let qp = out_buffer(ctx, "qp", act_quant::QP_WORDS)?;
    let raw = out_buffer(ctx, "raw", m * n)?;
    let out = match residual {
        Some(r) => ctx.upload("out", r)?,
        None => out_buffer(ctx, "out", m * n)?,
    };
    let mut rec = Recorder::new(ctx);
    act_quant::record(&mut rec, &xb, &qp, (m * k, 1), wb.act_grid(k))?;
    record(&mut rec, &xb, &qp, &wb, wo.as_ref(), bb.as_ref(), &raw, (m, k, n), act, false, true)?;
    record(&mut rec, &xb, &qp, &wb, wo.as_ref(), bb.as_ref(), &out, (m, k, n), act, residual.is_some(), false)?;
    let s_qp = rec.read(&qp, 0, act_quant::QP_WORDS);
    let s_raw = rec.read(&raw, 0, m * n);
    let s_out = rec.read(&out, 0, m * n);
    let all = read_back(rec).await?;
    Ok(Int8Run {
        qp: act_quant::decode(s_qp.get(&all)),
        raw: s_raw.get(&all).iter().map(|v| v.to_bits() as i32).collect(),
        out: s_out.get(&all).to_vec(),
    })
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(MatmulInt8Params; m, n, k, kw, act, has_bias, accumulate, raw, grid, ncols));
}

#[test]
fn packing_is_little_endian_with_zero_tails() {
    let w = Int8Weight::new([2, 5], vec![1, -1, 2, -128, 127, 0, 3, -2, 5, -7], vec![0.5, 0.25], true);
    let p = pack(&w).expect("pack");
    assert_eq!(p.words, vec![0x80_02_ff_01, 0x7f, 0x05_fe_03_00, 0xf9]);
    assert_eq!(p.rows, vec![[0.5f32.to_bits(), 1], [0.25f32.to_bits(), (-1i32) as u32]]);
    assert!(p.cols.is_empty());
}

#[test]
fn outlier_columns_are_zeroed_left_out_of_the_sums_and_checked() {
    use crate::model::param::{OutlierColumns, Param};
    use crate::tensor::Tensor;
    let mut w = Int8Weight::new([2, 5], vec![1, -1, 2, -128, 127, 0, 3, -2, 5, -7], vec![0.5, 0.25], true);
    let weight = Param::new(Tensor { shape: vec![2, 2], data: vec![1.5, -2.0, 0.25, 3.0] });
    w.outliers = Some(OutlierColumns { columns: vec![1, 4], weight: weight.clone() });
    let p = pack(&w).expect("pack");
    assert_eq!(p.words, vec![0x80_02_00_01, 0, 0x05_fe_00_00, 0]);
    assert_eq!(p.rows, vec![[0.5f32.to_bits(), (-125i32) as u32], [0.25f32.to_bits(), 3]]);
    assert_eq!(p.cols, vec![1, 4]);
    for (cols, shape) in [(vec![4, 1], vec![2, 2]), (vec![1, 1], vec![2, 2]), (vec![1, 5], vec![2, 2]), (vec![1, 4], vec![2, 1])] {
        let data = vec![0.0; shape.iter().product()];
        w.outliers = Some(OutlierColumns { columns: cols.clone(), weight: Param::new(Tensor { shape, data }) });
        assert!(pack(&w).is_err(), "columns {cols:?} must be refused");
    }
}

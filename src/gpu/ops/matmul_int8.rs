//! `shaders/matmul_int8.wgsl`: `out (m, n) = act(dequant(quant(x (m, k)) · q_wᵀ) + bias)` (or `out += …`)
//! for an int8 weight, with the activation parameters of [`super::act_quant`] — PyTorch's dynamic
//! quantization as [`crate::cpu::quant::linear_int8`] computes it, the integer product exact.

use super::Access::{Read as R, ReadWrite as RW};
use super::{act_quant, out_buffer, read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use crate::model::param::Int8Weight;
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
    // x, qp, w, rows, bias, out
    storage: &[R, R, R, R, R, RW],
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
}

/// An int8 weight in the kernel's layout: `(words (n, ceil(k/4)), rows (n) [scale bits, rowsum])`.
pub fn pack(w: &Int8Weight) -> (Vec<u32>, Vec<[u32; 2]>) {
    let [n, k] = w.shape;
    let kw = k.div_ceil(4);
    let mut words = vec![0u32; n * kw]; // (n, kw)
    for (r, row) in w.q.chunks(k.max(1)).enumerate().take(n) {
        for (i, &q) in row.iter().enumerate() {
            words[r * kw + i / 4] |= (q as u8 as u32) << (8 * (i % 4));
        }
    }
    let rows = w.scales.iter().zip(&w.row_sums).map(|(s, &t)| [s.to_bits(), t as u32]).collect(); // (n)
    (words, rows)
}

/// The device copy of an int8 weight: packed words and per-row `[scale, rowsum]`.
pub struct Int8Buffers {
    /// `(n, ceil(k/4))` u32.
    pub words: wgpu::Buffer,
    /// `(n)` `[scale bits, rowsum]`.
    pub rows: wgpu::Buffer,
}

impl Int8Buffers {
    /// Upload `w` (once per weight: the backend keys it by the weight's id).
    pub fn upload(ctx: &GpuContext, w: &Int8Weight) -> Result<Self> {
        let (words, rows) = pack(w);
        Ok(Self { words: ctx.upload("int8 weight", &words)?, rows: ctx.upload("int8 scales", &rows)? })
    }
}

/// Record `out = act(x · wᵀ + bias)` (or `out += …`) for `x (m, k)` whose parameters are in `qp`
/// (written before by [`act_quant::record`]); `raw` writes the integers instead (tests).
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    qp: &wgpu::Buffer,
    w: &Int8Buffers,
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
    let p = MatmulInt8Params {
        m: u(m),
        n: u(n),
        k: u(k),
        kw: u(k.div_ceil(4)),
        act,
        has_bias: bias.is_some() as u32,
        accumulate: accumulate as u32,
        raw: raw as u32,
    };
    let dummy = &rec.ctx.dummy.clone();
    rec.dispatch(Kernel::MatmulInt8, &p, &[x, qp, &w.words, &w.rows, bias.unwrap_or(dummy), out], [u(n.div_ceil(64)), u(m.div_ceil(64)), 1])
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
    let bb = bias.map(|b| ctx.upload("bias", b)).transpose()?;
    let qp = out_buffer(ctx, "qp", act_quant::QP_WORDS)?;
    let raw = out_buffer(ctx, "raw", m * n)?;
    let out = match residual {
        Some(r) => ctx.upload("out", r)?,
        None => out_buffer(ctx, "out", m * n)?,
    };
    let mut rec = Recorder::new(ctx);
    act_quant::record(&mut rec, &xb, &qp, (m * k, 1))?;
    record(&mut rec, &xb, &qp, &wb, bb.as_ref(), &raw, (m, k, n), act, false, true)?;
    record(&mut rec, &xb, &qp, &wb, bb.as_ref(), &out, (m, k, n), act, residual.is_some(), false)?;
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
    super::check_params(&SHADER, fields!(MatmulInt8Params; m, n, k, kw, act, has_bias, accumulate, raw));
}

#[test]
fn packing_is_little_endian_with_zero_tails() {
    let w = Int8Weight::new([2, 5], vec![1, -1, 2, -128, 127, 0, 3, -2, 5, -7], vec![0.5, 0.25], true);
    let (words, rows) = pack(&w);
    assert_eq!(words, vec![0x80_02_ff_01, 0x7f, 0x05_fe_03_00, 0xf9]);
    assert_eq!(rows, vec![[0.5f32.to_bits(), 1], [0.25f32.to_bits(), (-1i32) as u32]]);
}

//! `shaders/matmul_f16.wgsl`: `out (m, n) = act(x (m, k) · f32(w)ᵀ + bias)` (or `out += …`) for a weight
//! stored as IEEE halves, widened in the shader with integer bit operations (as [`crate::cpu::quant::linear_f16`]).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use crate::model::param::HalfWeight;
use bytemuck::{Pod, Zeroable};

/// `matmul_f16.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "matmul_f16.wgsl",
    source: concat!(include_str!(concat!(env!("OUT_DIR"), "/shaders/include/activate.wgsl")), include_str!(concat!(env!("OUT_DIR"), "/shaders/matmul_f16.wgsl"))),
    // x, w, bias, out, x as vec4
    storage: &[R, R, R, RW, R],
    params_size: size_of::<MatmulF16Params>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `matmul_f16.wgsl`'s `Params`.
pub struct MatmulF16Params {
    /// Rows of x.
    pub m: u32,
    /// Output features.
    pub n: u32,
    /// Input features.
    pub k: u32,
    /// One of the [`super::matmul::act`] codes.
    pub act: u32,
    /// 1: add the bias.
    pub has_bias: u32,
    /// 1: add into the output (residual).
    pub accumulate: u32,
    /// 1: x through its vec4 view (k % 4 == 0).
    pub vec4: u32,
    /// u32 words per weight row: `2 · ceil(k / 4)`.
    pub kw: u32,
}

/// An f16 weight in the kernel's layout: `(n, 2·ceil(k/4))` words, two halves each (low half first).
pub fn pack(w: &HalfWeight) -> Vec<u32> {
    let [n, k] = w.shape;
    let kw = 2 * k.div_ceil(4);
    let mut words = vec![0u32; n * kw]; // (n, kw)
    for (r, row) in w.bits.chunks(k.max(1)).enumerate().take(n) {
        for (i, &h) in row.iter().enumerate() {
            words[r * kw + i / 2] |= (h as u32) << (16 * (i % 2));
        }
    }
    words
}

/// Record `out = act(x · wᵀ + bias)` (or `out += …`) with `w` packed by [`pack`].
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
    out: &wgpu::Buffer,
    (m, k, n): (usize, usize, usize),
    act: u32,
    accumulate: bool,
) -> Result<()> {
    let p = MatmulF16Params {
        m: u(m),
        n: u(n),
        k: u(k),
        act,
        has_bias: bias.is_some() as u32,
        accumulate: accumulate as u32,
        vec4: (k % 4 == 0) as u32,
        kw: u(2 * k.div_ceil(4)),
    };
    let dummy = &rec.ctx.dummy.clone();
    rec.dispatch(Kernel::MatmulF16, &p, &[x, w, bias.unwrap_or(dummy), out, x], [u(n.div_ceil(64)), u(m.div_ceil(64)), 1])
}

/// Over host slices: `act(x (m, k) · f32(w)ᵀ + bias)`, plus `residual` when given.
pub async fn run(ctx: &GpuContext, x: &[f32], w: &HalfWeight, bias: Option<&[f32]>, residual: Option<&[f32]>, act: u32) -> Result<Vec<f32>> {
    let [n, k] = w.shape;
    let m = x.len() / k.max(1);
    let (xb, wb) = (ctx.upload("x", x)?, ctx.upload("w", &pack(w))?);
    let bb = bias.map(|b| ctx.upload("bias", b)).transpose()?;
    let out = match residual {
        Some(r) => ctx.upload("out", r)?,
        None => out_buffer(ctx, "out", m * n)?,
    };
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &wb, bb.as_ref(), &out, (m, k, n), act, residual.is_some())?;
    rec.read(&out, 0, m * n);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(MatmulF16Params; m, n, k, act, has_bias, accumulate, vec4, kw));
}

#[test]
fn packing_puts_the_even_half_low_and_pads_rows() {
    let w = HalfWeight::new([2, 3], vec![0x3c00, 0x4000, 0xc000, 1, 2, 3]);
    assert_eq!(pack(&w), vec![0x4000_3c00, 0xc000, 0x0002_0001, 0x0003]);
}

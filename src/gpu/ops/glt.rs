//! `shaders/glt.wgsl`: DeLighT's group linear transformation — input mixer, grouped matmul, bias and
//! feature shuffle in one kernel, one thread per output element.

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// The kernel's registry entry.
pub const SHADER: Shader = Shader {
    file: "glt.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/glt.wgsl")),
    // x, mix, w, bias, out
    storage: &[R, R, R, R, RW],
    params_size: size_of::<GltParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// Mirror of `glt.wgsl`'s `Params`.
pub struct GltParams {
    /// Rows (batch·seq).
    pub rows: u32,
    /// Width of `x`.
    pub xd: u32,
    /// Width of the mixed-in input (0: none).
    pub md: u32,
    /// Output width.
    pub n: u32,
    /// Groups.
    pub groups: u32,
    /// Padding to 32 bytes.
    pub _pad: [u32; 3],
}

/// `out (rows, n)` from `x (rows, xd)` and `mix (rows, md)` (`None`: md = 0) with `w (g, (md+xd)/g, n/g)`,
/// `bias (g, n/g)`.
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    mix: Option<&wgpu::Buffer>,
    w: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    out: &wgpu::Buffer,
    (rows, xd, md, n, groups): (usize, usize, usize, usize, usize),
) -> Result<()> {
    let g = rec.grid((rows * n).div_ceil(64))?;
    let p = GltParams { rows: u(rows), xd: u(xd), md: u(md), n: u(n), groups: u(groups), _pad: [0; 3] };
    rec.dispatch(Kernel::Glt, &p, &[x, mix.unwrap_or(x), w, bias, out], g)
}

/// Over host slices (the kernel test's runner).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ctx: &GpuContext,
    x: &[f32],
    mix: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    (rows, xd, md, n, groups): (usize, usize, usize, usize, usize),
) -> Result<Vec<f32>> {
    let (xb, wb, bb) = (ctx.upload("x", x)?, ctx.upload("w", w)?, ctx.upload("bias", bias)?);
    let mb = mix.map(|m| ctx.upload("mix", m)).transpose()?;
    let out = out_buffer(ctx, "out", rows * n)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, mb.as_ref(), &wb, &bb, &out, (rows, xd, md, n, groups))?;
    rec.read(&out, 0, rows * n);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(GltParams; rows, xd, md, n, groups));
}

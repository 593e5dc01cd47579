//! `shaders/batch_norm.wgsl`: BatchNorm1d applied element-wise with given statistics (the running ones,
//! or this batch's from [`super::batch_stats`]).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;

/// The shader declares the same `Params` as `layer_norm.wgsl`.
pub use super::layer_norm::NormParams;

/// `batch_norm.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "batch_norm.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/batch_norm.wgsl")),
    // x, stats, weight, bias, out
    storage: &[R, R, R, R, RW],
    params_size: size_of::<NormParams>(),
    entries: super::MAIN_ONLY,
};

/// BatchNorm of `x (rows, d)` with `stats (2·d)` = [mean | var] into `out`.
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    stats: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    out: &wgpu::Buffer,
    (rows, d): (usize, usize),
    eps: f32,
) -> Result<()> {
    let g = rec.grid((rows * d).div_ceil(256))?;
    rec.dispatch(Kernel::BatchNorm, &NormParams { rows: u(rows), d: u(d), eps, _pad: 0 }, &[x, stats, weight, bias, out], g)
}

/// Over host slices, with given `mean`, `var` (d each).
#[allow(clippy::too_many_arguments)]
pub async fn run(ctx: &GpuContext, x: &[f32], mean: &[f32], var: &[f32], w: &[f32], b: &[f32], (rows, d): (usize, usize), eps: f32) -> Result<Vec<f32>> {
    let stats: Vec<f32> = mean.iter().chain(var).copied().collect();
    let (xb, sb, wb, bb) = (ctx.upload("x", x)?, ctx.upload("stats", &stats)?, ctx.upload("w", w)?, ctx.upload("b", b)?);
    let out = out_buffer(ctx, "out", rows * d)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &sb, &wb, &bb, &out, (rows, d), eps)?;
    rec.read(&out, 0, rows * d);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(NormParams; rows, d, eps));
}

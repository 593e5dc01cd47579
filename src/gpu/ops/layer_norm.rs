//! `shaders/layer_norm.wgsl`: LayerNorm over the last dimension, one workgroup per row, also writing
//! each row's mean and variance (the trace's statistics).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `layer_norm.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "layer_norm.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/layer_norm.wgsl")),
    // x, weight, bias, out, stats
    storage: &[R, R, R, RW, RW],
    params_size: size_of::<NormParams>(),
    entries: super::MAIN_ONLY,
};

/// `layer_norm.wgsl` and `batch_norm.wgsl` (both declare this `Params`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct NormParams {
    /// Rows normalised (or batch·seq rows for BatchNorm).
    pub rows: u32,
    /// Features.
    pub d: u32,
    /// Epsilon.
    pub eps: f32,
    /// Padding to 16 bytes.
    pub _pad: u32,
}

/// LayerNorm of `x (rows, d)` into `out`; per-row mean and variance into `stats (2·rows)`.
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    weight: &wgpu::Buffer,
    bias: &wgpu::Buffer,
    out: &wgpu::Buffer,
    stats: &wgpu::Buffer,
    (rows, d): (usize, usize),
    eps: f32,
) -> Result<()> {
    let g = rec.grid(rows)?;
    rec.dispatch(Kernel::LayerNorm, &NormParams { rows: u(rows), d: u(d), eps, _pad: 0 }, &[x, weight, bias, out, stats], g)
}

/// Over host slices; returns `(out (rows, d), mean (rows), var (rows))`.
pub async fn run(ctx: &GpuContext, x: &[f32], w: &[f32], b: &[f32], (rows, d): (usize, usize), eps: f32) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let (xb, wb, bb) = (ctx.upload("x", x)?, ctx.upload("w", w)?, ctx.upload("b", b)?);
    let (out, stats) = (out_buffer(ctx, "out", rows * d)?, out_buffer(ctx, "stats", 2 * rows)?);
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &wb, &bb, &out, &stats, (rows, d), eps)?;
    let (o, m, v) = (rec.read(&out, 0, rows * d), rec.read(&stats, 0, rows), rec.read(&stats, rows, rows));
    let all = read_back(rec).await?;
    Ok((o.get(&all).to_vec(), m.get(&all).to_vec(), v.get(&all).to_vec()))
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(NormParams; rows, d, eps));
}

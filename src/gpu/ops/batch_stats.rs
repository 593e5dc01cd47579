//! `shaders/batch_stats.wgsl`: per-feature mean and biased variance over all rows (train-mode
//! BatchNorm's statistics, and the trace's).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `batch_stats.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "batch_stats.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/batch_stats.wgsl")),
    // x, stats
    storage: &[R, RW],
    params_size: size_of::<StatsParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `batch_stats.wgsl`'s `Params`.
pub struct StatsParams {
    /// Rows (batch·seq).
    pub rows: u32,
    /// Features.
    pub d: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// Per-feature mean and biased variance of `x (rows, d)` into `stats (2·d)`.
pub fn record(rec: &mut Recorder, x: &wgpu::Buffer, stats: &wgpu::Buffer, (rows, d): (usize, usize)) -> Result<()> {
    rec.dispatch(Kernel::BatchStats, &StatsParams { rows: u(rows), d: u(d), _pad: [0; 2] }, &[x, stats], [u(d.div_ceil(64)), 1, 1])
}

/// Over host slices; returns `(mean (d), var (d))`.
pub async fn run(ctx: &GpuContext, x: &[f32], (rows, d): (usize, usize)) -> Result<(Vec<f32>, Vec<f32>)> {
    let xb = ctx.upload("x", x)?;
    let stats = out_buffer(ctx, "stats", 2 * d)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &stats, (rows, d))?;
    let (m, v) = (rec.read(&stats, 0, d), rec.read(&stats, d, d));
    let all = read_back(rec).await?;
    Ok((m.get(&all).to_vec(), v.get(&all).to_vec()))
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(StatsParams; rows, d));
}

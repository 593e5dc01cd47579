//! `shaders/pool.wgsl`: one vector per sequence, the mean over its real tokens or its first token.

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `pool.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "pool.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/pool.wgsl")),
    // x, lengths, out
    storage: &[R, R, RW],
    params_size: size_of::<PoolParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `pool.wgsl`'s `Params`.
pub struct PoolParams {
    /// Sequences.
    pub batch: u32,
    /// Padded length.
    pub seq: u32,
    /// Model width.
    pub d: u32,
    /// 0 mean over real tokens, 1 first token.
    pub mode: u32,
}

/// `(batch, d)`: mean over the first `lengths[b]` positions (`cls = false`) or the first position.
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    lengths: &wgpu::Buffer,
    out: &wgpu::Buffer,
    (batch, seq, d): (usize, usize, usize),
    cls: bool,
) -> Result<()> {
    let p = PoolParams { batch: u(batch), seq: u(seq), d: u(d), mode: cls as u32 };
    rec.dispatch(Kernel::Pool, &p, &[x, lengths, out], [u(d.div_ceil(64)), u(batch), 1])
}

/// Over host slices: mean (over `lengths`) or first-token pooling of `x (batch, seq, d)`: `(batch, d)`.
pub async fn run(ctx: &GpuContext, x: &[f32], lengths: &[usize], (batch, seq, d): (usize, usize, usize), cls: bool) -> Result<Vec<f32>> {
    let lens: Vec<u32> = lengths.iter().map(|&l| l as u32).collect();
    let (xb, lb) = (ctx.upload("x", x)?, ctx.upload("lengths", &lens)?);
    let out = out_buffer(ctx, "out", batch * d)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &lb, &out, (batch, seq, d), cls)?;
    rec.read(&out, 0, batch * d);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(PoolParams; batch, seq, d, mode));
}

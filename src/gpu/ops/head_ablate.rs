//! `shaders/head_ablate.wgsl`: head ablation on an attention context before `out_proj` — the gated heads'
//! columns become 0 or their mean over the sequence's real tokens; one thread per (column, head, sequence).

use super::Access::{Read as R, ReadWrite as RW};
use super::{read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// The registry entry of `shaders/head_ablate.wgsl`.
pub const SHADER: Shader = Shader {
    file: "head_ablate.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/head_ablate.wgsl")),
    // ctx, keep, lengths
    storage: &[RW, R, R],
    params_size: size_of::<HeadAblateParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `var<uniform> params` of `shaders/head_ablate.wgsl`.
pub struct HeadAblateParams {
    /// Sequences.
    pub batch: u32,
    /// Positions per sequence.
    pub seq: u32,
    /// Heads.
    pub heads: u32,
    /// Columns per head.
    pub head_dim: u32,
    /// 0 zero, 1 mean over the real tokens.
    pub mode: u32,
    /// Padding to 32 bytes.
    pub _pad: [u32; 3],
}

/// In place on `ctx (batch, seq, heads·head_dim)`, gated by `keep (batch, heads)` (0 = ablate).
pub fn record(
    rec: &mut Recorder,
    ctx: &wgpu::Buffer,
    keep: &wgpu::Buffer,
    lengths: &wgpu::Buffer,
    (batch, seq, heads, head_dim): (usize, usize, usize, usize),
    mean: bool,
) -> Result<()> {
    let p = HeadAblateParams { batch: u(batch), seq: u(seq), heads: u(heads), head_dim: u(head_dim), mode: mean as u32, _pad: [0; 3] };
    rec.dispatch(Kernel::HeadAblate, &p, &[ctx, keep, lengths], [u(head_dim.div_ceil(64)), u(heads), u(batch)])
}

/// Over host slices: `ctx (batch, seq, heads·head_dim)` with the gated heads ablated.
pub async fn run(
    ctx: &GpuContext,
    x: &[f32],
    keep: &[f32],
    lengths: &[usize],
    (batch, seq, heads, head_dim): (usize, usize, usize, usize),
    mean: bool,
) -> Result<Vec<f32>> {
    let lens: Vec<u32> = lengths.iter().map(|&l| l as u32).collect();
    let (xb, kb, lb) = (ctx.upload("ctx", x)?, ctx.upload("keep", keep)?, ctx.upload("lengths", &lens)?);
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &kb, &lb, (batch, seq, heads, head_dim), mean)?;
    rec.read(&xb, 0, x.len());
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(HeadAblateParams; batch, seq, heads, head_dim, mode));
}

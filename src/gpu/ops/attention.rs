//! `shaders/attention.wgsl`: fused scores → scale → padding mask → softmax → weighted sum of V over
//! `qkv (batch, seq, 3·heads·head_dim)`, optionally writing the probabilities; one workgroup per 64
//! queries of one head of one sequence.

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `attention.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "attention.wgsl",
    source: include_str!("../../../shaders/attention.wgsl"),
    // qkv, lengths, out, probs
    storage: &[R, R, RW, RW],
    params_size: size_of::<AttentionParams>(),
};

/// Largest head dimension `attention.wgsl` supports (its per-thread query and accumulator arrays).
pub const MAX_HEAD_DIM: usize = 128;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `attention.wgsl`'s `Params`.
pub struct AttentionParams {
    /// Sequences.
    pub batch: u32,
    /// Padded length.
    pub seq: u32,
    /// Heads.
    pub heads: u32,
    /// Width of one head.
    pub head_dim: u32,
    /// `1/sqrt(head_dim)`.
    pub scale: f32,
    /// 1: also write the probabilities.
    pub write_probs: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// Fused attention over `qkv (batch, seq, 3·heads·head_dim)` into `out (batch, seq, heads·head_dim)`;
/// probabilities `(batch, heads, seq, seq)` into `probs` when given.
pub fn record(
    rec: &mut Recorder,
    qkv: &wgpu::Buffer,
    lengths: &wgpu::Buffer,
    out: &wgpu::Buffer,
    probs: Option<&wgpu::Buffer>,
    (batch, seq, heads, head_dim): (usize, usize, usize, usize),
) -> Result<()> {
    if head_dim == 0 || head_dim > MAX_HEAD_DIM {
        return Err(Error::Gpu(format!("attention head size {head_dim} is outside 1..={MAX_HEAD_DIM} supported on the GPU")));
    }
    let p = AttentionParams {
        batch: u(batch),
        seq: u(seq),
        heads: u(heads),
        head_dim: u(head_dim),
        scale: 1.0 / (head_dim as f32).sqrt(),
        write_probs: probs.is_some() as u32,
        _pad: [0; 2],
    };
    let dummy = &rec.ctx.dummy.clone();
    rec.dispatch(Kernel::Attention, &p, &[qkv, lengths, out, probs.unwrap_or(dummy)], [u(seq.div_ceil(64)), u(heads), u(batch)])
}

/// Over host slices; returns `(out (batch, seq, d), probs (batch, heads, seq, seq))`.
pub async fn run(
    ctx: &GpuContext,
    qkv: &[f32],
    lengths: &[usize],
    (batch, seq, heads, head_dim): (usize, usize, usize, usize),
    with_probs: bool,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    let d = heads * head_dim;
    let q = ctx.upload("qkv", qkv)?;
    let lens: Vec<u32> = lengths.iter().map(|&l| l as u32).collect();
    let l = ctx.upload("lengths", &lens)?;
    let out = out_buffer(ctx, "out", batch * seq * d)?;
    let probs = with_probs.then(|| out_buffer(ctx, "probs", batch * heads * seq * seq)).transpose()?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &q, &l, &out, probs.as_ref(), (batch, seq, heads, head_dim))?;
    let o = rec.read(&out, 0, batch * seq * d);
    let p = probs.as_ref().map(|p| rec.read(p, 0, batch * heads * seq * seq));
    let all = read_back(rec).await?;
    Ok((o.get(&all).to_vec(), p.map(|p| p.get(&all).to_vec())))
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(AttentionParams; batch, seq, heads, head_dim, scale, write_probs));
}

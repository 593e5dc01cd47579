//! `shaders/attention.wgsl`: fused scores → scale → padding mask → softmax → weighted sum of V over
//! `qkv (batch, seq, 3·heads·head_dim)`, optionally writing the probabilities; one workgroup per 64
//! queries of one head of one sequence, or for small heads (d ≤ 32) per 16 queries of four heads.

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `attention.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "attention.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/attention.wgsl")),
    // qkv, lengths, out, probs, qkv as vec4
    storage: &[R, R, RW, RW, R],
    params_size: size_of::<AttentionParams>(),
    entries: &["main", "main_small"],
};

/// Largest head dimension `attention.wgsl` supports (its per-thread query and accumulator arrays).
pub const MAX_HEAD_DIM: usize = 128;

/// Largest head dimension of the small-head entry point `main_small` (eight vec4 registers).
pub const SMALL_HEAD_DIM: usize = 32;

/// The entry point for this head size: `main_small` (1) for heads of at most [`SMALL_HEAD_DIM`] dims in
/// whole vec4s, else `main` (0).
pub fn entry(head_dim: usize) -> usize {
    usize::from(head_dim <= SMALL_HEAD_DIM && head_dim % 4 == 0)
}

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
/// probabilities `(batch, heads, seq, seq)` into `probs` when given; the entry point [`entry`] picks.
pub fn record(
    rec: &mut Recorder,
    qkv: &wgpu::Buffer,
    lengths: &wgpu::Buffer,
    out: &wgpu::Buffer,
    probs: Option<&wgpu::Buffer>,
    dims: (usize, usize, usize, usize),
) -> Result<()> {
    record_entry(rec, entry(dims.3), qkv, lengths, out, probs, dims)
}

/// As [`record`] with entry point `entry` (0 `main`, 1 `main_small`: head_dim <= 32, a multiple of 4).
pub fn record_entry(
    rec: &mut Recorder,
    entry: usize,
    qkv: &wgpu::Buffer,
    lengths: &wgpu::Buffer,
    out: &wgpu::Buffer,
    probs: Option<&wgpu::Buffer>,
    (batch, seq, heads, head_dim): (usize, usize, usize, usize),
) -> Result<()> {
    if head_dim == 0 || head_dim > MAX_HEAD_DIM {
        return Err(Error::Gpu(format!("attention head size {head_dim} is outside 1..={MAX_HEAD_DIM} supported on the GPU")));
    }
    if entry == 1 && self::entry(head_dim) != 1 {
        return Err(Error::Gpu(format!("attention: main_small needs a head size <= {SMALL_HEAD_DIM} in whole vec4s (got {head_dim})")));
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
    let buffers = [qkv, lengths, out, probs.unwrap_or(dummy), qkv];
    match entry {
        0 => rec.dispatch(Kernel::Attention, &p, &buffers, [u(seq.div_ceil(64)), u(heads), u(batch)]),
        e => rec.dispatch_entry(Kernel::Attention, e, &p, &buffers, [u(seq.div_ceil(16)), u(heads.div_ceil(4)), u(batch)]),
    }
}

/// Over host slices; returns `(out (batch, seq, d), probs (batch, heads, seq, seq))`. `entry` as in
/// [`record_entry`], or `None` for the one [`entry`] picks.
pub async fn run(
    ctx: &GpuContext,
    entry: Option<usize>,
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
    let e = entry.unwrap_or(self::entry(head_dim));
    record_entry(&mut rec, e, &q, &l, &out, probs.as_ref(), (batch, seq, heads, head_dim))?;
    let o = rec.read(&out, 0, batch * seq * d);
    let p = probs.as_ref().map(|p| rec.read(p, 0, batch * heads * seq * seq));
    let all = read_back(rec).await?;
    Ok((o.get(&all).to_vec(), p.map(|p| p.get(&all).to_vec())))
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(AttentionParams; batch, seq, heads, head_dim, scale, write_probs));
}

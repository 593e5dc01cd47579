//! `shaders/embed.wgsl`: token embedding gather × scale + positional row (+ token type row).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `embed.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "embed.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/embed.wgsl")),
    // ids, type_ids, word, position, token_type, out
    storage: &[R, R, R, R, R, RW],
    params_size: size_of::<EmbedParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `embed.wgsl`'s `Params`.
pub struct EmbedParams {
    /// Rows (batch·seq).
    pub rows: u32,
    /// Padded length.
    pub seq: u32,
    /// Model width.
    pub d: u32,
    /// 1: add token type embeddings.
    pub has_types: u32,
    /// Factor on the word embedding (sqrt(d) or 1).
    pub scale: f32,
    /// Padding to 32 bytes.
    pub _pad: [u32; 3],
}

/// `out (rows, d) = word[ids] · scale + position[s] (+ token_type[type_ids])`, rows = batch·seq.
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    ids: &wgpu::Buffer,
    types: Option<(&wgpu::Buffer, &wgpu::Buffer)>,
    word: &wgpu::Buffer,
    position: &wgpu::Buffer,
    out: &wgpu::Buffer,
    (rows, seq, d): (usize, usize, usize),
    scale: f32,
) -> Result<()> {
    let p = EmbedParams { rows: u(rows), seq: u(seq), d: u(d), has_types: types.is_some() as u32, scale, _pad: [0; 3] };
    let dummy = &rec.ctx.dummy.clone();
    let (type_ids, table) = types.unwrap_or((dummy, dummy));
    let g = rec.grid((rows * d).div_ceil(256))?;
    rec.dispatch(Kernel::Embed, &p, &[ids, type_ids, word, position, table, out], g)
}

/// Over host slices: `(rows, d)`; `ids` are checked by the caller.
pub async fn run(
    ctx: &GpuContext,
    ids: &[u32],
    types: Option<(&[u32], &[f32])>,
    word: &[f32],
    position: &[f32],
    (rows, seq, d): (usize, usize, usize),
    scale: f32,
) -> Result<Vec<f32>> {
    let (ib, wb, pb) = (ctx.upload("ids", ids)?, ctx.upload("word", word)?, ctx.upload("position", position)?);
    let tb = types.map(|(t, table)| Ok::<_, crate::Error>((ctx.upload("type ids", t)?, ctx.upload("types", table)?))).transpose()?;
    let out = out_buffer(ctx, "out", rows * d)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &ib, tb.as_ref().map(|(a, b)| (a, b)), &wb, &pb, &out, (rows, seq, d), scale)?;
    rec.read(&out, 0, rows * d);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(EmbedParams; rows, seq, d, has_types, scale));
}

//! Single-kernel runners over host slices: upload the inputs, record one dispatch with the same
//! `encode::*` helper the model uses, submit, read back. The kernel tests compare these against the CPU
//! reference kernels in `crate::cpu`. Not used on the forward path (it keeps everything on the device).

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::{self, Recorder, Scratch};

fn out_buf(ctx: &GpuContext, name: &str, floats: usize) -> Result<wgpu::Buffer> {
    ctx.storage_buffer(name, floats as u64 * 4, wgpu::BufferUsages::empty())
}

async fn run(rec: Recorder) -> Result<Vec<f32>> {
    Ok(rec.submit(&mut Scratch::default()).await?.0)
}

/// `act(x (m, k) · wᵀ + bias)`, plus `residual` when given (the fused epilogue). `act` as in
/// [`crate::gpu::kernels::act`].
#[allow(clippy::too_many_arguments)]
pub async fn linear(
    ctx: &GpuContext,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    (m, k, n): (usize, usize, usize),
    act: u32,
) -> Result<Vec<f32>> {
    let (xb, wb) = (ctx.upload("x", x)?, ctx.upload("w", w)?);
    let bb = bias.map(|b| ctx.upload("bias", b)).transpose()?;
    let out = match residual {
        Some(r) => ctx.upload("out", r)?,
        None => out_buf(ctx, "out", m * n)?,
    };
    let mut rec = Recorder::new(ctx);
    encode::matmul(&mut rec, &xb, &wb, bb.as_ref(), &out, (m, k, n), act, residual.is_some())?;
    rec.read(&out, 0, m * n);
    run(rec).await
}

/// Fused attention; returns `(out (batch, seq, d), probs (batch, heads, seq, seq))`.
pub async fn attention(
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
    let out = out_buf(ctx, "out", batch * seq * d)?;
    let probs = with_probs.then(|| out_buf(ctx, "probs", batch * heads * seq * seq)).transpose()?;
    let mut rec = Recorder::new(ctx);
    encode::attention(&mut rec, &q, &l, &out, probs.as_ref(), (batch, seq, heads, head_dim))?;
    let o = rec.read(&out, 0, batch * seq * d);
    let p = probs.as_ref().map(|p| rec.read(p, 0, batch * heads * seq * seq));
    let all = run(rec).await?;
    Ok((o.get(&all).to_vec(), p.map(|p| p.get(&all).to_vec())))
}

/// LayerNorm; returns `(out (rows, d), mean (rows), var (rows))`.
pub async fn layer_norm(ctx: &GpuContext, x: &[f32], w: &[f32], b: &[f32], (rows, d): (usize, usize), eps: f32) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let (xb, wb, bb) = (ctx.upload("x", x)?, ctx.upload("w", w)?, ctx.upload("b", b)?);
    let (out, stats) = (out_buf(ctx, "out", rows * d)?, out_buf(ctx, "stats", 2 * rows)?);
    let mut rec = Recorder::new(ctx);
    encode::layer_norm(&mut rec, &xb, &wb, &bb, &out, &stats, (rows, d), eps)?;
    let (o, m, v) = (rec.read(&out, 0, rows * d), rec.read(&stats, 0, rows), rec.read(&stats, rows, rows));
    let all = run(rec).await?;
    Ok((o.get(&all).to_vec(), m.get(&all).to_vec(), v.get(&all).to_vec()))
}

/// BatchNorm with given `mean`, `var` (d each).
#[allow(clippy::too_many_arguments)]
pub async fn batch_norm(ctx: &GpuContext, x: &[f32], mean: &[f32], var: &[f32], w: &[f32], b: &[f32], (rows, d): (usize, usize), eps: f32) -> Result<Vec<f32>> {
    let stats: Vec<f32> = mean.iter().chain(var).copied().collect();
    let (xb, sb, wb, bb) = (ctx.upload("x", x)?, ctx.upload("stats", &stats)?, ctx.upload("w", w)?, ctx.upload("b", b)?);
    let out = out_buf(ctx, "out", rows * d)?;
    let mut rec = Recorder::new(ctx);
    encode::batch_norm(&mut rec, &xb, &sb, &wb, &bb, &out, (rows, d), eps)?;
    rec.read(&out, 0, rows * d);
    run(rec).await
}

/// Per-feature batch statistics; returns `(mean (d), var (d))`.
pub async fn batch_stats(ctx: &GpuContext, x: &[f32], (rows, d): (usize, usize)) -> Result<(Vec<f32>, Vec<f32>)> {
    let xb = ctx.upload("x", x)?;
    let stats = out_buf(ctx, "stats", 2 * d)?;
    let mut rec = Recorder::new(ctx);
    encode::batch_stats(&mut rec, &xb, &stats, (rows, d))?;
    let (m, v) = (rec.read(&stats, 0, d), rec.read(&stats, d, d));
    let all = run(rec).await?;
    Ok((m.get(&all).to_vec(), v.get(&all).to_vec()))
}

/// Embedding gather + positional rows (+ token types): `(rows, d)`; `ids` are checked by the caller.
#[allow(clippy::too_many_arguments)]
pub async fn embed(
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
    let out = out_buf(ctx, "out", rows * d)?;
    let mut rec = Recorder::new(ctx);
    encode::embed(&mut rec, &ib, tb.as_ref().map(|(a, b)| (a, b)), &wb, &pb, &out, (rows, seq, d), scale)?;
    rec.read(&out, 0, rows * d);
    run(rec).await
}

/// Mean (over `lengths`) or first-token pooling of `x (batch, seq, d)`: `(batch, d)`.
pub async fn pool(ctx: &GpuContext, x: &[f32], lengths: &[usize], (batch, seq, d): (usize, usize, usize), cls: bool) -> Result<Vec<f32>> {
    let lens: Vec<u32> = lengths.iter().map(|&l| l as u32).collect();
    let (xb, lb) = (ctx.upload("x", x)?, ctx.upload("lengths", &lens)?);
    let out = out_buf(ctx, "out", batch * d)?;
    let mut rec = Recorder::new(ctx);
    encode::pool(&mut rec, &xb, &lb, &out, (batch, seq, d), cls)?;
    rec.read(&out, 0, batch * d);
    run(rec).await
}

/// Row softmax of `x (rows, n)`.
pub async fn softmax(ctx: &GpuContext, x: &[f32], (rows, n): (usize, usize)) -> Result<Vec<f32>> {
    let xb = ctx.upload("x", x)?;
    let out = out_buf(ctx, "out", rows * n)?;
    let mut rec = Recorder::new(ctx);
    encode::softmax(&mut rec, &xb, &out, (rows, n))?;
    rec.read(&out, 0, rows * n);
    run(rec).await
}

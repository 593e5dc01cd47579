//! `shaders/matmul.wgsl`: tiled `out (m, n) = act(x (m, k) · wᵀ + bias)`, or `out += …` (the fused
//! residual add), with 64×64 output tiles per workgroup (`main`), or 16×64 tiles held in registers for short
//! sequences and on adapters that emulate a GPU on the CPU (`main_rows`).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `matmul.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "matmul.wgsl",
    source: concat!(include_str!(concat!(env!("OUT_DIR"), "/shaders/include/activate.wgsl")), include_str!(concat!(env!("OUT_DIR"), "/shaders/matmul.wgsl"))),
    // x, w, bias, out, x as vec4, w as vec4
    storage: &[R, R, R, RW, R, R],
    params_size: size_of::<MatmulParams>(),
    entries: &["main", "main_rows"],
};

/// Rows at most for which `main_rows` (16-row tiles, registers only) is used instead of `main`'s 64 × 64
/// workgroup-memory tiles, on a hardware GPU. On an adapter that emulates a GPU on the CPU (SwiftShader,
/// lavapipe: workgroup memory is ordinary memory there and every barrier switches all invocations)
/// `main_rows` is used at every size: measured on SwiftShader, all-MiniLM-L6-v2 at 128 tokens took 5.8×
/// its 64-token time with `main`, against ≈ 4× for 4× the rows with `main_rows`.
pub const ROWS_MAX_M: usize = 64;

/// Most rows for `main_rows` on the adapter of `ctx` (see [`ROWS_MAX_M`]).
pub fn rows_max_m(ctx: &GpuContext) -> usize {
    // The 64 × 64 tile needs 8 KiB of workgroup memory (every WebGPU adapter has 16 KiB).
    let workgroup_memory = ctx.limits.max_compute_workgroup_storage_size >= 8192 && ctx.limits.max_compute_invocations_per_workgroup >= 256;
    if ctx.info.device_type == wgpu::DeviceType::Cpu || !workgroup_memory {
        usize::MAX
    } else {
        ROWS_MAX_M
    }
}

/// The entry point for `(m, k)`: `main_rows` (1) for up to `rows_max` rows ([`rows_max_m`]) with k in
/// whole vec4s, else `main` (0).
pub fn entry(m: usize, k: usize, rows_max: usize) -> usize {
    usize::from(m <= rows_max && k % 4 == 0)
}

/// Epilogue activation codes of `matmul.wgsl`.
pub mod act {
    /// No activation.
    pub const NONE: u32 = 0;
    /// ReLU.
    pub const RELU: u32 = 1;
    /// Exact GELU.
    pub const GELU: u32 = 2;
    /// Tanh-approximated GELU.
    pub const GELU_TANH: u32 = 3;
    /// tanh.
    pub const TANH: u32 = 4;
    /// SiLU.
    pub const SILU: u32 = 5;
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `matmul.wgsl`'s `Params`.
pub struct MatmulParams {
    /// Rows of x.
    pub m: u32,
    /// Output features (rows of W).
    pub n: u32,
    /// Input features.
    pub k: u32,
    /// One of the [`act`] codes.
    pub act: u32,
    /// 1: add the bias.
    pub has_bias: u32,
    /// 1: add into the output (residual).
    pub accumulate: u32,
    /// 1: use the vec4 load path.
    pub vec4: u32,
    /// Padding to 32 bytes.
    pub _pad: u32,
}

/// `out (m, n) = act(x (m, k) · wᵀ + bias)`, or `out += …` when `accumulate`, with the entry point
/// [`entry`] picks for the shape and adapter.
#[allow(clippy::too_many_arguments)]
pub fn record(
    rec: &mut Recorder,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
    out: &wgpu::Buffer,
    (m, k, n): (usize, usize, usize),
    act: u32,
    accumulate: bool,
) -> Result<()> {
    let e = entry(m, k, rows_max_m(&rec.ctx));
    record_entry(rec, e, x, w, bias, out, (m, k, n), act, accumulate)
}

/// As [`record`] with entry point `entry` (0 `main`, 1 `main_rows`, which needs k % 4 == 0).
#[allow(clippy::too_many_arguments)]
pub fn record_entry(
    rec: &mut Recorder,
    entry: usize,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
    out: &wgpu::Buffer,
    (m, k, n): (usize, usize, usize),
    act: u32,
    accumulate: bool,
) -> Result<()> {
    if entry == 1 && k % 4 != 0 {
        return Err(Error::Gpu(format!("matmul: main_rows needs k in whole vec4s (k = {k})")));
    }
    let p = MatmulParams {
        m: u(m),
        n: u(n),
        k: u(k),
        act,
        has_bias: bias.is_some() as u32,
        accumulate: accumulate as u32,
        vec4: (k % 4 == 0) as u32,
        _pad: 0,
    };
    let dummy = &rec.ctx.dummy.clone();
    let buffers = [x, w, bias.unwrap_or(dummy), out, x, w];
    match entry {
        0 => rec.dispatch(Kernel::Matmul, &p, &buffers, [u(n.div_ceil(64)), u(m.div_ceil(64)), 1]),
        e => rec.dispatch_entry(Kernel::Matmul, e, &p, &buffers, [u(n.div_ceil(64)), u(m.div_ceil(16)), 1]),
    }
}

/// Over host slices: `act(x (m, k) · wᵀ + bias)`, plus `residual` when given (the fused epilogue).
/// `act` as in [`act`]; `entry` as in [`record_entry`], or `None` for the one [`entry`] picks.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ctx: &GpuContext,
    entry: Option<usize>,
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
        None => out_buffer(ctx, "out", m * n)?,
    };
    let mut rec = Recorder::new(ctx);
    let e = entry.unwrap_or(self::entry(m, k, rows_max_m(ctx)));
    record_entry(&mut rec, e, &xb, &wb, bb.as_ref(), &out, (m, k, n), act, residual.is_some())?;
    rec.read(&out, 0, m * n);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(MatmulParams; m, n, k, act, has_bias, accumulate, vec4));
}

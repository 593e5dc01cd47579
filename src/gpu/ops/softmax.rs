//! `shaders/softmax.wgsl`: numerically stable row softmax (the classifier's probabilities).

use super::Access::{Read as R, ReadWrite as RW};
use super::{out_buffer, read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// `softmax.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "softmax.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/softmax.wgsl")),
    // x, out
    storage: &[R, RW],
    params_size: size_of::<SoftmaxParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `softmax.wgsl`'s `Params`.
pub struct SoftmaxParams {
    /// Rows.
    pub rows: u32,
    /// Values per row.
    pub n: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// Row softmax of `x (rows, n)` into `out`.
pub fn record(rec: &mut Recorder, x: &wgpu::Buffer, out: &wgpu::Buffer, (rows, n): (usize, usize)) -> Result<()> {
    rec.dispatch(Kernel::Softmax, &SoftmaxParams { rows: u(rows), n: u(n), _pad: [0; 2] }, &[x, out], [u(rows.div_ceil(64)), 1, 1])
}

/// Over host slices: row softmax of `x (rows, n)`.
pub async fn run(ctx: &GpuContext, x: &[f32], (rows, n): (usize, usize)) -> Result<Vec<f32>> {
    let xb = ctx.upload("x", x)?;
    let out = out_buffer(ctx, "out", rows * n)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &out, (rows, n))?;
    rec.read(&out, 0, rows * n);
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(SoftmaxParams; rows, n));
}

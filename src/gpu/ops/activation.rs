//! `shaders/activation.wgsl`: an element-wise activation in place (DeLighT: after each DExTra LayerNorm).

use super::Access::ReadWrite as RW;
use super::{read_back, u, Kernel, Shader};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use bytemuck::{Pod, Zeroable};

/// The kernel's registry entry.
pub const SHADER: Shader = Shader {
    file: "activation.wgsl",
    source: concat!(include_str!(concat!(env!("OUT_DIR"), "/shaders/include/activate.wgsl")), include_str!(concat!(env!("OUT_DIR"), "/shaders/activation.wgsl"))),
    // x
    storage: &[RW],
    params_size: size_of::<ActivationParams>(),
    entries: super::MAIN_ONLY,
};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// Mirror of `activation.wgsl`'s `Params`.
pub struct ActivationParams {
    /// Number of elements.
    pub len: u32,
    /// `matmul::act` codes.
    pub act: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// `x (len) = act(x)`.
pub fn record(rec: &mut Recorder, x: &wgpu::Buffer, len: usize, act: u32) -> Result<()> {
    let g = rec.grid(len.div_ceil(64))?;
    rec.dispatch(Kernel::Activation, &ActivationParams { len: u(len), act, _pad: [0; 2] }, &[x], g)
}

/// Over host slices.
pub async fn run(ctx: &GpuContext, x: &[f32], act: u32) -> Result<Vec<f32>> {
    let xb = ctx.upload("x", x)?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, x.len(), act)?;
    rec.read(&xb, 0, x.len());
    read_back(rec).await
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(ActivationParams; len, act));
}

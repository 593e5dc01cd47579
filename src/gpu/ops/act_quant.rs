//! `shaders/act_quant.wgsl`: the dynamic quantization parameters of an int8 linear's input (scale, zero
//! point, 1/scale and a finite flag) over the whole activation tensor, bit for bit as
//! [`crate::quant::quantize_activations`] chooses them (the shader emulates the CPU's f64 arithmetic with
//! integers). The matmul that follows ([`super::matmul_int8`]) quantizes its input tiles with them on load.

use super::Access::{Read as R, ReadWrite as RW};
use super::{read_back, u, Kernel, Shader};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::Recorder;
use crate::quant::ActQuant;
use bytemuck::{Pod, Zeroable};

/// `act_quant.wgsl` and its bindings.
pub const SHADER: Shader = Shader {
    file: "act_quant.wgsl",
    source: include_str!(concat!(env!("OUT_DIR"), "/shaders/act_quant.wgsl")),
    // x, qp
    storage: &[R, RW],
    params_size: size_of::<ActQuantParams>(),
    entries: super::MAIN_ONLY,
};

/// u32 words per tensor in the `qp` output: scale bits, zero point, 1/scale bits, finite flag.
pub const QP_WORDS: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
/// `act_quant.wgsl`'s `Params`.
pub struct ActQuantParams {
    /// Floats per tensor.
    pub len: u32,
    /// Tensors (one workgroup each).
    pub count: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// `qp (count, 4)` ← the parameters of each of the `count` tensors of `len` floats in `x`.
pub fn record(rec: &mut Recorder, x: &wgpu::Buffer, qp: &wgpu::Buffer, (len, count): (usize, usize)) -> Result<()> {
    let p = ActQuantParams { len: u(len), count: u(count), _pad: [0; 2] };
    rec.dispatch(Kernel::ActQuant, &p, &[x, qp], [u(count), 1, 1])
}

/// One tensor's parameters as the kernel wrote them (`None` when it holds a NaN or an infinity).
pub fn decode(words: &[f32]) -> Option<ActQuant> {
    let w: Vec<u32> = words.iter().map(|v| v.to_bits()).collect();
    (w.get(3) == Some(&1)).then(|| ActQuant { scale: f32::from_bits(w[0]), zero_point: w[1] as i32 })
}

/// Over host slices: the parameters (and `1/scale`) of each of the `count` tensors of `len` floats in `x`.
pub async fn run(ctx: &GpuContext, x: &[f32], (len, count): (usize, usize)) -> Result<Vec<Option<(ActQuant, f32)>>> {
    if x.len() != len * count || count == 0 {
        return Err(Error::Input(format!("act_quant: {} floats are not {count} tensors of {len}", x.len())));
    }
    let xb = ctx.upload("x", x)?;
    let qp = ctx.storage_buffer("qp", (count * QP_WORDS * 4) as u64, wgpu::BufferUsages::empty())?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &qp, (len, count))?;
    rec.read(&qp, 0, count * QP_WORDS);
    let words = read_back(rec).await?;
    Ok(words.chunks(QP_WORDS).map(|w| decode(w).map(|p| (p, w[2]))).collect())
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(ActQuantParams; len, count));
}

//! `shaders/act_quant.wgsl`: the dynamic quantization parameters of an int8 linear's input (scale, zero
//! point, 1/scale and a finite flag) over the whole activation tensor, bit for bit as
//! [`crate::quant::quantize_activations`] chooses them (the shader emulates the CPU's f64 arithmetic with
//! integers), on fbgemm's 7-bit grid or qnnpack's 8-bit one, the weight's f32 outlier columns left out of
//! the range. The matmul that follows ([`super::matmul_int8`]) quantizes its input tiles with them on load.

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
    // x, qp, cols
    storage: &[R, RW, R],
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
    /// The top of the grid: 127 (fbgemm's `reduce_range`) or 255 (qnnpack).
    pub qmax: u32,
    /// Floats per row (the outlier columns are columns of rows this long).
    pub k: u32,
    /// Outlier columns, listed in the `cols` binding.
    pub ncols: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 3],
}

/// The grid an int8 linear quantizes its input to, and the input columns left out of the range.
#[derive(Clone, Copy)]
pub struct Grid<'a> {
    /// 127 or 255.
    pub qmax: u32,
    /// `(buffer of the sorted columns, k, ncols)`, when the weight has outlier columns.
    pub outliers: Option<(&'a wgpu::Buffer, usize, usize)>,
}

/// `qp (count, 4)` ← the parameters of each of the `count` tensors of `len` floats in `x` on `grid`.
pub fn record(rec: &mut Recorder, x: &wgpu::Buffer, qp: &wgpu::Buffer, (len, count): (usize, usize), grid: Grid) -> Result<()> {
    let (cols, k, ncols) = grid.outliers.filter(|o| o.2 > 0).unwrap_or((&rec.ctx.dummy, 0, 0));
    if ncols > 0 && (k == 0 || len % k != 0) {
        return Err(Error::Input(format!("act_quant: tensors of {len} floats are not rows of {k}")));
    }
    let cols = cols.clone();
    let p = ActQuantParams { len: u(len), count: u(count), qmax: grid.qmax, k: u(k), ncols: u(ncols), _pad: [0; 3] };
    rec.dispatch(Kernel::ActQuant, &p, &[x, qp, &cols], [u(count), 1, 1])
}

/// One tensor's parameters as the kernel wrote them (`None` when it holds a NaN or an infinity).
pub fn decode(words: &[f32]) -> Option<ActQuant> {
    let w: Vec<u32> = words.iter().map(|v| v.to_bits()).collect();
    (w.get(3) == Some(&1)).then(|| ActQuant { scale: f32::from_bits(w[0]), zero_point: w[1] as i32 })
}

/// Over host slices: the parameters (and `1/scale`) of each of the `count` tensors of `len` floats in `x`,
/// on the grid `0..=qmax`, leaving out `columns` (sorted) of rows of `k` floats.
pub async fn run(ctx: &GpuContext, x: &[f32], (len, count): (usize, usize), qmax: u32, (columns, k): (&[u32], usize)) -> Result<Vec<Option<(ActQuant, f32)>>> {
    if x.len() != len * count || count == 0 {
        return Err(Error::Input(format!("act_quant: {} floats are not {count} tensors of {len}", x.len())));
    }
    let xb = ctx.upload("x", x)?;
    let qp = ctx.storage_buffer("qp", (count * QP_WORDS * 4) as u64, wgpu::BufferUsages::empty())?;
    let cols = (!columns.is_empty()).then(|| ctx.upload("outlier columns", columns)).transpose()?;
    let mut rec = Recorder::new(ctx);
    record(&mut rec, &xb, &qp, (len, count), Grid { qmax, outliers: cols.as_ref().map(|c| (c, k, columns.len())) })?;
    rec.read(&qp, 0, count * QP_WORDS);
    let words = read_back(rec).await?;
    Ok(words.chunks(QP_WORDS).map(|w| decode(w).map(|p| (p, w[2]))).collect())
}

#[test]
fn params_match_the_shader() {
    super::check_params(&SHADER, fields!(ActQuantParams; len, count, qmax, k, ncols));
}

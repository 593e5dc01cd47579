//! The GPU ops, one module per compute kernel beside its shader in `shaders/` (ratchet's `ops/*.rs`):
//! each holds the `Pod` mirror of its `var<uniform> params`, its storage binding list, its `record`
//! function (binds buffers in the shader's order and queues one dispatch on a [`Recorder`]) and its
//! host-slice `run`ner (upload, record, submit, read back — used by the kernel tests, never on the
//! forward path, which keeps everything on the device).
//!
//! [`Kernel`] is the one table registering them: WGSL file (included as written, never edited at run
//! time), bindings and params size per kernel, taken from each op's [`Shader`].

/// `&[(name, byte offset)]` of the listed fields of a params struct, for [`check_params`] in each op's
/// test.
#[cfg(test)]
macro_rules! fields {
    ($t:ty; $($f:ident),+) => { &[$((stringify!($f), std::mem::offset_of!($t, $f))),+] };
}

pub mod act_quant;
pub mod activation;
pub mod attention;
pub mod batch_norm;
pub mod batch_stats;
pub mod embed;
pub mod head_ablate;
pub mod glt;
pub mod layer_norm;
pub mod matmul;
pub mod matmul_f16;
pub mod matmul_int8;
pub mod pool;
pub mod softmax;

use crate::config::{Config, NormKind};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::encode::{Recorder, Scratch};
use crate::model::param::Precision;

/// The compute kernels of the forward pass, one WGSL file each in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Tiled `x · wᵀ + bias` with a fused activation / residual-add epilogue.
    Matmul,
    /// Fused scores → scale → padding mask → softmax → weighted sum of V (and optional probabilities).
    Attention,
    /// Per-row LayerNorm (also writes the row statistics).
    LayerNorm,
    /// BatchNorm1d applied with given (running or batch) statistics.
    BatchNorm,
    /// Per-feature batch mean and variance (train-mode BatchNorm, and the trace).
    BatchStats,
    /// Token embedding gather × scale + positional row (+ token type).
    Embed,
    /// Mean over real tokens, or the first token.
    Pool,
    /// Row softmax of the logits.
    Softmax,
    /// Head ablation: gated heads' context columns zeroed or mean-replaced before `out_proj`.
    HeadAblate,
    /// DeLighT's group linear transformation (mixer + grouped matmul + shuffle).
    Glt,
    /// Element-wise activation in place.
    Activation,
    /// An int8 linear's input quantization parameters (min/max reduction, fbgemm's qparams).
    ActQuant,
    /// int8 linear: input quantized on load, exact integer product, dequantizing epilogue.
    MatmulInt8,
    /// Linear over f16 weights, computed in f32.
    MatmulF16,
}

/// How a kernel's storage binding is accessed. Binding 0 is always the uniform `params`; the storage
/// bindings follow from 1 in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// What an op module registers about its shader.
pub struct Shader {
    /// File name in `shaders/`.
    pub file: &'static str,
    /// The WGSL source: the file in `shaders/`, after the `shaders/include/` functions it uses.
    pub source: &'static str,
    /// Storage bindings 1.. in the shader's order (binding 0 is the uniform params).
    pub storage: &'static [Access],
    /// Size in bytes of the params struct the shader declares (its `Pod` mirror).
    pub params_size: usize,
    /// Its compute entry points, `main` first: variants of the same op for other shapes (e.g. the
    /// matmul's register-tiled one for short sequences), each a pipeline sharing the bind group layout.
    pub entries: &'static [&'static str],
}

/// The entry points of a shader with only `main`.
pub const MAIN_ONLY: &[&str] = &["main"];

impl Kernel {
    /// Every kernel, in pipeline-cache order.
    pub const ALL: [Kernel; 14] = [
        Kernel::Matmul,
        Kernel::Attention,
        Kernel::LayerNorm,
        Kernel::BatchNorm,
        Kernel::BatchStats,
        Kernel::Embed,
        Kernel::Pool,
        Kernel::Softmax,
        Kernel::HeadAblate,
        Kernel::Glt,
        Kernel::Activation,
        Kernel::ActQuant,
        Kernel::MatmulInt8,
        Kernel::MatmulF16,
    ];

    /// The registry: each kernel's op module.
    pub fn shader(self) -> &'static Shader {
        match self {
            Kernel::Matmul => &matmul::SHADER,
            Kernel::Attention => &attention::SHADER,
            Kernel::LayerNorm => &layer_norm::SHADER,
            Kernel::BatchNorm => &batch_norm::SHADER,
            Kernel::BatchStats => &batch_stats::SHADER,
            Kernel::Embed => &embed::SHADER,
            Kernel::Pool => &pool::SHADER,
            Kernel::Softmax => &softmax::SHADER,
            Kernel::HeadAblate => &head_ablate::SHADER,
            Kernel::Glt => &glt::SHADER,
            Kernel::Activation => &activation::SHADER,
            Kernel::ActQuant => &act_quant::SHADER,
            Kernel::MatmulInt8 => &matmul_int8::SHADER,
            Kernel::MatmulF16 => &matmul_f16::SHADER,
        }
    }

    /// The kernel's file name in `shaders/`.
    pub fn file(self) -> &'static str {
        self.shader().file
    }

    /// The WGSL source: the file in `shaders/`, after the `shaders/include/` functions it uses.
    pub fn source(self) -> &'static str {
        self.shader().source
    }

    /// The WGSL source a device compiles: [`Kernel::source`], except the int8 matmul's `dot4I8Packed`
    /// variant ([`matmul_int8::SOURCE_PACKED`]) where `packed_dot4` (the language feature is there).
    pub fn source_on(self, packed_dot4: bool) -> &'static str {
        match self {
            Kernel::MatmulInt8 if packed_dot4 => matmul_int8::SOURCE_PACKED,
            _ => self.source(),
        }
    }

    /// Storage bindings 1.. in order (binding 0 is the uniform params).
    pub fn storage(self) -> &'static [Access] {
        self.shader().storage
    }

    /// Size in bytes of the params struct the shader declares (its `Pod` mirror in the op module).
    pub fn params_size(self) -> usize {
        self.shader().params_size
    }

    /// Its compute entry points, `main` first (index 0 is the default variant).
    pub fn entries(self) -> &'static [&'static str] {
        self.shader().entries
    }
}

/// The pipelines — (kernel, entry point) — a forward of a short text (at most [`matmul::ROWS_MAX_M`]
/// tokens) by a model of config `c` runs (classification, embeddings, traces): the engine builds these at
/// load. The rest are built at their first use: the matmul's `main` tiles for longer inputs on a hardware
/// GPU (a software adapter uses `main_rows` at every size), the int8 and f16 matmuls for weights of
/// another precision than the config's, batch statistics (BatchNorm in batch mode or with its statistics
/// traced), head ablation. A pipeline missing here is only built later, never wrong.
pub fn forward_pipelines(c: &Config) -> Vec<(Kernel, usize)> {
    let head_dim = c.delight.as_ref().map_or(c.head_dim(), |d| d.d_o);
    let rows = matmul::entry(1, c.hidden_size, usize::MAX).min(matmul::entry(1, c.ffn_size, usize::MAX));
    let mut p = vec![(Kernel::Embed, 0), (Kernel::Attention, attention::entry(head_dim)), (Kernel::Pool, 0), (Kernel::Matmul, rows)];
    match c.precision {
        Precision::F32 => {}
        Precision::Int8 => p.extend([(Kernel::ActQuant, 0), (Kernel::MatmulInt8, 0)]),
        Precision::F16 => p.push((Kernel::MatmulF16, 0)),
    }
    if c.norm == NormKind::Layer || c.embedding_norm || c.delight.is_some() {
        p.push((Kernel::LayerNorm, 0));
    }
    if c.norm == NormKind::Batch {
        p.push((Kernel::BatchNorm, 0));
    }
    if c.delight.is_some() {
        p.extend([(Kernel::Glt, 0), (Kernel::Activation, 0)]);
    }
    if !c.labels.is_empty() {
        p.push((Kernel::Softmax, 0));
    }
    p
}

fn u(v: usize) -> u32 {
    v as u32
}

/// An output buffer of `floats` values for a host-slice runner.
fn out_buffer(ctx: &GpuContext, name: &str, floats: usize) -> Result<wgpu::Buffer> {
    ctx.storage_buffer(name, floats as u64 * 4, wgpu::BufferUsages::empty())
}

/// Submit a runner's recording and return its readback.
async fn read_back(rec: Recorder) -> Result<Vec<f32>> {
    Ok(rec.submit(&mut Scratch::default()).await?.0)
}

/// An op's test, no adapter needed: the shader's `var<uniform> params` struct (reflected by naga) has
/// the registered size and, apart from `_pad…` members, exactly `fields` — same names, same byte
/// offsets — so a reordered or retyped-to-a-different-size field fails here, not as wrong numbers on a
/// GPU. (Bindings and access are checked for every kernel in `tests/shaders.rs`.)
#[cfg(test)]
fn check_params(shader: &Shader, fields: &[(&str, usize)]) {
    let module = naga::front::wgsl::parse_str(shader.source).unwrap_or_else(|e| panic!("{}: {}", shader.file, e.emit_to_string(shader.source)));
    let params = module.global_variables.iter().find(|(_, v)| v.space == naga::AddressSpace::Uniform).map(|(_, v)| v.ty);
    let Some(naga::TypeInner::Struct { members, span }) = params.map(|ty| &module.types[ty].inner) else {
        panic!("{}: no uniform params struct", shader.file);
    };
    assert_eq!(*span as usize, shader.params_size, "{}: params size in WGSL vs its Pod struct", shader.file);
    let wgsl: Vec<(&str, usize)> =
        members.iter().filter_map(|m| m.name.as_deref().filter(|n| !n.starts_with('_')).map(|n| (n, m.offset as usize))).collect();
    assert_eq!(wgsl, fields, "{}: params members (name, offset) in WGSL vs its Pod struct", shader.file);
}

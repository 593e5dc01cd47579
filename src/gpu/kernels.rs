//! Every compute kernel, registered in one place: its WGSL file (included as written, never edited at
//! run time), its binding list, and the `Pod` struct that mirrors its `var<uniform> params`.

use bytemuck::{Pod, Zeroable};

/// The compute kernels of the forward pass, one WGSL file each in `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Tiled `x · wᵀ + bias` with a fused activation / residual-add epilogue.
    Matmul,
    /// Fused scores → scale → padding mask → softmax → weighted sum of V (and optional probabilities).
    Attention,
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
}

/// How a kernel's storage binding is accessed. Binding 0 is always the uniform `params`; the storage
/// bindings follow from 1 in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

use Access::{Read as R, ReadWrite as RW};

impl Kernel {
    pub const ALL: [Kernel; 8] = [
        Kernel::Matmul,
        Kernel::Attention,
        Kernel::LayerNorm,
        Kernel::BatchNorm,
        Kernel::BatchStats,
        Kernel::Embed,
        Kernel::Pool,
        Kernel::Softmax,
    ];

    pub fn file(self) -> &'static str {
        match self {
            Kernel::Matmul => "matmul.wgsl",
            Kernel::Attention => "attention.wgsl",
            Kernel::LayerNorm => "layer_norm.wgsl",
            Kernel::BatchNorm => "batch_norm.wgsl",
            Kernel::BatchStats => "batch_stats.wgsl",
            Kernel::Embed => "embed.wgsl",
            Kernel::Pool => "pool.wgsl",
            Kernel::Softmax => "softmax.wgsl",
        }
    }

    /// The WGSL source, exactly as in `shaders/`.
    pub fn source(self) -> &'static str {
        match self {
            Kernel::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Kernel::Attention => include_str!("../../shaders/attention.wgsl"),
            Kernel::LayerNorm => include_str!("../../shaders/layer_norm.wgsl"),
            Kernel::BatchNorm => include_str!("../../shaders/batch_norm.wgsl"),
            Kernel::BatchStats => include_str!("../../shaders/batch_stats.wgsl"),
            Kernel::Embed => include_str!("../../shaders/embed.wgsl"),
            Kernel::Pool => include_str!("../../shaders/pool.wgsl"),
            Kernel::Softmax => include_str!("../../shaders/softmax.wgsl"),
        }
    }

    /// Storage bindings 1.. in order (binding 0 is the uniform params).
    pub fn storage(self) -> &'static [Access] {
        match self {
            // x, w, bias, out, x as vec4, w as vec4
            Kernel::Matmul => &[R, R, R, RW, R, R],
            // qkv, lengths, out, probs
            Kernel::Attention => &[R, R, RW, RW],
            // x, weight, bias, out, stats
            Kernel::LayerNorm => &[R, R, R, RW, RW],
            // x, stats, weight, bias, out
            Kernel::BatchNorm => &[R, R, R, R, RW],
            // x, stats
            Kernel::BatchStats => &[R, RW],
            // ids, type_ids, word, position, token_type, out
            Kernel::Embed => &[R, R, R, R, R, RW],
            // x, lengths, out
            Kernel::Pool => &[R, R, RW],
            // x, out
            Kernel::Softmax => &[R, RW],
        }
    }

    /// Size in bytes of the params struct the shader declares (its `Pod` mirror below).
    pub fn params_size(self) -> usize {
        match self {
            Kernel::Matmul => size_of::<MatmulParams>(),
            Kernel::Attention => size_of::<AttentionParams>(),
            Kernel::LayerNorm | Kernel::BatchNorm => size_of::<NormParams>(),
            Kernel::BatchStats => size_of::<StatsParams>(),
            Kernel::Embed => size_of::<EmbedParams>(),
            Kernel::Pool => size_of::<PoolParams>(),
            Kernel::Softmax => size_of::<SoftmaxParams>(),
        }
    }
}

/// Epilogue activation codes of `matmul.wgsl`.
pub mod act {
    pub const NONE: u32 = 0;
    pub const RELU: u32 = 1;
    pub const GELU: u32 = 2;
    pub const GELU_TANH: u32 = 3;
    pub const TANH: u32 = 4;
    pub const SILU: u32 = 5;
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub act: u32,
    pub has_bias: u32,
    pub accumulate: u32,
    pub vec4: u32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AttentionParams {
    pub batch: u32,
    pub seq: u32,
    pub heads: u32,
    pub head_dim: u32,
    pub scale: f32,
    pub write_probs: u32,
    pub _pad: [u32; 2],
}

/// `layer_norm.wgsl` and `batch_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct NormParams {
    pub rows: u32,
    pub d: u32,
    pub eps: f32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StatsParams {
    pub rows: u32,
    pub d: u32,
    pub _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct EmbedParams {
    pub rows: u32,
    pub seq: u32,
    pub d: u32,
    pub has_types: u32,
    pub scale: f32,
    pub _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PoolParams {
    pub batch: u32,
    pub seq: u32,
    pub d: u32,
    /// 0 mean over real tokens, 1 first token.
    pub mode: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SoftmaxParams {
    pub rows: u32,
    pub n: u32,
    pub _pad: [u32; 2],
}

/// Largest head dimension `attention.wgsl` supports (its per-thread query and accumulator arrays).
pub const MAX_HEAD_DIM: usize = 128;

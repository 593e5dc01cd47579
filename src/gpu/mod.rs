//! The GPU backend: the whole encoder forward as WGSL compute shaders (one file per op in `shaders/`)
//! through wgpu — WebGPU in the browser, Vulkan natively.
//!
//! - [`ops`]: one module per kernel beside its shader (params struct, bindings, `record`, host-slice
//!   `run` for the kernel tests), registered in one table, [`ops::Kernel`].
//! - [`context`]: device, queue, pipelines and layouts, built once; health (device lost / errors).
//! - [`encode`]: the [`encode::Recorder`]: a forward's dispatches into one encoder, one submit, one
//!   readback.
//! - [`backend`]: [`GpuBackend`], the model's ops recorded into one command stream; parameters uploaded
//!   once, activations pooled.

pub mod backend;
pub mod context;
pub mod encode;
pub mod ops;

pub use context::GpuContext;
pub use backend::GpuBackend;

//! The GPU backend: the whole encoder forward as WGSL compute shaders (one file per op in `shaders/`)
//! through wgpu — WebGPU in the browser, Vulkan natively.
//!
//! - [`kernels`]: the kernel registry (sources, bindings, params structs).
//! - [`context`]: device, queue, pipelines and layouts, built once; health (device lost / errors).
//! - [`encode`]: recording a forward into one encoder, one submit, one readback; per-kernel helpers.
//! - [`backend`]: [`GpuBackend`], the model's ops recorded into one command stream; parameters uploaded
//!   once, activations pooled.
//! - [`ops`]: single-kernel runners over host slices (used by the kernel tests).

pub mod backend;
pub mod context;
pub mod encode;
pub mod kernels;
pub mod ops;

pub use context::GpuContext;
pub use backend::GpuBackend;

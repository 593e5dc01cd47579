//! CPU path: the kernels (the `encoder-lens-kernels` crate, re-exported here: `scalar` reference,
//! `simd128` kernels, the thread pool) and what runs the model on them (`backend`, `quant`'s f16 / int8
//! linears over the model's weights).

pub mod backend;
pub mod quant;

pub use backend::{forward, forward_observed, CpuBackend, LinearObserver};
pub use encoder_lens_kernels::*;

//! encoder-lens: a Transformer encoder text classifier that computes what PyTorch computes, on the CPU
//! (scalar reference + SIMD) and on WebGPU, and records what happens inside it for the page to draw.

pub mod batch;
pub mod config;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod explain;
pub mod gpu;
pub mod hf;
pub mod model;
pub mod pipeline;
pub mod teach;
pub mod tensor;
pub mod tokenizer;
pub mod trace;
pub mod weights;
// What the page draws beyond one forward pass (the LN-vs-BN batch experiment, PE similarity).
pub mod inspect;

#[cfg(not(target_arch = "wasm32"))]
pub mod embedded;
#[cfg(not(target_arch = "wasm32"))]
pub mod folder;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(all(target_arch = "wasm32", feature = "bench"))]
pub mod bench;

pub use config::Config;
pub use engine::{Backend, Engine};
pub use error::{Error, Result};
pub use hf::{HfFiles, HfOverrides};
pub use batch::Batch;
pub use model::{Ablation, AblationMode, BatchNormStats, ForwardOptions, Model, Output};
pub use pipeline::{Classification, Classifier, Prediction};
pub use tensor::Tensor;
pub use tokenizer::{Encoding, Tokenizer};
pub use trace::{Trace, TraceRequest};

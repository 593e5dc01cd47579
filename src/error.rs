//! One error type for the whole crate. Nothing that input can reach panics: it returns one of these.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("invalid config: {0}")]
    Config(String),

    #[error("config JSON: {0}")]
    ConfigJson(#[from] serde_json::Error),

    #[error("weights file is not valid safetensors: {0}")]
    WeightsFormat(String),

    #[error("missing tensor `{0}` in weights")]
    MissingTensor(String),

    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape { name: String, expected: Vec<usize>, actual: Vec<usize> },

    #[error("tensor `{name}` has dtype {dtype}, expected a float type (F32, F16 or BF16)")]
    TensorDtype { name: String, dtype: String },

    #[error("vocabulary: {0}")]
    Vocab(String),

    #[error("input: {0}")]
    Input(String),

    #[error("token id {id} at position {pos} is outside the vocabulary of {vocab} tokens")]
    TokenId { id: u32, pos: usize, vocab: usize },

    /// A forward pass produced NaN or infinite numbers.
    #[error("non-finite result: {0}")]
    NonFinite(String),

    #[error("GPU: {0}")]
    Gpu(String),

    /// The input is too large for this GPU's limits (the GPU itself is fine).
    #[error("GPU limit: {0}")]
    GpuLimit(String),
}

pub type Result<T> = std::result::Result<T, Error>;

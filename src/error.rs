//! One error type for the whole crate. Nothing that input can reach panics: it returns one of these.

use thiserror::Error;

#[derive(Debug, Error)]
/// Everything that can go wrong, from reading files to running on the GPU.
pub enum Error {
    #[error("invalid config: {0}")]
    /// A config value is missing, out of range or inconsistent.
    Config(String),

    #[error("config JSON: {0}")]
    /// `config.json` is not valid JSON or has unknown / mistyped fields.
    ConfigJson(#[from] serde_json::Error),

    #[error("weights file is not valid safetensors: {0}")]
    /// The weights are not a valid safetensors file.
    WeightsFormat(String),

    #[error("missing tensor `{0}` in weights")]
    /// A tensor the model needs is not in the weights (its full name).
    MissingTensor(String),

    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    /// A tensor's shape differs from what the config implies.
    TensorShape {
        /// The tensor's full name.
        name: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape in the file.
        actual: Vec<usize>,
    },

    #[error("tensor `{name}` has dtype {dtype}, expected a float type (F32, F16 or BF16)")]
    /// A tensor is stored in a dtype the engine cannot read.
    TensorDtype {
        /// The tensor's full name.
        name: String,
        /// The dtype in the file.
        dtype: String,
    },

    #[error("vocabulary: {0}")]
    /// `vocab.txt` is unusable or does not match the config.
    Vocab(String),

    #[error("input: {0}")]
    /// Bad input: no texts, too many, too long, unreadable.
    Input(String),

    #[error("{0}")]
    /// Reading a model file failed (in the browser: the caller's read the engine awaited), with its message.
    Read(String),

    #[error("token id {id} at position {pos} is outside the vocabulary of {vocab} tokens")]
    /// A token id is outside the vocabulary.
    TokenId {
        /// The id.
        id: u32,
        /// Its position in the row.
        pos: usize,
        /// Vocabulary size.
        vocab: usize,
    },

    /// A forward pass produced NaN or infinite numbers.
    #[error("non-finite result: {0}")]
    NonFinite(String),

    #[error("GPU: {0}")]
    /// The GPU is unavailable or failed (device lost, submit or readback error).
    Gpu(String),

    /// The input is too large for this GPU's limits (the GPU itself is fine).
    #[error("GPU limit: {0}")]
    GpuLimit(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

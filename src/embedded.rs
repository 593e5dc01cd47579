//! The default models, compiled into native builds (the CLI and tests). The browser fetches the same
//! files instead of carrying them inside the .wasm.

use crate::error::Result;
use crate::pipeline::Classifier;

/// The files of a model compiled into the binary.
pub struct ModelFiles {
    /// Folder name under `models/`.
    pub name: &'static str,
    /// `config.json`.
    pub config: &'static str,
    /// `model.safetensors`.
    pub weights: &'static [u8],
    /// `vocab.txt`.
    pub vocab: &'static str,
}

/// The default LayerNorm sentiment model (`models/sentiment-ln`).
pub const SENTIMENT_LN: ModelFiles = ModelFiles {
    name: "sentiment-ln",
    config: include_str!("../models/sentiment-ln/config.json"),
    weights: include_bytes!("../models/sentiment-ln/model.safetensors"),
    vocab: include_str!("../models/sentiment-ln/vocab.txt"),
};


impl ModelFiles {
    /// Build a [`Classifier`] from these files.
    pub fn load(&self) -> Result<Classifier> {
        Classifier::from_bytes(self.config, self.weights, self.vocab)
    }
}

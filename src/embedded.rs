//! The default models, compiled into native builds (the CLI and tests). The browser fetches the same
//! files instead of carrying them inside the .wasm.

use crate::error::Result;
use crate::pipeline::Classifier;

pub struct ModelFiles {
    pub name: &'static str,
    pub config: &'static str,
    pub weights: &'static [u8],
    pub vocab: &'static str,
}

pub const SENTIMENT_LN: ModelFiles = ModelFiles {
    name: "sentiment-ln",
    config: include_str!("../models/sentiment-ln/config.json"),
    weights: include_bytes!("../models/sentiment-ln/model.safetensors"),
    vocab: include_str!("../models/sentiment-ln/vocab.txt"),
};

pub const SENTIMENT_BN: ModelFiles = ModelFiles {
    name: "sentiment-bn",
    config: include_str!("../models/sentiment-bn/config.json"),
    weights: include_bytes!("../models/sentiment-bn/model.safetensors"),
    vocab: include_str!("../models/sentiment-bn/vocab.txt"),
};

impl ModelFiles {
    pub fn load(&self) -> Result<Classifier> {
        Classifier::from_bytes(self.config, self.weights, self.vocab)
    }
}

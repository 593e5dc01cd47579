//! Model configuration: an HF-style `config.json`, parsed with serde and validated before any weight is read.

use crate::error::{Error, Result};
pub use crate::model::param::{ActivationGrid, Precision};
use serde::{Deserialize, Serialize};

pub use encoder_lens_kernels::Activation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// Which normalisation the layers use.
pub enum NormKind {
    /// `nn.LayerNorm(hidden)`: statistics per token over its features.
    Layer,
    /// `nn.BatchNorm1d(hidden)` over features, eval mode: running statistics.
    Batch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// How positions enter the embeddings.
pub enum PositionalEncoding {
    /// The fixed sin/cos table of "Attention is all you need", as the PyTorch tutorial computes it.
    Sinusoidal,
    /// A learned `(max_len, hidden)` table (BERT).
    Learned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// How token states become one vector per text.
pub enum Pooling {
    /// Mean of the final hidden states over real (non-padding) tokens.
    Mean,
    /// The first token's (`[CLS]`) final hidden state.
    Cls,
}

/// Which checkpoint naming family the weights follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// This project's PyTorch `nn.TransformerEncoder` classifier (`scripts/model.py`).
    EncoderClassifier,
    /// Hugging Face `BertModel` / `BertForSequenceClassification` names.
    Bert,
    /// DeLighT blocks (`scripts/delight.py`, the authors' fairseq names) between this project's
    /// embeddings and head; sizes in [`Config::delight`].
    #[serde(rename = "delight_classifier")]
    Delight,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A model's shape and options: this project's `config.json`, or one derived from a Hugging Face BERT
/// folder ([`Config::from_hf_bert_json`]). Validated before any weight is read.
pub struct Config {
    /// Which checkpoint naming family the weights follow.
    pub architecture: Architecture,
    /// Tokens in the vocabulary (rows of the word embedding).
    pub vocab_size: usize,
    /// Model width `d`.
    pub hidden_size: usize,
    /// Attention heads per layer; `hidden_size` must be a multiple of it.
    pub num_heads: usize,
    /// Encoder layers.
    pub num_layers: usize,
    /// Width of the feed-forward block.
    pub ffn_size: usize,
    /// Feed-forward activation.
    pub activation: Activation,
    /// LayerNorm or BatchNorm in the layers.
    pub norm: NormKind,
    /// Pre-norm (`norm_first=True`): `x + f(norm(x))` instead of `norm(x + f(x))`.
    pub norm_first: bool,
    /// The norms' epsilon.
    pub norm_eps: f32,
    /// A norm after the last layer (`TransformerEncoder(norm=...)`).
    pub final_norm: bool,
    /// Sinusoidal or learned positions.
    pub positional_encoding: PositionalEncoding,
    /// Multiply token embeddings by sqrt(hidden) (the PyTorch tutorial does).
    pub embedding_scale: bool,
    /// LayerNorm after summing the embeddings (BERT).
    pub embedding_norm: bool,
    /// Number of token types (segments); 0 = none.
    pub type_vocab_size: usize,
    /// Longest token sequence, special tokens included.
    pub max_len: usize,
    /// Rows of a learned position table when it is longer than `max_len` (HF `max_position_embeddings`,
    /// e.g. 512 for MiniLM, which sentence-transformers truncates to 256 tokens). Absent: `max_len`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position_embeddings: Option<usize>,
    /// Mean or `[CLS]` pooling.
    pub pooling: Pooling,
    /// BERT pooler: tanh(dense(pooled)) before the classifier.
    pub pooler: bool,
    /// Class names; empty for an encoder without a classifier head (embeddings only).
    pub labels: Vec<String>,
    /// Id of `[PAD]`; must match the vocabulary.
    pub pad_token_id: u32,
    /// Lower-case (and strip accents) in the tokenizer.
    pub lowercase: bool,
    /// How the linear weights are stored: `f32` (default, omitted), `f16` or `int8`.
    #[serde(default, skip_serializing_if = "is_f32")]
    pub precision: Precision,
    /// The grid int8 linears quantize their input to at each forward: `u7` (fbgemm, default, omitted) or
    /// `u8` (qnnpack). Only with `precision` int8.
    #[serde(default, skip_serializing_if = "is_u7")]
    pub activation_range: ActivationGrid,
    /// The DeLighT sizes (architecture `delight_classifier` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delight: Option<crate::model::delight::DelightConfig>,
}

fn is_f32(p: &Precision) -> bool {
    *p == Precision::F32
}

fn is_u7(a: &ActivationGrid) -> bool {
    *a == ActivationGrid::U7
}

impl Config {
    /// Parse and validate this project's `config.json`.
    pub fn from_json(text: &str) -> Result<Self> {
        let config: Config = serde_json::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Width of one attention head: `hidden_size / num_heads`.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Rows of the positional table: `max_position_embeddings` if given, else `max_len`.
    pub fn position_rows(&self) -> usize {
        self.max_position_embeddings.unwrap_or(self.max_len)
    }

    /// Number of classes (0 for an encoder without a classifier head).
    pub fn num_labels(&self) -> usize {
        self.labels.len()
    }

    /// Check that the sizes are positive and consistent (an [`Error::Config`] naming the problem).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.hidden_size == 0 || self.num_heads == 0 || self.ffn_size == 0 || self.vocab_size == 0 {
            return bad("hidden_size, num_heads, ffn_size and vocab_size must be positive".into());
        }
        if self.activation_range != ActivationGrid::U7 && self.precision != Precision::Int8 {
            return bad(format!(
                "activation_range {} is for int8 models, but precision is {}",
                self.activation_range.name(),
                self.precision.name()
            ));
        }
        if self.hidden_size % self.num_heads != 0 {
            return bad(format!(
                "num_heads ({}) does not divide hidden_size ({})",
                self.num_heads, self.hidden_size
            ));
        }
        if self.max_len < 2 {
            return bad(format!("max_len must be at least 2 ([CLS] and [SEP]), got {}", self.max_len));
        }
        if let Some(p) = self.max_position_embeddings {
            if p < self.max_len || p > 1 << 28 {
                return bad(format!("max_position_embeddings ({p}) must be at least max_len ({})", self.max_len));
            }
        }
        if self.positional_encoding == PositionalEncoding::Sinusoidal && self.hidden_size % 2 != 0 {
            return bad(format!("sinusoidal positional encoding needs an even hidden_size, got {}", self.hidden_size));
        }
        if !(self.norm_eps > 0.0 && self.norm_eps.is_finite()) {
            return bad(format!("norm_eps must be a positive number, got {}", self.norm_eps));
        }
        if self.pad_token_id as usize >= self.vocab_size {
            return bad(format!("pad_token_id {} is outside vocab_size {}", self.pad_token_id, self.vocab_size));
        }
        // Guard against absurd sizes that would only fail later as an allocation abort.
        let limit = 1usize << 28;
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("ffn_size", self.ffn_size),
            ("max_len", self.max_len),
        ] {
            if v > limit {
                return bad(format!("{name} = {v} is larger than this engine supports"));
            }
        }
        if self.num_layers > 1024 || self.num_heads > 4096 {
            return bad("num_layers or num_heads is larger than this engine supports".into());
        }
        match (self.architecture, &self.delight) {
            (Architecture::Delight, Some(d)) => d.validate(self)?,
            (Architecture::Delight, None) => return bad("architecture delight_classifier needs a `delight` object".into()),
            (_, Some(_)) => return bad("`delight` is only for architecture delight_classifier".into()),
            (_, None) => {}
        }
        Ok(())
    }
}

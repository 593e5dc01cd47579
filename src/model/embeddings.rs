//! Token embedding (optionally scaled by sqrt(d)), positional encoding (sinusoidal or learned), optional
//! token-type embedding and LayerNorm (BERT).

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::{Architecture, Config, NormKind, PositionalEncoding};
use crate::error::{Error, Result};
use crate::model::norm::Norm;
use crate::model::param::Param;
use crate::model::BatchNormStats;
use crate::tensor::Tensor;
use crate::trace::TraceRequest;
use crate::weights::Scope;

#[derive(Clone, Debug)]
/// Token + position (+ token type) embeddings, scaled and optionally normalised.
pub struct Embeddings {
    /// Word embeddings.
    pub word: Param,               // (vocab, d)
    /// The sinusoidal or learned position table.
    pub position: Param,           // (position_rows, d): the sinusoidal table or the learned one
    /// Token type embeddings (BERT).
    pub token_type: Option<Param>, // (type_vocab, d)
    /// LayerNorm after the sum (BERT).
    pub norm: Option<Norm>,        // LayerNorm after the sum (BERT)
    /// Factor on the word embedding: sqrt(d) or 1.
    pub scale: f32,                // sqrt(d) or 1
    /// Sinusoidal or learned.
    pub positional: PositionalEncoding,
}

/// The sinusoidal table exactly as the PyTorch tutorial computes it in float32:
/// `div_term = exp(arange(0, d, 2) · (−ln 10000 / d))`, `pe[:, 0::2] = sin(pos · div)`, `pe[:, 1::2] = cos(pos · div)`.
pub fn sinusoidal_table(max_len: usize, d: usize) -> Tensor {
    let c = (-(10000.0f64).ln() / d as f64) as f32;
    let div: Vec<f32> = (0..d / 2).map(|i| ((2 * i) as f32 * c).exp()).collect();
    let mut pe = vec![0.0f32; max_len * d];
    for pos in 0..max_len {
        for (i, &dv) in div.iter().enumerate() {
            let a = pos as f32 * dv;
            pe[pos * d + 2 * i] = a.sin();
            pe[pos * d + 2 * i + 1] = a.cos();
        }
    }
    Tensor { shape: vec![max_len, d], data: pe }
}

impl Embeddings {
    /// Read the embedding tables under `w` (or compute the sinusoidal table).
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let d = c.hidden_size;
        let (word_name, pos_name, type_name, norm_name) = match c.architecture {
            Architecture::EncoderClassifier | Architecture::Delight => ("embedding", "position_embedding", "token_type_embedding", "embedding_norm"),
            Architecture::Bert => {
                ("embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings", "embeddings.LayerNorm")
            }
        };
        let position = match c.positional_encoding {
            PositionalEncoding::Sinusoidal => sinusoidal_table(c.max_len, d),
            PositionalEncoding::Learned => w.pp(pos_name).get_table("weight", &[c.position_rows(), d])?,
        };
        let token_type =
            if c.type_vocab_size > 0 { Some(Param::new(w.pp(type_name).get_table("weight", &[c.type_vocab_size, d])?)) } else { None };
        let norm = if c.embedding_norm { Some(Norm::load(&w.pp(norm_name), NormKind::Layer, d, c.norm_eps)?) } else { None };
        Ok(Self {
            word: Param::new(w.pp(word_name).get_table("weight", &[c.vocab_size, d])?),
            position: Param::new(position),
            token_type,
            norm,
            scale: if c.embedding_scale { (d as f32).sqrt() } else { 1.0 },
            positional: c.positional_encoding,
        })
    }

    /// Model width `d`.
    pub fn dim(&self) -> usize {
        self.word.shape()[1]
    }

    /// Tokens in the vocabulary.
    pub fn vocab(&self) -> usize {
        self.word.shape()[0]
    }

    /// Its parameters (for upload to a backend).
    pub fn params(&self) -> Vec<&Param> {
        let mut p = vec![&self.word, &self.position];
        p.extend(&self.token_type);
        if let Some(n) = &self.norm {
            p.extend(n.params());
        }
        p
    }

    /// Every id inside the vocabulary, every token type inside the type vocabulary: checked on the host,
    /// once, before any backend reads them.
    pub fn check_ids(&self, batch: &Batch) -> Result<()> {
        let vocab = self.vocab();
        if let Some((row, &id)) = batch.ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
            return Err(Error::TokenId { id, pos: row % batch.seq, vocab });
        }
        let types = self.token_type.as_ref().map_or(1, |t| t.shape()[0]);
        if let Some(&bad) = batch.type_ids.iter().flatten().find(|&&t| t as usize >= types) {
            return Err(Error::Input(format!("token type {bad} is outside type_vocab_size {types}")));
        }
        Ok(())
    }

    /// `(batch·seq, d)` embeddings of the padded batch (after BERT's LayerNorm, which the trace does not record).
    pub fn forward<B: Backend>(&self, be: &mut B, batch: &Batch) -> Result<B::Tensor> {
        let x = be.embed(self, batch)?;
        match &self.norm {
            None => Ok(x),
            Some(n) => {
                let (y, _) = n.forward(be, &x, batch, BatchNormStats::Running, &TraceRequest::NONE)?;
                be.release(x);
                Ok(y)
            }
        }
    }
}

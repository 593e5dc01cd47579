//! Token embedding (optionally scaled by sqrt(d)), positional encoding (sinusoidal or learned), optional
//! token-type embedding and LayerNorm (BERT).

use crate::config::{Architecture, Config, NormKind, PositionalEncoding};
use crate::error::{Error, Result};
use crate::model::norm::Norm;
use crate::model::Batch;
use crate::tensor::Tensor;
use crate::weights::Scope;

#[derive(Clone, Debug)]
pub struct Embeddings {
    pub word: Tensor,               // (vocab, d)
    pub position: Tensor,           // (position_rows, d): the sinusoidal table or the learned one
    pub token_type: Option<Tensor>, // (type_vocab, d)
    pub norm: Option<Norm>,         // LayerNorm after the sum (BERT)
    pub scale: f32,                 // sqrt(d) or 1
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
    pub fn load(w: &Scope, c: &Config) -> Result<Self> {
        let d = c.hidden_size;
        let (word_name, pos_name, type_name, norm_name) = match c.architecture {
            Architecture::EncoderClassifier => {
                ("embedding", "position_embedding", "token_type_embedding", "embedding_norm")
            }
            Architecture::Bert => {
                ("embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings", "embeddings.LayerNorm")
            }
        };
        let position = match c.positional_encoding {
            PositionalEncoding::Sinusoidal => sinusoidal_table(c.max_len, d),
            PositionalEncoding::Learned => w.pp(pos_name).get("weight", &[c.position_rows(), d])?,
        };
        let token_type = if c.type_vocab_size > 0 {
            Some(w.pp(type_name).get("weight", &[c.type_vocab_size, d])?)
        } else {
            None
        };
        let norm = if c.embedding_norm {
            Some(Norm::load(&w.pp(norm_name), NormKind::Layer, d, c.norm_eps)?)
        } else {
            None
        };
        Ok(Self {
            word: w.pp(word_name).get("weight", &[c.vocab_size, d])?,
            position,
            token_type,
            norm,
            scale: if c.embedding_scale { (d as f32).sqrt() } else { 1.0 },
            positional: c.positional_encoding,
        })
    }

    pub fn dim(&self) -> usize {
        self.word.shape[1]
    }

    /// `(batch·seq, d)` embeddings of the padded batch. Ids are checked against the vocabulary.
    pub fn forward(&self, batch: &Batch) -> Result<Vec<f32>> {
        let d = self.dim();
        let vocab = self.word.shape[0];
        let mut x = crate::model::scratch::take(batch.batch * batch.seq * d); // every element is written below
        for b in 0..batch.batch {
            for s in 0..batch.seq {
                let row = b * batch.seq + s;
                let id = batch.ids[row];
                if id as usize >= vocab {
                    return Err(Error::TokenId { id, pos: s, vocab });
                }
                let e = self.word.row(id as usize);
                let p = self.position.row(s);
                let out = &mut x[row * d..(row + 1) * d];
                for i in 0..d {
                    out[i] = e[i] * self.scale + p[i];
                }
                if let Some(tt) = &self.token_type {
                    let t = batch.type_ids.as_ref().map_or(0, |t| t[row]) as usize;
                    if t >= tt.shape[0] {
                        return Err(Error::Input(format!("token type {t} is outside type_vocab_size {}", tt.shape[0])));
                    }
                    for (o, v) in out.iter_mut().zip(tt.row(t)) {
                        *o += v;
                    }
                }
            }
        }
        if let Some(n) = &self.norm {
            // The embedding LayerNorm is not part of the trace's per-layer statistics.
            let y = n.forward(&x, batch.batch, batch.seq, crate::model::BatchNormStats::Running, false).0;
            crate::model::scratch::give(std::mem::replace(&mut x, y));
        }
        Ok(x)
    }
}

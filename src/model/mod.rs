//! The encoder classifier. The struct tree mirrors the checkpoint's name tree; `load` takes safetensors
//! bytes and a validated [`Config`]; `forward` runs the CPU reference path and can fill a [`Trace`].

pub mod attention;
pub mod embeddings;
pub mod layer;
pub mod linear;
pub mod norm;
pub mod scratch;

use crate::config::{Architecture, Config, Pooling};
use crate::cpu;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::trace::Trace;
use crate::weights::Weights;
use embeddings::Embeddings;
use layer::EncoderLayer;
use linear::Linear;
use norm::Norm;

/// A padded batch of token ids.
#[derive(Clone, Debug)]
pub struct Batch {
    pub ids: Vec<u32>,               // (batch, seq), padded with pad_token_id
    pub type_ids: Option<Vec<u32>>,  // (batch, seq)
    pub lengths: Vec<usize>,         // (batch): real tokens per row
    pub batch: usize,
    pub seq: usize,
}

impl Batch {
    /// Pad `rows` of ids to the longest one.
    pub fn from_rows(rows: &[Vec<u32>], pad: u32) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::Input("a batch needs at least one sequence".into()));
        }
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        if seq == 0 {
            return Err(Error::Input("a sequence needs at least one token".into()));
        }
        let mut ids = vec![pad; rows.len() * seq];
        for (b, r) in rows.iter().enumerate() {
            ids[b * seq..b * seq + r.len()].copy_from_slice(r);
        }
        Ok(Self { ids, type_ids: None, lengths: rows.iter().map(Vec::len).collect(), batch: rows.len(), seq })
    }

    pub(crate) fn check(&self, max_len: usize) -> Result<()> {
        if self.batch == 0 || self.seq == 0 {
            return Err(Error::Input("empty batch".into()));
        }
        if self.seq > max_len {
            return Err(Error::Input(format!("sequence of {} tokens is longer than max_len {max_len}", self.seq)));
        }
        if self.ids.len() != self.batch * self.seq || self.lengths.len() != self.batch {
            return Err(Error::Input("batch ids/lengths do not match its shape".into()));
        }
        if let Some(t) = &self.type_ids {
            if t.len() != self.ids.len() {
                return Err(Error::Input("type_ids do not match the batch shape".into()));
            }
        }
        if let Some(&l) = self.lengths.iter().find(|&&l| l == 0 || l > self.seq) {
            return Err(Error::Input(format!("sequence length {l} is outside 1..={}", self.seq)));
        }
        Ok(())
    }
}

/// Which statistics BatchNorm layers normalise with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormStats {
    /// Eval mode: the running statistics learned in training (PyTorch `model.eval()`).
    #[default]
    Running,
    /// Train-mode normalisation: this batch's own per-feature statistics over all batch × positions,
    /// padding included. Shows how BN's output depends on what else is in the batch.
    Batch,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ForwardOptions {
    pub batch_norm: BatchNormStats,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub hidden: Tensor,         // (batch, seq, d): final hidden states
    pub pooled: Tensor,         // (batch, d): after pooling (and pooler, if any)
    pub logits: Option<Tensor>, // (batch, labels)
    pub probs: Option<Tensor>,  // (batch, labels): softmax(logits)
}

#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    pub embeddings: Embeddings,
    pub layers: Vec<EncoderLayer>,
    pub final_norm: Option<Norm>,
    pub pooler: Option<Linear>,     // (d, d), tanh
    pub classifier: Option<Linear>, // (labels, d)
}

impl Model {
    pub fn from_bytes(config: Config, bytes: &[u8]) -> Result<Self> {
        Self::from_weights(config, &Weights::from_bytes(bytes)?)
    }

    /// Load from already-parsed weights (one safetensors file or several, e.g. a base model + a head).
    pub fn from_weights(config: Config, w: &Weights) -> Result<Self> {
        config.validate()?;
        let c = &config;
        let d = c.hidden_size;
        let root = match c.architecture {
            // HF sequence-classification checkpoints nest the encoder under `bert.`.
            Architecture::Bert if w.contains("bert.embeddings.word_embeddings.weight") => w.pp("bert"),
            _ => w.pp(""),
        };
        let embeddings = Embeddings::load(&root, c)?;
        let layer_root = match c.architecture {
            Architecture::EncoderClassifier => root.pp("encoder.layers"),
            Architecture::Bert => root.pp("encoder.layer"),
        };
        let layers = (0..c.num_layers)
            .map(|i| EncoderLayer::load(&layer_root.pp(&i.to_string()), c))
            .collect::<Result<Vec<_>>>()?;
        let final_norm =
            if c.final_norm { Some(Norm::load(&root.pp("encoder.norm"), c.norm, d, c.norm_eps)?) } else { None };
        let pooler = if c.pooler { Some(Linear::load(&root.pp("pooler.dense"), d, d)?) } else { None };
        let classifier = if c.labels.is_empty() {
            None
        } else {
            Some(Linear::load(&w.pp("classifier"), d, c.num_labels())?)
        };
        Ok(Self { config, embeddings, layers, final_norm, pooler, classifier })
    }

    /// The positional table the model adds, `(max_len, d)`: sinusoidal or learned.
    pub fn positional_table(&self) -> &Tensor {
        &self.embeddings.position
    }

    pub fn forward(&self, batch: &Batch, opts: &ForwardOptions, mut trace: Option<&mut Trace>) -> Result<Output> {
        batch.check(self.config.max_len)?;
        let (b, s, d) = (batch.batch, batch.seq, self.config.hidden_size);
        let mut x = self.embeddings.forward(batch)?;
        if let Some(t) = trace.as_deref_mut() {
            *t = Trace::new(batch);
            t.positional = Some(Tensor { shape: vec![s, d], data: self.embeddings.position.data[..s * d].to_vec() });
            t.embeddings = Some(Tensor { shape: vec![b, s, d], data: x.clone() });
        }
        for layer in &self.layers {
            x = layer.forward(x, b, s, &batch.lengths, opts.batch_norm, trace.as_deref_mut().map(|t| &mut t.layers));
        }
        if let Some(n) = &self.final_norm {
            let (y, nt) = n.forward(&x, b, s, opts.batch_norm, trace.is_some());
            scratch::give(std::mem::replace(&mut x, y));
            if let Some(t) = trace.as_deref_mut() {
                t.final_norm = nt;
            }
        }
        let mut pooled = self.pool(&x, batch);
        if let Some(p) = &self.pooler {
            pooled = p.forward(&pooled, b);
            pooled.iter_mut().for_each(|v| *v = v.tanh());
        }
        let (logits, probs) = match &self.classifier {
            Some(c) => {
                let logits = c.forward(&pooled, b);
                let n = c.out_dim();
                let mut probs = logits.clone();
                probs.chunks_mut(n).for_each(cpu::softmax_inplace);
                (Some(Tensor { shape: vec![b, n], data: logits }), Some(Tensor { shape: vec![b, n], data: probs }))
            }
            None => (None, None),
        };
        let pooled = Tensor { shape: vec![b, d], data: pooled };
        if let Some(t) = trace {
            t.pooled = Some(pooled.clone());
        }
        Ok(Output { hidden: Tensor { shape: vec![b, s, d], data: x }, pooled, logits, probs })
    }

    /// `(batch, d)`: mean over real tokens, or the first token.
    fn pool(&self, x: &[f32], batch: &Batch) -> Vec<f32> {
        let (s, d) = (batch.seq, self.config.hidden_size);
        let mut out = vec![0.0f32; batch.batch * d];
        for b in 0..batch.batch {
            let o = &mut out[b * d..(b + 1) * d];
            match self.config.pooling {
                Pooling::Cls => o.copy_from_slice(&x[b * s * d..b * s * d + d]),
                Pooling::Mean => {
                    let len = batch.lengths[b];
                    for t in 0..len {
                        cpu::add_inplace(o, &x[(b * s + t) * d..(b * s + t + 1) * d]);
                    }
                    let inv = 1.0 / len as f32;
                    o.iter_mut().for_each(|v| *v *= inv);
                }
            }
        }
        out
    }
}

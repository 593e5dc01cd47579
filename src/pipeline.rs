//! Text in, labels out, around the forward pass: a model folder's files → tokenizer + model
//! ([`Classifier`]); texts → a padded [`Batch`] with the limits that keep bad input from hurting; a
//! forward's [`Output`] → labelled predictions or sentence embeddings. The forward itself runs in
//! [`crate::Engine`], on its backend.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hf::{HfFiles, HfOverrides};
use crate::model::{Batch, Model, Output};
use crate::tokenizer::Tokenizer;
use crate::trace::Trace;
use crate::weights::Weights;
use serde::Serialize;

/// Longest text accepted, in bytes. Longer text is an error; anything up to it is tokenized in full and
/// truncated to the model's `max_len` tokens, as Hugging Face does.
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// Most texts in one call.
pub const MAX_BATCH: usize = 256;

/// A tokenizer and a model: texts in, predictions or embeddings out (run through [`crate::Engine`]; the
/// crate's front page has an example).
pub struct Classifier {
    /// The encoder and its head.
    pub model: Model,
    /// Its WordPiece tokenizer.
    pub tokenizer: Tokenizer,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
/// One text's prediction.
pub struct Prediction {
    /// The most probable label.
    pub label: String,
    /// Its index in the labels.
    pub label_index: usize,
    /// One probability per label, in the config's label order.
    pub probabilities: Vec<f32>,
    /// The word pieces the model saw, special tokens included.
    pub tokens: Vec<String>,
    /// Their ids.
    pub ids: Vec<u32>,
    /// Word pieces cut off because the text was longer than `max_len` tokens.
    pub truncated: usize,
}

#[derive(Clone, Debug, Serialize)]
/// The predictions for a batch of texts.
pub struct Classification {
    /// The model's labels, in order.
    pub labels: Vec<String>,
    /// One per text, in input order.
    pub predictions: Vec<Prediction>,
    /// What the forward recorded, when a trace was asked for.
    pub trace: Option<Trace>,
}

impl Classifier {
    /// Pair a model with its tokenizer (their vocabulary sizes and `[PAD]` ids must agree).
    pub fn new(model: Model, tokenizer: Tokenizer) -> Result<Self> {
        if tokenizer.vocab_size() != model.config.vocab_size {
            return Err(Error::Vocab(format!(
                "vocab.txt has {} tokens but the config says vocab_size {}",
                tokenizer.vocab_size(),
                model.config.vocab_size
            )));
        }
        if tokenizer.pad_id() != model.config.pad_token_id {
            return Err(Error::Vocab(format!(
                "[PAD] is id {} in vocab.txt but pad_token_id {} in the config",
                tokenizer.pad_id(),
                model.config.pad_token_id
            )));
        }
        Ok(Self { model, tokenizer })
    }

    /// Build from the three files of a model folder, as bytes/text (native and browser alike).
    /// A Hugging Face BERT `config.json` is recognised and read with [`Classifier::from_hf`] defaults.
    pub fn from_bytes(config_json: &str, weights: &[u8], vocab_txt: &str) -> Result<Self> {
        Self::from_files(&HfFiles { config_json, vocab_txt, weights: vec![weights], ..Default::default() })
    }

    /// Build from a model folder's files (see [`crate::hf::FOLDER_FILES`]): this project's format, or a
    /// Hugging Face BERT folder when `config.json` says so.
    pub fn from_files(files: &HfFiles) -> Result<Self> {
        Self::from_files_with(files, &Weights::from_parts(&files.weights)?)
    }

    /// As [`Classifier::from_files`] with the weights given apart (`files.weights` is not read): e.g.
    /// [`Weights::from_sources`], files the browser build copies tensor by tensor from JavaScript.
    pub fn from_files_with(files: &HfFiles, weights: &Weights) -> Result<Self> {
        Self::with_config(Self::folder_config(files)?, files, weights)
    }

    /// The configuration of a model folder's files: this project's `config.json`, or a Hugging Face BERT
    /// folder's when `config.json` says so.
    pub fn folder_config(files: &HfFiles) -> Result<Config> {
        if crate::hf::is_hf_bert_config(files.config_json) {
            Config::from_hf_bert_json(files, &HfOverrides::default())
        } else {
            Config::from_json(files.config_json)
        }
    }

    /// Build from an HF BERT folder's files.
    pub fn from_hf(files: &HfFiles, overrides: &HfOverrides) -> Result<Self> {
        Self::with_config(Config::from_hf_bert_json(files, overrides)?, files, &Weights::from_parts(&files.weights)?)
    }

    /// Build with `config` (e.g. [`Classifier::folder_config`]) from the folder's vocabulary and `weights`.
    pub fn with_config(config: Config, files: &HfFiles, weights: &Weights) -> Result<Self> {
        let tokenizer = Tokenizer::from_vocab_txt(files.vocab_txt, config.lowercase)?;
        let model = Model::from_weights(config, weights)?;
        Self::new(model, tokenizer)
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.model.config
    }

    fn check_texts<S: AsRef<str>>(texts: &[S]) -> Result<()> {
        if texts.is_empty() {
            return Err(Error::Input("no texts given".into()));
        }
        if texts.len() > MAX_BATCH {
            return Err(Error::Input(format!("{} texts in one call; at most {MAX_BATCH}", texts.len())));
        }
        if let Some(t) = texts.iter().find(|t| t.as_ref().len() > MAX_TEXT_BYTES) {
            return Err(Error::Input(format!(
                "text of {} bytes is longer than the {} MiB limit",
                t.as_ref().len(),
                MAX_TEXT_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Tokenize and pad `texts` into one batch.
    pub fn batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<(Batch, Vec<crate::tokenizer::Encoding>)> {
        Self::check_texts(texts)?;
        let max_len = self.model.config.max_len;
        let enc: Vec<_> = texts.iter().map(|t| self.tokenizer.encode(t.as_ref(), Some(max_len))).collect();
        let rows: Vec<Vec<u32>> = enc.iter().map(|e| e.ids.clone()).collect();
        Ok((Batch::from_rows(&rows, self.tokenizer.pad_id())?, enc))
    }

    pub(crate) fn check_classifier(&self) -> Result<()> {
        if self.model.classifier.is_none() {
            return Err(Error::Config("this model has no classifier head (no labels); use embed".into()));
        }
        Ok(())
    }

    /// Predictions from a forward pass's output (whichever backend ran it). Logits that are not finite
    /// (NaN weights, overflow) are an error, never a label.
    pub fn classification(&self, enc: Vec<crate::tokenizer::Encoding>, mut out: Output) -> Result<Classification> {
        let trace = out.trace.take();
        let probs = out.probs.ok_or_else(|| Error::Config("model produced no probabilities".into()))?;
        if let Some(l) = out.logits.iter().flat_map(|l| l.data.iter()).chain(&probs.data).find(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("the model's logits are not finite ({l}): its weights or activations overflowed or hold NaN")));
        }
        let labels = self.model.config.labels.clone();
        let n = labels.len();
        let predictions = enc
            .into_iter()
            .enumerate()
            .map(|(b, e)| {
                let p = probs.data[b * n..(b + 1) * n].to_vec();
                let best = argmax(&p);
                Prediction {
                    label: labels[best].clone(),
                    label_index: best,
                    probabilities: p,
                    tokens: e.ids.iter().map(|&i| self.tokenizer.token(i).to_string()).collect(),
                    ids: e.ids,
                    truncated: e.truncated,
                }
            })
            .collect();
        Ok(Classification { labels, predictions, trace })
    }

    /// The L2-normalised pooled vectors of a forward pass's output.
    pub fn embeddings(&self, out: &Output) -> Vec<Vec<f32>> {
        let d = self.model.config.hidden_size;
        out.pooled
            .data
            .chunks(d)
            .map(|v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter().map(|x| x / norm).collect()
            })
            .collect()
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

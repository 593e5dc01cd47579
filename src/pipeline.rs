//! Text in, labels out: tokenizer + model + softmax, with the limits that keep bad input from hurting.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{Batch, ForwardOptions, Model, Output};
use crate::tokenizer::Tokenizer;
use crate::trace::Trace;
use serde::Serialize;

/// Longest text accepted, in bytes. Longer text is an error; anything up to it is tokenized in full and
/// truncated to the model's `max_len` tokens, as Hugging Face does.
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// Most texts in one call.
pub const MAX_BATCH: usize = 256;

pub struct Classifier {
    pub model: Model,
    pub tokenizer: Tokenizer,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    pub label: String,
    pub label_index: usize,
    /// One probability per label, in the config's label order.
    pub probabilities: Vec<f32>,
    pub tokens: Vec<String>,
    pub ids: Vec<u32>,
    /// Word pieces cut off because the text was longer than `max_len` tokens.
    pub truncated: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Classification {
    pub labels: Vec<String>,
    pub predictions: Vec<Prediction>,
    pub trace: Option<Trace>,
}

impl Classifier {
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
        if crate::hf::is_hf_bert_config(config_json) {
            let files = crate::hf::HfFiles { config_json, vocab_txt, weights: vec![weights], ..Default::default() };
            return Self::from_hf(&files, &crate::hf::HfOverrides::default());
        }
        let config = Config::from_json(config_json)?;
        let tokenizer = Tokenizer::from_vocab_txt(vocab_txt, config.lowercase)?;
        let model = Model::from_bytes(config, weights)?;
        Self::new(model, tokenizer)
    }

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

    /// Classify `texts` as one padded batch. With `trace`, records what the page draws.
    pub fn classify<S: AsRef<str>>(&self, texts: &[S], opts: &ForwardOptions, trace: bool) -> Result<Classification> {
        self.check_classifier()?;
        let (batch, enc) = self.batch(texts)?;
        let mut tr = trace.then(Trace::default);
        let out = self.model.forward(&batch, opts, tr.as_mut())?;
        self.classification(enc, out, tr)
    }

    pub(crate) fn check_classifier(&self) -> Result<()> {
        if self.model.classifier.is_none() {
            return Err(Error::Config("this model has no classifier head (no labels); use embed".into()));
        }
        Ok(())
    }

    /// Predictions from a forward pass's output (whichever backend ran it).
    pub fn classification(&self, enc: Vec<crate::tokenizer::Encoding>, out: Output, trace: Option<Trace>) -> Result<Classification> {
        let probs = out.probs.ok_or_else(|| Error::Config("model produced no probabilities".into()))?;
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

    /// Mean-pooled (per the config), L2-normalised sentence embeddings, one per text.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let (batch, _) = self.batch(texts)?;
        let out = self.model.forward(&batch, &ForwardOptions::default(), None)?;
        Ok(self.embeddings(&out))
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

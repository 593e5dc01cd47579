//! Hugging Face BERT folders (`BertModel`, `BertForSequenceClassification`, sentence-transformers models
//! such as all-MiniLM-L6-v2) mapped onto this engine's [`Config`]: one model code path, the differences
//! live in the config. Everything arrives as bytes or text (no file paths): the CLI reads the files, the
//! page fetches them.
//!
//! Files read (only `config.json`, `vocab.txt` and the weights are required):
//! - `config.json`: `hidden_size`, `num_attention_heads`, `num_hidden_layers`, `intermediate_size`,
//!   `vocab_size`, `hidden_act`, `layer_norm_eps`, `max_position_embeddings`, `type_vocab_size`,
//!   `pad_token_id`, `architectures`, `id2label`.
//! - `tokenizer_config.json`: `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`, `model_max_length`.
//! - sentence-transformers' `sentence_bert_config.json` (`max_seq_length`) and `1_Pooling/config.json`.
//! - One or more safetensors files (a single `model.safetensors`, HF shards, or a base model + a head).

use crate::config::{Activation, Architecture, Config, NormKind, Pooling, PositionalEncoding};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One file of a model folder the engine reads.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct FolderFile {
    /// Path relative to the folder.
    pub path: &'static str,
    /// The folder is unusable without it (weights: `model.safetensors` or the index naming the shards).
    pub required: bool,
    /// Only Hugging Face folders have it (a reader asks for it only when `config.json` is HF BERT's).
    pub hf_only: bool,
    /// What the file holds, for messages.
    pub what: &'static str,
}

/// Every file of a model folder the engine reads — this project's format and Hugging Face BERT alike —
/// in the order to fetch them. The CLI, the tests and the page's worker all read folders through this list.
pub const FOLDER_FILES: [FolderFile; 7] = [
    FolderFile { path: "config.json", required: true, hf_only: false, what: "model configuration" },
    FolderFile { path: "vocab.txt", required: true, hf_only: false, what: "WordPiece vocabulary, one token per line" },
    FolderFile { path: WEIGHTS_FILE, required: false, hf_only: false, what: "weights (or the index below)" },
    FolderFile { path: INDEX_FILE, required: false, hf_only: true, what: "weight shards: tensor name → file" },
    FolderFile { path: "tokenizer_config.json", required: false, hf_only: true, what: "HF tokenizer settings (lower-casing, max length)" },
    FolderFile { path: "sentence_bert_config.json", required: false, hf_only: true, what: "sentence-transformers max_seq_length" },
    FolderFile { path: "1_Pooling/config.json", required: false, hf_only: true, what: "sentence-transformers pooling mode" },
];

/// The single weights file of a folder without an index.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The index naming a sharded (or split base + head) folder's weight files.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// The weight files to read, given the folder's index (when it has one): relative paths, in order.
pub fn weight_files(index_json: Option<&str>) -> Result<Vec<String>> {
    match index_json {
        Some(index) => index_weight_files(index),
        None => Ok(vec![WEIGHTS_FILE.to_string()]),
    }
}

impl<'a> HfFiles<'a> {
    /// A folder's files from its texts by [`FOLDER_FILES`] path (`text(path)`) and its weight files.
    pub fn from_texts(text: impl Fn(&str) -> Option<&'a str>, weights: Vec<&'a [u8]>) -> Result<Self> {
        let required = |p: &str| text(p).ok_or_else(|| Error::Config(format!("the model folder has no {p}")));
        Ok(Self {
            config_json: required("config.json")?,
            vocab_txt: required("vocab.txt")?,
            weights,
            tokenizer_config_json: text("tokenizer_config.json"),
            sentence_bert_config_json: text("sentence_bert_config.json"),
            pooling_config_json: text("1_Pooling/config.json"),
        })
    }
}

/// The files of a model folder (this project's format or HF BERT), as text / bytes.
#[derive(Clone, Debug, Default)]
pub struct HfFiles<'a> {
    /// `config.json`.
    pub config_json: &'a str,
    /// `vocab.txt`.
    pub vocab_txt: &'a str,
    /// Safetensors files; tensor names are looked up across all of them.
    pub weights: Vec<&'a [u8]>,
    /// HF `tokenizer_config.json`.
    pub tokenizer_config_json: Option<&'a str>,
    /// sentence-transformers `sentence_bert_config.json`.
    pub sentence_bert_config_json: Option<&'a str>,
    /// sentence-transformers `1_Pooling/config.json`.
    pub pooling_config_json: Option<&'a str>,
}

/// Choices that override what the files imply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HfOverrides {
    /// Pooling instead of the folder's.
    pub pooling: Option<Pooling>,
    /// Whether to apply BERT's pooler.
    pub pooler: Option<bool>,
    /// Longest token sequence instead of the folder's.
    pub max_len: Option<usize>,
}

fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_max_pos() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}

/// The fields of HF `BertConfig` this engine uses (others are ignored). Defaults are `BertConfig`'s.
#[derive(Deserialize)]
struct HfBertConfig {
    model_type: Option<String>,
    /// This engine's own field, written by `classify quantize`: how the linear weights are stored.
    #[serde(default)]
    precision: crate::config::Precision,
    /// This engine's own field too: the int8 linears' activation grid (`u7` when absent).
    #[serde(default)]
    activation_range: crate::config::ActivationGrid,
    #[serde(default)]
    architectures: Vec<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    intermediate_size: usize,
    #[serde(default = "default_hidden_act")]
    hidden_act: String,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_max_pos")]
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    pad_token_id: Option<u32>,
    position_embedding_type: Option<String>,
    id2label: Option<BTreeMap<String, String>>,
    num_labels: Option<usize>,
}

#[derive(Deserialize, Default)]
struct TokenizerConfig {
    do_lower_case: Option<bool>,
    strip_accents: Option<bool>,
    tokenize_chinese_chars: Option<bool>,
    model_max_length: Option<f64>,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

fn json<'de, T: Deserialize<'de>>(file: &str, text: &'de str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Config(format!("{file}: {e}")))
}

/// HF `hidden_act` → this engine's activation; anything else is an error naming the value.
pub fn activation_from_hf(name: &str) -> Result<Activation> {
    match name {
        "gelu" | "gelu_python" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
        "relu" => Ok(Activation::Relu),
        "silu" | "swish" => Ok(Activation::Silu),
        other => Err(Error::Config(format!(
            "config.json: hidden_act `{other}` is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)"
        ))),
    }
}

/// Labels in id order from `id2label` (keys "0".."n-1").
fn labels_from_id2label(map: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let mut labels = vec![None; map.len()];
    for (k, v) in map {
        let i: usize = k.parse().map_err(|_| Error::Config(format!("config.json: id2label key `{k}` is not an integer")))?;
        let slot = labels
            .get_mut(i)
            .ok_or_else(|| Error::Config(format!("config.json: id2label ids must be 0..{}, got {i}", map.len())))?;
        *slot = Some(v.clone());
    }
    labels.into_iter().map(|l| l.ok_or_else(|| Error::Config("config.json: id2label has a gap".into()))).collect()
}

impl Config {
    /// Map an HF BERT folder's JSON files onto a [`Config`].
    ///
    /// Pooling: `overrides.pooling`, else sentence-transformers' `1_Pooling/config.json` (mean or CLS),
    /// else `[CLS]` for `BertForSequenceClassification` and mean for a bare `BertModel`.
    /// The BERT pooler (tanh dense on `[CLS]`) is used for `BertForSequenceClassification` without a
    /// sentence-transformers pooling config. `max_len` = the smallest of `max_position_embeddings`,
    /// `max_seq_length` and `model_max_length`.
    pub fn from_hf_bert_json(files: &HfFiles, overrides: &HfOverrides) -> Result<Config> {
        let hf: HfBertConfig = json("config.json", files.config_json)?;
        if let Some(t) = hf.model_type.as_deref() {
            if t != "bert" {
                return Err(Error::Config(format!("config.json: model_type `{t}` is not supported (bert)")));
            }
        }
        if let Some(p) = hf.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(Error::Config(format!(
                    "config.json: position_embedding_type `{p}` is not supported (absolute)"
                )));
            }
        }
        let activation = activation_from_hf(&hf.hidden_act)?;
        let classify = hf.architectures.iter().any(|a| a == "BertForSequenceClassification");
        let labels = match (classify, &hf.id2label, hf.num_labels) {
            (false, _, _) => Vec::new(),
            (true, Some(m), _) => labels_from_id2label(m)?,
            (true, None, n) => {
                let n = n.unwrap_or(2);
                if n == 0 || n > 1 << 16 {
                    return Err(Error::Config(format!("config.json: num_labels {n} is outside 1..=65536")));
                }
                (0..n).map(|i| format!("LABEL_{i}")).collect()
            }
        };

        let tok: TokenizerConfig = match files.tokenizer_config_json {
            Some(t) => json("tokenizer_config.json", t)?,
            None => TokenizerConfig::default(),
        };
        let lowercase = tok.do_lower_case.unwrap_or(true);
        if let Some(s) = tok.strip_accents {
            if s != lowercase {
                return Err(Error::Config(format!(
                    "tokenizer_config.json: strip_accents {s} with do_lower_case {lowercase} is not supported"
                )));
            }
        }
        if tok.tokenize_chinese_chars == Some(false) {
            return Err(Error::Config("tokenizer_config.json: tokenize_chinese_chars false is not supported".into()));
        }

        let mut max_len = hf.max_position_embeddings;
        if let Some(m) = tok.model_max_length {
            // HF writes 1e30 for "no limit".
            if m >= 2.0 && m < max_len as f64 {
                max_len = m as usize;
            }
        }
        if let Some(t) = files.sentence_bert_config_json {
            let sb: SentenceBertConfig = json("sentence_bert_config.json", t)?;
            if let Some(m) = sb.max_seq_length {
                max_len = max_len.min(m);
            }
        }
        if let Some(m) = overrides.max_len {
            max_len = m;
        }

        let st_pooling = match files.pooling_config_json {
            Some(t) => {
                let p: PoolingConfig = json("1_Pooling/config.json", t)?;
                if p.pooling_mode_max_tokens
                    || p.pooling_mode_mean_sqrt_len_tokens
                    || p.pooling_mode_weightedmean_tokens
                    || p.pooling_mode_lasttoken
                {
                    return Err(Error::Config(
                        "1_Pooling/config.json: only mean or CLS pooling is supported".into(),
                    ));
                }
                match (p.pooling_mode_mean_tokens, p.pooling_mode_cls_token) {
                    (true, false) => Some(Pooling::Mean),
                    (false, true) => Some(Pooling::Cls),
                    _ => {
                        return Err(Error::Config(
                            "1_Pooling/config.json: exactly one of mean or CLS pooling must be on".into(),
                        ))
                    }
                }
            }
            None => None,
        };
        let pooling = overrides.pooling.or(st_pooling).unwrap_or(if classify { Pooling::Cls } else { Pooling::Mean });
        let pooler = overrides.pooler.unwrap_or(classify && st_pooling.is_none());

        let config = Config {
            architecture: Architecture::Bert,
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            num_heads: hf.num_attention_heads,
            num_layers: hf.num_hidden_layers,
            ffn_size: hf.intermediate_size,
            activation,
            norm: NormKind::Layer,
            norm_first: false,
            norm_eps: hf.layer_norm_eps as f32,
            final_norm: false,
            positional_encoding: PositionalEncoding::Learned,
            embedding_scale: false,
            embedding_norm: true,
            type_vocab_size: hf.type_vocab_size,
            max_len,
            max_position_embeddings: Some(hf.max_position_embeddings),
            pooling,
            pooler,
            labels,
            pad_token_id: hf.pad_token_id.unwrap_or(0),
            lowercase,
            precision: hf.precision,
            activation_range: hf.activation_range,
            delight: None,
        };
        config.validate()?;
        Ok(config)
    }
}

/// `config.json` says this is an HF BERT folder (`model_type: "bert"` or a `Bert*` architecture), as
/// opposed to this project's own format.
pub fn is_hf_bert_config(config_json: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(config_json) else { return false };
    v.get("model_type").and_then(|t| t.as_str()) == Some("bert")
        || v.get("architectures")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with("Bert"))))
}

/// The weight files an HF `model.safetensors.index.json` names, in order of first appearance (its
/// `weight_map` maps tensor name → file name, relative to the folder).
pub fn index_weight_files(index_json: &str) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Index {
        weight_map: serde_json::Map<String, serde_json::Value>,
    }
    let index: Index = json("model.safetensors.index.json", index_json)?;
    let mut files: Vec<String> = Vec::new();
    for (name, file) in &index.weight_map {
        let f = file.as_str().ok_or_else(|| {
            Error::Config(format!("model.safetensors.index.json: file for `{name}` is not a string"))
        })?;
        if !files.iter().any(|x| x == f) {
            files.push(f.to_string());
        }
    }
    if files.is_empty() {
        return Err(Error::Config("model.safetensors.index.json: weight_map is empty".into()));
    }
    Ok(files)
}

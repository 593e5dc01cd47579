//! Hugging Face BERT folders read from disk the way the CLI reads them (native tests only). The
//! all-MiniLM-L6-v2 folder comes from `python3 scripts/get_minilm.py` (`./run.sh setup` runs it); a missing
//! model fails the test with that instruction.
#![allow(dead_code)]

use encoder_lens::hf::index_weight_files;
use encoder_lens::{Classifier, HfFiles, HfOverrides};
use std::path::{Path, PathBuf};

/// An HF folder read from disk the way the CLI reads it.
pub struct Folder {
    pub config: String,
    pub vocab: String,
    pub tokenizer_config: Option<String>,
    pub sentence_bert_config: Option<String>,
    pub pooling_config: Option<String>,
    pub weights: Vec<Vec<u8>>,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| {
        panic!("{}: {e}. Fetch all-MiniLM-L6-v2 with `python3 scripts/get_minilm.py` (`./run.sh setup` does).", dir.join(name).display())
    })
}

pub fn folder(dir: &Path) -> Folder {
    let opt = |n: &str| std::fs::read_to_string(dir.join(n)).ok();
    let files = match opt("model.safetensors.index.json") {
        Some(index) => index_weight_files(&index).expect("index"),
        None => vec!["model.safetensors".to_string()],
    };
    Folder {
        config: read(dir, "config.json"),
        vocab: read(dir, "vocab.txt"),
        tokenizer_config: opt("tokenizer_config.json"),
        sentence_bert_config: opt("sentence_bert_config.json"),
        pooling_config: opt("1_Pooling/config.json"),
        weights: files
            .iter()
            .map(|f| {
                std::fs::read(dir.join(f)).unwrap_or_else(|e| {
                    panic!("{}: {e}. Run `python3 scripts/get_minilm.py` (`./run.sh setup` does).", dir.join(f).display())
                })
            })
            .collect(),
    }
}

impl Folder {
    pub fn files(&self) -> HfFiles<'_> {
        HfFiles {
            config_json: &self.config,
            vocab_txt: &self.vocab,
            weights: self.weights.iter().map(|w| &w[..]).collect(),
            tokenizer_config_json: self.tokenizer_config.as_deref(),
            sentence_bert_config_json: self.sentence_bert_config.as_deref(),
            pooling_config_json: self.pooling_config.as_deref(),
        }
    }
    pub fn load(&self, o: &HfOverrides) -> Classifier {
        Classifier::from_hf(&self.files(), o).expect("HF folder loads")
    }
}

pub fn minilm() -> Folder {
    folder(&repo().join("models/minilm"))
}

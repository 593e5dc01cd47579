//! A model folder read from disk (native builds: the CLI and the tests), through the one list of files
//! the engine reads ([`FOLDER_FILES`]). The browser fetches the same list (`Engine.modelFiles()`).

use crate::error::{Error, Result};
use crate::hf::{index_weight_files, HfFiles, FOLDER_FILES};
use crate::pipeline::Classifier;
use std::path::Path;

/// The files of one model folder: the texts present (by [`FOLDER_FILES`] path) and the weight files.
pub struct Folder {
    texts: Vec<(&'static str, String)>,
    pub weights: Vec<Vec<u8>>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Input(format!("{}: {e}", path.display()))
}

impl Folder {
    /// Read `dir`: every text file of [`FOLDER_FILES`] that exists (the required ones must), and the
    /// weights — `model.safetensors`, or the files `model.safetensors.index.json` names.
    pub fn read(dir: &Path) -> Result<Self> {
        let mut texts = Vec::new();
        for f in FOLDER_FILES.iter().filter(|f| f.path != "model.safetensors") {
            let path = dir.join(f.path);
            if !f.required && !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            texts.push((f.path, String::from_utf8(bytes).map_err(|_| io(&path, "not valid UTF-8"))?));
        }
        let mut folder = Self { texts, weights: Vec::new() };
        let weight_files = match folder.text("model.safetensors.index.json") {
            Some(index) => index_weight_files(index)?,
            None => vec!["model.safetensors".to_string()],
        };
        for f in weight_files {
            let path = dir.join(&f);
            folder.weights.push(std::fs::read(&path).map_err(|e| io(&path, e))?);
        }
        Ok(folder)
    }

    /// The text of file `path` (a [`FOLDER_FILES`] path), when the folder has it.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.texts.iter().find(|(p, _)| *p == path).map(|(_, t)| t.as_str())
    }

    pub fn files(&self) -> HfFiles<'_> {
        HfFiles {
            config_json: self.text("config.json").unwrap_or_default(),
            vocab_txt: self.text("vocab.txt").unwrap_or_default(),
            weights: self.weights.iter().map(|w| &w[..]).collect(),
            tokenizer_config_json: self.text("tokenizer_config.json"),
            sentence_bert_config_json: self.text("sentence_bert_config.json"),
            pooling_config_json: self.text("1_Pooling/config.json"),
        }
    }

    /// The folder as a classifier (either format).
    pub fn classifier(&self) -> Result<Classifier> {
        Classifier::from_files(&self.files())
    }
}

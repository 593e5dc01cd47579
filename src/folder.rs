//! A model folder read from disk (native builds: the CLI and the tests), through the one list of files
//! the engine reads ([`FOLDER_FILES`]). The browser fetches the same list (`Engine.modelFiles()`).

use crate::error::{Error, Result};
use crate::hf::{is_hf_bert_config, weight_files, HfFiles, FOLDER_FILES, INDEX_FILE, WEIGHTS_FILE};
use crate::pipeline::Classifier;
use std::path::Path;

/// The files of one model folder: the texts present (by [`FOLDER_FILES`] path) and the weight files.
pub struct Folder {
    texts: Vec<(&'static str, String)>,
    /// The safetensors files, in the order the index (or the single file) names them.
    pub weights: Vec<Vec<u8>>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Input(format!("{}: {e}", path.display()))
}

impl Folder {
    /// Read `dir`: `config.json`, then every other text file of [`FOLDER_FILES`] the folder's format has
    /// (the required ones must exist), and the weights — `model.safetensors`, or the files
    /// `model.safetensors.index.json` names.
    pub fn read(dir: &Path) -> Result<Self> {
        let read_text = |p: &str| -> Result<String> {
            let path = dir.join(p);
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            String::from_utf8(bytes).map_err(|_| io(&path, "not valid UTF-8"))
        };
        let config = read_text("config.json")?;
        let hf = is_hf_bert_config(&config);
        let mut texts = vec![("config.json", config)];
        for f in FOLDER_FILES.iter().filter(|f| f.path != "config.json" && f.path != WEIGHTS_FILE && (hf || !f.hf_only)) {
            if f.required || dir.join(f.path).is_file() {
                texts.push((f.path, read_text(f.path)?));
            }
        }
        let mut folder = Self { texts, weights: Vec::new() };
        for f in weight_files(folder.text(INDEX_FILE))? {
            let path = dir.join(&f);
            folder.weights.push(std::fs::read(&path).map_err(|e| io(&path, e))?);
        }
        Ok(folder)
    }

    /// The text of file `path` (a [`FOLDER_FILES`] path), when the folder has it.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.texts.iter().find(|(p, _)| *p == path).map(|(_, t)| t.as_str())
    }

    /// The folder's files as the borrowed view [`Classifier::from_files`] reads.
    pub fn files(&self) -> Result<HfFiles<'_>> {
        HfFiles::from_texts(|p| self.text(p), self.weights.iter().map(|w| &w[..]).collect())
    }

    /// Write `conv` (a [`crate::quant::convert_files`] of this folder) as a new folder `out`: its
    /// `config.json` and single `model.safetensors`, and this folder's other text files unchanged (not the
    /// shard index: the converted weights are one file). Returns the bytes written for the weights.
    pub fn write_converted(&self, conv: &crate::quant::Converted, out: &Path) -> Result<()> {
        let write = |p: &str, bytes: &[u8]| -> Result<()> {
            let path = out.join(p);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| io(&path, e))
        };
        write("config.json", conv.config_json.as_bytes())?;
        write(WEIGHTS_FILE, &conv.weights)?;
        for (p, text) in self.texts.iter().filter(|(p, _)| *p != "config.json" && *p != INDEX_FILE) {
            write(p, text.as_bytes())?;
        }
        Ok(())
    }

    /// Total size of the weight files, in bytes.
    pub fn weights_bytes(&self) -> usize {
        self.weights.iter().map(Vec::len).sum()
    }

    /// The folder as a classifier (either format).
    pub fn classifier(&self) -> Result<Classifier> {
        Classifier::from_files(&self.files()?)
    }
}

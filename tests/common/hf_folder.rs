//! Hugging Face BERT folders read from disk with the crate's own folder reader (the CLI's), native tests
//! only. The all-MiniLM-L6-v2 folder comes from `python3 scripts/get_minilm.py` (`make setup` runs it); a
//! missing model fails the test with that instruction.
#![allow(dead_code)]

use encoder_lens::folder::Folder;
use encoder_lens::{Classifier, HfOverrides};
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| {
        panic!("{}: {e}. Fetch all-MiniLM-L6-v2 with `python3 scripts/get_minilm.py` (`make setup` does).", dir.join(name).display())
    })
}

pub fn folder(dir: &Path) -> Folder {
    Folder::read(dir).unwrap_or_else(|e| panic!("{e}. Fetch all-MiniLM-L6-v2 with `python3 scripts/get_minilm.py` (`make setup` does)."))
}

/// The folder as a classifier, with `o` overriding what its files imply.
pub fn load(f: &Folder, o: &HfOverrides) -> Classifier {
    Classifier::from_hf(&f.files().expect("folder files"), o).expect("HF folder loads")
}

pub fn minilm() -> Folder {
    folder(&repo().join("models/minilm"))
}

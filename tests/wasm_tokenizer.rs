//! The tokenizer fixture (10,771 texts vs Hugging Face `tokenizers`) inside the browser.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{gz_jsonl, json_ids};
use encoder_lens::Tokenizer;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn ids_equal_hugging_face_tokenizers_in_browser() {
    let tok = Tokenizer::from_vocab_txt(include_str!("../models/vocab.txt"), true).unwrap();
    let cases = gz_jsonl(include_bytes!("fixtures/tokenizer_cases.jsonl.gz"));
    for (n, c) in cases.iter().enumerate() {
        let got = tok.encode(c["text"].as_str().unwrap(), None).ids;
        assert_eq!(got, json_ids(&c["ids"]), "case {n}");
    }
    assert!(cases.len() >= 10_000);
}

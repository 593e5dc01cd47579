//! The tokenizer fixture (10,771 texts vs Hugging Face `tokenizers`) inside the browser.
#![cfg(target_arch = "wasm32")]

use encoder_lens::Tokenizer;
use std::io::Read;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn ids_equal_hugging_face_tokenizers_in_browser() {
    let gz = include_bytes!("fixtures/tokenizer_cases.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    let tok = Tokenizer::from_vocab_txt(include_str!("../models/vocab.txt"), true).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let c: serde_json::Value = serde_json::from_str(line).unwrap();
        let want: Vec<u32> = c["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let got = tok.encode(c["text"].as_str().unwrap(), None).ids;
        assert_eq!(got, want, "case {n}");
        n += 1;
    }
    assert!(n >= 10_000);
}

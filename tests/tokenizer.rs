//! WordPiece ids equal to Hugging Face `tokenizers` on >10,000 texts from the training data plus edge
//! cases (fixture written by `scripts/tokenizer_fixture.py`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::json_ids;
use encoder_lens::Tokenizer;

fn cases() -> Vec<serde_json::Value> {
    common::gz_jsonl(include_bytes!("fixtures/tokenizer_cases.jsonl.gz"))
}

#[test]
fn ids_equal_hugging_face_tokenizers() {
    let tok = Tokenizer::from_vocab_txt(include_str!("../models/vocab.txt"), true).unwrap();
    let cases = cases();
    assert!(cases.len() >= 10_000, "only {} cases", cases.len());
    let (mut failures, mut truncated_checked, mut longest) = (Vec::new(), 0, 0usize);
    for (i, c) in cases.iter().enumerate() {
        let text = c["text"].as_str().expect("text");
        longest = longest.max(text.chars().count());
        let want = json_ids(&c["ids"]);
        let got = tok.encode(text, None).ids;
        if got != want {
            failures.push(format!("case {i} {:?}\n  expected {want:?}\n  actual   {got:?}", text.chars().take(80).collect::<String>()));
        }
        if let Some(m) = c.get("max_len").and_then(|m| m.as_u64()) {
            let want = json_ids(&c["ids_truncated"]);
            let got = tok.encode(text, Some(m as usize)).ids;
            if got != want {
                failures.push(format!("case {i} truncated to {m}: expected {want:?}, actual {got:?}"));
            }
            truncated_checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures[..failures.len().min(10)].join("\n"));
    assert!(truncated_checked > 100, "only {truncated_checked} truncation cases");
    assert!(longest >= 100_000, "the fixture lacks the 100k-character text");
}

#[test]
fn edge_cases_are_in_the_fixture() {
    let texts: Vec<String> = cases().iter().map(|c| c["text"].as_str().unwrap().to_string()).collect();
    for needle in ["", "這", "😍", "\u{200b}", "\u{7}", "İ", "\u{e000}"] {
        assert!(
            texts.iter().any(|t| if needle.is_empty() { t.is_empty() } else { t.contains(needle) }),
            "no case with {needle:?}"
        );
    }
}

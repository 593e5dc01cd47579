//! WordPiece ids equal to Hugging Face `tokenizers` with all-MiniLM-L6-v2's own `tokenizer.json` (30,522
//! tokens, lower-case) on 10,771 texts: edge cases, every Rotten Tomatoes train text, 3,000 IMDB texts
//! (fixture written by `scripts/tokenizer_fixture_minilm.py`). The vocabulary is the committed copy in
//! `models/minilm-sentiment/vocab.txt` (byte-identical to MiniLM's, checked by `scripts/get_minilm.py`'s
//! hash and by `tests/bert.rs`).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::json_ids;
use encoder_lens::Tokenizer;

fn cases() -> Vec<serde_json::Value> {
    common::gz_jsonl(include_bytes!("fixtures/tokenizer_minilm.jsonl.gz"))
}

#[test]
fn minilm_ids_equal_hugging_face_tokenizers() {
    let tok = Tokenizer::from_vocab_txt(include_str!("../models/minilm-sentiment/vocab.txt"), true).unwrap();
    assert_eq!(tok.vocab_size(), 30522);
    assert_eq!((tok.token_id("[CLS]"), tok.token_id("[SEP]"), tok.pad_id()), (Some(101), Some(102), 0));
    let cases = cases();
    assert!(cases.len() >= 10_000, "only {} cases", cases.len());
    let (mut failures, mut truncated_checked, mut cut, mut longest) = (Vec::new(), 0, 0, 0usize);
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
            let enc = tok.encode(text, Some(m as usize));
            if enc.ids != want {
                failures.push(format!("case {i} truncated to {m}: expected {want:?}, actual {:?}", enc.ids));
            }
            truncated_checked += 1;
            cut += (enc.truncated > 0) as usize;
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures[..failures.len().min(10)].join("\n"));
    assert!(truncated_checked > 1000 && cut > 1000, "only {truncated_checked} truncation cases, {cut} cut");
    assert!(longest >= 100_000, "the fixture lacks the 100k-character text");
}

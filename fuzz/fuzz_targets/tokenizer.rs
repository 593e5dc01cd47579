//! WordPiece tokenizer: arbitrary bytes → a vocab.txt and a text → ids, with the invariants `encode` promises.
//!
//! Input: `flags, max_len (u16 LE), vocab 0xFF text`. Flag bit 0: lower-case; bit 1: use the real 8192-token
//! vocabulary of the test fixtures instead of the input's (so the text gets fuzzed against a full vocab);
//! bit 2: no truncation. 0xFF never occurs in UTF-8, so it splits the parts without constraining them.
#![no_main]

use encoder_lens::Tokenizer;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const REAL_VOCAB: &str = include_str!("../../tests/fixtures/models/prenorm-gelu/vocab.txt");

fn real(lowercase: bool) -> &'static Tokenizer {
    static LOWER: OnceLock<Tokenizer> = OnceLock::new();
    static CASED: OnceLock<Tokenizer> = OnceLock::new();
    let cell = if lowercase { &LOWER } else { &CASED };
    cell.get_or_init(|| Tokenizer::from_vocab_txt(REAL_VOCAB, lowercase).expect("fixture vocab loads"))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = data[0];
    let max_len = u16::from_le_bytes([data[1], data[2]]) as usize;
    let rest = &data[3..];
    let (vocab_bytes, text_bytes) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let lowercase = flags & 1 != 0;
    let owned;
    let tok: &Tokenizer = if flags & 2 != 0 {
        real(lowercase)
    } else {
        let vocab = String::from_utf8_lossy(vocab_bytes);
        match Tokenizer::from_vocab_txt(&vocab, lowercase) {
            Ok(t) => {
                owned = t;
                &owned
            }
            Err(_) => return,
        }
    };
    let text = String::from_utf8_lossy(text_bytes);
    let limit = if flags & 4 != 0 { None } else { Some(max_len) };
    let enc = tok.encode(&text, limit);
    let n = tok.vocab_size();
    let ids = &enc.ids;

    assert!(ids.iter().all(|&id| (id as usize) < n), "id outside the vocabulary of {n}: {ids:?}");
    assert!(ids.len() >= 2, "no room for [CLS] and [SEP]: {ids:?}");
    assert_eq!(Some(ids[0]), tok.token_id("[CLS]"), "[CLS] is not first");
    assert_eq!(Some(ids[ids.len() - 1]), tok.token_id("[SEP]"), "[SEP] is not last");
    let pieces = tok.word_pieces(&text).len();
    assert_eq!(ids.len() - 2 + enc.truncated, pieces, "kept + truncated != word pieces");
    match limit {
        Some(m) if m >= 2 => {
            assert!(ids.len() <= m, "{} ids with max_len {m}", ids.len());
            if enc.truncated > 0 {
                assert_eq!(ids.len(), m, "truncated but shorter than max_len");
            }
        }
        Some(_) => assert_eq!(ids.len(), 2, "max_len < 2 keeps only [CLS] [SEP]"),
        None => assert_eq!(enc.truncated, 0, "truncated without a limit"),
    }
    // Every id names a token the tokenizer can print.
    for &id in ids {
        let _ = tok.token(id);
    }
});

//! vocab.txt: arbitrary bytes, and line-level edits of a real vocabulary → `Tokenizer::from_vocab_txt`,
//! checked against what the file says.
//!
//! Input: `mode, rest`. Mode bit 0: lower-case. Bit 1 clear: `rest` up to the first 0xFF is the vocab.txt
//! (lossy UTF-8). Bit 1 set: lines of the fixtures' real 8192-token vocab.txt ([`real_lines`]), edited by `(op u8, line u16 LE,
//! arg u16 LE)` records up to the first 0xFF ([`edit`]: drop, duplicate, move, swap, blank, add
//! whitespace / `\r` / a BOM, replace a line with another's text). What follows the 0xFF is a text to
//! encode.
//!
//! Oracle: `from_vocab_txt` fails exactly when the file has no lines or lacks one of `[UNK] [CLS] [SEP]
//! [PAD]`; when it loads, the vocabulary has one id per line, `token(id)` is that line without trailing
//! whitespace, `token_id` of it finds the same text (the last line wins a duplicate, as in HF
//! `tokenizers`), the special ids are the last lines holding those tokens, and every id `encode`
//! returns is in range.
#![no_main]

use encoder_lens::Tokenizer;
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

const REAL_VOCAB: &str = include_str!("../../tests/fixtures/models/prenorm-gelu/vocab.txt");

/// The real vocab's first 8 lines (the special tokens) and every 16th line after them (words, ##pieces,
/// punctuation, CJK): 519 lines. All 8192 cost ~25 ms a run under the sanitizer (11 runs/s on this
/// machine), and line edits reach nothing more in a longer file.
fn real_lines() -> &'static [&'static str] {
    static L: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    L.get_or_init(|| REAL_VOCAB.lines().enumerate().filter(|(i, _)| *i < 8 || i % 16 == 0).map(|(_, l)| l).collect())
}

/// The real vocab's lines with the edits in `p` applied. Lines stay borrowed from the real vocab until an
/// edit changes them (copying all 519 into new strings every run cost more than the edits).
fn edit(mut p: &[u8]) -> String {
    let mut lines: Vec<Cow<'static, str>> = real_lines().iter().map(|&l| Cow::Borrowed(l)).collect();
    while p.len() >= 5 && !lines.is_empty() {
        let n = lines.len();
        let i = u16::from_le_bytes([p[1], p[2]]) as usize % n;
        let arg = u16::from_le_bytes([p[3], p[4]]);
        let j = arg as usize % n;
        match p[0] % 9 {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(j, l);
            }
            2 => {
                let l = lines.remove(i);
                lines.insert(j.min(lines.len()), l);
            }
            3 => lines.swap(i, j),
            4 => lines[i] = Cow::Borrowed(""),
            5 => lines[i].to_mut().push_str([" ", "\t", "\r", "\u{a0}", "\u{3000}"][arg as usize % 5]),
            6 => lines[i].to_mut().insert(0, [' ', '\u{feff}', '#', '\t'][arg as usize % 4]),
            7 => lines[i] = Cow::Owned(lines[j].to_uppercase()),
            _ => lines.insert(i, Cow::Borrowed("")),
        }
        p = &p[5..];
    }
    let mut text = lines.join("\n");
    if p.first() == Some(&b'\r') {
        text = text.replace('\n', "\r\n");
    }
    text
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (vocab_part, text_part) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[..0]),
    };
    let lowercase = mode & 1 != 0;
    let vocab = if mode & 2 != 0 { edit(vocab_part) } else { String::from_utf8_lossy(vocab_part).into_owned() };
    let lines: Vec<&str> = vocab.lines().map(str::trim_end).collect();
    let mut last_line = std::collections::HashMap::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        last_line.insert(*l, i as u32);
    }
    let last = |t: &str| last_line.get(t).copied();
    let specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]"].map(last);
    let tok = match Tokenizer::from_vocab_txt(&vocab, lowercase) {
        Ok(t) => t,
        Err(e) => {
            assert!(lines.is_empty() || specials.iter().any(Option::is_none), "rejected a loadable vocab: {e}");
            return;
        }
    };
    assert!(!lines.is_empty() && specials.iter().all(Option::is_some), "accepted a vocab without its specials");
    assert_eq!(tok.vocab_size(), lines.len(), "one id per line");
    for (id, line) in lines.iter().enumerate() {
        assert_eq!(tok.token(id as u32), *line, "token({id})");
        let found = tok.token_id(line).expect("every line's token has an id");
        assert_eq!(Some(found), last(line), "`{line}`: the last line holding it wins");
    }
    assert_eq!(tok.pad_id(), specials[3].unwrap());
    assert_eq!(tok.token_id("[CLS]"), specials[1]);
    let text = String::from_utf8_lossy(text_part);
    for t in [text.as_ref(), "Hello, world! un##affable naïve 東京"] {
        let enc = tok.encode(t, Some(64));
        assert!(enc.ids.iter().all(|&id| (id as usize) < lines.len()));
        assert_eq!(enc.ids.first().copied(), specials[1]);
        assert_eq!(enc.ids.last().copied(), specials[2]);
    }
});

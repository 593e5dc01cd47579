//! BERT WordPiece tokenizer, rule for rule as Hugging Face `tokenizers` (`BertNormalizer`,
//! `BertPreTokenizer`, `WordPiece`, `[CLS] $A [SEP]` template, truncation) so the ids are identical.
//! It uses the same Unicode category and NFD tables as `tokenizers` does.

use crate::error::{Error, Result};
use std::collections::HashMap;
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::{canonical_combining_class, decompose_canonical};

/// Words longer than this many characters become `[UNK]` (WordPiece's `max_input_chars_per_word`).
pub const MAX_INPUT_CHARS_PER_WORD: usize = 100;

#[derive(Clone, Debug)]
/// BERT WordPiece tokenizer (see the module docs).
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    tokens: Vec<String>,
    lowercase: bool,
    strip_accents: bool,
    unk: u32,
    cls: u32,
    sep: u32,
    pad: u32,
}

/// The result of encoding one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids, `[CLS] … [SEP]`.
    pub ids: Vec<u32>,
    /// Number of word pieces dropped by truncation (0 if none).
    pub truncated: usize,
}

impl Tokenizer {
    /// Build from a BERT `vocab.txt` (one token per line, the line number is the id).
    pub fn from_vocab_txt(text: &str, lowercase: bool) -> Result<Self> {
        // One pass over the lines; the map is then sized up front (growing a 30,000-entry map rehashes
        // every token several times). A token on two lines keeps the last line's id.
        let tokens: Vec<String> = text.lines().map(|line| line.trim_end().to_string()).collect();
        let mut vocab = HashMap::with_capacity(tokens.len());
        for (i, tok) in tokens.iter().enumerate() {
            vocab.insert(tok.clone(), i as u32);
        }
        if tokens.is_empty() {
            return Err(Error::Vocab("vocab.txt is empty".into()));
        }
        let need = |t: &str| vocab.get(t).copied().ok_or_else(|| Error::Vocab(format!("vocab.txt has no {t} token")));
        Ok(Self {
            unk: need("[UNK]")?,
            cls: need("[CLS]")?,
            sep: need("[SEP]")?,
            pad: need("[PAD]")?,
            vocab,
            tokens,
            lowercase,
            strip_accents: lowercase,
        })
    }

    /// Tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Id of `[PAD]`.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The token with id `id` (`[UNK]` when out of range).
    pub fn token(&self, id: u32) -> &str {
        self.tokens.get(id as usize).map_or("[?]", |s| s.as_str())
    }

    /// The id of `token`, when it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// `BertNormalizer`: clean text, space out CJK ideographs, strip accents (NFD, drop Mn), lower-case.
    pub fn normalize(&self, text: &str) -> String {
        let mut s: String = text
            .chars()
            .filter(|&c| !(c == '\0' || c == '\u{fffd}' || is_control(c)))
            .map(|c| if is_whitespace(c) { ' ' } else { c })
            .collect();
        if s.chars().any(is_chinese_char) {
            let mut t = String::with_capacity(s.len() + 16);
            for c in s.chars() {
                if is_chinese_char(c) {
                    t.push(' ');
                    t.push(c);
                    t.push(' ');
                } else {
                    t.push(c);
                }
            }
            s = t;
        }
        if self.strip_accents {
            s = strip_accents(&s);
        }
        if self.lowercase {
            // Char by char, like `NormalizedString::lowercase` (no final-sigma rule).
            s = s.chars().flat_map(char::to_lowercase).collect();
        }
        s
    }

    /// `BertPreTokenizer`: split on whitespace (removed) and on punctuation (each its own word).
    pub fn pre_tokenize<'s>(&self, normalized: &'s str) -> Vec<&'s str> {
        let mut words = Vec::new();
        let mut start: Option<usize> = None;
        for (i, c) in normalized.char_indices() {
            if c.is_whitespace() {
                if let Some(s) = start.take() {
                    words.push(&normalized[s..i]);
                }
            } else if is_bert_punctuation(c) {
                if let Some(s) = start.take() {
                    words.push(&normalized[s..i]);
                }
                words.push(&normalized[i..i + c.len_utf8()]);
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            words.push(&normalized[s..]);
        }
        words
    }

    /// Greedy longest-match-first WordPiece of one word, appending ids to `out`.
    pub fn wordpiece(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_INPUT_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut piece = String::with_capacity(word.len() + 2);
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                // Step back one character.
                end -= word[..end].chars().next_back().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(start_len);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }

    /// Word piece ids of `text` without special tokens.
    pub fn word_pieces(&self, text: &str) -> Vec<u32> {
        let normalized = self.normalize(text);
        let mut ids = Vec::new();
        for word in self.pre_tokenize(&normalized) {
            self.wordpiece(word, &mut ids);
        }
        ids
    }

    /// `[CLS] pieces [SEP]`, keeping at most `max_len` ids in all (the tail of the text is cut).
    pub fn encode(&self, text: &str, max_len: Option<usize>) -> Encoding {
        let mut pieces = self.word_pieces(text);
        let mut truncated = 0;
        if let Some(m) = max_len {
            let room = m.saturating_sub(2);
            if pieces.len() > room {
                truncated = pieces.len() - room;
                pieces.truncate(room);
            }
        }
        let mut ids = Vec::with_capacity(pieces.len() + 2);
        ids.push(self.cls);
        ids.extend(pieces);
        ids.push(self.sep);
        Encoding { ids, truncated }
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    // Tab, newline and carriage return count as whitespace, not control. `is_other` covers Cc, Cf, Co and
    // Cs, as in `tokenizers`; unassigned code points are kept. The only such ASCII characters are the Cc
    // controls U+0000–U+001F and U+007F, so ASCII skips the three table searches (`tests` compares every
    // char with the tables).
    if c.is_ascii() {
        return c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r');
    }
    c.is_other()
}

fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

/// `s` in NFD with the nonspacing marks (Mn) dropped: `BertNormalizer`'s strip_accents, char for char what
/// `unicode_normalization_alignments`' `nfd()` + the Mn filter give (canonical decomposition, then each run of
/// non-starters stably sorted by combining class). Written over `decompose_canonical` because `nfd()`'s
/// iterator keeps the compatibility-decomposition tables reachable: ~70 KB of .wasm for nothing.
fn strip_accents(s: &str) -> String {
    fn flush(pending: &mut Vec<(u8, char)>, out: &mut String) {
        // A stable sort by combining class (insertion sort: runs of non-starters are a few characters; the
        // library's stable sort would add its own ~2 KB instance of driftsort to the .wasm).
        for i in 1..pending.len() {
            let mut j = i;
            while j > 0 && pending[j - 1].0 > pending[j].0 {
                pending.swap(j - 1, j);
                j -= 1;
            }
        }
        // (No ASCII character is a nonspacing mark: only the others are looked up.)
        out.extend(pending.drain(..).map(|(_, c)| c).filter(|c| c.is_ascii() || !c.is_mark_nonspacing()));
    }
    let (mut out, mut pending) = (String::with_capacity(s.len()), Vec::new());
    for c in s.chars() {
        decompose_canonical(c, |d| {
            let class = canonical_combining_class(d);
            if class == 0 {
                flush(&mut pending, &mut out);
            }
            pending.push((class, d));
        });
    }
    flush(&mut pending, &mut out);
    out
}

fn is_bert_punctuation(c: char) -> bool {
    // Every ASCII character of a Unicode punctuation category is ASCII punctuation, so ASCII needs no
    // table search (seven of them for a letter).
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    c.is_punctuation()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Tokenizer {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\n!\n,\ncafe\n好\n";
        Tokenizer::from_vocab_txt(vocab, true).unwrap()
    }

    #[test]
    fn greedy_longest_match() {
        let t = tiny();
        assert_eq!(t.encode("unaffable", None).ids, vec![2, 5, 6, 7, 3]);
        assert_eq!(t.encode("Hello, HELLO!", None).ids, vec![2, 8, 10, 8, 9, 3]);
        assert_eq!(t.encode("unaffablex", None).ids, vec![2, 1, 3]);
    }

    #[test]
    fn accents_cjk_and_controls() {
        let t = tiny();
        assert_eq!(t.encode("Café", None).ids, vec![2, 11, 3]);
        assert_eq!(t.encode("好好", None).ids, vec![2, 12, 12, 3]);
        assert_eq!(t.encode("hel\u{0}lo\u{200b}", None).ids, vec![2, 8, 3]);
        assert_eq!(t.encode("", None).ids, vec![2, 3]);
    }

    #[test]
    fn strip_accents_is_nfd_without_marks() {
        use unicode_normalization_alignments::UnicodeNormalization;
        let reference = |s: &str| -> String { s.nfd().map(|(c, _)| c).filter(|c| !c.is_mark_nonspacing()).collect() };
        // Every scalar value alone, then runs of non-starters in and out of canonical order.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(strip_accents(&s), reference(&s), "U+{:04X}", c as u32);
        }
        for s in ["a\u{0323}\u{0301}\u{0302}e\u{0316}\u{0300}", "\u{0301}\u{0316}x\u{1E69}\u{0323}", "\u{1100}\u{1161}\u{11A8}한글 Ǻ\u{0345}\u{0314}ᾷ", "\u{0F73}\u{0F75}\u{0F81}\u{093C}\u{0902}"] {
            assert_eq!(strip_accents(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn truncation_keeps_special_tokens() {
        let t = tiny();
        let e = t.encode("hello hello hello hello", Some(4));
        assert_eq!(e.ids, vec![2, 8, 8, 3]);
        assert_eq!(e.truncated, 2);
    }

    /// The ASCII shortcuts of the character classes give what the Unicode tables give, for every char.
    #[test]
    fn character_classes_match_the_unicode_tables() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(is_control(c), !matches!(c, '\t' | '\n' | '\r') && c.is_other(), "is_control({c:?})");
            assert_eq!(is_bert_punctuation(c), c.is_ascii_punctuation() || c.is_punctuation(), "punctuation {c:?}");
            if c.is_ascii() {
                assert!(!c.is_mark_nonspacing(), "{c:?}");
            }
        }
    }

    #[test]
    fn long_word_is_unknown() {
        let t = tiny();
        let long = "a".repeat(MAX_INPUT_CHARS_PER_WORD + 1);
        assert_eq!(t.encode(&long, None).ids, vec![2, 1, 3]);
    }
}

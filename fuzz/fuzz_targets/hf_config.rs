//! Hugging Face BERT `config.json` translation (`Config::from_hf_bert_json`), with structured edits of
//! a real folder's JSON files.
//!
//! Input: `overrides, rest`. The files start as `models/minilm-sentiment`'s config.json,
//! tokenizer_config.json, sentence_bert_config.json, 1_Pooling/config.json and
//! model.safetensors.index.json (a real HF / sentence-transformers folder). `rest` is a list of edits
//! `(file u8, key u8, kind u8, len u8, bytes…)`: in file `file % 5`, the key `KEYS[key % KEYS.len()]` is
//! set to a value of kind `kind` built from `bytes` (null, a bool, a small or huge or negative integer,
//! a float, 1e30, NaN-like text, a string, an array, an object of labels, …), or removed, or the whole
//! file is dropped or replaced by the raw bytes. Override bits pick pooling, the pooler and a max_len.
//!
//! Oracle: translation is Ok or a clear Err, never a panic; a config it returns validates, survives a
//! JSON round trip through this crate's own format, and keeps what the files say (sizes, labels from a
//! well-formed id2label, the smallest of the length limits); the index gives at least one weight file.
#![no_main]

use encoder_lens::config::Pooling;
use encoder_lens::hf::{index_weight_files, is_hf_bert_config, weight_files};
use encoder_lens::{Config, HfFiles, HfOverrides};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

const FILES: [&str; 5] = [
    include_str!("../../models/minilm-sentiment/config.json"),
    include_str!("../../models/minilm-sentiment/tokenizer_config.json"),
    include_str!("../../models/minilm-sentiment/sentence_bert_config.json"),
    include_str!("../../models/minilm-sentiment/1_Pooling/config.json"),
    include_str!("../../models/minilm-sentiment/model.safetensors.index.json"),
];

/// Every key the translation reads (and a few it ignores), across the five files.
const KEYS: [&str; 32] = [
    "hidden_size",
    "num_attention_heads",
    "num_hidden_layers",
    "intermediate_size",
    "vocab_size",
    "hidden_act",
    "layer_norm_eps",
    "max_position_embeddings",
    "type_vocab_size",
    "pad_token_id",
    "architectures",
    "id2label",
    "label2id",
    "num_labels",
    "model_type",
    "position_embedding_type",
    "do_lower_case",
    "strip_accents",
    "tokenize_chinese_chars",
    "model_max_length",
    "max_seq_length",
    "pooling_mode_cls_token",
    "pooling_mode_mean_tokens",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
    "word_embedding_dimension",
    "weight_map",
    "metadata",
    "problem_type",
    "classifier_dropout",
];

fn value(kind: u8, b: &[u8]) -> Option<Value> {
    let n = |k: usize| b.iter().take(k).fold(0u64, |a, &x| a << 8 | x as u64);
    let s = String::from_utf8_lossy(b).into_owned();
    Some(match kind % 20 {
        0 => return None, // remove the key
        1 => Value::Null,
        2 => json!(b.first().is_some_and(|x| x & 1 != 0)),
        3 => json!(n(1)),
        4 => json!(n(2)),
        5 => json!(n(8)),
        6 => json!(-(n(4) as i64)),
        7 => json!(f64::from_bits(n(8))),
        8 => json!(1e30),
        9 => json!(s),
        10 => json!(["BertForSequenceClassification", s]),
        11 => json!([s]),
        12 => {
            // id2label with ids from the bytes: gaps, duplicates, non-numbers.
            let mut m = Map::new();
            for (i, x) in b.iter().enumerate() {
                let key = if x & 0x80 != 0 { format!("{}", x & 0x7f) } else { format!("{x:x}{i}") };
                m.insert(key, json!(format!("L{i}<{x}>")));
            }
            Value::Object(m)
        }
        13 => json!({ "0": s, "1": "positive" }),
        14 => json!([n(2), s]),
        15 => json!({ "a.weight": s, "b.bias": "model.safetensors" }),
        16 => json!(1.0 / (n(2) as f64 + 1.0)),
        17 => json!(n(2) as f64 + 0.5),
        18 => json!({}),
        _ => json!([]),
    })
}

/// The five files parsed once (every run used to parse them again: ~13 KB of JSON, the 8 KB index most
/// of it). A run borrows them and copies only a file it edits.
fn parsed() -> &'static [Option<Map<String, Value>>; 5] {
    static P: std::sync::OnceLock<[Option<Map<String, Value>>; 5]> = std::sync::OnceLock::new();
    P.get_or_init(|| FILES.map(|f| serde_json::from_str::<Map<String, Value>>(f).ok()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&ov, mut p)) = data.split_first() else { return };
    let mut files: [Option<Cow<'static, str>>; 5] = FILES.map(|f| Some(Cow::Borrowed(f)));
    let mut objects: [Option<Cow<'static, Map<String, Value>>>; 5] =
        std::array::from_fn(|i| parsed()[i].as_ref().map(Cow::Borrowed));
    // Files whose JSON object was edited since it was last written: written once, after the edits (the
    // same text as writing it after every edit, which the last write would have left).
    let mut edited = [false; 5];
    while p.len() >= 4 {
        let (file, key, kind, len) = (p[0] as usize % 5, KEYS[p[1] as usize % KEYS.len()], p[2], p[3] as usize);
        let bytes = &p[4..4 + len.min(p.len() - 4)];
        p = &p[4 + bytes.len()..];
        match kind {
            // Drop the file, or replace it by raw bytes (then it is no longer edited as JSON).
            0xFE => (files[file], objects[file], edited[file]) = (None, None, false),
            0xFF => {
                (files[file], objects[file], edited[file]) =
                    (Some(Cow::Owned(String::from_utf8_lossy(bytes).into_owned())), None, false)
            }
            _ => {
                if let Some(obj) = objects[file].as_mut() {
                    let obj = obj.to_mut();
                    match value(kind, bytes) {
                        Some(v) => obj.insert(key.to_string(), v),
                        None => obj.remove(key),
                    };
                    edited[file] = true;
                }
            }
        }
    }
    for f in 0..5 {
        if let (true, Some(obj)) = (edited[f], &objects[f]) {
            files[f] = Some(Cow::Owned(serde_json::to_string(&**obj).expect("a JSON object serializes")));
        }
    }
    let overrides = HfOverrides {
        pooling: match ov & 3 {
            1 => Some(Pooling::Mean),
            2 => Some(Pooling::Cls),
            _ => None,
        },
        pooler: if ov & 4 != 0 { Some(ov & 8 != 0) } else { None },
        max_len: if ov & 16 != 0 { Some((ov >> 5) as usize * 100) } else { None },
    };
    let config_json: &str = files[0].as_deref().unwrap_or_default();
    let hf = HfFiles {
        config_json,
        vocab_txt: "",
        weights: Vec::new(),
        tokenizer_config_json: files[1].as_deref(),
        sentence_bert_config_json: files[2].as_deref(),
        pooling_config_json: files[3].as_deref(),
    };
    let _ = is_hf_bert_config(config_json);
    if let Ok(c) = Config::from_hf_bert_json(&hf, &overrides) {
        c.validate().expect("a translated config validates");
        let again = serde_json::to_string(&c).expect("a config serializes");
        assert_eq!(Config::from_json(&again).expect("its JSON loads again"), c);
        assert_eq!(c.head_dim() * c.num_heads, c.hidden_size);
        if let Some(obj) = &objects[0] {
            assert_eq!(obj.get("hidden_size").and_then(Value::as_u64), Some(c.hidden_size as u64));
            assert_eq!(obj.get("vocab_size").and_then(Value::as_u64), Some(c.vocab_size as u64));
            let max_pos = obj.get("max_position_embeddings").map_or(Some(512), Value::as_u64).unwrap();
            if overrides.max_len.is_none() {
                assert!(c.max_len as u64 <= max_pos, "max_len {} above max_position_embeddings {max_pos}", c.max_len);
            }
            // A well-formed id2label's labels, in id order.
            let classify = obj
                .get("architectures")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "BertForSequenceClassification"));
            if let (true, Some(Value::Object(m))) = (classify, obj.get("id2label")) {
                assert_eq!(c.labels.len(), m.len());
                for (k, v) in m {
                    let i: usize = k.parse().expect("labels only from numeric ids");
                    assert_eq!(Some(c.labels[i].as_str()), v.as_str());
                }
            }
        }
    }
    match &files[4] {
        // The real index, unedited (most runs: the edits spread over five files): the same bytes give the
        // same answer, so it is checked in the first such run only (it is 8 KB of JSON, parsed twice here:
        // two thirds of a run's time).
        Some(Cow::Borrowed(index)) => {
            static REAL_INDEX: std::sync::Once = std::sync::Once::new();
            REAL_INDEX.call_once(|| check_index(index));
        }
        Some(Cow::Owned(index)) => check_index(index),
        None => {}
    }
});

/// The index names at least one file when it loads, and `weight_files` reads it the same way.
fn check_index(index: &str) {
    if let Ok(names) = index_weight_files(index) {
        assert!(!names.is_empty(), "an index that loads names at least one file");
        assert_eq!(weight_files(Some(index)).ok(), Some(names));
    }
}

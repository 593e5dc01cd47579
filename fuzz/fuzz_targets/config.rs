//! `config.json` (this crate's) and Hugging Face BERT `config.json` translation.
//!
//! Input: `mode, rest`. Mode bit 0 clear: `rest` → `Config::from_json` (and a valid config must survive
//! a JSON round trip). Bit 0 set: `rest` split at 0xFF into config.json, tokenizer_config.json,
//! sentence_bert_config.json, 1_Pooling/config.json and model.safetensors.index.json (a missing part is
//! an absent file) → `Config::from_hf_bert_json` with overrides from mode bits 1–5,
//! `is_hf_bert_config`, `index_weight_files`.
#![no_main]

use encoder_lens::config::Pooling;
use encoder_lens::hf::{index_weight_files, is_hf_bert_config, weight_files};
use encoder_lens::{Config, HfFiles, HfOverrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        if let Ok(c) = Config::from_json(&text) {
            c.validate().expect("a config from_json accepted validates");
            let again = serde_json::to_string(&c).expect("a config serializes");
            // f32 norm_eps survives the round trip exactly (serde_json prints the shortest repr).
            assert_eq!(Config::from_json(&again).expect("its JSON loads again"), c);
            let _ = (c.head_dim(), c.position_rows(), c.num_labels());
        }
        let _ = is_hf_bert_config(&text);
        return;
    }
    let parts: Vec<String> = rest.split(|&b| b == 0xFF).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    let part = |i: usize| parts.get(i).map(String::as_str);
    let files = HfFiles {
        config_json: part(0).unwrap_or(""),
        vocab_txt: "",
        weights: Vec::new(),
        tokenizer_config_json: part(1),
        sentence_bert_config_json: part(2),
        pooling_config_json: part(3),
    };
    let overrides = HfOverrides {
        pooling: match (mode >> 1) & 3 {
            1 => Some(Pooling::Mean),
            2 => Some(Pooling::Cls),
            _ => None,
        },
        pooler: if mode & 8 != 0 { Some(mode & 16 != 0) } else { None },
        max_len: if mode & 32 != 0 { Some(rest.len()) } else { None },
    };
    if let Ok(c) = Config::from_hf_bert_json(&files, &overrides) {
        c.validate().expect("a translated config validates");
    }
    let _ = is_hf_bert_config(files.config_json);
    if let Some(index) = part(4) {
        if let Ok(names) = index_weight_files(index) {
            assert!(!names.is_empty(), "an index that loads names at least one file");
        }
        let _ = weight_files(Some(index));
    }
});

//! A tiny random HF BERT (`BertForSequenceClassification` names, 2 layers, hidden 8) built in memory,
//! for the loader's error paths natively and in the browser.
#![allow(dead_code)]

use safetensors::{tensor::TensorView, Dtype};

pub const TINY_VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nfilm\nwas\ngood\nbad\n##s\n!\n";

pub fn tiny_config(act: &str) -> String {
    format!(
        r#"{{"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 12,
        "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 16,
        "hidden_act": "{act}", "layer_norm_eps": 1e-12, "max_position_embeddings": 16, "type_vocab_size": 2,
        "pad_token_id": 0, "id2label": {{"0": "neg", "1": "pos"}}, "label2id": {{"neg": 0, "pos": 1}}}}"#
    )
}

/// `BertForSequenceClassification` tensors, `bert.` prefix, deterministic pseudo-random values.
pub fn tiny_tensors() -> Vec<(String, Vec<usize>)> {
    let mut t: Vec<(String, Vec<usize>)> = vec![
        ("bert.embeddings.word_embeddings.weight".into(), vec![12, 8]),
        ("bert.embeddings.position_embeddings.weight".into(), vec![16, 8]),
        ("bert.embeddings.token_type_embeddings.weight".into(), vec![2, 8]),
        ("bert.embeddings.LayerNorm.weight".into(), vec![8]),
        ("bert.embeddings.LayerNorm.bias".into(), vec![8]),
    ];
    for l in 0..2 {
        let p = format!("bert.encoder.layer.{l}");
        for (n, s) in [
            ("attention.self.query.weight", vec![8, 8]),
            ("attention.self.query.bias", vec![8]),
            ("attention.self.key.weight", vec![8, 8]),
            ("attention.self.key.bias", vec![8]),
            ("attention.self.value.weight", vec![8, 8]),
            ("attention.self.value.bias", vec![8]),
            ("attention.output.dense.weight", vec![8, 8]),
            ("attention.output.dense.bias", vec![8]),
            ("attention.output.LayerNorm.weight", vec![8]),
            ("attention.output.LayerNorm.bias", vec![8]),
            ("intermediate.dense.weight", vec![16, 8]),
            ("intermediate.dense.bias", vec![16]),
            ("output.dense.weight", vec![8, 16]),
            ("output.dense.bias", vec![8]),
            ("output.LayerNorm.weight", vec![8]),
            ("output.LayerNorm.bias", vec![8]),
        ] {
            t.push((format!("{p}.{n}"), s));
        }
    }
    t.push(("bert.pooler.dense.weight".into(), vec![8, 8]));
    t.push(("bert.pooler.dense.bias".into(), vec![8]));
    t.push(("classifier.weight".into(), vec![2, 8]));
    t.push(("classifier.bias".into(), vec![2]));
    t
}

/// Serialise `tensors` (name, shape) with values from a fixed LCG; `rename` maps each name.
pub fn tiny_weights(tensors: &[(String, Vec<usize>)], rename: impl Fn(&str) -> String) -> Vec<u8> {
    let mut state = 0x1234_5678u32;
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s)| {
            let len: usize = s.iter().product();
            let bytes = (0..len)
                .flat_map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let v = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5; // [-0.5, 0.5)
                    let v = if n.contains("LayerNorm.weight") { 1.0 + v } else { v };
                    v.to_le_bytes()
                })
                .collect();
            (rename(n), s.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

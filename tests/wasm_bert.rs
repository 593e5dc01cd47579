//! The HF BERT entry points of the `#[wasm_bindgen]` API in a real browser: `Engine.createHf` with a tiny
//! random BERT whose encoder and head sit in two safetensors files (as `models/minilm-sentiment` does),
//! `isHfBert`, `hfWeightFiles`, `embed`, and a clear error for a missing tensor.
#![cfg(target_arch = "wasm32")]

mod common;
#[path = "common/tiny_bert.rs"]
mod tiny_bert;

use encoder_lens::wasm::Engine;
use encoder_lens::{Classifier, ForwardOptions, HfFiles, HfOverrides, TraceRequest};
use tiny_bert::{tiny_config, tiny_tensors, tiny_weights, TINY_VOCAB};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).expect("property")
}

fn files_js(config: &str) -> JsValue {
    let o = js_sys::Object::new();
    js_sys::Reflect::set(&o, &"config".into(), &config.into()).unwrap();
    js_sys::Reflect::set(&o, &"vocab".into(), &TINY_VOCAB.into()).unwrap();
    o.into()
}

fn blobs(parts: &[&[u8]]) -> js_sys::Array {
    parts.iter().map(|p| JsValue::from(js_sys::Uint8Array::from(*p))).collect()
}

/// The tiny model's tensors split into an encoder file and a `classifier.*` file.
fn split_weights() -> (Vec<u8>, Vec<u8>) {
    let (head, body): (Vec<_>, Vec<_>) = tiny_tensors().into_iter().partition(|(n, _)| n.starts_with("classifier"));
    let all = tiny_weights(&tiny_tensors(), |n| n.to_string());
    let st = safetensors::SafeTensors::deserialize(&all).unwrap();
    let part = |names: &[(String, Vec<usize>)]| {
        let v: Vec<_> = names.iter().map(|(n, _)| (n.clone(), st.tensor(n).unwrap())).collect();
        safetensors::serialize(v, None).unwrap()
    };
    (part(&body), part(&head))
}

#[wasm_bindgen_test]
async fn create_hf_classifies_embeds_and_traces() {
    let cfg = tiny_config("gelu");
    assert!(Engine::is_hf_bert(&cfg));
    assert!(!Engine::is_hf_bert(r#"{"architecture": "encoder_classifier"}"#));
    let index = r#"{"weight_map": {"embeddings.word_embeddings.weight": "../base/model.safetensors",
        "classifier.weight": "classifier.safetensors", "classifier.bias": "classifier.safetensors"}}"#;
    assert_eq!(Engine::hf_weight_files(index).map_err(JsValue::from).unwrap(), vec!["../base/model.safetensors", "classifier.safetensors"]);

    let (body, head) = split_weights();
    let e = Engine::create_hf(files_js(&cfg), blobs(&[&body, &head]), Some("cpu".into())).await.map_err(JsValue::from).expect("createHf");
    let texts: JsValue = ["the film was good !", "bad films"].iter().map(|t| JsValue::from_str(t)).collect::<js_sys::Array>().into();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"trace".into(), &JsValue::TRUE).unwrap();
    let r = e.classify(texts.clone(), opts.into()).await.map_err(JsValue::from).expect("classify");
    let labels: Vec<String> = js_sys::Array::from(&get(&r, "labels")).iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(labels, ["neg", "pos"]);

    // The same numbers as the library called directly.
    let files = HfFiles { config_json: &cfg, vocab_txt: TINY_VOCAB, weights: vec![&body, &head], ..Default::default() };
    let c = Classifier::from_hf(&files, &HfOverrides::default()).unwrap();
    // Traced, as the JS call above: the same code path, so the same bits.
    let traced = ForwardOptions::default().traced(TraceRequest::ALL);
    let want = common::ready(common::cpu_engine(c).classify(&["the film was good !", "bad films"], &traced)).unwrap();
    let preds = js_sys::Array::from(&get(&r, "predictions"));
    for (i, p) in want.predictions.iter().enumerate() {
        let got: Vec<f32> = js_sys::Array::from(&get(&preds.get(i as u32), "probabilities")).iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(got, p.probabilities);
    }
    let layers = js_sys::Array::from(&get(&get(&r, "trace"), "layers"));
    assert_eq!(layers.length(), 2);
    let shape: Vec<f64> = js_sys::Array::from(&get(&get(&layers.get(0), "attention"), "shape")).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(shape, vec![2.0, 2.0, 7.0, 7.0]); // [CLS] the film was good ! [SEP]
    let pe = e.positional_table().map_err(JsValue::from).unwrap();
    let pe_shape: Vec<f64> = js_sys::Array::from(&get(&pe, "shape")).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(pe_shape, vec![16.0, 8.0], "the learned position table");

    let emb = js_sys::Array::from(&e.embed(texts).await.map_err(JsValue::from).expect("embed"));
    assert_eq!(e.forward_count().map_err(JsValue::from).unwrap(), 2.0, "classify and embed: one forward each");
    assert_eq!(emb.length(), 2);
    let v: Vec<f64> = js_sys::Array::from(&emb.get(0)).iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(v.len(), 8);
    assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-5);
}

#[wasm_bindgen_test]
async fn create_hf_missing_tensor_is_a_clear_error() {
    let (body, _) = split_weights();
    let err = match Engine::create_hf(files_js(&tiny_config("gelu")), blobs(&[&body]), None).await {
        Ok(_) => panic!("loaded without the classifier"),
        Err(e) => get(&JsValue::from(e), "message").as_string().unwrap(),
    };
    assert_eq!(err, "missing tensor `classifier.weight` in weights");
    let err = match Engine::create_hf(files_js(&tiny_config("mish")), blobs(&[&body]), None).await {
        Ok(_) => panic!("loaded with hidden_act mish"),
        Err(e) => get(&JsValue::from(e), "message").as_string().unwrap(),
    };
    assert!(err.contains("hidden_act `mish`"), "{err}");
}

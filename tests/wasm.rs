//! The engine inside a real browser (headless Chromium via `wasm-pack test --headless --chrome`): the same
//! golden, tokenizer and bad-input checks as natively, plus the `#[wasm_bindgen]` API as JavaScript sees it.
#![cfg(target_arch = "wasm32")]

mod common;
use common::{error_checks, golden_checks};

use encoder_lens::wasm::Engine;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn golden_sentiment_ln() {
    golden_checks::check_model(&common::MODELS[0]);
}

#[wasm_bindgen_test]
fn golden_sentiment_bn() {
    golden_checks::check_model(&common::MODELS[1]);
}

#[wasm_bindgen_test]
fn golden_prenorm_models() {
    golden_checks::check_model(&common::MODELS[2]);
    golden_checks::check_model(&common::MODELS[3]);
    golden_checks::check_model(&common::MODELS[4]);
}

#[wasm_bindgen_test]
fn batched_equals_one_at_a_time() {
    for m in &common::MODELS {
        golden_checks::check_batch_independence(m);
    }
}

#[wasm_bindgen_test]
fn bad_input_is_an_error_not_a_panic() {
    error_checks::config_errors();
    error_checks::weight_errors();
    error_checks::vocab_errors();
    error_checks::batch_errors();
}

#[wasm_bindgen_test]
fn odd_and_huge_texts() {
    error_checks::text_inputs();
}

fn js_texts(texts: &[&str]) -> JsValue {
    let arr = js_sys::Array::new();
    for t in texts {
        arr.push(&JsValue::from_str(t));
    }
    arr.into()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).expect("property")
}

async fn engine(m: &common::ModelDir) -> Engine {
    Engine::create(m.config.to_string(), m.weights.to_vec(), m.vocab.to_string(), None).await.map_err(JsValue::from).expect("engine")
}

#[wasm_bindgen_test]
async fn js_api_classifies_and_traces() {
    let m = &common::MODELS[0];
    let e = engine(m).await;
    let r = e
        .classify(js_texts(&["an absolute joy from start to finish", "a dull, lifeless waste of two hours"]), JsValue::UNDEFINED)
        .await
        .map_err(JsValue::from)
        .expect("classify");
    let preds = js_sys::Array::from(&get(&r, "predictions"));
    assert_eq!(preds.length(), 2);
    let label = |i: u32| get(&preds.get(i), "label").as_string().unwrap();
    assert_eq!(label(0), "positive");
    assert_eq!(label(1), "negative");
    for i in 0..2 {
        let p = js_sys::Array::from(&get(&preds.get(i), "probabilities"));
        let sum: f64 = p.iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "sum {sum}");
    }
    assert!(get(&r, "trace").is_null() || get(&r, "trace").is_undefined());

    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"trace".into(), &JsValue::TRUE).unwrap();
    let r = e.classify(js_texts(&["great"]), opts.into()).await.map_err(JsValue::from).expect("classify with trace");
    let trace = get(&r, "trace");
    let layers = js_sys::Array::from(&get(&trace, "layers"));
    let config: encoder_lens::Config = serde_json::from_str(m.config).unwrap();
    assert_eq!(layers.length() as usize, config.num_layers);
    let attn = get(&layers.get(0), "attention");
    let shape: Vec<f64> = js_sys::Array::from(&get(&attn, "shape")).iter().map(|v| v.as_f64().unwrap()).collect();
    // [CLS] great [SEP]
    assert_eq!(shape, vec![1.0, config.num_heads as f64, 3.0, 3.0]);

    let pe = e.positional_table().map_err(JsValue::from).expect("pe");
    let pe_shape: Vec<f64> = js_sys::Array::from(&get(&pe, "shape")).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(pe_shape, vec![config.max_len as f64, config.hidden_size as f64]);
}

#[wasm_bindgen_test]
async fn js_api_rejects_bad_input() {
    let m = &common::MODELS[0];
    let bad = Engine::create(m.config.to_string(), m.weights[..1000].to_vec(), m.vocab.to_string(), None).await;
    assert!(bad.is_err());
    let bad = Engine::create("{}".to_string(), m.weights.to_vec(), m.vocab.to_string(), None).await;
    assert!(bad.is_err());
    let e = engine(m).await;
    assert!(e.classify(JsValue::from_f64(3.0), JsValue::UNDEFINED).await.is_err());
    assert!(e.classify(js_texts(&[]), JsValue::UNDEFINED).await.is_err());
    let bad_opts = js_sys::Object::new();
    js_sys::Reflect::set(&bad_opts, &"batchNorm".into(), &"sometimes".into()).unwrap();
    assert!(e.classify(js_texts(&["x"]), bad_opts.into()).await.is_err());
    // The engine still works after errors.
    assert!(e.classify(js_texts(&["still fine"]), JsValue::UNDEFINED).await.is_ok());
}

/// `Engine.load` reads the weights tensor by tensor from the caller's `Uint8Array` (or an `ArrayBuffer`)
/// without copying the file into wasm memory: the same probabilities as `Engine.create`, which takes a copy;
/// a truncated file is an error, and the caller's array is left as it was. The weights may come as a promise
/// (a read still under way): the same probabilities, and a failed read is the load's error, its message kept.
#[wasm_bindgen_test]
async fn load_reads_the_callers_uint8array() {
    let m = &common::MODELS[0];
    let texts = js_sys::Object::new();
    js_sys::Reflect::set(&texts, &"config.json".into(), &m.config.into()).unwrap();
    js_sys::Reflect::set(&texts, &"vocab.txt".into(), &m.vocab.into()).unwrap();
    let probabilities = |r: JsValue| -> Vec<f64> {
        let p = get(&js_sys::Array::from(&get(&r, "predictions")).get(0), "probabilities");
        js_sys::Array::from(&p).iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let text = js_texts(&["an absolute joy from start to finish"]);
    let want = probabilities(engine(m).await.classify(text.clone(), JsValue::UNDEFINED).await.map_err(JsValue::from).expect("classify"));
    let array = js_sys::Uint8Array::from(m.weights);
    let promised = js_sys::Promise::resolve(&js_sys::Array::of1(&array));
    for weights in [js_sys::Array::of1(&array).into(), js_sys::Array::of1(&array.buffer()).into(), JsValue::from(promised)] {
        let e = Engine::load(texts.clone().into(), weights, Some("cpu".into())).await.map_err(JsValue::from).expect("load");
        let got = probabilities(e.classify(text.clone(), JsValue::UNDEFINED).await.map_err(JsValue::from).expect("classify"));
        assert_eq!(got, want);
    }
    assert_eq!(array.to_vec(), m.weights);
    let message = |r: Result<Engine, wasm_bindgen::JsError>| {
        let err = r.err().map(JsValue::from);
        err.and_then(|e| js_sys::Reflect::get(&e, &"message".into()).ok()).and_then(|m| m.as_string()).expect("an error")
    };
    let truncated = array.subarray(0, array.length() - 1);
    let msg = message(Engine::load(texts.clone().into(), js_sys::Array::of1(&truncated).into(), Some("cpu".into())).await);
    assert!(msg.contains("metadata"), "{msg}");
    let failed = js_sys::Promise::reject(&js_sys::Error::new("could not download model.safetensors: HTTP 404").into());
    let msg = message(Engine::load(texts.into(), failed.into(), Some("cpu".into())).await);
    assert_eq!(msg, "could not download model.safetensors: HTTP 404");
}

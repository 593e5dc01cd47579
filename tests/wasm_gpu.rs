//! The GPU backend in a real browser: WebGPU in headless Chromium (SwiftShader), via
//! `wasm-pack test --headless --chrome`. The same checks as `tests/gpu.rs` (kernels vs the CPU over random
//! shapes, models vs the CPU and PyTorch, fallback), plus the JS API's backend choice. Without WebGPU
//! each test logs `SKIPPED: …` (and fails when built with REQUIRE_GPU=1).
#![cfg(target_arch = "wasm32")]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;
#[path = "common/gpu_quant_checks.rs"]
mod gpu_quant_checks;
#[path = "common/tiny_bert.rs"]
mod tiny_bert;

/// The tiny random HF BERT of the BERT tests, loaded through the HF path.
fn tiny_bert_classifier() -> encoder_lens::Classifier {
    let cfg = tiny_bert::tiny_config("gelu");
    let weights = tiny_bert::tiny_weights(&tiny_bert::tiny_tensors(), |n| n.to_string());
    let files = encoder_lens::HfFiles { config_json: &cfg, vocab_txt: tiny_bert::TINY_VOCAB, weights: vec![&weights], ..Default::default() };
    encoder_lens::Classifier::from_hf(&files, &encoder_lens::HfOverrides::default()).expect("tiny bert")
}

use encoder_lens::wasm::Engine;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

macro_rules! gpu_test {
    ($name:ident, |$ctx:ident| $body:expr) => {
        #[wasm_bindgen_test]
        async fn $name() {
            let t0 = js_sys::Date::now();
            let Some($ctx) = gpu_checks::gpu_or_skip(stringify!($name)).await else { return };
            $body.await;
            wasm_bindgen_test::console_log!("{}: {:.1} s", stringify!($name), (js_sys::Date::now() - t0) / 1e3);
        }
    };
}

// SwiftShader is a CPU emulation: 50 shapes per kernel as natively (sequence lengths 1, 7, 128, 300
// always included) but matmul k, n <= 160, every 4th golden batch traced, and the trained models' 17
// batches split over two tests, so each test stays well under the 20 s per-test timeout.
gpu_test!(gpu_matmul_matches_cpu, |ctx| gpu_checks::matmul(&ctx, 50, 300, 160));
gpu_test!(gpu_attention_matches_cpu, |ctx| gpu_checks::attention(&ctx, 50, 300));
gpu_test!(gpu_norms_match_cpu, |ctx| gpu_checks::norms(&ctx, 50, 300));
gpu_test!(gpu_embed_pool_softmax_match_cpu, |ctx| gpu_checks::embed_pool_softmax(&ctx, 50, 300));
gpu_test!(gpu_sentiment_ln_matches_cpu_and_pytorch_1, |ctx| async { gpu_checks::model(&common::MODELS[0], ctx, 4, (0, 2)).await; });
gpu_test!(gpu_sentiment_ln_matches_cpu_and_pytorch_2, |ctx| async { gpu_checks::model(&common::MODELS[0], ctx, 4, (1, 2)).await; });
gpu_test!(gpu_sentiment_bn_matches_cpu_and_pytorch_1, |ctx| async { gpu_checks::model(&common::MODELS[1], ctx, 4, (0, 2)).await; });
gpu_test!(gpu_sentiment_bn_matches_cpu_and_pytorch_2, |ctx| async { gpu_checks::model(&common::MODELS[1], ctx, 4, (1, 2)).await; });
gpu_test!(gpu_prenorm_gelu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[2], ctx, 4, (0, 1)).await; });
gpu_test!(gpu_postnorm_silu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[4], ctx, 4, (0, 1)).await; });
gpu_test!(gpu_prenorm_bn_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[3], ctx, 4, (0, 1)).await; });
gpu_test!(gpu_glt_matches_cpu, |ctx| gpu_checks::glt(&ctx, 50));
gpu_test!(gpu_delight_a_matches_cpu_and_pytorch, |ctx| async { gpu_checks::delight_model(&common::DELIGHT[0], ctx, 4, (0, 1)).await; });
gpu_test!(gpu_delight_one_block_matches_cpu_and_pytorch, |ctx| async { gpu_checks::delight_model(&common::DELIGHT[1], ctx, 4, (0, 1)).await; });
gpu_test!(gpu_bert_like_model_matches_cpu, |ctx| gpu_checks::bert_like(&tiny_bert_classifier(), ctx));
gpu_test!(gpu_a_repeated_shape_creates_no_buffers_or_bind_groups, |ctx| gpu_checks::reuse(&common::MODELS[0], ctx));
gpu_test!(gpu_oversized_tensor_is_refused, |ctx| gpu_checks::oversized_tensor_is_refused(&common::MODELS[2], ctx));
gpu_test!(gpu_timed_forward_times_every_op, |ctx| gpu_checks::timed_forward(&common::MODELS[0], ctx, "gpu_timed_forward_times_every_op"));

// int8 and f16 (tests/common/gpu_quant_checks.rs; natively tests/gpu_quant.rs): the activation
// parameters bit for bit, the int8 linear's integer parts bit for bit and the f16 linear on 50 shapes
// (k, n <= 160 for SwiftShader's speed), whole quantized models vs the CPU.
const SENTIMENT_LN_INT8: (&str, &[u8], &str) = (
    include_str!("../models/sentiment-ln-int8/config.json"),
    include_bytes!("../models/sentiment-ln-int8/model.safetensors"),
    include_str!("../models/sentiment-ln-int8/vocab.txt"),
);

fn golden_batches() -> Vec<encoder_lens::Batch> {
    let fx = common::MODELS[0].fixture();
    (0..fx.num_batches()).map(|k| fx.batch(k)).collect()
}

const INT8: gpu_quant_checks::Bound = gpu_quant_checks::Bound { all: 1.5e-2, most: 1e-4, share: 0.8 };
const F16: gpu_quant_checks::Bound = gpu_quant_checks::Bound { all: 1e-4, most: 1e-4, share: 1.0 };

gpu_test!(gpu_quant_act_params_bit_exact, |ctx| gpu_quant_checks::act_quant_params(&ctx, 2000));
gpu_test!(gpu_quant_int8_linear_matches_cpu, |ctx| gpu_quant_checks::int8_linear(&ctx, 50, 160));
gpu_test!(gpu_quant_int8_u8_grid_and_outlier_columns_match_cpu, |ctx| gpu_quant_checks::int8_split_linear(&ctx, 50, 160));
gpu_test!(gpu_quant_f16_linear_matches_cpu, |ctx| gpu_quant_checks::f16_linear(&ctx, 50, 160));
gpu_test!(gpu_quant_sentiment_ln_int8_matches_cpu_int8, |ctx| async {
    let (config, weights, vocab) = SENTIMENT_LN_INT8;
    let c = encoder_lens::Classifier::from_bytes(config, weights, vocab).expect("int8 model");
    gpu_quant_checks::model_logits("sentiment-ln-int8", &c, ctx, &golden_batches(), INT8).await;
});
gpu_test!(gpu_quant_sentiment_ln_f16_matches_cpu_f16, |ctx| async {
    let m = &common::MODELS[0];
    let files = encoder_lens::HfFiles { config_json: m.config, vocab_txt: m.vocab, weights: vec![m.weights], ..Default::default() };
    let c = gpu_quant_checks::converted(&files, encoder_lens::quant::Target::F16);
    gpu_quant_checks::model_logits("sentiment-ln-f16", &c, ctx, &golden_batches(), F16).await;
});

gpu_test!(gpu_quant_sentiment_ln_int8_split_matches_cpu, |ctx| async {
    let m = &common::MODELS[0];
    let files = encoder_lens::HfFiles { config_json: m.config, vocab_txt: m.vocab, weights: vec![m.weights], ..Default::default() };
    let (c, cols) = gpu_quant_checks::converted_split(&files, 4.0);
    gpu_quant_checks::model_logits(&format!("sentiment-ln-int8-split ({cols} outlier columns)"), &c, ctx, &golden_batches(), INT8).await;
});

#[wasm_bindgen_test]
async fn gpu_fallback_without_adapter() {
    gpu_checks::fallback_without_adapter(&common::MODELS[2]).await;
}

#[wasm_bindgen_test]
async fn gpu_auto_declines_a_software_adapter_and_probes_a_hardware_one() {
    gpu_checks::auto_choice(&common::MODELS[0], "gpu_auto_declines_a_software_adapter_and_probes_a_hardware_one").await;
}

#[wasm_bindgen_test]
async fn gpu_fallback_after_device_loss() {
    gpu_checks::fallback_after_device_loss(&common::MODELS[2], "gpu_fallback_after_device_loss").await;
}

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).expect("property")
}

fn probabilities(r: &JsValue) -> Vec<f32> {
    let preds = js_sys::Array::from(&get(r, "predictions"));
    preds
        .iter()
        .flat_map(|p| js_sys::Array::from(&get(&p, "probabilities")).iter().map(|v| v.as_f64().expect("number") as f32).collect::<Vec<_>>())
        .collect()
}

/// The JS API: `create(…, "gpu")` runs on WebGPU and agrees with `create(…, "cpu")`; traces come back.
#[wasm_bindgen_test]
async fn js_api_backend_choice() {
    let m = &common::MODELS[0];
    let make = |b: &str| Engine::create(m.config.to_string(), m.weights.to_vec(), m.vocab.to_string(), Some(b.to_string()));
    let cpu = make("cpu").await.map_err(JsValue::from).expect("cpu engine");
    assert_eq!(cpu.backend().map_err(JsValue::from).expect("backend"), "cpu");
    assert!(cpu.fallback_reason().map_err(JsValue::from).expect("reason").is_none());
    let gpu = match make("gpu").await {
        Ok(e) => e,
        Err(e) => {
            let e = JsValue::from(e);
            assert!(!gpu_checks::require_gpu(), "REQUIRE_GPU=1 but no WebGPU: {e:?}");
            wasm_bindgen_test::console_log!("SKIPPED: js_api_backend_choice: {e:?}");
            return;
        }
    };
    assert_eq!(gpu.backend().map_err(JsValue::from).expect("backend"), "webgpu");
    let texts = js_sys::Array::of2(&"an absolute joy from start to finish".into(), &"a dull, lifeless waste of two hours".into());
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"trace".into(), &JsValue::TRUE).expect("set");
    let g = gpu.classify(texts.clone().into(), opts.clone().into()).await.map_err(JsValue::from).expect("gpu classify");
    let c = cpu.classify(texts.into(), opts.into()).await.map_err(JsValue::from).expect("cpu classify");
    common::assert_close("webgpu vs cpu probabilities", &probabilities(&g), &probabilities(&c), 1e-4, 0.0);
    let layers = js_sys::Array::from(&get(&get(&g, "trace"), "layers"));
    assert!(layers.length() > 0, "trace from the GPU has layers");
    // `auto` declines SwiftShader (a fallback adapter) and says so; on a hardware adapter the probe decides.
    let auto = make("auto").await.map_err(JsValue::from).expect("auto engine");
    let choice = auto.choice().map_err(JsValue::from).expect("choice");
    let ran = auto.backend().map_err(JsValue::from).expect("backend");
    assert_eq!(get(&choice, "runsOn").as_string().as_deref(), Some(ran.as_str()));
    if get(&choice, "fallbackAdapter").as_bool() == Some(true) {
        assert_eq!(ran, "cpu");
        assert!(get(&choice, "reason").as_string().unwrap_or_default().contains("software (fallback) adapter"));
    } else {
        let probe = get(&choice, "probe");
        let (g, c) = (get(&probe, "gpuMs").as_f64().expect("gpuMs"), get(&probe, "cpuMs").as_f64().expect("cpuMs"));
        assert_eq!(ran == "webgpu", g < c, "probe {g} ms GPU vs {c} ms CPU, ran on {ran}");
    }
    let forced = get(&gpu.choice().map_err(JsValue::from).expect("choice"), "runsOn");
    assert_eq!(forced.as_string().as_deref(), Some("webgpu"));
    assert!(make("tpu").await.is_err(), "unknown backend name is an error");
}

//! The GPU backend natively (wgpu on Vulkan; lavapipe on these machines): kernels vs the CPU over many
//! random shapes, whole models vs the CPU and PyTorch, one submit per forward, and the CPU fallback.
//! Without an adapter each test prints `SKIPPED: …` (and fails when REQUIRE_GPU=1).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;
#[path = "common/tiny_bert.rs"]
mod tiny_bert;

/// The tiny random HF BERT of the BERT tests, loaded through the HF path.
fn tiny_bert_classifier() -> encoder_lens::Classifier {
    let cfg = tiny_bert::tiny_config("gelu");
    let weights = tiny_bert::tiny_weights(&tiny_bert::tiny_tensors(), |n| n.to_string());
    let files = encoder_lens::HfFiles { config_json: &cfg, vocab_txt: tiny_bert::TINY_VOCAB, weights: vec![&weights], ..Default::default() };
    encoder_lens::Classifier::from_hf(&files, &encoder_lens::HfOverrides::default()).expect("tiny bert")
}

use pollster::block_on;

macro_rules! gpu_test {
    ($name:ident, |$ctx:ident| $body:expr) => {
        #[test]
        fn $name() {
            block_on(async {
                let Some($ctx) = gpu_checks::gpu_or_skip(stringify!($name)).await else { return };
                $body.await;
            })
        }
    };
}

gpu_test!(matmul_matches_cpu_on_60_shapes, |ctx| gpu_checks::matmul(&ctx, 60, 300, 300));
gpu_test!(attention_matches_cpu_on_50_shapes, |ctx| gpu_checks::attention(&ctx, 50, 300));
gpu_test!(norms_match_cpu_on_50_shapes, |ctx| gpu_checks::norms(&ctx, 50, 300));
gpu_test!(embed_pool_softmax_match_cpu_on_50_shapes, |ctx| gpu_checks::embed_pool_softmax(&ctx, 50, 300));
gpu_test!(sentiment_ln_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[0], ctx, 2, (0, 1)).await; });
gpu_test!(sentiment_bn_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[1], ctx, 2, (0, 1)).await; });
gpu_test!(prenorm_gelu_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[2], ctx, 2, (0, 1)).await; });
gpu_test!(prenorm_bn_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[3], ctx, 2, (0, 1)).await; });
gpu_test!(postnorm_silu_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[4], ctx, 2, (0, 1)).await; });
gpu_test!(bert_like_model_on_gpu_matches_cpu, |ctx| gpu_checks::bert_like(&tiny_bert_classifier(), ctx));
gpu_test!(a_repeated_shape_creates_no_buffers_or_bind_groups, |ctx| gpu_checks::reuse(&common::MODELS[0], ctx));
gpu_test!(oversized_tensor_is_refused, |ctx| gpu_checks::oversized_tensor_is_refused(&common::MODELS[2], ctx));
gpu_test!(timed_forward_times_every_op_on_the_gpu, |ctx| gpu_checks::timed_forward(&common::MODELS[0], ctx, "timed_forward_times_every_op_on_the_gpu"));

#[test]
fn falls_back_to_cpu_without_an_adapter() {
    block_on(gpu_checks::fallback_without_adapter(&common::MODELS[2]));
}

#[test]
fn auto_declines_a_software_adapter_and_probes_a_hardware_one() {
    block_on(gpu_checks::auto_choice(&common::MODELS[0], "auto_declines_a_software_adapter_and_probes_a_hardware_one"));
}

#[test]
fn falls_back_to_cpu_after_device_loss() {
    block_on(gpu_checks::fallback_after_device_loss(&common::MODELS[2], "falls_back_to_cpu_after_device_loss"));
}

/// The CLI's `--backend`: the JSON says which backend ran, and GPU and CPU agree.
#[test]
fn cli_backend_flag() {
    let run = |backend: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_classify"))
            .args(["--json", "--backend", backend, "an absolute joy from start to finish"])
            .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
            .output()
            .expect("run classify");
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s.trim()).expect("one JSON object");
    let (code, out, err) = run("cpu");
    assert_eq!(code, Some(0), "{err}");
    let cpu = json(&out);
    assert_eq!(cpu["backend"], "cpu");
    let (code, _, err) = run("tpu");
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown backend `tpu`"), "{err}");

    let (code, out, err) = run("gpu");
    if code != Some(0) {
        assert!(!gpu_checks::require_gpu(), "REQUIRE_GPU=1 but `--backend gpu` failed: {err}");
        assert!(err.contains("GPU"), "{err}");
        println!("SKIPPED: cli_backend_flag (gpu part): {err}");
        return;
    }
    let gpu = json(&out);
    assert_eq!(gpu["backend"], "vulkan");
    assert_eq!(gpu["label"], cpu["label"]);
    for l in ["negative", "positive"] {
        let (g, c) = (gpu["probabilities"][l].as_f64().expect("prob"), cpu["probabilities"][l].as_f64().expect("prob"));
        assert!((g - c).abs() <= 1e-4, "{l}: gpu {g} vs cpu {c}");
    }
    // `auto` runs on the Vulkan adapter only where it is a hardware one that the probe finds faster
    // (tests/common/gpu_checks.rs auto_choice checks the verdict); on lavapipe it is the CPU.
    let (code, out, err) = run("auto");
    assert_eq!(code, Some(0), "{err}");
    let auto = json(&out);
    assert!(auto["backend"] == "vulkan" || auto["backend"] == "cpu", "{auto}");
    assert_eq!(auto["label"], cpu["label"]);
}

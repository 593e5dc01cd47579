//! Non-finite and extreme-but-finite numbers, on the CPU and the GPU backend.
//!
//! - LayerNorm and softmax of rows scaled up to the f32 range (tests/fixtures/golden/extreme.json from
//!   scripts/export_extreme_fixtures.py): always finite, equal to PyTorch's float32 result where that is
//!   finite, and to the same LayerNorm / softmax in float64 everywhere.
//! - NaN / ±inf weights are an error at load that names the tensor; logits that overflow are an error,
//!   not a label, on both backends.
//!
//! GPU tests print `SKIPPED: …` without an adapter (and fail when REQUIRE_GPU=1).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use common::{assert_close, ready, MODELS};
use encoder_lens::cpu::scalar;
use encoder_lens::engine::Backend;
use encoder_lens::{Classifier, Engine, Error, ForwardOptions};
use pollster::block_on;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/golden/extreme.json");
/// Outputs are O(1)–O(10); the float64 reference of the same f32 inputs differs by f32 rounding only.
const TOL: (f32, f32) = (3e-5, 1e-4);

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("extreme.json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

/// `got (rows, d)` against the float64 reference, and against PyTorch's float32 rows where PyTorch gets them
/// right (null in the fixture where its float32 is not finite, or finite but more than 1e-3 off float64:
/// a LayerNorm whose sum of squares overflowed f32 returns the bias). Returns how many rows PyTorch's float32 could not compute.
fn check_rows(what: &str, got: &[f32], d: usize, case: &Value) -> usize {
    let reference = rows(&case["ref64"]);
    let mut torch_non_finite = 0;
    for (r, want) in reference.iter().enumerate() {
        let row = &got[r * d..(r + 1) * d];
        assert!(row.iter().all(|v| v.is_finite()), "{what} row {r}: not finite: {row:?}");
        assert_close(&format!("{what} row {r} vs float64"), row, want, TOL.0, TOL.1);
        match &case["torch32"][r] {
            Value::Null => torch_non_finite += 1,
            t => {
                assert_close(&format!("{what} row {r} vs PyTorch f32"), row, &floats(t), TOL.0, TOL.1);
            }
        }
    }
    torch_non_finite
}

/// The trace's row means against float64, to 1e-6 of the row's largest |x| (a mean of ±3e38 values that
/// cancel is itself small, and only known to the row's scale).
fn check_means(what: &str, got: &[f32], x: &[f32], d: usize, case: &Value) {
    for (r, (&m, want)) in got.iter().zip(floats(&case["mean64"])).enumerate() {
        let scale = x[r * d..(r + 1) * d].iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
        let diff = (m as f64 - want as f64).abs();
        assert!(m.is_finite() && diff <= 1e-6 * scale, "{what} mean row {r}: expected {want:e}, actual {m:e}, |diff| {diff:e}, row scale {scale:e}");
    }
}

#[test]
fn layer_norm_stays_finite_up_to_f32_max_and_matches_pytorch() {
    for case in fixture()["layer_norm"].as_array().unwrap() {
        let d = case["d"].as_u64().unwrap() as usize;
        let eps = case["eps"].as_f64().unwrap() as f32;
        let x: Vec<f32> = rows(&case["x"]).concat();
        let n = x.len() / d;
        let (w, b) = (floats(&case["w"]), floats(&case["b"]));
        let mut out = vec![0.0; n * d];
        let (mut mean, mut var) = (vec![0.0; n], vec![0.0; n]);
        scalar::layer_norm(&x, &w, &b, &mut out, n, d, eps, Some((&mut mean, &mut var)));
        let bad = check_rows(&format!("layer_norm d={d} eps={eps}"), &out, d, case);
        check_means(&format!("layer_norm d={d}"), &mean, &x, d, case);
        assert!(var.iter().all(|v| v.is_finite() && *v >= 0.0), "variances {var:?}");
        // The fixture is only a test when PyTorch's own float32 LayerNorm fails on some rows.
        let nf = case["torch32_non_finite"].as_u64().unwrap();
        assert!(nf > 0, "d={d}: PyTorch f32 was finite everywhere");
        println!("layer_norm d={d} eps={eps}: {n} rows finite; PyTorch f32 not finite on {nf}, wrong on {}", bad as u64 - nf);
    }
}

#[test]
fn softmax_stays_finite_up_to_f32_max_and_matches_pytorch() {
    for case in fixture()["softmax"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let mut x: Vec<f32> = rows(&case["x"]).concat();
        for row in x.chunks_mut(n) {
            scalar::softmax_inplace(row);
        }
        check_rows(&format!("softmax n={n}"), &x, n, case);
    }
}

#[test]
fn gpu_layer_norm_and_softmax_stay_finite_up_to_f32_max() {
    block_on(async {
        let Some(ctx) = gpu_checks::gpu_or_skip("gpu_layer_norm_and_softmax_stay_finite_up_to_f32_max").await else { return };
        let f = fixture();
        for case in f["layer_norm"].as_array().unwrap() {
            let d = case["d"].as_u64().unwrap() as usize;
            let eps = case["eps"].as_f64().unwrap() as f32;
            let x: Vec<f32> = rows(&case["x"]).concat();
            let n = x.len() / d;
            let (out, mean, var) = encoder_lens::gpu::ops::layer_norm::run(&ctx, &x, &floats(&case["w"]), &floats(&case["b"]), (n, d), eps)
                .await
                .expect("gpu layer_norm");
            check_rows(&format!("gpu layer_norm d={d}"), &out, d, case);
            check_means(&format!("gpu layer_norm d={d}"), &mean, &x, d, case);
            assert!(var.iter().all(|v| v.is_finite() && *v >= 0.0), "variances {var:?}");
        }
        for case in f["softmax"].as_array().unwrap() {
            let n = case["n"].as_u64().unwrap() as usize;
            let x: Vec<f32> = rows(&case["x"]).concat();
            let out = encoder_lens::gpu::ops::softmax::run(&ctx, &x, (x.len() / n, n)).await.expect("gpu softmax");
            check_rows(&format!("gpu softmax n={n}"), &out, n, case);
        }
    });
}

/// The prenorm-gelu fixture's safetensors with `name`'s values changed by `edit`.
fn edited_weights(name: &str, edit: impl Fn(&mut [f32])) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(MODELS[2].weights).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (n, view) in st.tensors() {
        let mut data = view.data().to_vec();
        if n == name {
            let mut v: Vec<f32> = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            edit(&mut v);
            data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        }
        tensors.push((n, view.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, d)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn load(weights: &[u8]) -> encoder_lens::Result<Classifier> {
    Classifier::from_bytes(MODELS[2].config, weights, MODELS[2].vocab)
}

#[test]
fn nan_and_infinite_weights_are_an_error_naming_the_tensor() {
    let name = "encoder.layers.0.linear1.weight";
    let st = safetensors::SafeTensors::deserialize(MODELS[2].weights).unwrap();
    assert!(st.tensor(name).is_ok(), "fixture has {name}");
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let w = edited_weights(name, |v| v[37] = bad);
        match load(&w) {
            Err(Error::NonFinite(m)) => {
                assert!(m.contains(name) && m.contains("index 37"), "{bad}: message `{m}`");
            }
            Err(e) => panic!("{bad}: expected NonFinite, got {e}"),
            Ok(_) => panic!("{bad}: a model with a {bad} weight loaded"),
        }
    }
    // Huge but finite weights load.
    assert!(load(&edited_weights(name, |v| v[37] = f32::MAX)).is_ok());
}

const TEXTS: [&str; 3] = ["a good film", "the worst thing i have ever seen", "ok"];

/// A classifier head of ±3e38: the logits overflow to ±inf (finite weights, non-finite activations).
fn overflowing_head() -> Classifier {
    let w = edited_weights("classifier.weight", |v| v.iter_mut().enumerate().for_each(|(i, x)| *x = if i % 2 == 0 { 3e38 } else { -3e38 }));
    load(&w).expect("finite weights load")
}

#[test]
fn overflowing_logits_are_an_error_on_the_cpu() {
    let err = ready(Engine::cpu(overflowing_head()).classify(&TEXTS, &ForwardOptions::default())).expect_err("no label from inf logits");
    assert!(matches!(err, Error::NonFinite(_)), "expected NonFinite, got {err}");
    assert!(err.to_string().contains("not finite"), "{err}");
}

#[test]
fn overflowing_logits_are_an_error_on_the_gpu() {
    block_on(async {
        let test = "overflowing_logits_are_an_error_on_the_gpu";
        let mut e = match Engine::new(overflowing_head(), Backend::Gpu).await {
            Ok(e) => e,
            Err(err) => {
                assert!(!gpu_checks::require_gpu(), "{test}: REQUIRE_GPU=1 but no GPU: {err}");
                println!("SKIPPED: {test}: {err}");
                return;
            }
        };
        let err = e.classify(&TEXTS, &ForwardOptions::default()).await.expect_err("no label from inf logits");
        assert!(matches!(err, Error::NonFinite(_)), "expected NonFinite, got {err}");
        assert_ne!(e.last_backend(), "cpu", "the error came from the GPU forward, not a fallback");
        // The same engine still classifies a sane model's worth of work afterwards: the error is not a device loss.
        assert_ne!(e.backend(), "cpu");
    });
}

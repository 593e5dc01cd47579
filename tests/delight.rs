//! DeLighT (`scripts/delight.py`, fixtures from `scripts/export_delight_fixtures.py`): the whole model vs
//! the PyTorch reference on two random configs (4 blocks N 2..5 w_m 2; one block N 5 w_m 1.5), the sizes,
//! params and MACs per block vs the reference's `compute_macs_params`, the GLT kernel vs an explicit
//! concat + matmul + permute on random shapes, config validation, and the GPU backend vs the CPU
//! (skipped loudly without an adapter; REQUIRE_GPU=1 fails instead).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use common::{assert_close, golden_checks, ModelDir};
use encoder_lens::model::delight;
use encoder_lens::{cpu, Config, Error};
use gpu_checks::Rng;

const DELIGHT_A: &ModelDir = &common::DELIGHT[0];
const DELIGHT_B1: &ModelDir = &common::DELIGHT[1];
const SENTIMENT_DELIGHT: &ModelDir = &common::DELIGHT[2];

#[test]
fn delight_a_matches_pytorch() {
    golden_checks::check_model(DELIGHT_A);
}

#[test]
fn delight_one_block_matches_pytorch() {
    golden_checks::check_model(DELIGHT_B1);
}

#[test]
fn sentiment_delight_matches_pytorch() {
    golden_checks::check_model(SENTIMENT_DELIGHT);
}

/// The shipped model: at most half the standard default model's encoder parameters.
#[test]
fn sentiment_delight_is_at_most_half_the_standard_encoder() {
    let d = delight::summary(SENTIMENT_DELIGHT.classifier().config(), 128);
    let s = delight::summary(common::MODELS[0].classifier().config(), 128);
    assert_eq!((d.encoder_params, s.encoder_params), (164_896, 396_544));
    assert!(2 * d.encoder_params <= s.encoder_params);
    assert_eq!(d.embedding_params, s.embedding_params);
}

#[test]
fn delight_batched_equals_one_at_a_time() {
    golden_checks::check_batch_independence(DELIGHT_A);
    golden_checks::check_batch_independence(DELIGHT_B1);
}

/// Block-wise scaling, every GLT layer's width and groups, params and MACs at seq 16 and 128: the engine's
/// summary equals what the reference computed, and the params equal the loaded tensors' sizes.
fn check_summary(m: &ModelDir) {
    let meta: serde_json::Value = serde_json::from_str(m.golden_json).unwrap();
    let want = &meta["architecture"];
    let c = m.classifier();
    for seq in [16usize, 128] {
        let s = delight::summary(c.config(), seq);
        let blocks = want["blocks"].as_array().unwrap();
        assert_eq!(s.blocks.len(), blocks.len(), "{}: blocks", m.name);
        for (b, (ours, theirs)) in s.blocks.iter().zip(blocks).enumerate() {
            let what = format!("{} block {b}", m.name);
            assert_eq!(ours.depth as u64, theirs["depth"].as_u64().unwrap(), "{what}: depth");
            assert_eq!(ours.width_mult, theirs["width_mult"].as_f64().unwrap(), "{what}: width");
            // dextra = input projection, the GLT layers, output layer.
            let glt: Vec<(u64, u64, u64)> = ours.dextra[1..ours.dextra.len() - 1].iter().map(|g| (g.in_dim as u64, g.out_dim as u64, g.groups as u64)).collect();
            let ref_glt: Vec<(u64, u64, u64)> =
                theirs["glt"].as_array().unwrap().iter().map(|g| (g["in"].as_u64().unwrap(), g["out"].as_u64().unwrap(), g["groups"].as_u64().unwrap())).collect();
            assert_eq!(glt, ref_glt, "{what}: GLT (in, out, groups)");
            assert_eq!(ours.cost.params as u64, theirs["params"].as_u64().unwrap(), "{what}: params");
            assert_eq!(ours.cost.macs as u64, theirs["macs"][seq.to_string()].as_u64().unwrap(), "{what}: MACs at seq {seq}");
            let loaded: usize = c.model.blocks[b].params().iter().map(|p| p.tensor.len()).sum();
            assert_eq!(loaded, ours.cost.params, "{what}: params counted vs loaded");
        }
        assert_eq!(s.encoder_params as u64, want["encoder_params"].as_u64().unwrap(), "{}: encoder params", m.name);
        assert_eq!(s.embedding_params as u64, want["embedding_params"].as_u64().unwrap(), "{}: embedding params", m.name);
    }
}

#[test]
fn sizes_params_and_macs_match_the_reference() {
    check_summary(DELIGHT_A);
    check_summary(DELIGHT_B1);
    check_summary(SENTIMENT_DELIGHT);
}

#[test]
fn standard_model_summary_counts_its_tensors() {
    let c = common::MODELS[0].classifier();
    let s = delight::summary(c.config(), 128);
    let loaded: usize = c.model.params().iter().map(|p| p.tensor.len()).sum::<usize>() - c.model.embeddings.word.tensor.len()
        - c.model.classifier.as_ref().map_or(0, |l| l.params().iter().map(|p| p.tensor.len()).sum())
        - c.model.embeddings.position.tensor.len();
    assert_eq!(s.encoder_params, loaded);
    assert_eq!(s.blocks.len(), 2);
    assert_eq!(s.blocks[0].kind, "transformer");
    // 2 layers of d = 128, FFN 512: per token in_proj 49536 + out_proj 16512 + FFN 131712; attention 2·S²·d.
    assert_eq!(s.blocks[0].cost.macs, (49536 + 16512 + 131712) * 128 + 2 * 128 * 128 * 128);
}

/// `out` by the definition: concatenate each group's mixed and own input, multiply, then permute
/// `(g, n/g)` → `(n/g, g)`.
#[allow(clippy::too_many_arguments)]
fn glt_naive(x: &[f32], mix: Option<&[f32]>, w: &[f32], bias: &[f32], rows: usize, xd: usize, md: usize, n: usize, g: usize) -> Vec<f32> {
    let (xg, mg, og) = (xd / g, md / g, n / g);
    let mut out = vec![0.0f32; rows * n];
    for r in 0..rows {
        let mut y = vec![0.0f32; n]; // (g, og) before the shuffle
        for k in 0..g {
            let mut input: Vec<f32> = mix.map_or(vec![], |m| m[r * md + k * mg..r * md + (k + 1) * mg].to_vec());
            input.extend_from_slice(&x[r * xd + k * xg..r * xd + (k + 1) * xg]);
            for j in 0..og {
                let mut acc = bias[k * og + j] as f64;
                for (i, a) in input.iter().enumerate() {
                    acc += *a as f64 * w[(k * (xg + mg) + i) * og + j] as f64;
                }
                y[k * og + j] = acc as f32;
            }
        }
        for k in 0..g {
            for j in 0..og {
                out[r * n + j * g + k] = y[k * og + j];
            }
        }
    }
    out
}

#[test]
fn glt_kernel_matches_definition_on_60_shapes() {
    let mut rng = Rng::new(12);
    for i in 0..60 {
        let c = gpu_checks::glt_case(i, &mut rng);
        let mut got = vec![0.0f32; c.rows * c.n];
        cpu::glt(&c.x, c.mix.as_deref(), &c.w, &c.bias, &mut got, c.rows, c.xd, c.md, c.n, c.g);
        let want = glt_naive(&c.x, c.mix.as_deref(), &c.w, &c.bias, c.rows, c.xd, c.md, c.n, c.g);
        assert_close(&format!("glt shape {i}: rows {} xd {} md {} n {} groups {}", c.rows, c.xd, c.md, c.n, c.g), &got, &want, 1e-5, 1e-5);
    }
}

fn config_error(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(DELIGHT_A.config).unwrap();
    edit(&mut v);
    match Config::from_json(&v.to_string()) {
        Err(Error::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn bad_delight_configs_are_clear_errors() {
    let e = config_error(|v| v["delight"]["width_mult"] = 0.5.into());
    assert!(e.contains("width_mult (w_m) must be between 1"), "{e}");
    let e = config_error(|v| {
        v["delight"]["min_depth"] = 6.into();
        v["delight"]["max_depth"] = 4.into();
    });
    assert!(e.contains("min_depth (N_min = 6) is larger than max_depth (N_max = 4)"), "{e}");
    let e = config_error(|v| v["delight"]["max_groups"] = 5.into());
    assert!(e.contains("not divisible by max_groups (g_max = 5)"), "{e}");
    let e = config_error(|v| v["delight"]["d_o"] = 16.into());
    assert!(e.contains("d_o (16) must be d_m / 2 = 32"), "{e}");
    let e = config_error(|v| v["delight"]["min_depth"] = 1.into());
    assert!(e.contains("at least 2"), "{e}");
    // g_max 64 divides d_m = 64, but 12 layers reach 64 groups, which do not divide the mixed-in d_m/2.
    let e = config_error(|v| {
        v["delight"]["max_groups"] = 64.into();
        v["delight"]["max_depth"] = 12.into();
    });
    assert!(e.contains("block") && e.contains("groups"), "{e}");
    let e = config_error(|v| v["num_heads"] = 2.into());
    assert!(e.contains("num_heads"), "{e}");
    let e = config_error(|v| {
        v.as_object_mut().unwrap().remove("delight");
    });
    assert!(e.contains("needs a `delight` object"), "{e}");
    let e = config_error(|v| v["delight"]["ffn_reduction"] = 0.into());
    assert!(e.contains("ffn_reduction"), "{e}");
    // A config that validates but a tensor of the wrong shape: the full path in the error.
    let mut v: serde_json::Value = serde_json::from_str(DELIGHT_A.config).unwrap();
    v["delight"]["width_mult"] = 2.5.into();
    let err = encoder_lens::Classifier::from_bytes(&v.to_string(), DELIGHT_A.weights, DELIGHT_A.vocab).err().expect("shape error");
    assert!(err.to_string().contains("encoder.layers.1.dextra_layer.dextra_layers.1.weights"), "{err}");
}

// ---------------------------------------------------------------------------------------------------
// GPU

macro_rules! gpu_test {
    ($name:ident, |$ctx:ident| $body:expr) => {
        #[test]
        fn $name() {
            pollster::block_on(async {
                let Some($ctx) = gpu_checks::gpu_or_skip(stringify!($name)).await else { return };
                $body.await;
            })
        }
    };
}

gpu_test!(glt_gpu_matches_cpu_on_60_shapes, |ctx| gpu_checks::glt(&ctx, 60));
gpu_test!(delight_a_on_gpu_matches_cpu, |ctx| async { gpu_checks::delight_model(DELIGHT_A, ctx, 1, (0, 1)).await; });
gpu_test!(sentiment_delight_on_gpu_matches_cpu, |ctx| async { gpu_checks::delight_model(SENTIMENT_DELIGHT, ctx, 2, (0, 1)).await; });
gpu_test!(delight_one_block_on_gpu_matches_cpu, |ctx| async { gpu_checks::delight_model(DELIGHT_B1, ctx, 1, (0, 1)).await; });

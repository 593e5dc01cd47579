//! DeLighT (`scripts/delight.py`, fixtures from `scripts/export_delight_fixtures.py`): the whole model vs
//! the PyTorch reference on two random configs (4 blocks N 2..5 w_m 2; one block N 5 w_m 1.5), the sizes,
//! params and MACs per block vs the reference's `compute_macs_params`, the GLT kernel vs an explicit
//! concat + matmul + permute on random shapes, config validation, and the GPU backend vs the CPU
//! (skipped loudly without an adapter; REQUIRE_GPU=1 fails instead).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use common::{assert_close, golden_checks, real_rows, ModelDir};
use encoder_lens::gpu::backend::GpuBackend;
use encoder_lens::gpu::ops;
use encoder_lens::model::delight;
use encoder_lens::{cpu, Config, Error, ForwardOptions, TraceRequest};
use gpu_checks::Rng;

macro_rules! delight_dir {
    ($name:literal, $dir:literal) => {
        ModelDir {
            name: $name,
            config: include_str!(concat!("../", $dir, "/config.json")),
            weights: include_bytes!(concat!("../", $dir, "/model.safetensors")),
            vocab: include_str!(concat!("../", $dir, "/vocab.txt")),
            golden: include_bytes!(concat!("fixtures/golden/", $name, ".safetensors")),
            golden_json: include_str!(concat!("fixtures/golden/", $name, ".json")),
        }
    };
}

const DELIGHT_A: ModelDir = delight_dir!("delight-a", "tests/fixtures/models/delight-a");
const DELIGHT_B1: ModelDir = delight_dir!("delight-b1", "tests/fixtures/models/delight-b1");

#[test]
fn delight_a_matches_pytorch() {
    golden_checks::check_model(&DELIGHT_A);
}

#[test]
fn delight_one_block_matches_pytorch() {
    golden_checks::check_model(&DELIGHT_B1);
}

#[test]
fn delight_batched_equals_one_at_a_time() {
    golden_checks::check_batch_independence(&DELIGHT_A);
    golden_checks::check_batch_independence(&DELIGHT_B1);
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
    check_summary(&DELIGHT_A);
    check_summary(&DELIGHT_B1);
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

/// A random GLT problem: groups 1..=32, ragged group widths, with and without the mixer.
pub struct GltCase {
    pub rows: usize,
    pub xd: usize,
    pub md: usize,
    pub n: usize,
    pub g: usize,
    pub x: Vec<f32>,
    pub mix: Option<Vec<f32>>,
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
}

fn glt_case(i: usize, rng: &mut Rng) -> GltCase {
    let g = if i < 6 { [1, 2, 4, 8, 16, 32][i] } else { rng.int(1, 32) };
    let (xg, og) = (rng.int(1, 13), rng.int(1, 11));
    let mg = if i % 3 == 0 { 0 } else { rng.int(1, 7) };
    let rows = rng.int(1, 40);
    let (xd, md, n) = (xg * g, mg * g, og * g);
    GltCase {
        rows,
        xd,
        md,
        n,
        g,
        x: rng.vec(rows * xd, 1.0),
        mix: (md > 0).then(|| rng.vec(rows * md, 1.0)),
        w: rng.vec(g * (xg + mg) * og, 0.5),
        bias: rng.vec(n, 0.5),
    }
}

#[test]
fn glt_kernel_matches_definition_on_60_shapes() {
    let mut rng = Rng::new(12);
    for i in 0..60 {
        let c = glt_case(i, &mut rng);
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

gpu_test!(glt_gpu_matches_cpu_on_60_shapes, |ctx| async {
    let mut rng = Rng::new(34);
    for i in 0..60 {
        let c = glt_case(i, &mut rng);
        let got = ops::glt::run(&ctx, &c.x, c.mix.as_deref(), &c.w, &c.bias, (c.rows, c.xd, c.md, c.n, c.g)).await.expect("gpu glt");
        let mut want = vec![0.0f32; c.rows * c.n];
        cpu::glt(&c.x, c.mix.as_deref(), &c.w, &c.bias, &mut want, c.rows, c.xd, c.md, c.n, c.g);
        assert_close(&format!("gpu glt shape {i}: rows {} xd {} md {} n {} groups {}", c.rows, c.xd, c.md, c.n, c.g), &got, &want, 1e-4, 1e-4);
    }
    for act in [encoder_lens::config::Activation::Silu, encoder_lens::config::Activation::Gelu] {
        let x = rng.vec(1000, 4.0);
        let got = ops::activation::run(&ctx, &x, if act == encoder_lens::config::Activation::Silu { ops::matmul::act::SILU } else { ops::matmul::act::GELU }).await.expect("gpu act");
        let mut want = x.clone();
        cpu::activation_inplace(&mut want, act);
        assert_close(&format!("gpu activation {act:?}"), &got, &want, 1e-5, 1e-5);
    }
});

async fn gpu_model(m: &ModelDir, ctx: encoder_lens::gpu::context::GpuContext) {
    let c = m.classifier();
    let mut g = GpuBackend::new(ctx, &c.model).expect("upload");
    let fx = m.fixture();
    let mut max_diff = 0.0f32;
    for k in 0..fx.num_batches() {
        let batch = fx.batch(k);
        let (b, s) = (batch.batch, batch.seq);
        let what = |x: &str| format!("{} batch {k} (b {b} s {s}) {x}", m.name);
        let opts = ForwardOptions::default().traced(TraceRequest::ALL);
        let out = c.model.forward(&mut g, &batch, &opts).await.expect("gpu forward");
        assert_eq!((g.last.submits, g.last.readbacks), (1, 1), "{}", what("one submit and one readback"));
        let cpu_out = encoder_lens::cpu::forward(&c.model, &batch, &opts).expect("cpu forward");
        let (gl, cl) = (&out.logits.as_ref().unwrap().data, &cpu_out.logits.as_ref().unwrap().data);
        max_diff = max_diff.max(assert_close(&what("logits vs CPU"), gl, cl, 1e-4, 0.0));
        let (_, torch) = fx.f32(&format!("b{k}.logits"));
        assert_close(&what("logits vs PyTorch"), gl, &torch, 1e-4, 0.0);
        let (gt, ct) = (out.trace.as_ref().unwrap(), cpu_out.trace.as_ref().unwrap());
        for (l, (gl, cl)) in gt.layers.iter().zip(&ct.layers).enumerate() {
            let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
            assert_close(&what(&format!("block {l} hidden")), &real(&gl.hidden.as_ref().unwrap().data), &real(&cl.hidden.as_ref().unwrap().data), 1e-4, 1e-4);
            assert_close(&what(&format!("block {l} attention")), &gl.attention.as_ref().unwrap().data, &cl.attention.as_ref().unwrap().data, 1e-5, 1e-4);
        }
    }
    println!("{}: GPU vs CPU logits max |diff| {max_diff:.2e} over {} batches", m.name, fx.num_batches());
}

gpu_test!(delight_a_on_gpu_matches_cpu, |ctx| gpu_model(&DELIGHT_A, ctx));
gpu_test!(delight_one_block_on_gpu_matches_cpu, |ctx| gpu_model(&DELIGHT_B1, ctx));

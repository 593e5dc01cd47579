//! The SIMD128 (and, in the `+relaxed-simd` build, relaxed-SIMD) kernels against the scalar reference
//! over random shapes, ragged tails included, and whole-model logits on both paths. Runs only in a wasm
//! build with `+simd128` (`wasm-pack test --headless --chrome` or `--node`); natively there is nothing
//! to compare, so the file is empty.
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use encoder_lens::config::Activation;
use encoder_lens::cpu::{self, scalar, simd128};
use encoder_lens::{Batch, BatchNormStats, Classifier, ForwardOptions, TraceRequest};
use wasm_bindgen_test::*;

/// xorshift32 → uniform in [-1, 1).
struct Rng(u32);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f() * scale).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.f() + 1.0) * 0.5 * n as f32) as usize % n.max(1)
    }
}

/// |a−b| <= atol + rtol·|b| everywhere; panics with the worst index, expected, actual and max diff.
fn close(what: &str, actual: &[f32], expected: &[f32], atol: f32, rtol: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let mut worst = (0usize, 0.0f32);
    let mut bad = None;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let d = (a - e).abs();
        if d > worst.1 || d.is_nan() {
            worst = (i, d);
        }
        if bad.is_none() && !(d <= atol + rtol * e.abs()) {
            bad = Some(i);
        }
    }
    if let Some(i) = bad {
        panic!("{what}: index {i} expected {} actual {}; max |diff| {} at {}", expected[i], actual[i], worst.1, worst.0);
    }
}

const ACTS: [Option<Activation>; 4] = [None, Some(Activation::Relu), Some(Activation::Gelu), Some(Activation::GeluTanh)];

#[wasm_bindgen_test]
fn reports_kernels() {
    cpu::set_reference(false);
    let want = if cfg!(target_feature = "relaxed-simd") { "relaxed-simd" } else { "simd128" };
    assert_eq!(cpu::kernels(), want);
    cpu::set_reference(true);
    assert_eq!(cpu::kernels(), "scalar");
    cpu::set_reference(false);
}

#[wasm_bindgen_test]
fn linear_fused_matches_scalar_on_random_shapes() {
    let mut r = Rng(0x1234_5678);
    let ms = [1, 3, 7, 8, 9, 17, 33];
    let ks = [1, 3, 4, 5, 16, 37, 64, 130];
    let ns = [1, 2, 3, 4, 5, 9, 31, 64];
    let mut cases = 0;
    for &m in &ms {
        for &k in &ks {
            for &n in &ns {
                let x = r.vec(m * k, 1.0);
                let w = r.vec(n * k, 1.0 / (k as f32).sqrt());
                let bias = r.vec(n, 0.5);
                let act = ACTS[r.below(4)];
                let with_bias = r.below(2) == 0;
                let accumulate = r.below(2) == 0;
                let b = with_bias.then_some(&bias[..]);
                let init = r.vec(m * n, 1.0);
                let (mut want, mut got) = (init.clone(), init.clone());
                scalar::linear_fused(&x, &w, b, &mut want, m, k, n, act, accumulate);
                simd128::linear_fused(&x, &w, b, &mut got, m, k, n, act, accumulate);
                close(&format!("linear m={m} k={k} n={n} act={act:?} bias={with_bias} acc={accumulate}"), &got, &want, 1e-5, 1e-5);
                cases += 1;
            }
        }
    }
    assert_eq!(cases, ms.len() * ks.len() * ns.len());
    // Encoder-sized shapes through the dispatching entry point (blocking over several A blocks).
    for &(m, k, n) in &[(128, 128, 512), (200, 384, 96), (64, 1536, 20)] {
        let x = r.vec(m * k, 1.0);
        let w = r.vec(n * k, 1.0 / (k as f32).sqrt());
        let bias = r.vec(n, 0.5);
        let (mut want, mut got) = (vec![0.0; m * n], vec![0.0; m * n]);
        scalar::linear(&x, &w, Some(&bias), &mut want, m, k, n);
        cpu::linear(&x, &w, Some(&bias), &mut got, m, k, n);
        close(&format!("linear {m}x{k}x{n}"), &got, &want, 1e-5, 1e-5);
    }
}

#[wasm_bindgen_test]
fn attention_matches_scalar_on_random_shapes() {
    let mut r = Rng(0x9e37_79b9);
    for case in 0..80 {
        let batch = 1 + r.below(3);
        // Lengths past 64 cover several key blocks of the streaming softmax.
        let seq = [1, 2, 5, 8, 9, 16, 17, 31, 64, 65, 130, 200][r.below(12)];
        let heads = 1 + r.below(3);
        let dh = [1, 2, 3, 4, 7, 8, 16, 32][r.below(8)];
        let d = heads * dh;
        let lengths: Vec<usize> = (0..batch).map(|_| 1 + r.below(seq)).collect();
        let qkv = r.vec(batch * seq * 3 * d, 2.0);
        let trace = case % 2 == 0;
        let (mut want, mut got) = (vec![0.0; batch * seq * d], vec![7.0; batch * seq * d]);
        let np = batch * heads * seq * seq;
        let (mut pw, mut pg) = (vec![0.0; np], vec![7.0; np]);
        scalar::attention(&qkv, &lengths, batch, seq, heads, dh, &mut want, trace.then_some(&mut pw[..]));
        simd128::attention(&qkv, &lengths, batch, seq, heads, dh, &mut got, trace.then_some(&mut pg[..]));
        let what = format!("attention case {case} b={batch} s={seq} h={heads} dh={dh} lengths={lengths:?}");
        close(&what, &got, &want, 1e-5, 1e-5);
        if trace {
            close(&format!("{what} probs"), &pg, &pw, 1e-6, 1e-5);
        }
    }
}

#[wasm_bindgen_test]
fn norms_softmax_activations_match_scalar() {
    let mut r = Rng(0x0bad_cafe);
    for &(rows, d) in &[(1, 1), (3, 5), (7, 64), (9, 130), (4, 384)] {
        let x: Vec<f32> = r.vec(rows * d, 3.0).iter().map(|v| v + 1.5).collect();
        let (w, b) = (r.vec(d, 1.0), r.vec(d, 1.0));
        let (mut want, mut got) = (vec![0.0; rows * d], vec![0.0; rows * d]);
        let (mut mw, mut vw, mut mg, mut vg) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
        scalar::layer_norm(&x, &w, &b, &mut want, rows, d, 1e-5, Some((&mut mw, &mut vw)));
        simd128::layer_norm(&x, &w, &b, &mut got, rows, d, 1e-5, Some((&mut mg, &mut vg)));
        close(&format!("layer_norm {rows}x{d}"), &got, &want, 1e-5, 1e-5);
        close(&format!("layer_norm mean {rows}x{d}"), &mg, &mw, 1e-6, 1e-5);
        close(&format!("layer_norm var {rows}x{d}"), &vg, &vw, 1e-6, 1e-5);

        let (mean, var): (Vec<f32>, Vec<f32>) = (r.vec(d, 1.0), r.vec(d, 1.0).iter().map(|v| v.abs() + 0.1).collect());
        scalar::batch_norm_eval(&x, &mean, &var, &w, &b, &mut want, rows, d, 1e-5);
        simd128::batch_norm_eval(&x, &mean, &var, &w, &b, &mut got, rows, d, 1e-5);
        close(&format!("batch_norm {rows}x{d}"), &got, &want, 1e-5, 1e-5);

        for act in [Activation::Relu, Activation::Gelu, Activation::GeluTanh] {
            let (mut a, mut c) = (x.clone(), x.clone());
            scalar::activation_inplace(&mut a, act);
            simd128::activation_inplace(&mut c, act);
            close(&format!("{act:?} {}", x.len()), &c, &a, 2e-6, 1e-5);
        }
        let (mut a, mut c) = (x.clone(), x.clone());
        scalar::add_inplace(&mut a, &w);
        simd128::add_inplace(&mut c, &w);
        assert_eq!(a, c, "add_inplace is exact");
    }
    // Softmax rows: ragged lengths, masked entries, an all-masked row, large magnitudes.
    for n in [1, 2, 3, 4, 5, 8, 13, 64, 127] {
        let mut row = r.vec(n, 30.0);
        if n > 2 {
            row[1] = f32::NEG_INFINITY;
        }
        let (mut a, mut c) = (row.clone(), row.clone());
        scalar::softmax_inplace(&mut a);
        simd128::softmax_inplace(&mut c);
        close(&format!("softmax n={n}"), &c, &a, 1e-7, 1e-5);
    }
    let (mut a, mut c) = ([f32::NEG_INFINITY; 6], [f32::NEG_INFINITY; 6]);
    scalar::softmax_inplace(&mut a);
    simd128::softmax_inplace(&mut c);
    assert_eq!(a, c);
}

/// Rows scaled up to the f32 range (tests/fixtures/golden/extreme.json, where tests/extreme.rs checks the
/// scalar kernels against PyTorch and float64): the SIMD128 LayerNorm and softmax stay finite and match
/// the scalar ones.
#[wasm_bindgen_test]
fn layer_norm_and_softmax_match_scalar_up_to_f32_max() {
    let f: serde_json::Value = serde_json::from_str(include_str!("fixtures/golden/extreme.json")).unwrap();
    let flat = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32)).collect()
    };
    let row = |v: &serde_json::Value| -> Vec<f32> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect() };
    for case in f["layer_norm"].as_array().unwrap() {
        let d = case["d"].as_u64().unwrap() as usize;
        let eps = case["eps"].as_f64().unwrap() as f32;
        let x = flat(&case["x"]);
        let rows = x.len() / d;
        let (w, b) = (row(&case["w"]), row(&case["b"]));
        let (mut want, mut got) = (vec![0.0; rows * d], vec![0.0; rows * d]);
        let (mut mw, mut vw, mut mg, mut vg) = (vec![0.0; rows], vec![0.0; rows], vec![0.0; rows], vec![0.0; rows]);
        scalar::layer_norm(&x, &w, &b, &mut want, rows, d, eps, Some((&mut mw, &mut vw)));
        simd128::layer_norm(&x, &w, &b, &mut got, rows, d, eps, Some((&mut mg, &mut vg)));
        assert!(got.iter().chain(&mg).chain(&vg).all(|v| v.is_finite()), "layer_norm d={d}: not finite");
        close(&format!("extreme layer_norm d={d}"), &got, &want, 3e-5, 1e-4);
    }
    for case in f["softmax"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let (mut a, mut c) = (flat(&case["x"]), flat(&case["x"]));
        a.chunks_mut(n).for_each(scalar::softmax_inplace);
        c.chunks_mut(n).for_each(simd128::softmax_inplace);
        assert!(c.iter().all(|v| v.is_finite()), "softmax n={n}: not finite");
        close(&format!("extreme softmax n={n}"), &c, &a, 1e-6, 1e-5);
    }
}

#[wasm_bindgen_test]
fn exp_is_accurate_over_its_range() {
    let mut x = -87.0f32;
    while x < 88.0 {
        let v = core::arch::wasm32::f32x4_splat(x);
        let got = core::arch::wasm32::f32x4_extract_lane::<0>(simd128::exp4(v));
        let want = x.exp();
        assert!((got - want).abs() <= 3e-7 * want, "exp({x}) = {got}, want {want}");
        x += 0.173;
    }
}

/// GELU (erf) on a dense grid over every range its approximation treats differently: the rational part
/// inside |x/√2| < 4, the clamp beyond it, the far tails, and non-finite inputs (NaN stays NaN, ±∞ gives
/// ±∞ and 0 as `x · Φ(x)` does in PyTorch).
#[wasm_bindgen_test]
fn gelu_matches_scalar_over_its_range() {
    let mut x: Vec<f32> = (0..=40_000).map(|i| -20.0 + i as f32 * 0.001).collect();
    x.extend([-1e30, -100.0, 100.0, 1e30, 0.0, -0.0, f32::MIN_POSITIVE, -f32::MIN_POSITIVE]);
    let (mut want, mut got) = (x.clone(), x.clone());
    scalar::activation_inplace(&mut want, Activation::Gelu);
    simd128::activation_inplace(&mut got, Activation::Gelu);
    close("gelu grid", &got, &want, 1.5e-6, 1e-6);
    let mut odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0];
    simd128::activation_inplace(&mut odd, Activation::Gelu);
    assert!(odd[0].is_nan(), "gelu(NaN) = {}", odd[0]);
    assert_eq!(odd[1], f32::INFINITY, "gelu(+inf)");
    assert!(odd[2] == 0.0 || odd[2].is_nan(), "gelu(-inf) = {}", odd[2]);
}

/// Whole model: logits, probabilities, hidden states and attention on the SIMD path against the
/// scalar path of the same build.
fn model_matches_scalar(config: &str, weights: &[u8], vocab: &str) {
    let c = Classifier::from_bytes(config, weights, vocab).expect("model loads");
    let texts = [
        "a wonderful, moving film with a superb cast",
        "dull. i left after twenty minutes and did not come back",
        "ok",
        "the plot is thin but the photography and the music carry it to the end, which surprised me",
    ];
    let (batch, _) = c.batch(&texts).expect("batch");
    for bn in [BatchNormStats::Running, BatchNormStats::Batch] {
        let opts = ForwardOptions { batch_norm: bn, trace: TraceRequest::ALL, ..Default::default() };
        cpu::set_reference(true);
        let mut want = encoder_lens::cpu::forward(&c.model, &batch, &opts).expect("scalar forward");
        cpu::set_reference(false);
        let mut got = encoder_lens::cpu::forward(&c.model, &batch, &opts).expect("simd forward");
        let (tw, tg) = (want.trace.take().expect("trace"), got.trace.take().expect("trace"));
        // Only the final hidden states asked for (no attention probabilities, no norm copies).
        let hidden_only = ForwardOptions { trace: TraceRequest { hidden: true, ..TraceRequest::NONE }, ..opts };
        let plain = encoder_lens::cpu::forward(&c.model, &batch, &hidden_only).expect("simd forward without trace");
        let logits = |o: &encoder_lens::Output| o.logits.as_ref().expect("logits").data.clone();
        close("logits", &logits(&got), &logits(&want), 1e-5, 1e-5);
        // A trace only adds outputs: the logits are bit-identical with and without it.
        close("logits without trace", &logits(&plain), &logits(&got), 0.0, 0.0);
        let hidden = |o: &encoder_lens::Output| o.hidden.as_ref().expect("hidden").data.clone();
        close("hidden without trace", &hidden(&plain), &hidden(&got), 0.0, 0.0);
        close("probs", &got.probs.as_ref().unwrap().data, &want.probs.as_ref().unwrap().data, 1e-5, 1e-5);
        close("hidden", &hidden(&got), &hidden(&want), 1e-4, 1e-4);
        for (l, (a, b)) in tg.layers.iter().zip(&tw.layers).enumerate() {
            // The golden tests' attention tolerance: sharp trained heads amplify FMA rounding in the scores.
            close(&format!("layer {l} attention"), &a.attention.as_ref().unwrap().data, &b.attention.as_ref().unwrap().data, 1e-5, 1e-4);
        }
    }
    // One longer sequence (several query blocks, ragged tail).
    let n = 61.min(c.config().max_len); // past one 8-query block and, at max_len 128, ...
    let n = if c.config().max_len >= 128 { 127 } else { n }; // ... past two 64-key blocks
    let long: Vec<u32> = (0..n).map(|i| 5 + (i * 37 % 500) as u32).collect();
    let short: Vec<u32> = long[..23].to_vec();
    let batch = Batch::from_rows(&[long, short], 0).expect("batch");
    cpu::set_reference(true);
    let want = encoder_lens::cpu::forward(&c.model, &batch, &ForwardOptions::default()).expect("scalar forward");
    cpu::set_reference(false);
    let got = encoder_lens::cpu::forward(&c.model, &batch, &ForwardOptions::default()).expect("simd forward");
    close("long logits", &got.logits.unwrap().data, &want.logits.unwrap().data, 1e-5, 1e-5);
}

#[wasm_bindgen_test]
fn prenorm_gelu_model_matches_scalar() {
    model_matches_scalar(
        include_str!("fixtures/models/prenorm-gelu/config.json"),
        include_bytes!("fixtures/models/prenorm-gelu/model.safetensors"),
        include_str!("fixtures/models/prenorm-gelu/vocab.txt"),
    );
}

#[wasm_bindgen_test]
fn prenorm_bn_model_matches_scalar() {
    model_matches_scalar(
        include_str!("fixtures/models/prenorm-bn/config.json"),
        include_bytes!("fixtures/models/prenorm-bn/model.safetensors"),
        include_str!("fixtures/models/prenorm-bn/vocab.txt"),
    );
}

#[wasm_bindgen_test]
fn sentiment_ln_model_matches_scalar() {
    model_matches_scalar(
        include_str!("../models/sentiment-ln/config.json"),
        include_bytes!("../models/sentiment-ln/model.safetensors"),
        include_str!("../models/sentiment-ln/vocab.txt"),
    );
}

#[wasm_bindgen_test]
fn sentiment_bn_model_matches_scalar() {
    model_matches_scalar(
        include_str!("../models/sentiment-bn/config.json"),
        include_bytes!("../models/sentiment-bn/model.safetensors"),
        include_str!("../models/sentiment-bn/vocab.txt"),
    );
}

/// DeLighT's GLT (mixer + grouped matmul + shuffle) on 60 random shapes: groups 1..=32, group widths not
/// multiples of 4, with and without the mixed-in input.
#[wasm_bindgen_test]
fn glt_matches_scalar_on_60_shapes() {
    let mut rng = Rng(0x6c7);
    for i in 0..60 {
        let g = if i < 6 { [1, 2, 4, 8, 16, 32][i] } else { 1 + rng.below(32) };
        let (xg, og, rows) = (1 + rng.below(13), 1 + rng.below(11), 1 + rng.below(40));
        let mg = if i % 3 == 0 { 0 } else { 1 + rng.below(7) };
        let (xd, md, n) = (xg * g, mg * g, og * g);
        let x = rng.vec(rows * xd, 1.0);
        let mix = (md > 0).then(|| rng.vec(rows * md, 1.0));
        let w = rng.vec(g * (xg + mg) * og, 0.5);
        let bias = rng.vec(n, 0.5);
        let (mut want, mut got) = (vec![0.0f32; rows * n], vec![0.0f32; rows * n]);
        scalar::glt(&x, mix.as_deref(), &w, &bias, &mut want, rows, xd, md, n, g);
        simd128::glt(&x, mix.as_deref(), &w, &bias, &mut got, rows, xd, md, n, g);
        close(&format!("glt shape {i}: rows {rows} xd {xd} md {md} n {n} groups {g}"), &got, &want, 1e-5, 1e-5);
    }
}

#[wasm_bindgen_test]
fn delight_model_matches_scalar() {
    model_matches_scalar(
        include_str!("fixtures/models/delight-a/config.json"),
        include_bytes!("fixtures/models/delight-a/model.safetensors"),
        include_str!("fixtures/models/delight-a/vocab.txt"),
    );
}

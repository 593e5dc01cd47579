//! The int8 microkernels (`i32x4.dot_i16x8_s` in every SIMD build; `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! and `i16x8.relaxed_dot_i8x16_i7x16_s` in the relaxed-SIMD build) against the scalar reference on ≥ 200
//! random shapes with ragged `k` (k % 4), row (m % 4) and column (n % 8) tails: equal as integers; and the
//! int8 linear (quantize → packed product → fused epilogue with bias, activation or residual) equal bit for
//! bit to the scalar one. Runs only in a wasm build with `+simd128` (`make test-simd`: Chromium and node).
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use encoder_lens::cpu::{self, quant, simd128};
use encoder_lens::{Classifier, ForwardOptions};
use wasm_bindgen_test::*;

/// xorshift32.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
    fn f(&mut self) -> f32 {
        (self.next() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

/// ≥ 200 shapes: small, ragged (k % 16 ≠ 0, n % 4 ≠ 0), and model-sized.
fn shapes(rng: &mut Rng) -> Vec<(usize, usize, usize)> {
    let mut s: Vec<_> = (0..220).map(|_| (1 + rng.below(20), 1 + rng.below(100), 1 + rng.below(23))).collect();
    s.extend([(1, 16, 4), (3, 17, 5), (7, 31, 3), (16, 128, 384), (9, 384, 1536), (5, 1536, 384), (2, 15, 1), (1, 1, 1), (37, 100, 45), (130, 64, 17)]);
    s
}

/// Run `f` once with each int8 microkernel this build has (relaxed builds: all three), then restore the
/// default.
fn each_kernel(mut f: impl FnMut(simd128::Int8Kernel)) {
    let default = simd128::int8_kernel();
    for &kernel in simd128::Int8Kernel::available() {
        assert!(simd128::set_int8_kernel(kernel));
        // (RelaxedDotAdd runs as RelaxedDot16 where the engine computes it wrongly: node 20)
        f(simd128::kernel_in_use());
    }
    simd128::set_int8_kernel(default);
}

#[wasm_bindgen_test]
fn gemm_i8_equals_scalar_on_random_shapes() {
    let mut rng = Rng(0x1234_5678);
    let all = shapes(&mut rng);
    assert!(all.len() >= 200);
    let mut ragged = [0usize; 3]; // shapes with a k tail (k % 4), a row tail (m % 4), a column tail (n % 8)
    for &(m, k, n) in &all {
        ragged[0] += (k % 4 != 0) as usize;
        ragged[1] += (m % 4 != 0) as usize;
        ragged[2] += (n % 8 != 0) as usize;
        // activations use the whole 7-bit range, weights the whole int8 range (−128 included)
        let xq: Vec<u8> = (0..m * k).map(|i| if i % 7 == 0 { 127 } else { rng.below(128) as u8 }).collect();
        let w: Vec<i8> = (0..n * k).map(|i| if i % 5 == 0 { -128 } else { rng.next() as u8 as i8 }).collect();
        let mut a = vec![0i32; m * n];
        quant::gemm_i8_scalar(&xq, &w, &mut a, m, k, n);
        each_kernel(|kernel| {
            let mut b = vec![0i32; m * n];
            simd128::gemm_i8(&xq, &w, &mut b, m, k, n);
            if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                panic!("({m}, {k}, {n}): index {i}: scalar {} vs {kernel:?} {}", a[i], b[i]);
            }
        });
    }
    assert!(ragged.iter().all(|&r| r >= 100), "ragged shapes (k, m, n tails): {ragged:?}");
    // the extremes: every product at its maximum magnitude, both signs, over the longest MiniLM k
    let k = 1536;
    for (wv, want) in [(-128i8, -(127 * 128 * k as i32)), (127, 127 * 127 * k as i32)] {
        let (xq, w) = (vec![127u8; 5 * k], vec![wv; 9 * k]);
        each_kernel(|kernel| {
            let mut out = vec![0i32; 5 * 9];
            simd128::gemm_i8(&xq, &w, &mut out, 5, k, 9);
            assert!(out.iter().all(|&v| v == want), "{kernel:?}: {out:?} vs {want}");
        });
    }
}

#[wasm_bindgen_test]
fn int8_linear_is_bit_exact_across_kernels() {
    use encoder_lens::config::Activation;
    let mut rng = Rng(0x9e37_79b9);
    let acts = [None, Some(Activation::Gelu), Some(Activation::Relu), Some(Activation::GeluTanh)];
    let mut cases = 0;
    for (t, (m, k, n)) in shapes(&mut rng).into_iter().enumerate() {
        let scale = [1e-6, 0.01, 1.0, 30.0][t % 4];
        let x: Vec<f32> = (0..m * k).map(|_| rng.f() * scale + if t % 3 == 0 { 0.5 * scale } else { 0.0 }).collect();
        let wf: Vec<f32> = (0..n * k).map(|_| rng.f() * 0.2).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
        let base: Vec<f32> = (0..m * n).map(|_| rng.f()).collect(); // the residual `accumulate` adds to
        let w = encoder_lens::quant::quantize_weight(&wf, [n, k], t % 2 == 1).unwrap();
        let bias = (t % 5 != 4).then_some(&bias[..]);
        let (act, accumulate) = match t % 6 {
            5 => (None, true),
            r => (acts[r % 4], false),
        };
        let run = |reference: bool| {
            cpu::set_reference(reference);
            let mut out = base.clone();
            quant::linear_int8(&x, &w, bias, &mut out, m, k, n, if reference { None } else { act }, accumulate);
            cpu::set_reference(false);
            out
        };
        // The reference: scalar quantization, integer product and epilogue, then the SIMD build's activation
        // (the one the fast path fuses; the scalar build's activation is its own oracle elsewhere).
        let mut want = run(true);
        if let (Some(a), false) = (act, accumulate) {
            simd128::activation_inplace(&mut want, a);
        }
        each_kernel(|kernel| {
            let got = run(false);
            if let Some(i) = (0..want.len()).find(|&i| want[i].to_bits() != got[i].to_bits()) {
                panic!("({m}, {k}, {n}) shape {t} act {act:?} accumulate {accumulate} bias {}: index {i}: scalar {} vs {kernel:?} {}", bias.is_some(), want[i], got[i]);
            }
            cases += 1;
        });
    }
    assert!(cases >= 200);
    // A non-finite activation makes every output NaN, on every path.
    let (m, k, n) = (3, 20, 9);
    let w = encoder_lens::quant::quantize_weight(&vec![0.1f32; n * k], [n, k], false).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = vec![0.5f32; m * k];
        x[m * k - 1] = bad;
        each_kernel(|kernel| {
            let mut out = vec![0.0f32; m * n];
            quant::linear_int8(&x, &w, None, &mut out, m, k, n, None, false);
            assert!(out.iter().all(|v| v.is_nan()), "{bad} with {kernel:?}: {out:?}");
        });
    }
}

#[wasm_bindgen_test]
fn int8_model_logits_match_scalar() {
    let c = Classifier::from_bytes(
        include_str!("../models/sentiment-ln-int8/config.json"),
        include_bytes!("../models/sentiment-ln-int8/model.safetensors"),
        include_str!("../models/sentiment-ln-int8/vocab.txt"),
    )
    .expect("int8 model loads");
    let texts = ["A wonderful, heartfelt film.", "Terrible acting and a dull plot; I walked out after an hour.", "ok"];
    let (batch, _) = c.batch(&texts).unwrap();
    let run = |reference: bool| {
        cpu::set_reference(reference);
        cpu::forward(&c.model, &batch, &ForwardOptions::default()).unwrap().logits.unwrap().data
    };
    let (a, b) = (run(true), run(false));
    cpu::set_reference(false);
    // The f32 ops between the linears differ by float rounding between the kernels; an activation on an
    // int8 rounding boundary can then land one step apart, hence 1e-3 rather than bit equality here.
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-3, "int8 model logits: scalar {a:?} vs {} {b:?} (max |diff| {worst})", cpu::kernels());
}

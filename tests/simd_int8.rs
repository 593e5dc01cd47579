//! The int8 product kernel (`i32x4.dot_i16x8_s`, in the SIMD128 and the relaxed-SIMD builds) against the scalar reference on random shapes with ragged `k`
//! and `n` tails: equal as integers, and the int8 linear (quantize → product → dequantize) equal bit for
//! bit. Runs only in a wasm build with `+simd128` (`make test-simd`: Chromium and node).
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
    s.extend([(1, 16, 4), (3, 17, 5), (7, 31, 3), (16, 128, 384), (9, 384, 1536), (5, 1536, 384), (2, 15, 1), (1, 1, 1)]);
    s
}

#[wasm_bindgen_test]
fn gemm_i8_equals_scalar_on_random_shapes() {
    let mut rng = Rng(0x1234_5678);
    let all = shapes(&mut rng);
    for &(m, k, n) in &all {
        // activations use the whole 7-bit range, weights the whole int8 range (−128 included)
        let xq: Vec<u8> = (0..m * k).map(|i| if i % 7 == 0 { 127 } else { rng.below(128) as u8 }).collect();
        let w: Vec<i8> = (0..n * k).map(|i| if i % 5 == 0 { -128 } else { rng.next() as u8 as i8 }).collect();
        let (mut a, mut b) = (vec![0i32; m * n], vec![0i32; m * n]);
        quant::gemm_i8_scalar(&xq, &w, &mut a, m, k, n);
        simd128::gemm_i8(&xq, &w, &mut b, m, k, n);
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!("({m}, {k}, {n}): index {i}: scalar {} vs {} {}", a[i], cpu::kernels(), b[i]);
        }
    }
    cpu::set_reference(false);
    assert!(all.len() >= 200);
    // the extremes: every product at its maximum magnitude, both signs
    let k = 1536;
    let (xq, w) = (vec![127u8; k], vec![-128i8; k]);
    let mut out = [0i32];
    simd128::gemm_i8(&xq, &w, &mut out, 1, k, 1);
    assert_eq!(out[0], -(127 * 128 * k as i32));
}

#[wasm_bindgen_test]
fn int8_linear_is_bit_exact_across_kernels() {
    let mut rng = Rng(0x9e37_79b9);
    for (t, (m, k, n)) in shapes(&mut rng).into_iter().enumerate() {
        let scale = [1e-6, 0.01, 1.0, 30.0][t % 4];
        let x: Vec<f32> = (0..m * k).map(|_| rng.f() * scale + if t % 3 == 0 { 0.5 * scale } else { 0.0 }).collect();
        let wf: Vec<f32> = (0..n * k).map(|_| rng.f() * 0.2).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
        let w = encoder_lens::quant::quantize_weight(&wf, [n, k], t % 2 == 1).unwrap();
        let run = |reference: bool| {
            cpu::set_reference(reference);
            let mut out = vec![0.0f32; m * n];
            quant::linear_int8(&x, &w, Some(&bias), &mut out, m, k, n, None, false);
            out
        };
        let (a, b) = (run(true), run(false));
        cpu::set_reference(false);
        if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
            panic!("({m}, {k}, {n}) shape {t}: index {i}: scalar {} vs {} {}", a[i], cpu::kernels(), b[i]);
        }
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

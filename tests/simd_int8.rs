//! The int8 microkernels (`i32x4.dot_i16x8_s` in every SIMD build; `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! and `i16x8.relaxed_dot_i8x16_i7x16_s` in the relaxed-SIMD build) against the scalar reference on ≥ 200
//! random shapes with ragged `k` (k % 4), row (m % 4) and column (n % 8) tails: equal as integers; and the
//! int8 linear (quantize → packed product → fused epilogue with bias, activation or residual) equal bit for
//! bit to the scalar one, on fbgemm's 7-bit activation grid and qnnpack's 8-bit one, with and without f32
//! outlier columns (≥ 200 shapes each). Runs only in a wasm build with `+simd128` (`make test-simd`:
//! Chromium and node).
#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]

use encoder_lens::cpu::{self, quant, simd128};
use encoder_lens::model::param::{ActivationGrid, Int8Weight, OutlierColumns, Param};
use encoder_lens::tensor::Tensor;
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
fn gemm_i8_takes_8_bit_activations_in_dot16() {
    // qnnpack's grid: activations in [0, 255], which only `Dot16` takes (it zero-extends them to i16).
    let mut rng = Rng(0x2545_f491);
    let all = shapes(&mut rng);
    let default = simd128::int8_kernel();
    assert!(simd128::set_int8_kernel(simd128::Int8Kernel::Dot16));
    for &(m, k, n) in &all {
        let xq: Vec<u8> = (0..m * k).map(|i| if i % 7 == 0 { 255 } else { rng.below(256) as u8 }).collect();
        let w: Vec<i8> = (0..n * k).map(|i| if i % 5 == 0 { -128 } else { rng.next() as u8 as i8 }).collect();
        let (mut a, mut b) = (vec![0i32; m * n], vec![0i32; m * n]);
        quant::gemm_i8_scalar(&xq, &w, &mut a, m, k, n);
        simd128::gemm_i8(&xq, &w, &mut b, m, k, n);
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!("({m}, {k}, {n}) 8-bit: index {i}: scalar {} vs Dot16 {}", a[i], b[i]);
        }
    }
    // the extreme: every product 255 · −128 over the longest k the accumulator allows
    let k = encoder_lens::quant::MAX_INT8_IN;
    let (xq, w) = (vec![255u8; 2 * k], vec![-128i8; 3 * k]);
    let mut out = vec![0i32; 2 * 3];
    simd128::gemm_i8(&xq, &w, &mut out, 2, k, 3);
    assert!(out.iter().all(|&v| v == -(255 * 128 * k as i32)), "{out:?}");
    simd128::set_int8_kernel(default);
}

/// Case `t`'s weight: `wf (n, k)` quantized (per channel on odd `t`) on the 7-bit grid, or on the 8-bit one
/// and/or with outlier columns (their int8 columns 0, their f32 weights kept) as `variant` says: 0 fbgemm,
/// 1 qnnpack, 2 qnnpack + outliers, 3 fbgemm + outliers.
fn case_weight(rng: &mut Rng, wf: &[f32], n: usize, k: usize, t: usize, variant: usize) -> Int8Weight {
    let mut wf = wf.to_vec();
    let columns: Vec<u32> = if variant >= 2 { (0..k as u32).filter(|_| rng.below(5) == 0).collect() } else { Vec::new() };
    let mut wo = Vec::new(); // (n, c)
    for row in wf.chunks_mut(k) {
        for &c in &columns {
            wo.push(row[c as usize] * 3.0);
            row[c as usize] = 0.0;
        }
    }
    let mut w = encoder_lens::quant::quantize_weight(&wf, [n, k], t % 2 == 1).unwrap();
    w.activation = if variant == 1 || variant == 2 { ActivationGrid::U8 } else { ActivationGrid::U7 };
    if !columns.is_empty() {
        let c = columns.len();
        w.outliers = Some(OutlierColumns { columns, weight: Param::new(Tensor::new(vec![n, c], wo).unwrap()) });
    }
    w
}

#[wasm_bindgen_test]
fn int8_linear_is_bit_exact_across_kernels() {
    use encoder_lens::config::Activation;
    let mut rng = Rng(0x9e37_79b9);
    let acts = [None, Some(Activation::Gelu), Some(Activation::Relu), Some(Activation::GeluTanh)];
    let mut cases = 0;
    let mut per_variant = [0usize; 4];
    for (t, (m, k, n)) in shapes(&mut rng).into_iter().flat_map(|s| [s; 4]).enumerate() {
        let variant = t % 4;
        let scale = [1e-6, 0.01, 1.0, 30.0][(t / 4) % 4];
        let mut x: Vec<f32> = (0..m * k).map(|_| rng.f() * scale + if t % 3 == 0 { 0.5 * scale } else { 0.0 }).collect();
        let wf: Vec<f32> = (0..n * k).map(|_| rng.f() * 0.2).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.f()).collect();
        let base: Vec<f32> = (0..m * n).map(|_| rng.f()).collect(); // the residual `accumulate` adds to
        let w = case_weight(&mut rng, &wf, n, k, t / 4, variant);
        // outlier columns far outside the others' range: they must not widen it
        for &c in w.outliers.iter().flat_map(|o| &o.columns) {
            for r in 0..m {
                x[r * k + c as usize] *= 1000.0;
            }
        }
        per_variant[variant] += w.outliers.is_some() as usize + (variant < 2) as usize;
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
                panic!(
                    "({m}, {k}, {n}) shape {t} {:?} outliers {:?} act {act:?} accumulate {accumulate} bias {}: index {i}: scalar {} vs {kernel:?} {}",
                    w.activation, w.outlier_columns(), bias.is_some(), want[i], got[i]
                );
            }
            cases += 1;
        });
    }
    assert!(cases >= 800);
    assert!(per_variant.iter().all(|&c| c >= 200), "shapes per variant (fbgemm, qnnpack, qnnpack + outliers, fbgemm + outliers): {per_variant:?}");
    // A non-finite activation makes every output NaN, on every path (in an outlier column too).
    let (m, k, n) = (3, 20, 9);
    for variant in 0..4 {
        let w = case_weight(&mut Rng(7), &vec![0.1f32; n * k], n, k, 0, variant);
        for (bad, at) in [(f32::NAN, m * k - 1), (f32::INFINITY, m * k - 1), (f32::NEG_INFINITY, m * k - 1), (f32::NAN, k + w.outlier_columns().first().map_or(0, |&c| c as usize))] {
            let mut x = vec![0.5f32; m * k];
            x[at] = bad;
            each_kernel(|kernel| {
                for reference in [true, false] {
                    cpu::set_reference(reference);
                    let mut out = vec![0.0f32; m * n];
                    quant::linear_int8(&x, &w, None, &mut out, m, k, n, None, false);
                    cpu::set_reference(false);
                    assert!(out.iter().all(|v| v.is_nan()), "{bad} at {at}, variant {variant}, reference {reference}, {kernel:?}: {out:?}");
                }
            });
        }
    }
}

/// The SIMD activation quantizer (bytes, and u16 for `Dot16`) against the scalar one on the inputs its
/// min/max scan treats specially: signed zeros (all −0, all +0, mixed), a NaN or an infinity in every
/// position of a ragged row (vector body and tail), constant rows, both grids.
#[wasm_bindgen_test]
fn activation_quantizer_equals_scalar_on_zeros_and_non_finite() {
    let (m, k) = (3, 37); // 111 values: 27 vectors + a tail of 3; rows padded to kp = 40
    let kp = 40;
    let mut cases: Vec<Vec<f32>> = vec![vec![-0.0; m * k], vec![0.0; m * k], (0..m * k).map(|i| if i % 3 == 0 { -0.0 } else { 0.0 }).collect(), vec![2.5; m * k], vec![-1e-30; m * k]];
    let base: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.03).collect();
    for at in 0..m * k {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x = base.clone();
            x[at] = bad;
            cases.push(x);
        }
    }
    cases.push(base);
    for grid in [ActivationGrid::U7, ActivationGrid::U8] {
        for (t, x) in cases.iter().enumerate() {
            let mut want = vec![0u8; m * k];
            let p = encoder_lens::quant::quantize_activations_grid(x, k, &mut want, grid, &[]);
            for wide in [false, true] {
                let size = 1 + wide as usize;
                let mut q = vec![0xa5u8; m * kp * size];
                let got = simd128::act_quant::quantize(x, m, k, kp, &mut q, grid, &[], wide);
                assert_eq!(got, p, "case {t} {grid:?} wide {wide}: parameters");
                if p.is_none() {
                    continue;
                }
                for r in 0..m {
                    for c in 0..kp {
                        let v = if wide { u16::from_le_bytes([q[(r * kp + c) * 2], q[(r * kp + c) * 2 + 1]]) } else { q[r * kp + c] as u16 };
                        let w = if c < k { want[r * k + c] as u16 } else { 0 };
                        assert_eq!(v, w, "case {t} {grid:?} wide {wide}: row {r} column {c}");
                    }
                }
            }
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

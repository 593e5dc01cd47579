//! all-MiniLM-L6-v2 and the MiniLM sentiment model on the GPU backend (wgpu on Vulkan; lavapipe here)
//! against `transformers` / `sentence-transformers` (the fixture of `tests/bert.rs`): every layer's hidden
//! states and attention, mean-pooled embedding, logits, |Δ| <= 1e-4. Without an adapter each test prints
//! `SKIPPED: …` (and fails when REQUIRE_GPU=1).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;
#[path = "common/hf_folder.rs"]
mod hf_folder;

use common::{assert_close, real_rows, Fixture};
use encoder_lens::gpu::GpuBackend;
use encoder_lens::{ForwardOptions, HfOverrides, TraceRequest};
use pollster::block_on;

const GOLDEN: Fixture = Fixture { bytes: include_bytes!("fixtures/golden/minilm.safetensors") };
/// GPU vs the PyTorch reference.
const GPU_TOL: (f32, f32) = (1e-4, 1e-4);

#[test]
fn minilm_on_gpu_matches_transformers() {
    block_on(async {
        let Some(ctx) = gpu_checks::gpu_or_skip("minilm_on_gpu_matches_transformers").await else { return };
        let c = hf_folder::load(&hf_folder::folder(&hf_folder::repo().join("models/minilm-sentiment")), &HfOverrides::default());
        let mut g = GpuBackend::new(ctx, &c.model).expect("upload MiniLM");
        let (mut max_h, mut max_a, mut max_out) = (0.0f32, 0.0f32, 0.0f32);
        for k in 0..GOLDEN.num_batches() {
            let batch = GOLDEN.batch(k);
            let (b, s) = (batch.batch, batch.seq);
            let what = |x: &str| format!("minilm GPU batch {k} {x}");
            let opts = ForwardOptions::default().traced(TraceRequest::ALL);
            let mut out = c.model.forward(&mut g, &batch, &opts).await.expect("gpu forward");
            let tr = out.trace.take().expect("trace");
            let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
            assert_eq!(tr.layers.len(), 6);
            for (l, lt) in tr.layers.iter().enumerate() {
                let (_, h) = GOLDEN.f32(&format!("b{k}.layer{l}.hidden"));
                max_h = max_h.max(assert_close(&what(&format!("layer {l} hidden")), &real(&lt.hidden.as_ref().unwrap().data), &real(&h), GPU_TOL.0, GPU_TOL.1));
                let (_, a) = GOLDEN.f32(&format!("b{k}.layer{l}.attn"));
                let (mut ours, mut want) = (Vec::new(), Vec::new());
                for bi in 0..b {
                    for h in 0..12 {
                        for i in 0..batch.lengths[bi] {
                            let o = ((bi * 12 + h) * s + i) * s;
                            ours.extend_from_slice(&lt.attention.as_ref().unwrap().data[o..o + s]);
                            want.extend_from_slice(&a[o..o + s]);
                        }
                    }
                }
                max_a = max_a.max(assert_close(&what(&format!("layer {l} attention")), &ours, &want, GPU_TOL.0, GPU_TOL.1));
            }
            let (_, pooled) = GOLDEN.f32(&format!("b{k}.pooled"));
            max_out = max_out.max(assert_close(&what("mean pooled"), &out.pooled.data, &pooled, GPU_TOL.0, 0.0));
            let (_, logits) = GOLDEN.f32(&format!("b{k}.logits"));
            max_out = max_out.max(assert_close(&what("logits"), &out.logits.expect("logits").data, &logits, GPU_TOL.0, 0.0));
        }
        println!("minilm on GPU vs transformers, max |diff|: hidden {max_h:e}, attention {max_a:e}, pooled/logits {max_out:e}");
    });
}

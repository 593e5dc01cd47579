//! Where the GPU forward's time goes (natively, wgpu on Vulkan: lavapipe here), all-MiniLM-L6-v2 with its
//! real weights: the whole forward per sequence length with its dispatch count, then each kernel at the
//! forward's shapes, timed alone (many dispatches in one submit). Ignored by default (a measurement, not
//! a check): `cargo test --test gpu_profile -- --ignored --nocapture`.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;
#[path = "common/hf_folder.rs"]
mod hf_folder;

use encoder_lens::gpu::encode::{Recorder, Scratch};
use encoder_lens::gpu::ops;
use encoder_lens::gpu::GpuBackend;
use encoder_lens::{Batch, ForwardOptions};
use pollster::block_on;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

#[test]
#[ignore]
fn profile_minilm_forward_and_kernels() {
    block_on(async {
        let Some(ctx) = gpu_checks::gpu_or_skip("profile_minilm_forward_and_kernels").await else { return };
        let c = hf_folder::load(&hf_folder::minilm(), &Default::default());
        let mut g = GpuBackend::new(ctx.clone(), &c.model).expect("upload");
        let seqs: Vec<usize> = std::env::var("PROFILE_SEQS").map_or(vec![16, 64, 128], |s| s.split(',').map(|v| v.parse().expect("seq")).collect());
        for &seq in &seqs {
            let mut ids = vec![1996u32; seq];
            ids[0] = 101;
            ids[seq - 1] = 102;
            let batch = Batch::from_rows(&[ids], 0).expect("batch");
            let opts = ForwardOptions::default();
            let t = Instant::now();
            c.model.forward(&mut g, &batch, &opts).await.expect("forward");
            let first = ms(t);
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let t = Instant::now();
                c.model.forward(&mut g, &batch, &opts).await.expect("forward");
                best = best.min(ms(t));
            }
            println!("forward seq {seq}: first {first:.1} ms, best of 3 {best:.1} ms, {:?}", g.last);
        }
        // Each kernel alone at MiniLM's shapes (d 384, 12 heads of 32, ffn 1536), `reps` dispatches per submit.
        let reps = 6;
        let (d, f) = (384usize, 1536usize);
        for &m in &seqs {
            let buf = |n: usize| ctx.upload("t", &vec![0.01f32; n]).expect("buffer");
            let time = |label: String, rec: Recorder| {
                let t = Instant::now();
                block_on(rec.submit(&mut Scratch::default())).expect("submit");
                println!("  {label}: {:.2} ms per dispatch", ms(t) / reps as f64);
            };
            for (k, n, what) in [(d, 3 * d, "qkv"), (d, d, "out_proj"), (d, f, "ffn1"), (f, d, "ffn2")] {
                let (x, w, b, o) = (buf(m * k), buf(n * k), buf(n), buf(m * n));
                for e in [0, 1] {
                    let mut rec = Recorder::new(&ctx);
                    for _ in 0..reps {
                        ops::matmul::record_entry(&mut rec, e, &x, &w, Some(&b), &o, (m, k, n), ops::matmul::act::GELU, false).expect("record");
                    }
                    rec.read(&o, 0, 4);
                    let chosen = if ops::matmul::entry(m, k, ops::matmul::rows_max_m(&ctx)) == e { " (chosen)" } else { "" };
                    time(format!("seq {m} matmul {what} ({m}×{k}·{k}×{n}) {}{chosen}", ops::matmul::SHADER.entries[e]), rec);
                }
            }
            let (qkv, lens, out) = (buf(m * 3 * d), ctx.upload("lengths", &[m as u32]).expect("lengths"), buf(m * d));
            for e in [0, 1] {
                let mut rec = Recorder::new(&ctx);
                for _ in 0..reps {
                    ops::attention::record_entry(&mut rec, e, &qkv, &lens, &out, None, (1, m, 12, 32)).expect("record");
                }
                rec.read(&out, 0, 4);
                time(format!("seq {m} attention (12 heads × 32) {}", ops::attention::SHADER.entries[e]), rec);
            }
            let (x, w, b, o, s) = (buf(m * d), buf(d), buf(d), buf(m * d), buf(2 * m));
            let mut rec = Recorder::new(&ctx);
            for _ in 0..reps {
                ops::layer_norm::record(&mut rec, &x, &w, &b, &o, &s, (m, d), 1e-12).expect("record");
            }
            rec.read(&o, 0, 4);
            time(format!("seq {m} layer_norm"), rec);
        }
    });
}

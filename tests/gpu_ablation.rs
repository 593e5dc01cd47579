//! Head ablation on the GPU backend natively (wgpu on Vulkan; lavapipe here): the `head_ablate` kernel vs
//! the CPU reference over random shapes (zero and mean, ragged lengths, head sizes not multiples of the
//! workgroup), and a whole sweep (one batched forward, a different head per sequence) GPU vs CPU.
//! Without an adapter each test prints `SKIPPED: …` (and fails when REQUIRE_GPU=1).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use common::{assert_close, MODELS};
use encoder_lens::gpu::{ops, GpuBackend};
use encoder_lens::{cpu, Ablation, AblationMode, ForwardOptions};
use gpu_checks::{gpu_or_skip, Rng};
use pollster::block_on;

#[test]
fn head_ablate_kernel_matches_cpu_on_40_shapes() {
    block_on(async {
        let Some(ctx) = gpu_or_skip("head_ablate_kernel_matches_cpu_on_40_shapes").await else { return };
        let mut rng = Rng::new(13);
        for i in 0..40 {
            let (batch, seq, heads) = (rng.int(1, 4), rng.int(1, 70), rng.int(1, 6));
            let head_dim = rng.pick(&[1, 5, 32, 64, 65, 100]);
            let d = heads * head_dim;
            let x = rng.vec(batch * seq * d, 2.0);
            let keep: Vec<f32> = (0..batch * heads).map(|_| (rng.int(0, 2) == 1) as u32 as f32).collect();
            let lengths: Vec<usize> = (0..batch).map(|b| if b == 0 { seq } else { rng.int(1, seq) }).collect();
            let mean = i % 2 == 1;
            let got = ops::head_ablate::run(&ctx, &x, &keep, &lengths, (batch, seq, heads, head_dim), mean).await.expect("gpu head_ablate");
            let mut want = x.clone();
            cpu::head_ablate(&mut want, &keep, &lengths, batch, seq, heads, head_dim, mean);
            let what = format!("head_ablate shape {i}: batch {batch} seq {seq} heads {heads} head_dim {head_dim} mean {mean} keep {keep:?}");
            assert_close(&what, &got, &want, 1e-6, 1e-5);
            for (j, (&g, &o)) in got.iter().zip(&x).enumerate() {
                let (b, h) = (j / (seq * d), (j % d) / head_dim);
                if keep[b * heads + h] != 0.0 {
                    assert_eq!(g.to_bits(), o.to_bits(), "{what}: kept value {j} changed");
                }
            }
        }
    })
}

#[test]
fn ablation_sweep_on_gpu_matches_cpu() {
    block_on(async {
        let Some(ctx) = gpu_or_skip("ablation_sweep_on_gpu_matches_cpu").await else { return };
        for m in [&MODELS[0], &MODELS[2]] {
            let c = m.classifier();
            let (layers, heads) = (c.config().num_layers, c.config().num_heads);
            let mut gpu = GpuBackend::new(ctx.clone(), &c.model).expect("upload");
            for mode in [AblationMode::Zero, AblationMode::Mean] {
                let a = Ablation::sweep(mode, layers, heads);
                let texts = vec!["The plot was predictable but the actors were charming."; a.rows];
                let (batch, _) = c.batch(&texts).unwrap();
                let opts = ForwardOptions { ablate: Some(&a), ..Default::default() };
                let g = c.model.forward(&mut gpu, &batch, &opts).await.expect("gpu forward");
                let want = cpu::forward(&c.model, &batch, &opts).unwrap();
                let d = assert_close(&format!("{} {mode:?} sweep logits", m.name), &g.logits.unwrap().data, &want.logits.unwrap().data, 1e-4, 1e-4);
                println!("{} {mode:?} sweep of {} rows: GPU vs CPU max |Δlogit| {d:e}", m.name, a.rows);
            }
        }
    })
}

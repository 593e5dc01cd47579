//! Forward-pass time on the CPU path vs the GPU path (wgpu; lavapipe on these machines, so this measures
//! a CPU emulation of a GPU, not GPU speed), and what one GPU forward records; then the int8 matmul
//! kernel with `dot4I8Packed` vs its shift-unpack path, where the adapter offers the packed one.
//!
//! ```text
//! cargo run --release --example gpu_bench [-- MODEL_DIR]
//! ```

use encoder_lens::gpu::encode::{Recorder, Scratch};
use encoder_lens::gpu::ops::{act_quant, matmul::act, matmul_int8};
use encoder_lens::gpu::GpuContext;
use encoder_lens::{Backend, Batch, Classifier, Engine, ForwardOptions};
use std::time::Instant;

fn load(dir: &str) -> Result<Classifier, Box<dyn std::error::Error>> {
    let text = |f: &str| std::fs::read_to_string(format!("{dir}/{f}"));
    Ok(Classifier::from_bytes(&text("config.json")?, &std::fs::read(format!("{dir}/model.safetensors"))?, &text("vocab.txt")?)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "models/sentiment-ln".into());
    let cpu = load(&dir)?;
    let mut gpu = pollster::block_on(Engine::new(load(&dir)?, Backend::Gpu))?;
    let g = gpu.gpu().ok_or("no GPU")?;
    println!("model {dir}; GPU: {} — {}", g.ctx.backend_name(), g.ctx.adapter_name());
    let ctx = g.ctx.clone();
    let c = cpu.config().clone();
    println!("{:>6} {:>5} {:>10} {:>10} {:>7} {:>11} {:>8} {:>9}", "batch", "seq", "cpu ms", "gpu ms", "ratio", "dispatches", "submits", "readbacks");
    for (b, s) in [(1, 16), (8, 64), (32, c.max_len.min(128))] {
        let rows: Vec<Vec<u32>> = (0..b).map(|i| (0..s).map(|t| ((i * 31 + t * 7) % (c.vocab_size - 1) + 1) as u32).collect()).collect();
        let batch = Batch::from_rows(&rows, c.pad_token_id)?;
        let opts = ForwardOptions::default();
        let time = |f: &mut dyn FnMut()| {
            f(); // warm-up (and GPU buffer allocation for this shape)
            let reps = 5;
            let t0 = Instant::now();
            for _ in 0..reps {
                f();
            }
            t0.elapsed().as_secs_f64() * 1e3 / reps as f64
        };
        let cpu_ms = time(&mut || {
            encoder_lens::cpu::forward(&cpu.model, &batch, &opts).expect("cpu forward");
        });
        let gpu_ms = time(&mut || {
            pollster::block_on(gpu.forward(&batch, &opts)).expect("gpu forward");
        });
        let st = gpu.gpu().ok_or("GPU fell back")?.last;
        println!("{b:>6} {s:>5} {cpu_ms:>10.2} {gpu_ms:>10.2} {:>7.2} {:>11} {:>8} {:>9}", gpu_ms / cpu_ms, st.dispatches, st.submits, st.readbacks);
    }
    int8_dot4(&ctx)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The int8 matmul alone (MiniLM's FFN-in at seq 128: m 128, k 384, n 1536; 10 dispatches per submit
/// after one act_quant), `dot4I8Packed` vs shift-unpack in paired rounds (the order alternating), medians.
fn int8_dot4(ctx: &GpuContext) -> Result<(), Box<dyn std::error::Error>> {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    if !ctx.packed_dot4 {
        println!("int8 matmul: SKIPPED dot4I8Packed vs unpack (WGSL's packed_4x8_integer_dot_product not offered here)");
        return Ok(());
    }
    let (m, k, n, reps, rounds) = (128usize, 384usize, 1536usize, 10, 7);
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect(); // (m, k)
    let wf: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 97) as f32 - 48.0) / 160.0).collect(); // (n, k)
    let w = encoder_lens::quant::quantize_weight(&wf, [n, k], false)?;
    let variants = [ctx.clone(), ctx.without_packed_dot4()];
    let run = |c: &GpuContext| -> Result<f64, Box<dyn std::error::Error>> {
        let xb = c.upload("x", &x)?;
        let wb = matmul_int8::Int8Buffers::upload(c, &w)?;
        let qp = c.storage_buffer("qp", act_quant::QP_WORDS as u64 * 4, wgpu::BufferUsages::empty())?;
        let out = c.storage_buffer("out", (m * n * 4) as u64, wgpu::BufferUsages::empty())?;
        let t0 = Instant::now();
        let mut rec = Recorder::new(c);
        act_quant::record(&mut rec, &xb, &qp, (m * k, 1))?;
        for _ in 0..reps {
            matmul_int8::record(&mut rec, &xb, &qp, &wb, None, &out, (m, k, n), act::NONE, false, false)?;
        }
        rec.read(&out, 0, 1);
        pollster::block_on(rec.submit(&mut Scratch::default()))?;
        Ok(t0.elapsed().as_secs_f64() * 1e3 / reps as f64)
    };
    for c in &variants {
        run(c)?; // warm-up: pipeline build
    }
    let (mut packed, mut unpack) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let ms = run(&variants[i])?;
            if i == 0 { packed.push(ms) } else { unpack.push(ms) }
        }
    }
    let (p, u) = (median(packed), median(unpack));
    println!("int8 matmul m {m} k {k} n {n} on {}: dot4I8Packed {p:.2} ms, unpack {u:.2} ms per dispatch (median of {rounds} paired rounds of {reps}), unpack / packed {:.2}; load average {}", ctx.adapter_name(), u / p, load());
    Ok(())
}

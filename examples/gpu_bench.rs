//! Forward-pass time on the CPU path vs the GPU path (wgpu; lavapipe on these machines, so this measures
//! a CPU emulation of a GPU, not GPU speed), and what one GPU forward records; then the int8 matmul
//! kernel with `dot4I8Packed` vs its shift-unpack path, where the adapter offers the packed one; then the
//! int8 linear (act_quant + matmul) on fbgemm's 7-bit grid vs qnnpack's 8-bit grid with and without f32
//! outlier columns, on MiniLM's shapes (`--int8` runs only this part).
//!
//! ```text
//! cargo run --release --example gpu_bench [-- MODEL_DIR | --int8]
//! ```

use encoder_lens::gpu::encode::{Recorder, Scratch};
use encoder_lens::gpu::ops::{act_quant, matmul::act, matmul_int8};
use encoder_lens::gpu::GpuContext;
use encoder_lens::model::param::{ActivationGrid, Int8Weight, OutlierColumns, Param};
use encoder_lens::{Backend, Batch, Classifier, Engine, ForwardOptions};
use std::time::Instant;

fn load(dir: &str) -> Result<Classifier, Box<dyn std::error::Error>> {
    let text = |f: &str| std::fs::read_to_string(format!("{dir}/{f}"));
    Ok(Classifier::from_bytes(&text("config.json")?, &std::fs::read(format!("{dir}/model.safetensors"))?, &text("vocab.txt")?)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "models/sentiment-ln".into());
    if dir == "--int8" {
        let ctx = pollster::block_on(GpuContext::new(encoder_lens::gpu::context::default_backends()))?;
        return int8_grids(&ctx);
    }
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
    int8_dot4(&ctx)?;
    int8_grids(&ctx)
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
        act_quant::record(&mut rec, &xb, &qp, (m * k, 1), wb.act_grid(k))?;
        for _ in 0..reps {
            matmul_int8::record(&mut rec, &xb, &qp, &wb, None, None, &out, (m, k, n), act::NONE, false, false)?;
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

/// The int8 linear as a forward records it (act_quant, then the matmul; 10 of each per submit) on
/// MiniLM's shapes at seq 128 (FFN-in, FFN-out, QKV) and 16: fbgemm's 7-bit grid, qnnpack's 8-bit grid,
/// and the 8-bit grid with f32 outlier columns (4, as MiniLM's FFN-in has at most 3 at threshold 12,
/// and 71 for the densest split considered), in paired rounds (the order rotating), medians per linear.
fn int8_grids(ctx: &GpuContext) -> Result<(), Box<dyn std::error::Error>> {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let (reps, rounds) = (10, 7);
    println!("int8 linear (act_quant + matmul) on {}, ms per linear, median of {rounds} rounds of {reps}; load average {}", ctx.adapter_name(), load());
    println!("{:>5} {:>5} {:>5} {:>9} {:>9} {:>13} {:>14}", "m", "k", "n", "u7", "u8", "u8 + 4 cols", "u8 + 71 cols");
    for (m, k, n) in [(128usize, 384usize, 1536usize), (128, 1536, 384), (128, 384, 1152), (16, 384, 384)] {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect(); // (m, k)
        let wf: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 97) as f32 - 48.0) / 160.0).collect(); // (n, k)
        let base = encoder_lens::quant::quantize_weight(&wf, [n, k], true)?;
        let with = |grid: ActivationGrid, ncols: usize| -> Int8Weight {
            let cols: Vec<u32> = (0..ncols).map(|j| (j * k / ncols.max(1) + 3) as u32).collect(); // (ncols)
            let mut q = base.q.clone();
            (0..n).for_each(|r| cols.iter().for_each(|&c| q[r * k + c as usize] = 0));
            let mut w = Int8Weight::new([n, k], q, base.scales.clone(), true);
            w.activation = grid;
            if ncols > 0 {
                let t = encoder_lens::Tensor { shape: vec![n, ncols], data: (0..n * ncols).map(|i| (i % 7) as f32 * 0.01).collect() };
                w.outliers = Some(OutlierColumns { columns: cols, weight: Param::new(t) });
            }
            w
        };
        let variants = [with(ActivationGrid::U7, 0), with(ActivationGrid::U8, 0), with(ActivationGrid::U8, 4), with(ActivationGrid::U8, 71)];
        let xb = ctx.upload("x", &x)?;
        let qp = ctx.storage_buffer("qp", act_quant::QP_WORDS as u64 * 4, wgpu::BufferUsages::empty())?;
        let out = ctx.storage_buffer("out", (m * n * 4) as u64, wgpu::BufferUsages::empty())?;
        let bufs = variants.iter().map(|w| matmul_int8::Int8Buffers::upload(ctx, w)).collect::<Result<Vec<_>, _>>()?;
        let w_outs = variants.iter().map(|w| w.outliers.as_ref().map(|o| ctx.upload("w_out", o.weight.data())).transpose()).collect::<Result<Vec<_>, _>>()?;
        let run = |i: usize| -> Result<f64, Box<dyn std::error::Error>> {
            let wb = &bufs[i];
            let t0 = Instant::now();
            let mut rec = Recorder::new(ctx);
            for _ in 0..reps {
                act_quant::record(&mut rec, &xb, &qp, (m * k, 1), wb.act_grid(k))?;
                matmul_int8::record(&mut rec, &xb, &qp, wb, w_outs[i].as_ref(), None, &out, (m, k, n), act::GELU, false, false)?;
            }
            rec.read(&out, 0, 1);
            pollster::block_on(rec.submit(&mut Scratch::default()))?;
            Ok(t0.elapsed().as_secs_f64() * 1e3 / reps as f64)
        };
        run(0)?; // warm-up: pipeline build
        let mut ms = vec![Vec::new(); bufs.len()];
        for r in 0..rounds {
            for j in 0..bufs.len() {
                let i = (r + j) % bufs.len();
                ms[i].push(run(i)?);
            }
        }
        let med: Vec<f64> = ms.into_iter().map(median).collect();
        // The 7-bit outputs (with a bias, GELU) as a hash of their bits: equal across builds = bit-identical.
        let bias: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect(); // (n)
        let u7 = pollster::block_on(matmul_int8::run(ctx, &x, &variants[0], Some(&bias), None, act::GELU))?.out;
        let hash = u7.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| (h ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01b3));
        println!("{m:>5} {k:>5} {n:>5} {:>9.2} {:>9.2} {:>13.2} {:>14.2}   u7 output bits {hash:016x}", med[0], med[1], med[2], med[3]);
    }
    println!("load average after: {}", load());
    Ok(())
}

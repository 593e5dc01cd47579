//! Forward-pass time on the CPU path vs the GPU path (wgpu; lavapipe on these machines, so this measures
//! a CPU emulation of a GPU, not GPU speed), and what one GPU forward records.
//!
//! ```text
//! cargo run --release --example gpu_bench [-- MODEL_DIR]
//! ```

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
    Ok(())
}

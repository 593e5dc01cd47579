//! Memory over time, natively (Linux: /proc RSS).
//!
//! - The CLI classifies SOAK_LINES (default 2,000, or what 30 s of input reach — SOAK_MAX_SECONDS — so the
//!   suite's reduced soak stays under a minute on a loaded machine; `make soak-native` runs the long one,
//!   100,000 lines in the release build, with no time limit) lines of stdin of varied lengths (1 to ~600 words, truncated to the model's max_len): its
//!   resident set, sampled every 50 ms, grows by at most 5 % from the end of the warm-up (the first 10 %
//!   of lines) to the end.
//! - Loading and dropping a model (classifier + engine, CPU; and the GPU backend when there is an
//!   adapter, every engine on the process's one shared device) 50 times leaves this process's resident set
//!   flat (≤ 5 % over its level after 5 rounds).
//!
//! Each prints its figures (`soak: …`) for RELIABILITY.md.
#![cfg(target_os = "linux")]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Resident set of `pid` in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const WORDS: [&str; 16] = [
    "the", "film", "was", "surprisingly", "good", "but", "never", "boring", "awful", "plot", "and", "acting",
    "unbelievable", "naïve", "東京", "don't",
];

/// Line `i`: a deterministic mix of lengths, mostly short, every 97th up to ~600 words (truncated).
fn line(i: usize) -> String {
    let n = if i % 97 == 0 { 300 + i % 300 } else { 1 + (i * 7919) % 40 };
    (0..n).map(|k| WORDS[(i + k * 31) % WORDS.len()]).collect::<Vec<_>>().join(" ")
}

#[test]
fn cli_rss_stays_flat_over_many_stdin_lines() {
    let lines: usize = std::env::var("SOAK_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    // The input ends early once this many seconds have passed (default 30 with the default line count, none
    // with SOAK_LINES set): CI's soak stays under a minute however loaded the machine is.
    let max_secs: f64 = std::env::var("SOAK_MAX_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var("SOAK_LINES").is_ok() { f64::INFINITY } else { 30.0 });
    let mut child = Command::new(env!("CARGO_BIN_EXE_classify"))
        .arg("--json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run classify");
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let t0 = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut w = std::io::BufWriter::new(&mut stdin);
            for i in 0..lines {
                if t0.elapsed().as_secs_f64() > max_secs {
                    return i;
                }
                // At most 256 lines ahead of the output (the CLI reads ahead of its 32-text batches: 32 deadlocked), so
                // the input's end is near when time is up.
                while i > done.load(Ordering::Relaxed) + 256 {
                    w.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                }
                writeln!(w, "{}", line(i)).unwrap();
            }
            lines
        })
    };
    let reader = {
        let done = done.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let l = l.unwrap();
                assert!(l.contains("\"label\""), "line {}: {l}", done.load(Ordering::Relaxed));
                done.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = t0;
    let mut samples: Vec<(usize, u64)> = Vec::new();
    while !reader.is_finished() {
        if let Some(kb) = rss_kb(pid) {
            samples.push((done.load(Ordering::Relaxed), kb));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = writer.join().unwrap();
    reader.join().unwrap();
    assert!(child.wait().unwrap().success());
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.load(Ordering::Relaxed), lines, "one output line per input line");
    let first = samples.first().expect("samples").1;
    let warm = samples.iter().filter(|s| s.0 <= lines / 10).map(|s| s.1).max().expect("warm-up samples");
    let end = samples.iter().filter(|s| s.0 >= lines * 9 / 10).map(|s| s.1).max().expect("end samples");
    let peak = samples.iter().map(|s| s.1).max().unwrap();
    let growth = (end as f64 - warm as f64) / warm as f64;
    println!(
        "soak: CLI {lines} lines in {secs:.1} s ({:.0} lines/s): RSS start {first} kB, after warm-up {warm} kB, end {end} kB, peak {peak} kB, growth after warm-up {:+.2} % ({} samples)",
        lines as f64 / secs,
        growth * 100.0,
        samples.len()
    );
    assert!(growth <= 0.05, "RSS grew {:.2} % after warm-up ({warm} → {end} kB)", growth * 100.0);
}

#[test]
fn loading_and_dropping_models_50_times_is_flat() {
    let me = std::process::id();
    let texts = ["a good film", "the worst thing i have ever seen"];
    let mut rss = Vec::new();
    for round in 0..50 {
        let m = &common::MODELS[round % 2];
        let mut e = encoder_lens::Engine::cpu(m.classifier());
        common::ready(e.classify(&texts, &encoder_lens::ForwardOptions::default())).expect("classify");
        drop(e);
        rss.push(rss_kb(me).unwrap());
    }
    let (after5, end) = (rss[4], rss[49]);
    let growth = (end as f64 - after5 as f64) / after5 as f64;
    println!("soak: 50 CPU model loads/drops: RSS after 5 {after5} kB, after 50 {end} kB ({:+.2} %)", growth * 100.0);
    assert!(growth <= 0.05, "RSS after 50 loads {end} kB vs {after5} kB after 5");

    pollster::block_on(async {
        if gpu_checks::gpu_or_skip("loading_and_dropping_models_50_times_is_flat (GPU part)").await.is_none() {
            return;
        }
        // As the page's worker loads them: `Engine::new` on the shared GPU context, one device for all.
        let mut rss = Vec::new();
        let mut shared = None;
        for round in 0..50 {
            let m = &common::MODELS[round % 2];
            let mut e = encoder_lens::Engine::new(m.classifier(), encoder_lens::Backend::Gpu).await.expect("gpu engine");
            e.classify(&texts, &encoder_lens::ForwardOptions::default()).await.expect("gpu classify");
            assert_ne!(e.last_backend(), "cpu");
            let ctx = &e.gpu().expect("on the gpu").ctx;
            assert!(shared.get_or_insert_with(|| ctx.clone()).same_as(ctx), "round {round}: a new device; every load shares the first one's");
            drop(e);
            rss.push(rss_kb(me).unwrap());
        }
        let (after5, end) = (rss[4], rss[49]);
        let growth = (end as f64 - after5 as f64) / after5 as f64;
        println!("soak: 50 GPU model loads/drops (one shared device): RSS after 5 {after5} kB, after 50 {end} kB ({:+.2} %)", growth * 100.0);
        assert!(growth <= 0.05, "GPU: RSS after 50 loads {end} kB vs {after5} kB after 5");
    });
}

//! The whole pipeline: config + vocab + weights + text → `Classifier::from_files` → `Engine::cpu` →
//! `classify`, which returns Ok or Err and never panics.
//!
//! Input: `flags, config 0xFF vocab 0xFF text 0xFF weights` (the weights last, raw: they may hold 0xFF). Flags bits 0–1 pick the weights: 0 the
//! input's bytes, 1–3 one of the three test-fixture models (prenorm-gelu, postnorm-silu, prenorm-bn); bit 2
//! replaces the input's vocab with the fixtures' 8192-token vocab.txt; bit 3 normalises with the batch's
//! own BatchNorm statistics; bit 4 records the full trace. The text is split at newlines into
//! up to 8 texts of one batch.
//!
//! Cap: a config that parses but would make a model of more than `MAX_FLOATS` parameters, sequences
//! longer than `MAX_SEQ`, or a forward of more than `MAX_ACTIVATION_FLOATS` activation values, is skipped
//! BEFORE anything is built, so the fuzzer never asks for gigabytes that the loader would legitimately
//! try to allocate once the weights file matched the config. Within that, the engine must stay under
//! `HEAP_CAP` bytes of live heap at every moment: the target's global allocator counts every
//! allocation, and one that would cross the cap fails (Rust aborts with "memory allocation of N bytes
//! failed", which libFuzzer reports as a crash with the input).
#![no_main]

use encoder_lens::{BatchNormStats, Classifier, Config, Engine, ForwardOptions, HfFiles, HfOverrides, TraceRequest};
use libfuzzer_sys::fuzz_target;

/// At most this many f32 parameters (16 MB) in a model the target builds.
const MAX_FLOATS: usize = 4 << 20;
/// At most this many positions (sequence length, rows of the positional table).
const MAX_SEQ: usize = 1024;
/// At most this many activation values in one layer of a forward of 8 texts (hidden states, FFN,
/// attention probabilities; every layer's when the full trace is asked for): 64 MB.
const MAX_ACTIVATION_FLOATS: usize = 16 << 20;
/// Live heap (Rust allocations: the engine and this target) a run may hold: 512 MB. A model at the
/// caps above needs < 200 MB (its parameters stored and widened, a forward's activations).
const HEAP_CAP: usize = 512 << 20;

/// The system allocator, counting live bytes and refusing an allocation that would cross `HEAP_CAP`.
struct Capped;
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        if LIVE.fetch_add(layout.size(), Relaxed) + layout.size() > HEAP_CAP {
            LIVE.fetch_sub(layout.size(), Relaxed);
            return std::ptr::null_mut();
        }
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Capped = Capped;

const VOCAB: &str = include_str!("../../tests/fixtures/models/prenorm-gelu/vocab.txt");
const MODELS: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/models/prenorm-gelu/model.safetensors"),
    include_bytes!("../../tests/fixtures/models/postnorm-silu/model.safetensors"),
    include_bytes!("../../tests/fixtures/models/prenorm-bn/model.safetensors"),
];

/// Parameters a model of `c` holds (saturating: an overflow counts as too large).
fn param_floats(c: &Config) -> usize {
    let (d, f) = (c.hidden_size, c.ffn_size);
    let layer = 4usize
        .saturating_mul(d.saturating_mul(d))
        .saturating_add(2usize.saturating_mul(d.saturating_mul(f)))
        .saturating_add(16usize.saturating_mul(d))
        .saturating_add(f);
    let rows = c.vocab_size.saturating_add(c.position_rows()).saturating_add(c.type_vocab_size);
    rows.saturating_mul(d)
        .saturating_add(c.num_layers.saturating_mul(layer))
        .saturating_add(d.saturating_mul(d))
        .saturating_add(c.num_labels().saturating_add(1).saturating_mul(d.saturating_add(1)))
}

/// Activation values of the largest layer of a forward of 8 texts at `max_len` (all layers' attention
/// probabilities when `trace`), saturating.
fn activation_floats(c: &Config, trace: bool) -> usize {
    let rows = 8usize.saturating_mul(c.max_len);
    let dense = rows.saturating_mul(c.ffn_size.max(c.hidden_size).saturating_mul(4));
    let probs = rows.saturating_mul(c.max_len).saturating_mul(c.num_heads);
    dense.saturating_add(probs.saturating_mul(if trace { c.num_layers.max(1) } else { 1 }))
}

fn within_cap(files: &HfFiles, trace: bool) -> bool {
    let config = if encoder_lens::hf::is_hf_bert_config(files.config_json) {
        Config::from_hf_bert_json(files, &HfOverrides::default())
    } else {
        Config::from_json(files.config_json)
    };
    match config {
        // An invalid config is an error from from_files too: let it through to take that path.
        Err(_) => true,
        Ok(c) => {
            c.position_rows() <= MAX_SEQ
                && c.max_len <= MAX_SEQ
                && param_floats(&c) <= MAX_FLOATS
                && activation_floats(&c, trace) <= MAX_ACTIVATION_FLOATS
        }
    }
}

fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a CPU classify had to wait"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(4, |&b| b == 0xFF);
    let mut next = || parts.next().unwrap_or(&[]);
    let config_json = String::from_utf8_lossy(next()).into_owned();
    let vocab_in = String::from_utf8_lossy(next()).into_owned();
    let text = String::from_utf8_lossy(next()).into_owned();
    let weights_in = next();
    let weights: &[u8] = match flags & 3 {
        0 => weights_in,
        i => MODELS[i as usize - 1],
    };
    let vocab_txt = if flags & 4 != 0 { VOCAB } else { vocab_in.as_str() };
    let files = HfFiles { config_json: &config_json, vocab_txt, weights: vec![weights], ..Default::default() };
    if !within_cap(&files, flags & 16 != 0) {
        return;
    }
    let Ok(classifier) = Classifier::from_files(&files) else { return };
    let mut engine = Engine::cpu(classifier);
    let texts: Vec<&str> = text.split('\n').take(8).collect();
    let mut opts = ForwardOptions::default();
    if flags & 8 != 0 {
        opts.batch_norm = BatchNormStats::Batch;
    }
    if flags & 16 != 0 {
        opts.trace = TraceRequest::ALL;
    }
    if let Ok(c) = ready(engine.classify(&texts, &opts)) {
        assert_eq!(c.predictions.len(), texts.len());
        for p in &c.predictions {
            assert!(p.label_index < c.labels.len());
            assert!(p.probabilities.iter().all(|x| x.is_finite() && *x >= 0.0 && *x <= 1.0 + 1e-5));
            assert!(p.ids.len() <= engine.classifier.config().max_len);
        }
    }
});

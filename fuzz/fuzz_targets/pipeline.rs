//! The whole pipeline: config + vocab + weights + text → `Classifier::from_files` → `Engine::cpu` →
//! `classify`, which returns Ok or Err and never panics.
//!
//! Input: `flags, config 0xFF vocab 0xFF text 0xFF weights` (the weights last, raw: they may hold 0xFF). Flags bits 0–1 pick the weights: 0 the
//! input's bytes, 1–3 one of the three test-fixture models (prenorm-gelu, postnorm-silu, prenorm-bn); bit 2
//! replaces the input's vocab with the fixtures' 8192-token vocab.txt; bit 3 normalises with the batch's
//! own BatchNorm statistics; bit 4 records the full trace. The text is split at newlines into
//! up to 8 texts of one batch.
//!
//! Cap: a config that parses but would make a model of more than `MAX_FLOATS` parameters, or sequences
//! longer than `MAX_SEQ`, is skipped BEFORE anything is built, so the fuzzer never asks for gigabytes
//! that the loader would legitimately try to allocate once the weights file matched the config.
#![no_main]

use encoder_lens::{BatchNormStats, Classifier, Config, Engine, ForwardOptions, HfFiles, HfOverrides, TraceRequest};
use libfuzzer_sys::fuzz_target;

/// At most this many f32 parameters (16 MB) in a model the target builds.
const MAX_FLOATS: usize = 4 << 20;
/// At most this many positions (sequence length, rows of the positional table).
const MAX_SEQ: usize = 1024;

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

fn within_cap(files: &HfFiles) -> bool {
    let config = if encoder_lens::hf::is_hf_bert_config(files.config_json) {
        Config::from_hf_bert_json(files, &HfOverrides::default())
    } else {
        Config::from_json(files.config_json)
    };
    match config {
        // An invalid config is an error from from_files too: let it through to take that path.
        Err(_) => true,
        Ok(c) => c.position_rows() <= MAX_SEQ && c.max_len <= MAX_SEQ && param_floats(&c) <= MAX_FLOATS,
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
    if !within_cap(&files) {
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

//! The page's parity check (src/parity.rs) and per-op timings (src/profile.rs) on the CPU backend: the
//! default model's golden case passes with |Δ| within the golden tests' tolerances; a tampered reference
//! is caught with its place; the timed forward returns the plain forward's numbers and times every op.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::ready;
use encoder_lens::{Engine, ForwardOptions};

const JSON: &str = include_str!("fixtures/golden/sentiment-ln.json");
const TENSORS: &[u8] = include_bytes!("fixtures/golden/sentiment-ln.safetensors");

#[test]
fn golden_case_passes_on_the_cpu() {
    let mut e = Engine::cpu(common::MODELS[0].classifier());
    let p = ready(encoder_lens::parity::check(&mut e, JSON, TENSORS)).unwrap();
    assert!(p.ok && p.ids_equal, "{p:#?}");
    assert_eq!((p.batches, p.backend.as_str()), (17, "cpu"));
    assert!(p.max_abs_diff > 0.0 && p.max_abs_diff < 1e-3, "max |Δ| {}", p.max_abs_diff);
    let whats: Vec<&str> = p.compared.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(whats, ["layer 0 hidden", "layer 1 hidden", "pooled", "logits", "probabilities"]);
    let logits = &p.compared[3];
    assert!(logits.max_abs_diff <= 1e-4, "{logits:?}");
    println!("parity sentiment-ln: max |Δ| {:e} over {} texts", p.max_abs_diff, p.texts);
}

#[test]
fn a_wrong_reference_is_caught() {
    // Shift one logit of batch 0 in the reference by 0.01: the check fails there and says where.
    let mut bytes = TENSORS.to_vec();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let at = 8 + n + header["b0.logits"]["data_offsets"][0].as_u64().unwrap() as usize;
    let v = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) + 0.01;
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let mut e = Engine::cpu(common::MODELS[0].classifier());
    let p = ready(encoder_lens::parity::check(&mut e, JSON, &bytes)).unwrap();
    assert!(!p.ok);
    let logits = p.compared.iter().find(|c| c.what == "logits").unwrap();
    assert!(!logits.ok && (logits.max_abs_diff - 0.01).abs() < 1e-3, "{logits:?}");
    assert_eq!((logits.worst.0, logits.worst.1), (0, 0));
    assert!(ready(encoder_lens::parity::check(&mut e, "{}", TENSORS)).is_err(), "a malformed case is an error");
    assert!(ready(encoder_lens::parity::check(&mut e, JSON, &bytes[..100])).is_err(), "truncated tensors are an error");
}

#[test]
fn timed_forward_equals_the_plain_forward_and_times_every_op() {
    let c = common::MODELS[0].classifier();
    let (batch, _) = c.batch(&["a warm, clever, well-acted film"]).unwrap();
    let mut e = Engine::cpu(c);
    let plain = ready(e.forward(&batch, &ForwardOptions::default())).unwrap();
    let (out, t) = ready(e.timed_forward(&batch, &ForwardOptions::default(), 0.0)).unwrap();
    assert_eq!(out.logits.unwrap().data, plain.logits.unwrap().data);
    assert_eq!((t.backend.as_str(), t.batch, t.seq), ("cpu", 1, batch.seq));
    let cfg = e.classifier.config().clone();
    let attn = t.ops.iter().find(|o| o.op.starts_with("attention")).expect("attention timed");
    assert_eq!(attn.calls as usize, cfg.num_layers);
    let d = cfg.hidden_size as f64;
    assert_eq!(attn.flops, 4.0 * (batch.seq * batch.seq) as f64 * d * cfg.num_layers as f64);
    let qkv = t.ops.iter().find(|o| o.op == format!("matmul+bias {}→{}", cfg.hidden_size, 3 * cfg.hidden_size)).expect("QKV projection timed");
    assert_eq!(qkv.flops, 2.0 * batch.seq as f64 * d * 3.0 * d * cfg.num_layers as f64);
    assert!(t.ops.iter().any(|o| o.op == "layer norm"));
    let sum: f64 = t.ops.iter().map(|o| o.ms).sum();
    assert!(sum <= t.total_ms + 1e-6 && t.ops.iter().all(|o| o.ms >= 0.0), "ops {sum} ms within the forward's {} ms", t.total_ms);
    assert_eq!(t.flops, t.ops.iter().map(|o| o.flops).sum::<f64>());
    assert!(t.peak_gflops > 0.0 && t.note.is_none() && t.runs == 1);
    // Averaged over several forwards: the same op kinds, calls per forward and FLOPs per forward.
    let (_, many) = ready(e.timed_forward(&batch, &ForwardOptions::default(), 100.0)).unwrap();
    assert!(many.runs > 1, "{} runs in 100 ms", many.runs);
    assert!(many.ops.iter().map(|o| o.ms).sum::<f64>() <= many.total_ms + 1e-9, "ops within the forward");
    let kinds = |t: &encoder_lens::profile::Timings| t.ops.iter().map(|o| (o.op.clone(), o.calls, o.flops)).collect::<Vec<_>>();
    assert_eq!(kinds(&many), kinds(&t));
}

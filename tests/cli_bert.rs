//! The `classify` binary on Hugging Face BERT folders: `--model models/minilm --embed` prints
//! sentence-transformers' embedding (checked against the golden fixture), `--model models/minilm-sentiment`
//! classifies, and a bare encoder without `--embed` is a clear error. Needs `models/minilm/`
//! (`python3 scripts/get_minilm.py`, run by `make setup`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{assert_close, Fixture};
use std::process::Output;

const GOLDEN: Fixture = Fixture { bytes: include_bytes!("fixtures/golden/minilm.safetensors") };
const GOLDEN_JSON: &str = include_str!("fixtures/golden/minilm.json");

fn classify(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run_classify(args, stdin)
}

fn text(b: &[u8]) -> String {
    common::lossy(b)
}

fn floats(line: &str) -> Vec<f32> {
    let v: Vec<serde_json::Value> = serde_json::from_str(line).expect("a JSON array");
    v.iter().map(|x| x.as_f64().expect("a number") as f32).collect()
}

#[test]
fn embed_prints_the_sentence_transformers_embedding() {
    let meta: serde_json::Value = serde_json::from_str(GOLDEN_JSON).unwrap();
    let texts: Vec<&str> = meta["batches"][0]["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let (_, want) = GOLDEN.f32("b0.embedding");

    let o = classify(&["--model", "models/minilm", "--embed", texts[0]], None);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let got = floats(text(&o.stdout).trim());
    assert_eq!(got.len(), 384);
    let d = assert_close("classify --embed", &got, &want[..384], 1e-5, 0.0);
    println!("classify --embed: max |diff| vs sentence-transformers {d:e}");

    // stdin: one embedding per line, in order.
    let input = format!("{}\n{}\n", texts[1], texts[2]);
    let o = classify(&["--model", "models/minilm", "--embed"], Some(input.as_bytes()));
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let lines: Vec<Vec<f32>> = text(&o.stdout).lines().map(floats).collect();
    assert_eq!(lines.len(), 2);
    assert_close("classify --embed stdin line 1", &lines[0], &want[384..768], 1e-5, 0.0);
    assert_close("classify --embed stdin line 2", &lines[1], &want[768..1152], 1e-5, 0.0);
}

#[test]
fn minilm_sentiment_classifies() {
    let o = classify(&["--model", "models/minilm-sentiment", "--json", "A wonderful, heartfelt film."], None);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["label"], "positive", "{v}");
    let p = v["probabilities"].as_object().unwrap();
    assert_eq!(p.keys().collect::<Vec<_>>(), ["negative", "positive"]);
    let (_, want) = GOLDEN.f32("b0.probs");
    assert!((p["positive"].as_f64().unwrap() as f32 - want[1]).abs() < 1e-5);
}

#[test]
fn encoder_without_head_needs_embed() {
    let o = classify(&["--model", "models/minilm", "hello"], None);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("no classifier head") && err.contains("--embed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

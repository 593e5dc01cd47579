//! The `classify` binary end to end: labels and JSON shape, stdin, and bad input (clear message on stderr,
//! non-zero exit, never a panic trace).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::process::Output;

fn classify(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run_classify(args, stdin)
}

fn text(b: &[u8]) -> String {
    common::lossy(b)
}

fn assert_no_panic(o: &Output) {
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "panic trace on stderr: {err}");
}

#[test]
fn json_labels_for_the_readme_examples() {
    for (input, want) in [("an absolute joy from start to finish", "positive"), ("a dull, lifeless waste of two hours", "negative")] {
        let o = classify(&["--json", input], None);
        assert!(o.status.success(), "stderr: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).expect("one JSON object");
        assert_eq!(v["label"], want, "{input}: {v}");
        assert_eq!(v["backend"], "cpu");
        let p = v["probabilities"].as_object().unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["negative", "positive"]);
        let sum: f64 = p.values().map(|x| x.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
        assert!(p[want].as_f64().unwrap() > 0.5);
        assert!(v["ms"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn stdin_one_text_per_line_and_invalid_utf8() {
    let input = b"a wonderful, moving film\n\xff\xfe not utf8\n\nterrible, boring, awful\n";
    let o = classify(&["--json"], Some(input));
    assert_no_panic(&o);
    assert!(!o.status.success(), "invalid UTF-8 must give a non-zero exit");
    let err = text(&o.stderr);
    assert!(err.contains("line 2: not valid UTF-8"), "stderr: {err}");
    let lines: Vec<serde_json::Value> =
        text(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 3, "the three valid lines (one empty) are classified");
    assert_eq!(lines[0]["label"], "positive");
    assert_eq!(lines[2]["label"], "negative");
    assert_eq!(lines[1]["tokens"], 2, "the empty line is [CLS] [SEP]");
}

#[test]
fn huge_text_on_stdin_is_truncated_not_fatal() {
    let mut big = "what a great great film ".repeat(45_000).into_bytes(); // ~1 MB, one line
    big.push(b'\n');
    let o = classify(&["--json"], Some(&big));
    assert_no_panic(&o);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert!(v["truncated"].as_u64().unwrap() > 100_000);
    assert_eq!(v["tokens"], 128);
}

#[test]
fn plain_output() {
    let o = classify(&["a wonderful, moving film"], None);
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(out.starts_with("positive\tnegative="), "{out}");
}

#[test]
fn bad_model_folders_and_options() {
    let dir = std::env::temp_dir().join(format!("classify-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/models/sentiment-ln");
    for f in ["config.json", "vocab.txt"] {
        std::fs::copy(format!("{src}/{f}"), dir.join(f)).unwrap();
    }
    let weights = std::fs::read(format!("{src}/model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let d = dir.to_str().unwrap();

    let o = classify(&["--model", d, "hello"], None);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("not valid safetensors"), "{}", text(&o.stderr));

    std::fs::write(dir.join("model.safetensors"), &weights).unwrap();
    let cfg = std::fs::read_to_string(dir.join("config.json")).unwrap().replace("\"num_heads\": 4", "\"num_heads\": 5");
    std::fs::write(dir.join("config.json"), cfg).unwrap();
    let o = classify(&["--model", d, "hello"], None);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("does not divide"), "{}", text(&o.stderr));

    let o = classify(&["--model", "/nonexistent/model", "hello"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/model/config.json"), "{}", text(&o.stderr));

    let o = classify(&["--frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("unknown option"));
    let o = classify(&["--model"], None);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

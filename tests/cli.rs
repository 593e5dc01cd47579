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

// ---- files: JSONL / CSV / lines in, JSONL / CSV / .npy out, bad rows, progress ----

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("classify-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn jsonl_round_trip_keeps_the_objects_and_reports_bad_rows_by_line() {
    let dir = scratch("jsonl");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"id\": 1, \"text\": \"an absolute joy from start to finish\", \"meta\": {\"k\": [1, 2]}}\n",
            "{\"id\": 2, \"body\": \"no text field\"}\n",
            "not json at all\n",
            "\n",
            "{\"id\": 3, \"text\": 42}\n",
            "{\"id\": 4, \"text\": \"a dull, lifeless waste of two hours\"}\n",
        ),
    )
    .unwrap();
    let out = dir.join("out.jsonl");
    let o = classify(&["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--batch", "2"], None);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "bad rows give exit status 1");
    let err = text(&o.stderr);
    assert!(err.contains("line 2: no field `text`"), "{err}");
    assert!(err.contains("line 3: invalid JSON"), "{err}");
    assert!(err.contains("line 5: field `text` is not a string"), "{err}");
    assert!(err.contains("2 rows classified, 3 bad (lines 2, 3, 5)"), "{err}");
    assert!(!err.contains("rows/s"), "no progress line when stderr is not a terminal: {err}");
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], 1);
    assert_eq!(rows[0]["meta"]["k"][1], 2, "the input object comes through whole");
    assert_eq!(rows[0]["label"], "positive");
    assert_eq!(rows[1]["id"], 4);
    assert_eq!(rows[1]["label"], "negative");
    for r in &rows {
        let p = r["probabilities"].as_object().unwrap();
        let sum: f64 = p.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{r}");
        assert_eq!(r["score"], p[r["label"].as_str().unwrap()], "{r}");
    }
    // The same texts one at a time give the same numbers (batching and padding change nothing).
    for (r, t) in rows.iter().zip(["an absolute joy from start to finish", "a dull, lifeless waste of two hours"]) {
        let one: serde_json::Value = serde_json::from_str(text(&classify(&["--json", t], None).stdout).trim()).unwrap();
        for l in ["negative", "positive"] {
            let (a, b) = (r["probabilities"][l].as_f64().unwrap(), one["probabilities"][l].as_f64().unwrap());
            assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{t} {l}: batched {a} alone {b}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn csv_round_trip_with_quotes_line_breaks_and_bad_records() {
    let dir = scratch("csv");
    let input = dir.join("reviews.csv");
    std::fs::write(
        &input,
        "id,review,source\r\n\
         1,\"an absolute joy, from start to finish\",\"web \"\"A\"\"\"\r\n\
         2,only two fields\r\n\
         3,\"a dull, lifeless\nwaste of two hours\",print\r\n\
         4,\"unterminated,web\r\n",
    )
    .unwrap();
    let o = classify(&["--input", input.to_str().unwrap(), "--field", "review"], None);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("line 3: 2 fields, the header has 3"), "{err}");
    assert!(err.contains("line 6: unterminated quoted field"), "{err}");
    // CSV out (the input's format), read back with Python's csv module: the columns come through.
    let out = dir.join("out.csv");
    std::fs::write(&out, &o.stdout).unwrap();
    let py = std::process::Command::new("python3")
        .args(["-c", "import csv,json,sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))"])
        .arg(&out)
        .output()
        .expect("python3");
    let rows: Vec<Vec<String>> = serde_json::from_slice(&py.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
    assert_eq!(rows[0], ["id", "review", "source", "label", "score", "p_negative", "p_positive"]);
    assert_eq!(rows.len(), 3, "header + the two good records: {rows:?}");
    assert_eq!(rows[1][..3], ["1", "an absolute joy, from start to finish", "web \"A\""]);
    assert_eq!(rows[1][3], "positive");
    assert_eq!(rows[2][..3], ["3", "a dull, lifeless\nwaste of two hours", "print"]);
    assert_eq!(rows[2][3], "negative");
    for r in &rows[1..] {
        let p: Vec<f64> = r[5..].iter().map(|v| v.parse().unwrap()).collect();
        assert!((p[0] + p[1] - 1.0).abs() < 1e-5, "{r:?}");
        assert_eq!(r[4].parse::<f64>().unwrap(), p[0].max(p[1]));
    }
    // A missing column is an error before anything runs.
    let o = classify(&["--input", input.to_str().unwrap(), "--field", "text"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no column `text` (columns: id, review, source)"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn lines_to_csv_and_embeddings_to_npy() {
    let dir = scratch("npy");
    let texts: &[u8] = b"a wonderful, moving film\nterrible, boring, awful\n\xff bad utf8\nfine\n";
    let o = classify(&["--to", "csv"], Some(texts));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("line 3: not valid UTF-8"), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "line,text,label,score,p_negative,p_positive");
    assert!(lines[1].starts_with("1,\"a wonderful, moving film\",positive,"), "{out}");
    assert!(lines[2].starts_with("2,\"terrible, boring, awful\",negative,"), "{out}");
    assert!(lines[3].starts_with("4,fine,"), "{out}");

    let npy = dir.join("e.npy");
    let o = classify(&["--embed", "--output", npy.to_str().unwrap(), "--batch", "3"], Some(texts));
    assert_eq!(o.status.code(), Some(1));
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'shape': (3, 128)"), "{header}");
    let data: Vec<f32> = bytes[10 + header_len..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(data.len(), 3 * 128);
    // Row 0 is the first text's embedding, as `--embed TEXT` prints it.
    let one: Vec<f32> = serde_json::from_str(text(&classify(&["--embed", "a wonderful, moving film"], None).stdout).trim()).unwrap();
    for (i, (a, b)) in data[..128].iter().zip(&one).enumerate() {
        assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "index {i}: npy {a} alone {b}");
    }
    let norm: f32 = data[128..256].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "rows are L2-normalised: {norm}");

    let o = classify(&["--to", "npy"], Some(b"x\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("add --embed"), "{}", text(&o.stderr));
    let o = classify(&["--batch", "0"], Some(b"x\n"));
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn progress_line_only_on_a_terminal_or_when_asked() {
    let input = "great film\nawful film\n".repeat(20);
    let o = classify(&["--json"], Some(input.as_bytes()));
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains("rows/s"), "piped: quiet: {}", text(&o.stderr));
    let o = classify(&["--json", "--progress"], Some(input.as_bytes()));
    assert!(o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("rows/s") && err.contains("\r"), "--progress forces it: {err}");
    assert!(err.contains("40 rows classified, 0 bad"), "{err}");
    assert_eq!(text(&o.stdout).lines().count(), 40, "the progress line never reaches stdout");

    // A pseudo-terminal (util-linux `script`): stderr is a terminal, results go to a file.
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the pseudo-terminal half of this test (no `script` command)");
        return;
    }
    let dir = scratch("tty");
    let (inp, out) = (dir.join("in.txt"), dir.join("out.jsonl"));
    std::fs::write(&inp, &input).unwrap();
    let cmd = format!("{} --input {} --output {}", env!("CARGO_BIN_EXE_classify"), inp.display(), out.display());
    let o = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let tty = text(&o.stdout);
    assert!(tty.contains("rows/s") && tty.contains("%"), "on a terminal the progress line shows, with percent: {tty:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 40);
    let cmd = format!("{cmd} --no-progress");
    let o = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    assert!(!text(&o.stdout).contains("rows/s"), "--no-progress: {:?}", text(&o.stdout));
    std::fs::remove_dir_all(&dir).ok();
}

//! "Teach it your labels" (src/teach.rs): a softmax head trained on all-MiniLM-L6-v2's pooled features from
//! five examples per label reaches ≥ 90 % on held-out texts; training is deterministic; the exported head
//! (head.json + head.safetensors) reloads to bit-identical outputs, natively and through the CLI; bad
//! teaching sets are clear errors.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/hf_folder.rs"]
mod hf_folder;

use common::{ready, MODELS};
use encoder_lens::teach::{self, Head};
use encoder_lens::{Classifier, Engine, ForwardOptions};

fn tsv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let (mut labels, mut ex): (Vec<String>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (l, t) = line.split_once('\t').unwrap();
        let i = labels.iter().position(|x| x == l).unwrap_or_else(|| {
            labels.push(l.to_string());
            ex.push(Vec::new());
            labels.len() - 1
        });
        ex[i].push(t.to_string());
    }
    (labels, ex)
}

fn minilm() -> Engine {
    Engine::cpu(hf_folder::load(&hf_folder::minilm(), &Default::default()))
}

const TRAIN: &str = include_str!("fixtures/teach/topics.tsv");
const HELDOUT: &str = include_str!("fixtures/teach/topics_heldout.tsv");

#[test]
fn taught_head_generalises_is_deterministic_and_reloads_identically() {
    let (labels, examples) = tsv(TRAIN);
    let mut e = minilm();
    let (head, report) = ready(teach::train(&mut e, &labels, &examples)).unwrap();
    println!("trained: {report:?}");
    assert_eq!(report.examples, 15);
    assert_eq!(report.train_accuracy, 1.0);
    // Deterministic: the same examples give the same bits.
    let (again, _) = ready(teach::train(&mut minilm(), &labels, &examples)).unwrap();
    assert_eq!(again.safetensors(), head.safetensors());

    let (hl, hx) = tsv(HELDOUT);
    let texts: Vec<&str> = hx.iter().flatten().map(String::as_str).collect();
    let want: Vec<&str> = hx.iter().enumerate().flat_map(|(i, v)| std::iter::repeat_n(hl[i].as_str(), v.len())).collect();
    e.set_head(head.clone()).unwrap();
    let r = ready(e.classify(&texts, &ForwardOptions::default())).unwrap();
    let right = r.predictions.iter().zip(&want).filter(|(p, w)| p.label == **w).count();
    println!("held-out accuracy {right}/{}", texts.len());
    assert!(right as f32 / texts.len() as f32 >= 0.9, "held-out accuracy {right}/{}: {:?}", texts.len(), r.predictions.iter().map(|p| &p.label).collect::<Vec<_>>());

    // Export and reload onto a fresh engine: identical outputs.
    let loaded = Head::from_files(&head.config_json(), &head.safetensors()).unwrap();
    assert_eq!(loaded.info, head.info);
    let mut fresh = minilm();
    fresh.set_head(loaded).unwrap();
    let r2 = ready(fresh.classify(&texts, &ForwardOptions::default())).unwrap();
    assert_eq!(r2.labels, labels);
    for (a, b) in r.predictions.iter().zip(&r2.predictions) {
        assert_eq!(a.probabilities, b.probabilities, "reloaded head: same bits");
    }

    // The CLI: --teach writes the head, --head classifies with it, same numbers.
    let dir = std::env::temp_dir().join(format!("encoder-lens-teach-{}", std::process::id()));
    let train_file = hf_folder::repo().join("tests/fixtures/teach/topics.tsv");
    let d = dir.to_str().unwrap();
    let o = common::run_classify(&["--model", "models/minilm", "--teach", train_file.to_str().unwrap(), "--save-head", d], None);
    assert!(o.status.success(), "{}", common::lossy(&o.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["trainAccuracy"], 1.0);
    assert_eq!(std::fs::read(dir.join("head.safetensors")).unwrap(), head.safetensors(), "CLI and library train the same head");
    let o = common::run_classify(&["--model", "models/minilm", "--head", d, "--json", texts[4]], None);
    assert!(o.status.success(), "{}", common::lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["label"], r.predictions[4].label.as_str());
    for (j, l) in labels.iter().enumerate() {
        assert_eq!(v["probabilities"][l].as_f64().unwrap() as f32, r.predictions[4].probabilities[j], "CLI p({l})");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_teaching_sets_are_clear_errors() {
    let mut e = Engine::cpu(MODELS[0].classifier());
    let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    type Case = (Vec<String>, Vec<Vec<String>>, &'static str); // (labels, examples per label, expected message)
    let cases: Vec<Case> = vec![
        (s(&["urgent", "Urgent "]), vec![s(&["call me now"]), s(&["asap"])], "given twice"),
        (s(&["urgent", "later"]), vec![s(&["call me now"]), s(&[])], "one example only"),
        (s(&["urgent", "later", "never"]), vec![s(&["call me now"]), s(&["next week"]), s(&["  "])], "`never` has no examples"),
        (s(&["urgent"]), vec![s(&["call me now", "asap"])], "at least two labels"),
        (s(&["urgent", ""]), vec![s(&["call me now"]), s(&["next week"])], "no name"),
        (s(&["urgent", "later"]), vec![s(&["call me now"]), s(&["call me now"])], "both `urgent` and `later`"),
        (s(&["urgent", "later"]), vec![s(&["call me now"])], "example lists"),
    ];
    for (labels, examples, want) in cases {
        let err = ready(teach::train(&mut e, &labels, &examples)).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(want), "{labels:?}: `{err}` should say `{want}`");
    }
    // A head for 128-dimensional features does not fit MiniLM's 384.
    let (head, _) = ready(teach::train(&mut e, &s(&["a", "b"]), &[s(&["good film"]), s(&["bad film"])])).unwrap();
    let err = minilm().set_head(head.clone()).unwrap_err().to_string();
    assert!(err.contains("128-dimensional"), "{err}");
    // Broken head files.
    assert!(Head::from_files("{\"labels\": [\"a\"], \"hidden_size\": 128}", &head.safetensors()).is_err());
    assert!(Head::from_files(&head.config_json().replace("128", "64"), &head.safetensors()).unwrap_err().to_string().contains("shape"));
    assert!(Head::from_files(&head.config_json(), &head.safetensors()[..20]).is_err());
    let _ = Classifier::from_bytes; // the same loader family as the models
}

/// Bring-your-own-model limits checked from a file's first 8 bytes and size, before it is read.
#[test]
fn weights_file_claims_are_checked_before_reading() {
    use encoder_lens::weights::check_file_claim;
    let ok = MODELS[0].weights;
    check_file_claim("model.safetensors", &ok[..8], ok.len() as u64).unwrap();
    let four_gb = 4_000_000_000u64.to_le_bytes();
    let e = check_file_claim("model.safetensors", &four_gb, 1 << 20).unwrap_err().to_string();
    assert!(e.contains("claims a 4000000000-byte header"), "{e}");
    let e = check_file_claim("model.safetensors", &100u64.to_le_bytes(), 50).unwrap_err().to_string();
    assert!(e.contains("only 50 bytes"), "{e}");
    assert!(check_file_claim("model.safetensors", &[1, 2], 2).unwrap_err().to_string().contains("too short"));
    assert!(check_file_claim("big.safetensors", &ok[..8], 5 << 30).unwrap_err().to_string().contains("GiB"));
    // And the loader itself refuses the same claim without allocating it.
    let mut claim = four_gb.to_vec();
    claim.extend_from_slice(&[b' '; 64]);
    assert!(Classifier::from_bytes(MODELS[0].config, &claim, MODELS[0].vocab).is_err());
}

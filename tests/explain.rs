//! Interventions and explanations (src/model/ablation.rs, src/explain.rs) on the CPU backend: ablating
//! nothing is the plain forward bit for bit; ablated heads match PyTorch (tests/fixtures/golden/ablation.json
//! from scripts/export_ablation_fixtures.py); the batched sweep and occlusion equal one-by-one runs; the
//! logit lens's last layer is the model's output; rollout on known attention.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/hf_folder.rs"]
mod hf_folder;

use common::{assert_close, ready, MODELS};
use encoder_lens::config::Pooling;
use encoder_lens::explain::{self, Subject};
use encoder_lens::{Ablation, AblationMode, Batch, Classifier, Engine, ForwardOptions, TraceRequest};

const TEXTS: [&str; 3] = ["a dull, lifeless waste of two hours", "Great!", "The plot was predictable but the actors were charming."];

fn forward(c: &Classifier, batch: &Batch, ablate: Option<&Ablation>, trace: TraceRequest) -> encoder_lens::Output {
    encoder_lens::cpu::forward(&c.model, batch, &ForwardOptions { ablate, trace, ..Default::default() }).expect("forward")
}

#[test]
fn ablating_nothing_is_the_plain_forward_exactly() {
    for m in &MODELS {
        let c = m.classifier();
        let (batch, _) = c.batch(&TEXTS).unwrap();
        let (l, h) = (c.config().num_layers, c.config().num_heads);
        let plain = forward(&c, &batch, None, TraceRequest::ALL);
        for none in [Ablation::none(AblationMode::Zero, 1, l, h), Ablation::none(AblationMode::Mean, TEXTS.len(), l, h)] {
            let a = forward(&c, &batch, Some(&none), TraceRequest::ALL);
            assert_eq!(a.logits.as_ref().unwrap().data, plain.logits.as_ref().unwrap().data, "{}: logits", m.name);
            let hid = |o: &encoder_lens::Output| o.trace.as_ref().unwrap().layers.iter().map(|l| l.hidden.clone().unwrap().data).collect::<Vec<_>>();
            assert_eq!(hid(&a), hid(&plain), "{}: every layer's hidden states", m.name);
        }
    }
}

#[test]
fn ablated_heads_match_pytorch() {
    let fx: serde_json::Value = serde_json::from_str(include_str!("fixtures/golden/ablation.json")).unwrap();
    let mut checked = 0;
    for fm in fx["models"].as_array().unwrap() {
        let name = fm["name"].as_str().unwrap();
        let c = MODELS.iter().find(|m| m.name == name).expect("fixture model is compiled in").classifier();
        let rows: Vec<Vec<u32>> = fm["ids"].as_array().unwrap().iter().map(common::json_ids).collect();
        let lengths: Vec<usize> = fm["lengths"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let rows: Vec<Vec<u32>> = rows.iter().zip(&lengths).map(|(r, &l)| r[..l].to_vec()).collect();
        let batch = Batch::from_rows(&rows, c.tokenizer.pad_id()).unwrap();
        let (layers, heads) = (fm["layers"].as_u64().unwrap() as usize, fm["heads"].as_u64().unwrap() as usize);
        for case in fm["cases"].as_array().unwrap() {
            let mask: Vec<bool> = case["mask"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).flat_map(|l| l.as_array().unwrap()).map(|v| v.as_u64() == Some(1)).collect();
            let a = Ablation { mode: case["mode"].as_str().unwrap().parse().unwrap(), rows: mask.len() / (layers * heads), layers, heads, ablated: mask };
            let out = forward(&c, &batch, Some(&a), TraceRequest::NONE);
            let expected: Vec<f32> = case["logits"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_f64().unwrap() as f32).collect();
            let what = format!("{name}: {} ({})", case["what"].as_str().unwrap(), case["mode"].as_str().unwrap());
            let d = assert_close(&what, &out.logits.unwrap().data, &expected, 1e-5, 1e-5);
            println!("{what}: max |Δlogit| vs PyTorch {d:e}");
            checked += 1;
        }
    }
    assert_eq!(checked, 14);
}

#[test]
fn sweep_rows_equal_single_ablated_forwards() {
    let c = MODELS[2].classifier(); // prenorm-gelu: 2 layers × 4 heads
    let (layers, heads) = (c.config().num_layers, c.config().num_heads);
    let mut e = Engine::cpu(c);
    for mode in [AblationMode::Zero, AblationMode::Mean] {
        let s = ready(explain::subject(&mut e, TEXTS[2], None)).unwrap();
        let sweep = ready(explain::head_sweep(&mut e, &s, mode)).unwrap();
        assert_eq!(sweep.delta.len(), layers * heads);
        let batch = Batch::from_rows(std::slice::from_ref(&s.ids), 0).unwrap();
        assert_close("sweep base = plain forward", &[sweep.base], &[s.probabilities[s.label_index]], 1e-6, 1e-5);
        for l in 0..layers {
            for h in 0..heads {
                let a = Ablation::heads(mode, layers, heads, &[(l, h)]).unwrap();
                let alone = forward(&e.classifier, &batch, Some(&a), TraceRequest::NONE).probs.unwrap().data;
                let n = alone.len();
                assert_close(&format!("{mode:?} head ({l},{h}) probs"), &sweep.probs[(l * heads + h) * n..][..n], &alone, 1e-6, 1e-5);
                assert_close(&format!("{mode:?} head ({l},{h}) Δp"), &[sweep.delta[l * heads + h]], &[alone[s.label_index] - sweep.base], 1e-6, 1e-5);
            }
        }
        assert!(sweep.delta.iter().any(|d| d.abs() > 1e-6), "{mode:?}: some head matters: {:?}", sweep.delta);
    }
}

/// The CPU sweep that runs the layers below each ablated layer once (explain::sweep_cpu) equals the plain
/// batched sweep forward (Ablation::sweep, every row from the embeddings) bit for bit, on every model and
/// both modes.
#[test]
fn shared_layer_sweep_equals_the_batched_sweep_exactly() {
    for m in &MODELS[..3] {
        let c = m.classifier();
        let (layers, heads) = (c.config().num_layers, c.config().num_heads);
        let ids = c.batch(&[TEXTS[2]]).unwrap().1.remove(0).ids;
        for mode in [AblationMode::Zero, AblationMode::Mean] {
            let fast = explain::sweep_cpu(&c.model, &ids, c.tokenizer.pad_id(), mode).unwrap(); // (1 + layers·heads, labels)
            let a = Ablation::sweep(mode, layers, heads);
            let batch = Batch::from_rows(&vec![ids.clone(); a.rows], c.tokenizer.pad_id()).unwrap();
            let plain = forward(&c, &batch, Some(&a), TraceRequest::NONE).probs.unwrap().data;
            assert_eq!(fast, plain, "{} {mode:?}: shared-layer sweep vs batched sweep", m.name);
        }
    }
}

fn subject(e: &mut Engine, text: &str) -> Subject {
    ready(explain::subject(e, text, None)).unwrap()
}

#[test]
fn occlusion_equals_one_by_one_runs() {
    for m in &MODELS[..3] {
        let mut e = Engine::cpu(m.classifier());
        for text in TEXTS {
            let s = subject(&mut e, text);
            let occ = ready(explain::occlusion(&mut e, &s)).unwrap();
            assert_eq!(occ.values.len(), s.ids.len());
            assert!(occ.values[0].is_none() && occ.values[s.ids.len() - 1].is_none(), "[CLS]/[SEP] are not occluded");
            for i in 1..s.ids.len() - 1 {
                let edited = explain::without(&s.ids, i);
                assert_eq!(edited.len(), s.ids.len() - 1);
                let batch = Batch::from_rows(&[edited], 0).unwrap();
                let alone = forward(&e.classifier, &batch, None, TraceRequest::NONE).probs.unwrap().data[s.label_index];
                let expected = alone - s.probabilities[s.label_index];
                assert_close(&format!("{} `{text}` without token {i} ({})", m.name, s.tokens[i]), &[occ.values[i].unwrap()], &[expected], 1e-6, 1e-5);
            }
        }
    }
    // An empty text is [CLS] [SEP]: nothing to occlude, no forward needed beyond the subject.
    let mut e = Engine::cpu(MODELS[0].classifier());
    let s = subject(&mut e, "");
    assert_eq!(ready(explain::occlusion(&mut e, &s)).unwrap().values, vec![None, None]);
}

#[test]
fn logit_lens_last_layer_is_the_output() {
    for m in &MODELS {
        let mut e = Engine::cpu(m.classifier());
        let s = subject(&mut e, TEXTS[0]);
        let (roll, lens) = ready(explain::rollout_and_lens(&mut e, &s)).unwrap();
        assert_eq!(lens.probs.len(), e.classifier.config().num_layers);
        assert_close(&format!("{}: lens last layer vs output", m.name), lens.probs.last().unwrap(), &s.probabilities, 1e-6, 1e-5);
        for p in &lens.probs {
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{}: lens row sums to 1: {p:?}", m.name);
        }
        let total: f32 = roll.values.iter().map(|v| v.unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{}: rollout sums to 1, got {total}", m.name);
    }
}

#[test]
fn rollout_on_known_attention() {
    // Identity attention: Â = I at every layer, so each position attributes only to itself.
    let (heads, seq, len) = (2, 4, 3);
    let mut eye = vec![0.0f32; heads * seq * seq];
    for h in 0..heads {
        for i in 0..len {
            eye[(h * seq + i) * seq + i] = 1.0;
        }
    }
    assert_eq!(explain::rollout(&[&eye, &eye], heads, seq, len, Pooling::Cls), vec![1.0, 0.0, 0.0]);
    // Every query attends only to token 2: Â row = 0.5·e2 + 0.5·e_i; after one layer CLS's row is
    // [0.5, 0, 0.5]; after two layers [0.25, 0, 0.75].
    let mut to2 = vec![0.0f32; heads * seq * seq];
    for h in 0..heads {
        for i in 0..len {
            to2[(h * seq + i) * seq + 2] = 1.0;
        }
    }
    assert_close("rollout 1 layer", &explain::rollout(&[&to2], heads, seq, len, Pooling::Cls), &[0.5, 0.0, 0.5], 1e-7, 0.0);
    assert_close("rollout 2 layers", &explain::rollout(&[&to2, &to2], heads, seq, len, Pooling::Cls), &[0.25, 0.0, 0.75], 1e-7, 0.0);
    // Mean pooling averages the rows: after one layer rows are 0.5(e_i + e2): mean = [1/6, 1/6, 2/3].
    assert_close("rollout mean pooling", &explain::rollout(&[&to2], heads, seq, len, Pooling::Mean), &[1.0 / 6.0, 1.0 / 6.0, 2.0 / 3.0], 1e-6, 0.0);
}

#[test]
fn bad_head_masks_are_errors() {
    let c = MODELS[0].classifier();
    let (batch, _) = c.batch(&TEXTS).unwrap();
    let (l, h) = (c.config().num_layers, c.config().num_heads);
    for (a, want) in [
        (Ablation::none(AblationMode::Zero, 1, l + 1, h), "layers"),
        (Ablation::none(AblationMode::Zero, 2, l, h), "rows"),
        (Ablation { ablated: vec![true; 3], ..Ablation::none(AblationMode::Zero, 1, l, h) }, "length"),
    ] {
        let err = encoder_lens::cpu::forward(&c.model, &batch, &ForwardOptions { ablate: Some(&a), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    let mut e = Engine::cpu(c);
    assert!(ready(explain::subject(&mut e, "fine", Some(7))).unwrap_err().to_string().contains("label 7"));
}

/// all-MiniLM-L6-v2 with the sentiment head: a full explanation (72-head sweep) runs and is consistent.
#[test]
fn minilm_sentiment_explanation() {
    let f = hf_folder::folder(&hf_folder::repo().join("models/minilm-sentiment"));
    let c = Classifier::from_files(&f.files().unwrap()).unwrap();
    let mut e = Engine::cpu(c);
    let x = ready(explain::explain(&mut e, "a warm, clever, well-acted film", None, AblationMode::Zero)).unwrap();
    assert_eq!((x.ablation.layers, x.ablation.heads, x.ablation.delta.len()), (6, 12, 72));
    assert_close("sweep base = prediction", &[x.ablation.base], &[x.subject.probabilities[x.subject.label_index]], 1e-6, 1e-5);
    assert_close("lens last layer = prediction", x.lens.probs.last().unwrap(), &x.subject.probabilities, 1e-6, 1e-5);
    assert_eq!(x.occlusion.values.len(), x.subject.tokens.len());
    println!("minilm sweep (native test build): {:.0} ms; Δp range {:?}", x.ablation.millis, x.ablation.delta.iter().fold((f32::MAX, f32::MIN), |(a, b), &d| (a.min(d), b.max(d))));
}

//! The BERT family through the one engine code path, against Hugging Face `transformers` and
//! `sentence-transformers` (fixtures from `scripts/export_bert_fixtures.py`):
//! - all-MiniLM-L6-v2 (read from `models/minilm/`, fetched by `scripts/get_minilm.py`, which
//!   `make setup` runs; a missing model FAILS these tests): token ids, embedding output, every
//!   layer's hidden states and attention, mean-pooled and L2-normalised sentence embedding, the BERT
//!   pooler, and the MiniLM sentiment head's logits;
//! - the committed fine-tuned teacher `models/minilm-teacher` (f16 weights, `BertForSequenceClassification`
//!   with mean pooling): pooled output, logits, probabilities and labels;
//! - HF `config.json` parsing and the loader's errors on a tiny random BERT built here: missing tensor,
//!   wrong shape, unknown `hidden_act`, `gamma`/`beta` LayerNorm names, the `bert.` prefix.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/hf_folder.rs"]
mod hf_folder;
#[path = "common/tiny_bert.rs"]
mod tiny_bert;

use common::{assert_close, cpu_engine, ready, real_rows, traced_forward, Fixture};
use encoder_lens::config::{Activation, Pooling};
use encoder_lens::hf::is_hf_bert_config;
use encoder_lens::{Batch, Classifier, Config, Engine, ForwardOptions, HfFiles, HfOverrides};
use safetensors::tensor::TensorView;
use tiny_bert::{tiny_config, tiny_tensors, tiny_weights, TINY_VOCAB};
use hf_folder::{folder, load, minilm, read, repo};

/// Sentence embeddings and logits: |Δ| <= 1e-5 (absolute).
const OUT_TOL: (f32, f32) = (1e-5, 0.0);
/// Hidden states (values up to ~10 in BERT's residual stream): 1e-4 + 1e-4·|ref|.
const HIDDEN_TOL: (f32, f32) = (1e-4, 1e-4);
/// Attention probabilities.
const ATTN_TOL: (f32, f32) = (1e-5, 1e-4);

const GOLDEN: Fixture = Fixture { bytes: include_bytes!("fixtures/golden/minilm.safetensors") };
const GOLDEN_JSON: &str = include_str!("fixtures/golden/minilm.json");

fn batch_texts(k: usize) -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_str(GOLDEN_JSON).unwrap();
    meta["batches"][k]["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

#[test]
fn minilm_config_maps_onto_the_engine() {
    let f = minilm();
    assert!(is_hf_bert_config(f.text("config.json").unwrap()));
    let c = Config::from_hf_bert_json(&f.files().unwrap(), &HfOverrides::default()).unwrap();
    assert_eq!((c.vocab_size, c.hidden_size, c.num_heads, c.num_layers, c.ffn_size), (30522, 384, 12, 6, 1536));
    assert_eq!(c.activation, Activation::Gelu);
    assert_eq!(c.norm_eps, 1e-12);
    assert_eq!(c.type_vocab_size, 2);
    // sentence-transformers truncates at max_seq_length 256; the position table has 512 rows.
    assert_eq!((c.max_len, c.max_position_embeddings), (256, Some(512)));
    assert_eq!((c.pooling, c.pooler, c.labels.len(), c.lowercase), (Pooling::Mean, false, 0, true));
    assert!(c.embedding_norm && !c.norm_first && !c.embedding_scale && !c.final_norm);
}

#[test]
fn minilm_matches_transformers_layer_by_layer() {
    let c = load(&minilm(), &HfOverrides::default());
    assert_eq!(c.model.positional_table().shape, vec![512, 384]);
    let n = GOLDEN.num_batches();
    assert!(n >= 4, "fixture has {n} batches");
    let (mut max_e, mut max_h, mut max_a, mut max_p) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for k in 0..n {
        let what = |s: &str| format!("minilm batch {k} {s}");
        let batch = GOLDEN.batch(k);
        let (b, s) = (batch.batch, batch.seq);
        let (ours, _) = c.batch(&batch_texts(k)).unwrap();
        assert_eq!(ours.ids, batch.ids, "{}", what("token ids"));
        assert_eq!(ours.lengths, batch.lengths, "{}", what("lengths"));

        let (out, trace) = traced_forward(&c, &batch, &ForwardOptions::default());
        let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
        let (_, e) = GOLDEN.f32(&format!("b{k}.embeddings"));
        max_e = max_e.max(assert_close(&what("embedding output"), &real(&trace.embeddings.as_ref().unwrap().data), &real(&e), 1e-5, 1e-5));
        assert_eq!(trace.layers.len(), 6);
        for (l, lt) in trace.layers.iter().enumerate() {
            let (_, h) = GOLDEN.f32(&format!("b{k}.layer{l}.hidden"));
            max_h = max_h.max(assert_close(&what(&format!("layer {l} hidden")), &real(&lt.hidden.as_ref().unwrap().data), &real(&h), HIDDEN_TOL.0, HIDDEN_TOL.1));
            let (shape, a) = GOLDEN.f32(&format!("b{k}.layer{l}.attn"));
            assert_eq!(lt.attention.as_ref().unwrap().shape, shape);
            assert_eq!(shape[1], 12);
            // Real query rows, all keys: HF's finfo.min mask and our -inf both give exactly 0 on padding.
            let (mut ours_a, mut ref_a) = (Vec::new(), Vec::new());
            for bi in 0..b {
                for h in 0..12 {
                    for i in 0..batch.lengths[bi] {
                        let o = ((bi * 12 + h) * s + i) * s;
                        ours_a.extend_from_slice(&lt.attention.as_ref().unwrap().data[o..o + s]);
                        ref_a.extend_from_slice(&a[o..o + s]);
                        assert!(a[o + batch.lengths[bi]..o + s].iter().all(|&p| p == 0.0));
                        assert!(lt.attention.as_ref().unwrap().data[o + batch.lengths[bi]..o + s].iter().all(|&p| p == 0.0));
                    }
                }
            }
            max_a = max_a.max(assert_close(&what(&format!("layer {l} attention")), &ours_a, &ref_a, ATTN_TOL.0, ATTN_TOL.1));
        }
        let (_, pooled) = GOLDEN.f32(&format!("b{k}.pooled"));
        max_p = max_p.max(assert_close(&what("mean pooled"), &out.pooled.data, &pooled, OUT_TOL.0, OUT_TOL.1));
        assert!(out.logits.is_none());
    }
    println!("minilm vs transformers, max |diff|: embedding output {max_e:e}, hidden states {max_h:e}, attention {max_a:e}, mean pooled {max_p:e}");
}

#[test]
fn minilm_sentence_embeddings_match_sentence_transformers() {
    let mut e = cpu_engine(load(&minilm(), &HfOverrides::default()));
    let mut max_d = 0.0f32;
    for k in 0..GOLDEN.num_batches() {
        let texts = batch_texts(k);
        let (_, want) = GOLDEN.f32(&format!("b{k}.embedding"));
        let got: Vec<f32> = ready(e.embed(&texts)).unwrap().concat();
        max_d = max_d.max(assert_close(&format!("minilm batch {k} sentence embedding"), &got, &want, OUT_TOL.0, OUT_TOL.1));
        // One text at a time gives the same vectors as the padded batch.
        for (i, t) in texts.iter().enumerate() {
            let one = ready(e.embed(&[t])).unwrap().concat();
            assert_close(&format!("minilm batch {k} text {i} alone"), &one, &want[i * 384..(i + 1) * 384], OUT_TOL.0, OUT_TOL.1);
        }
    }
    println!("minilm sentence embedding vs sentence-transformers, max |diff| {max_d:e}");
}

#[test]
fn minilm_cls_pooler_matches_transformers_pooler_output() {
    let o = HfOverrides { pooling: Some(Pooling::Cls), pooler: Some(true), max_len: None };
    let c = load(&minilm(), &o);
    let mut max_d = 0.0f32;
    for k in 0..GOLDEN.num_batches() {
        let batch = GOLDEN.batch(k);
        let out = encoder_lens::cpu::forward(&c.model, &batch, &ForwardOptions::default()).unwrap();
        let (_, want) = GOLDEN.f32(&format!("b{k}.pooler_output"));
        max_d = max_d.max(assert_close(&format!("minilm batch {k} pooler_output"), &out.pooled.data, &want, OUT_TOL.0, OUT_TOL.1));
    }
    println!("minilm [CLS] + pooler vs transformers pooler_output, max |diff| {max_d:e}");
}

/// `c`, a two-label mean-pooled HF classifier at 256 tokens, against a golden file of
/// `scripts/export_bert_fixtures.py` (batches of the same texts): the engine's forward on the fixture's ids
/// (logits; with `pooled`, the pooled output too) and the public API on the texts (tokenizer included):
/// probabilities, and the labels where the file lists them. Returns the engine and the max |Δlogit|.
fn check_sentiment_golden(name: &str, c: Classifier, golden: &Fixture, golden_json: &str, pooled: bool) -> (Engine, f32) {
    let cfg = c.config();
    assert_eq!(cfg.labels, vec!["negative", "positive"]);
    assert_eq!((cfg.pooling, cfg.pooler, cfg.max_len), (Pooling::Mean, false, 256));
    let meta: serde_json::Value = serde_json::from_str(golden_json).unwrap();
    let mut e = cpu_engine(c);
    let mut max_d = 0.0f32;
    for k in 0..golden.num_batches() {
        let texts = batch_texts(k);
        let out = encoder_lens::cpu::forward(&e.classifier.model, &golden.batch(k), &ForwardOptions::default()).unwrap();
        if pooled {
            let (_, want) = golden.f32(&format!("b{k}.pooled"));
            assert_close(&format!("{name} batch {k} pooled"), &out.pooled.data, &want, HIDDEN_TOL.0, HIDDEN_TOL.1);
        }
        let (_, logits) = golden.f32(&format!("b{k}.logits"));
        max_d = max_d.max(assert_close(&format!("{name} batch {k} logits"), &out.logits.unwrap().data, &logits, OUT_TOL.0, OUT_TOL.1));
        let r = ready(e.classify(&texts, &ForwardOptions::default())).unwrap();
        let (_, probs) = golden.f32(&format!("b{k}.probs"));
        let got: Vec<f32> = r.predictions.iter().flat_map(|p| p.probabilities.clone()).collect();
        assert_close(&format!("{name} batch {k} probs"), &got, &probs, OUT_TOL.0, OUT_TOL.1);
        assert_eq!(meta["batches"][k]["probs"].as_array().unwrap().len(), texts.len());
        if let Some(labels) = meta["batches"][k]["labels"].as_array() {
            let want: Vec<&str> = labels.iter().map(|l| l.as_str().unwrap()).collect();
            assert_eq!(r.predictions.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), want, "{name} batch {k} labels");
        }
    }
    println!("{name} logits vs PyTorch, max |diff| {max_d:e}");
    (e, max_d)
}

#[test]
fn minilm_sentiment_runs_end_to_end() {
    let dir = repo().join("models/minilm-sentiment");
    let f = folder(&dir);
    assert_eq!(f.weights.len(), 2, "encoder from models/minilm + classifier.safetensors");
    assert_eq!(f.text("vocab.txt").unwrap(), read(&repo().join("models/minilm"), "vocab.txt"), "the committed vocab.txt is MiniLM's");
    let (mut e, _) = check_sentiment_golden("minilm-sentiment", load(&f, &HfOverrides::default()), &GOLDEN, GOLDEN_JSON, false);
    // The obvious cases come out the obvious way.
    let r = ready(e.classify(&["A wonderful, heartfelt film.", "Terrible acting and a dull plot."], &ForwardOptions::default())).unwrap();
    assert_eq!((r.predictions[0].label.as_str(), r.predictions[1].label.as_str()), ("positive", "negative"));
}

const TEACHER: Fixture = Fixture { bytes: include_bytes!("fixtures/golden/minilm-teacher.safetensors") };
const TEACHER_JSON: &str = include_str!("fixtures/golden/minilm-teacher.json");

/// The committed fine-tuned teacher (issue 10): an HF `BertForSequenceClassification` folder with f16
/// weights and mean pooling, against `transformers.BertModel` + the folder's classifier
/// (`scripts/export_bert_fixtures.py --teacher`): pooled output, logits, probabilities and labels.
#[test]
fn minilm_teacher_matches_transformers() {
    let f = folder(&repo().join("models/minilm-teacher"));
    check_sentiment_golden("minilm-teacher", load(&f, &HfOverrides::default()), &TEACHER, TEACHER_JSON, true);
}

fn tiny(config: &str, weights: &[u8]) -> encoder_lens::Result<Classifier> {
    let files = HfFiles { config_json: config, vocab_txt: TINY_VOCAB, weights: vec![weights], ..Default::default() };
    Classifier::from_hf(&files, &HfOverrides::default())
}

fn tiny_logits(c: &Classifier) -> Vec<f32> {
    let batch = Batch::from_rows(&[vec![2, 5, 6, 7, 8, 11, 3], vec![2, 6, 10, 9, 3]], 0).unwrap();
    encoder_lens::cpu::forward(&c.model, &batch, &ForwardOptions::default()).unwrap().logits.unwrap().data
}

fn err(r: encoder_lens::Result<Classifier>) -> String {
    match r {
        Ok(_) => panic!("expected an error, the model loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tiny_bert_loads_with_sequence_classification_defaults() {
    let c = tiny(&tiny_config("gelu"), &tiny_weights(&tiny_tensors(), |n| n.to_string())).unwrap();
    let cfg = c.config();
    assert_eq!(cfg.labels, vec!["neg", "pos"]);
    // BertForSequenceClassification without a sentence-transformers pooling config: [CLS] + pooler.
    assert_eq!((cfg.pooling, cfg.pooler, cfg.max_len), (Pooling::Cls, true, 16));
    let l = tiny_logits(&c);
    assert_eq!(l.len(), 4);
    assert!(l.iter().all(|v| v.is_finite()) && l[0] != l[2]);
}

#[test]
fn missing_tensor_is_a_clear_error() {
    let name = "bert.encoder.layer.1.attention.self.key.weight";
    let t: Vec<_> = tiny_tensors().into_iter().filter(|(n, _)| n != name).collect();
    let e = err(tiny(&tiny_config("gelu"), &tiny_weights(&t, |n| n.to_string())));
    assert_eq!(e, format!("missing tensor `{name}` in weights"));
}

#[test]
fn wrong_shape_is_a_clear_error() {
    let name = "bert.encoder.layer.0.intermediate.dense.weight";
    let t: Vec<_> =
        tiny_tensors().into_iter().map(|(n, s)| if n == name { (n, vec![8, 16]) } else { (n, s) }).collect();
    let e = err(tiny(&tiny_config("gelu"), &tiny_weights(&t, |n| n.to_string())));
    assert_eq!(e, format!("tensor `{name}` has shape [8, 16], expected [16, 8]"));
    // A position table shorter than max_position_embeddings.
    let name = "bert.embeddings.position_embeddings.weight";
    let t: Vec<_> = tiny_tensors().into_iter().map(|(n, s)| if n == name { (n, vec![8, 8]) } else { (n, s) }).collect();
    let e = err(tiny(&tiny_config("gelu"), &tiny_weights(&t, |n| n.to_string())));
    assert_eq!(e, format!("tensor `{name}` has shape [8, 8], expected [16, 8]"));
}

#[test]
fn unknown_hidden_act_is_a_clear_error() {
    let w = tiny_weights(&tiny_tensors(), |n| n.to_string());
    let e = err(tiny(&tiny_config("mish"), &w));
    assert!(e.contains("hidden_act `mish` is not supported"), "{e}");
    for (act, want) in [("gelu_new", Activation::GeluTanh), ("gelu_pytorch_tanh", Activation::GeluTanh), ("relu", Activation::Relu)] {
        assert_eq!(tiny(&tiny_config(act), &w).unwrap().config().activation, want);
    }
}

#[test]
fn other_config_errors_name_the_problem() {
    let w = tiny_weights(&tiny_tensors(), |n| n.to_string());
    let e = err(tiny(&tiny_config("gelu").replace("\"bert\"", "\"roberta\""), &w));
    assert!(e.contains("model_type `roberta`"), "{e}");
    let e = err(tiny(&tiny_config("gelu").replace("\"hidden_size\": 8,", ""), &w));
    assert!(e.contains("missing field `hidden_size`"), "{e}");
    let e = err(tiny(&tiny_config("gelu").replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"), &w));
    assert!(e.contains("num_heads (3) does not divide hidden_size (8)"), "{e}");
    let e = err(tiny(&tiny_config("gelu").replace("\"pad_token_id\": 0,", "\"position_embedding_type\": \"relative_key\","), &w));
    assert!(e.contains("position_embedding_type `relative_key`"), "{e}");
    // Not BERT's vocab size.
    let e = err(tiny(&tiny_config("gelu").replace("\"vocab_size\": 12", "\"vocab_size\": 13"), &w));
    assert!(e.contains("bert.embeddings.word_embeddings.weight") || e.contains("vocab"), "{e}");
    let no_labels = tiny_config("gelu").replace(r#""id2label": {"0": "neg", "1": "pos"}, "label2id": {"neg": 0, "pos": 1}"#, r#""num_labels": 4000000000"#);
    let e = err(tiny(&no_labels, &w));
    assert!(e.contains("num_labels 4000000000 is outside"), "{e}");
    let e = err(tiny(&tiny_config("gelu").replace(r#""1": "pos""#, r#""7": "pos""#), &w));
    assert!(e.contains("id2label ids must be 0..2, got 7"), "{e}");
    // The same tensor in two files.
    let files = HfFiles { config_json: &tiny_config("gelu"), vocab_txt: TINY_VOCAB, weights: vec![&w, &w], ..Default::default() };
    let e = err(Classifier::from_hf(&files, &HfOverrides::default()));
    assert!(e.contains("appears in more than one weights file"), "{e}");
}

#[test]
fn gamma_beta_names_and_unprefixed_names_load_the_same_model() {
    let cfg = tiny_config("gelu");
    let reference = tiny_logits(&tiny(&cfg, &tiny_weights(&tiny_tensors(), |n| n.to_string())).unwrap());
    let old = tiny_weights(&tiny_tensors(), |n| n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"));
    assert_eq!(tiny_logits(&tiny(&cfg, &old).unwrap()), reference);
    let bare = tiny_weights(&tiny_tensors(), |n| n.strip_prefix("bert.").unwrap_or(n).to_string());
    assert_eq!(tiny_logits(&tiny(&cfg, &bare).unwrap()), reference);
    // Encoder and head in separate files (as models/minilm-sentiment is stored).
    let (head, body): (Vec<_>, Vec<_>) = tiny_tensors().into_iter().partition(|(n, _)| n.starts_with("classifier"));
    // Keep the LCG stream identical: serialise all, then split by name.
    let all = tiny_weights(&tiny_tensors(), |n| n.to_string());
    let st = safetensors::SafeTensors::deserialize(&all).unwrap();
    let part = |names: &[(String, Vec<usize>)]| {
        let v: Vec<(String, TensorView)> = names.iter().map(|(n, _)| (n.clone(), st.tensor(n).unwrap())).collect();
        safetensors::serialize(v, None).unwrap()
    };
    let (h, b) = (part(&head), part(&body));
    let files = HfFiles { config_json: &cfg, vocab_txt: TINY_VOCAB, weights: vec![&b, &h], ..Default::default() };
    assert_eq!(tiny_logits(&Classifier::from_hf(&files, &HfOverrides::default()).unwrap()), reference);
}

#[test]
fn from_bytes_recognises_an_hf_config() {
    let (cfg, w) = (tiny_config("gelu"), tiny_weights(&tiny_tensors(), |n| n.to_string()));
    let direct = tiny_logits(&Classifier::from_bytes(&cfg, &w, TINY_VOCAB).expect("from_bytes reads an HF folder"));
    assert_eq!(direct, tiny_logits(&tiny(&cfg, &w).unwrap()));
}

//! Golden comparisons shared by the native tests and the browser tests.

use super::{assert_close, cpu_engine, ready, real_rows, traced_forward, ModelDir};
use encoder_lens::config::NormKind;
use encoder_lens::ForwardOptions;

/// Logits and probabilities: |Δ| <= 1e-5 + 1e-5·|ref|.
pub const LOGIT_TOL: (f32, f32) = (1e-5, 1e-5);
/// Hidden states, attention, norm statistics: 1e-4.
pub const HIDDEN_TOL: (f32, f32) = (1e-4, 1e-4);

pub fn check_model(m: &ModelDir) {
    let c = m.classifier();
    let fx = m.fixture();
    let meta: serde_json::Value = serde_json::from_str(m.golden_json).expect("golden json");
    let batches = meta["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), fx.num_batches(), "{}: batches in json vs safetensors", m.name);
    assert!(fx.num_batches() >= 10, "{}: fixture has too few batches", m.name);
    let (mut max_logit, mut max_hidden, mut max_attn) = (0.0f32, 0.0f32, 0.0f32);
    for (k, meta_b) in batches.iter().enumerate() {
        let what = |s: &str| format!("{} batch {k} {s}", m.name);
        let batch = fx.batch(k);
        let (b, s) = (batch.batch, batch.seq);

        // Our tokenizer gives the reference ids.
        let texts: Vec<String> =
            meta_b["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        let (ours, _) = c.batch(&texts).expect("tokenize");
        assert_eq!(ours.ids, batch.ids, "{}", what("token ids"));
        assert_eq!(ours.lengths, batch.lengths, "{}", what("lengths"));

        let (out, trace) = traced_forward(&c, &batch, &ForwardOptions::default());
        let real = |x: &[f32]| real_rows(x, b, s, &batch.lengths);
        let (_, emb) = fx.f32(&format!("b{k}.embeddings"));
        assert_close(&what("embeddings"), &real(&trace.embeddings.as_ref().unwrap().data), &real(&emb), 1e-5, 1e-5);

        assert_eq!(trace.layers.len(), c.config().num_layers);
        for (l, lt) in trace.layers.iter().enumerate() {
            let (_, h) = fx.f32(&format!("b{k}.layer{l}.hidden"));
            let hidden = lt.hidden.as_ref().expect("hidden");
            let dh = assert_close(&what(&format!("layer {l} hidden")), &real(&hidden.data), &real(&h), HIDDEN_TOL.0, HIDDEN_TOL.1);
            let attention = lt.attention.as_ref().expect("attention");
            max_hidden = max_hidden.max(dh);
            let (shape, a) = fx.f32(&format!("b{k}.layer{l}.attn"));
            assert_eq!(attention.shape, shape, "{}", what("attention shape"));
            let heads = shape[1];
            // Compare query rows of real tokens (all keys; masked keys must be exactly 0 on our side).
            let (mut ours_a, mut ref_a) = (Vec::new(), Vec::new());
            for bi in 0..b {
                for h in 0..heads {
                    for i in 0..batch.lengths[bi] {
                        let o = ((bi * heads + h) * s + i) * s;
                        ours_a.extend_from_slice(&attention.data[o..o + s]);
                        ref_a.extend_from_slice(&a[o..o + s]);
                        assert!(attention.data[o + batch.lengths[bi]..o + s].iter().all(|&p| p == 0.0));
                    }
                }
            }
            max_attn = max_attn.max(assert_close(&what(&format!("layer {l} attention")), &ours_a, &ref_a, 1e-5, 1e-4));
            for (n, nt) in [("norm1", &lt.norm1), ("norm2", &lt.norm2)] {
                let nt = nt.as_ref().expect("norm trace");
                check_norm(&what(&format!("layer {l} {n}")), nt, &fx, &format!("b{k}.layer{l}.{n}"), &batch.lengths, b, s);
            }
        }
        if let Some(nt) = &trace.final_norm {
            check_norm(&what("final norm"), nt, &fx, &format!("b{k}.final_norm"), &batch.lengths, b, s);
        }
        let (_, pooled) = fx.f32(&format!("b{k}.pooled"));
        assert_close(&what("pooled"), &out.pooled.data, &pooled, HIDDEN_TOL.0, HIDDEN_TOL.1);
        let (_, logits) = fx.f32(&format!("b{k}.logits"));
        max_logit = max_logit.max(assert_close(&what("logits"), &out.logits.as_ref().unwrap().data, &logits, LOGIT_TOL.0, LOGIT_TOL.1));
        let (_, probs) = fx.f32(&format!("b{k}.probs"));
        assert_close(&what("probs"), &out.probs.as_ref().unwrap().data, &probs, LOGIT_TOL.0, LOGIT_TOL.1);
    }
    println!(
        "{}: {} batches; max |diff| vs PyTorch: logits {max_logit:.2e}, hidden states {max_hidden:.2e}, attention {max_attn:.2e}",
        m.name,
        batches.len()
    );
}

fn check_norm(
    what: &str,
    nt: &encoder_lens::trace::NormTrace,
    fx: &super::Fixture,
    prefix: &str,
    lengths: &[usize],
    b: usize,
    s: usize,
) {
    let (_, mean) = fx.f32(&format!("{prefix}.mean"));
    let (_, var) = fx.f32(&format!("{prefix}.var"));
    match nt.kind {
        NormKind::Layer => {
            let real = |x: &[f32]| real_rows(x, b, s, lengths);
            assert_close(&format!("{what} mean"), &real(&nt.mean.data), &real(&mean), HIDDEN_TOL.0, HIDDEN_TOL.1);
            assert_close(&format!("{what} var"), &real(&nt.var.data), &real(&var), HIDDEN_TOL.0, HIDDEN_TOL.1);
        }
        NormKind::Batch => {
            assert_close(&format!("{what} batch mean"), &nt.mean.data, &mean, HIDDEN_TOL.0, HIDDEN_TOL.1);
            assert_close(&format!("{what} batch var"), &nt.var.data, &var, HIDDEN_TOL.0, HIDDEN_TOL.1);
            assert!(nt.running_mean.is_some() && nt.running_var.is_some());
        }
    }
}

/// Every text of every multi-text batch gives the same logits alone as inside the padded batch.
pub fn check_batch_independence(m: &ModelDir) {
    let mut e = cpu_engine(m.classifier());
    let meta: serde_json::Value = serde_json::from_str(m.golden_json).expect("golden json");
    let mut checked = 0;
    for batch in meta["batches"].as_array().unwrap() {
        let texts: Vec<&str> = batch["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        if texts.len() < 2 {
            continue;
        }
        let together = ready(e.classify(&texts, &ForwardOptions::default())).unwrap();
        for (i, t) in texts.iter().enumerate() {
            let alone = ready(e.classify(&[*t], &ForwardOptions::default())).unwrap();
            assert_close(
                &format!("{}: text {i} alone vs in a batch of {}", m.name, texts.len()),
                &together.predictions[i].probabilities,
                &alone.predictions[0].probabilities,
                1e-6,
                1e-5,
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{}: no padded batch in the fixture", m.name);
}

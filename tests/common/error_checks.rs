//! Bad-input cases shared by the native tests and the browser tests.

use super::MODELS;
use encoder_lens::{Batch, Classifier, Config, Error, ForwardOptions};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

fn base() -> &'static super::ModelDir {
    &MODELS[2] // prenorm-gelu: small, LayerNorm, final norm
}

fn config_json(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(base().config).unwrap();
    edit(&mut v);
    v.to_string()
}

fn load(config: &str, weights: &[u8], vocab: &str) -> Result<Classifier, Error> {
    Classifier::from_bytes(config, weights, vocab)
}

fn expect_err(r: Result<Classifier, Error>, needle: &str) {
    match r {
        Ok(_) => panic!("expected an error containing {needle:?}, but loading succeeded"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "error {msg:?} does not mention {needle:?}");
        }
    }
}

/// Re-serialise the fixture's weights with `edit` applied to the (name → (dtype, shape, bytes)) map.
fn weights_with(edit: impl FnOnce(&mut HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(base().weights).unwrap();
    let mut map: HashMap<String, (Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, (t.dtype(), t.shape().to_vec(), t.data().to_vec())))
        .collect();
    edit(&mut map);
    let views: Vec<(String, safetensors::tensor::TensorView)> = map
        .iter()
        .map(|(n, (d, s, b))| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

pub fn config_errors() {
    let m = base();
    expect_err(load(&config_json(|c| c["num_heads"] = 3.into()), m.weights, m.vocab), "does not divide");
    expect_err(load(&config_json(|c| c["activation"] = "mish".into()), m.weights, m.vocab), "unknown variant `mish`");
    expect_err(load(&config_json(|c| c["norm"] = "group".into()), m.weights, m.vocab), "unknown variant `group`");
    expect_err(load(&config_json(|c| c["max_len"] = 1.into()), m.weights, m.vocab), "max_len");
    expect_err(load(&config_json(|c| c["norm_eps"] = 0.0.into()), m.weights, m.vocab), "norm_eps");
    expect_err(load(&config_json(|c| c["hidden_size"] = 0.into()), m.weights, m.vocab), "must be positive");
    expect_err(load(&config_json(|c| c["bogus"] = 1.into()), m.weights, m.vocab), "unknown field `bogus`");
    expect_err(load("{ not json", m.weights, m.vocab), "config JSON");
    expect_err(load("", m.weights, m.vocab), "config JSON");
    expect_err(load(&config_json(|c| c["hidden_size"] = (1u64 << 29).into()), m.weights, m.vocab), "larger than");
    // A config that is valid but does not match the weights: the error names the tensor.
    expect_err(load(&config_json(|c| c["ffn_size"] = 64.into()), m.weights, m.vocab), "encoder.layers.0.linear1.weight");
    expect_err(
        load(&config_json(|c| c["num_layers"] = 3.into()), m.weights, m.vocab),
        "missing tensor `encoder.layers.2.self_attn.in_proj_weight`",
    );
    let c: Config = Config::from_json(m.config).unwrap();
    assert!(c.validate().is_ok());
}

pub fn weight_errors() {
    let m = base();
    // Truncated file: every cut point gives an error, none panics.
    for cut in [0, 1, 7, 8, 100, m.weights.len() / 2, m.weights.len() - 1] {
        expect_err(load(m.config, &m.weights[..cut], m.vocab), "safetensors");
    }
    // Garbage header length.
    let mut junk = m.weights.to_vec();
    junk[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_err(load(m.config, &junk, m.vocab), "safetensors");
    expect_err(load(m.config, b"hello world, not weights", m.vocab), "safetensors");

    let missing = weights_with(|w| {
        w.remove("encoder.layers.1.linear2.bias");
    });
    expect_err(load(m.config, &missing, m.vocab), "missing tensor `encoder.layers.1.linear2.bias`");

    let misshaped = weights_with(|w| {
        let e = w.get_mut("encoder.layers.0.self_attn.out_proj.weight").unwrap();
        let n = e.1[0] * e.1[1];
        e.1 = vec![n];
    });
    expect_err(load(m.config, &misshaped, m.vocab), "`encoder.layers.0.self_attn.out_proj.weight` has shape");

    let wrong_dtype = weights_with(|w| {
        let e = w.get_mut("classifier.bias").unwrap();
        e.0 = Dtype::I32;
    });
    expect_err(load(m.config, &wrong_dtype, m.vocab), "`classifier.bias` has dtype I32");

    // NaN or infinite weights are refused at load, naming the tensor (f32, and f16's all-ones exponent).
    for (dtype, bad) in [(Dtype::F32, f32::NAN.to_le_bytes().to_vec()), (Dtype::F32, f32::INFINITY.to_le_bytes().to_vec()), (Dtype::F16, 0x7e00u16.to_le_bytes().to_vec())] {
        let broken = weights_with(|w| {
            let e = w.get_mut("classifier.bias").unwrap();
            let n = e.2.len() / 4;
            let size = if dtype == Dtype::F16 { 2 } else { 4 };
            let mut vals: Vec<u8> = (0..n).flat_map(|_| if size == 2 { 0x3c00u16.to_le_bytes().to_vec() } else { 1.0f32.to_le_bytes().to_vec() }).collect();
            vals[size..2 * size].copy_from_slice(&bad);
            *e = (dtype, e.1.clone(), vals);
        });
        let err = match load(m.config, &broken, m.vocab) {
            Ok(_) => panic!("{dtype:?} weights with a non-finite value loaded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("`classifier.bias`") && err.contains("index 1") && err.contains("non-finite"), "{err}");
    }

    // Finite weights whose logits overflow: the forward returns an error, never a label.
    let huge = weights_with(|w| {
        let e = w.get_mut("classifier.weight").unwrap();
        e.2 = e.2.chunks_exact(4).flat_map(|_| 3.0e38f32.to_le_bytes()).collect();
    });
    let mut engine = super::cpu_engine(load(m.config, &huge, m.vocab).expect("finite weights load"));
    let err = super::ready(engine.classify(&["a fine film"], &ForwardOptions::default())).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("not finite"), "{err}");

    // f16 weights are accepted and converted.
    let half = weights_with(|w| {
        let e = w.get_mut("classifier.bias").unwrap();
        let vals: Vec<u8> = e.2.chunks_exact(4).flat_map(|_| 0x3c00u16.to_le_bytes()).collect();
        *e = (Dtype::F16, e.1.clone(), vals);
    });
    let c = load(m.config, &half, m.vocab).expect("f16 tensor loads");
    assert!(c.model.classifier.as_ref().unwrap().bias.as_ref().unwrap().data().iter().all(|&v| v == 1.0));
}

pub fn vocab_errors() {
    let m = base();
    expect_err(load(m.config, m.weights, ""), "empty");
    let short: String = m.vocab.lines().take(100).map(|l| format!("{l}\n")).collect();
    expect_err(load(m.config, m.weights, &short), "vocab.txt has 100 tokens");
    let no_cls = m.vocab.replace("[CLS]", "[CLX]");
    expect_err(load(m.config, m.weights, &no_cls), "no [CLS] token");
}

pub fn text_inputs() {
    let mut e = super::cpu_engine(base().classifier());
    let c = &mut e;
    let opts = ForwardOptions::default();
    let max_len = c.classifier.config().max_len;
    let mega = "a wonderful film ".repeat(1 << 16); // ~1.1 MB
    let texts = [
        "",
        " \t\n ",
        "\u{0}\u{7}\u{1b}",
        "\u{200b}\u{200d}\u{feff}",
        "\u{301}\u{301}",
        "\u{202e}reversed\u{202c}",
        "😍🎬👩🏽‍🚀",
        "這部電影很好看",
        "\u{e0080}\u{378}",
        mega.as_str(),
    ];
    let r = super::ready(c.classify(&texts, &opts)).expect("odd texts classify");
    for (t, p) in texts.iter().zip(&r.predictions) {
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{t:?}: probabilities sum to {sum}");
        assert!(p.probabilities.iter().all(|v| v.is_finite()));
        assert!(p.ids.len() >= 2 && p.ids.len() <= max_len);
    }
    assert_eq!(r.predictions[0].ids.len(), 2, "empty text is [CLS] [SEP]");
    let big = r.predictions.last().unwrap();
    assert_eq!(big.ids.len(), max_len);
    assert!(big.truncated > 100_000, "1 MB text: {} pieces truncated", big.truncated);

    // Over the size limit: a clear error.
    let huge = "x".repeat(encoder_lens::pipeline::MAX_TEXT_BYTES + 1);
    let e = super::ready(c.classify(&[huge.as_str()], &opts)).unwrap_err().to_string();
    assert!(e.contains("longer than"), "{e}");
    let none: [&str; 0] = [];
    assert!(super::ready(c.classify(&none, &opts)).unwrap_err().to_string().contains("no texts"));
    let many = vec!["x"; encoder_lens::pipeline::MAX_BATCH + 1];
    assert!(super::ready(c.classify(&many, &opts)).unwrap_err().to_string().contains("at most"));
}

pub fn batch_errors() {
    let c = base().classifier();
    let opts = ForwardOptions::default();
    let vocab = c.config().vocab_size as u32;
    let bad_id = Batch::from_rows(&[vec![2, vocab + 5, 3]], 0).unwrap();
    let e = encoder_lens::cpu::forward(&c.model, &bad_id, &opts).unwrap_err().to_string();
    assert!(e.contains("outside the vocabulary"), "{e}");
    let too_long = Batch::from_rows(&[vec![2; c.config().max_len + 1]], 0).unwrap();
    assert!(encoder_lens::cpu::forward(&c.model, &too_long, &opts).unwrap_err().to_string().contains("longer than max_len"));
    assert!(Batch::from_rows(&[], 0).is_err());
    assert!(Batch::from_rows(&[vec![]], 0).is_err());
    let mut inconsistent = Batch::from_rows(&[vec![2, 3]], 0).unwrap();
    inconsistent.lengths = vec![5];
    assert!(encoder_lens::cpu::forward(&c.model, &inconsistent, &opts).is_err());
    inconsistent.lengths = vec![0];
    assert!(encoder_lens::cpu::forward(&c.model, &inconsistent, &opts).is_err());
}

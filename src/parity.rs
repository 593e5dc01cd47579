//! The page's parity check: a committed PyTorch golden case (`tests/fixtures/golden/<model>.json` +
//! `.safetensors`, written by `scripts/export_fixtures.py`; the build ships a few of its batches beside
//! the model, `scripts/parity_case.py`) run through the engine as it is — whatever backend it is on — and
//! compared with PyTorch's numbers: token ids, every layer's hidden states, the pooled vector, logits and
//! probabilities, on the real (unpadded) tokens. The same tolerances as the native golden tests.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::ForwardOptions;
use crate::trace::TraceRequest;
use crate::weights::Weights;
use serde::Serialize;

/// Logits and probabilities: `|Δ| ≤ 1e-5 + 1e-5·|ref|` (tests/common/golden_checks.rs).
pub const LOGIT_TOL: (f32, f32) = (1e-5, 1e-5);
/// Hidden states and the pooled vector: `|Δ| ≤ 1e-4 + 1e-4·|ref|`.
pub const HIDDEN_TOL: (f32, f32) = (1e-4, 1e-4);

/// One compared quantity, over every batch of the case.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compared {
    /// `logits`, `probabilities`, `pooled`, `layer 0 hidden`, …
    pub what: String,
    /// Values compared.
    pub values: usize,
    /// Largest |engine − PyTorch|.
    pub max_abs_diff: f32,
    /// Where it was: batch, flat index (real rows), PyTorch's value, the engine's.
    pub worst: (usize, usize, f32, f32),
    /// Every value within `atol + rtol·|ref|`.
    pub ok: bool,
    /// The tolerance `(atol, rtol)`.
    pub tol: (f32, f32),
}

/// The parity check's answer.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parity {
    /// The model folder the case is for (`model_dir` of the fixture).
    pub model_dir: String,
    /// Batches run; texts in them.
    pub batches: usize,
    /// Texts run.
    pub texts: usize,
    /// The backend that ran the last batch.
    pub backend: String,
    /// Largest |Δ| of any compared value.
    pub max_abs_diff: f32,
    /// The engine's token ids equal PyTorch's (the reference tokenizer's) in every batch.
    pub ids_equal: bool,
    /// Every quantity within its tolerance, and the token ids equal.
    pub ok: bool,
    /// Per quantity.
    pub compared: Vec<Compared>,
}

fn f32s(w: &Weights, name: &str) -> Result<Vec<f32>> {
    let shape = w.view(name)?.shape().to_vec();
    Ok(w.get(name, &shape)?.data)
}

fn i64s(w: &Weights, name: &str) -> Result<Vec<i64>> {
    let v = w.view(name)?;
    if v.dtype() != safetensors::Dtype::I64 {
        return Err(Error::WeightsFormat(format!("{name}: expected I64, found {:?}", v.dtype())));
    }
    Ok(v.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect())
}

/// Values of rows `(batch, seq, width)` that belong to real tokens.
fn real(x: &[f32], seq: usize, lengths: &[usize]) -> Vec<f32> {
    let width = x.len() / (lengths.len() * seq).max(1);
    lengths.iter().enumerate().flat_map(|(b, &l)| x[b * seq * width..(b * seq + l) * width].iter().copied()).collect()
}

fn compare(acc: &mut Vec<Compared>, what: String, k: usize, ours: &[f32], reference: &[f32], tol: (f32, f32)) -> Result<()> {
    if ours.len() != reference.len() {
        return Err(Error::Input(format!("parity: {what} of batch {k}: the engine has {} values, PyTorch {}", ours.len(), reference.len())));
    }
    let i = match acc.iter().position(|c| c.what == what) {
        Some(i) => i,
        None => {
            acc.push(Compared { what, values: 0, max_abs_diff: 0.0, worst: (0, 0, 0.0, 0.0), ok: true, tol });
            acc.len() - 1
        }
    };
    let c = &mut acc[i];
    for (j, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let d = (a - b).abs();
        if d.is_nan() || d > tol.0 + tol.1 * b.abs() {
            c.ok = false;
        }
        if d > c.max_abs_diff || d.is_nan() {
            c.max_abs_diff = if d.is_nan() { f32::INFINITY } else { d };
            c.worst = (k, j, b, a);
        }
    }
    c.values += ours.len();
    Ok(())
}

/// Run the golden case (`json`: its texts per batch; `tensors`: PyTorch's ids and outputs) through `e`.
pub async fn check(e: &mut Engine, json: &str, tensors: &[u8]) -> Result<Parity> {
    #[derive(serde::Deserialize)]
    struct Case {
        model_dir: String,
        batches: Vec<CaseBatch>,
    }
    #[derive(serde::Deserialize)]
    struct CaseBatch {
        texts: Vec<String>,
    }
    let case: Case = serde_json::from_str(json).map_err(|err| Error::Input(format!("parity case: {err}")))?;
    if case.batches.is_empty() {
        return Err(Error::Input("parity case has no batches".into()));
    }
    let w = Weights::from_bytes(tensors)?;
    let mut compared = Vec::new();
    let mut ids_ok = true;
    let mut texts = 0;
    for (k, b) in case.batches.iter().enumerate() {
        let (batch, _) = e.classifier.batch(&b.texts)?;
        texts += b.texts.len();
        let ids = i64s(&w, &format!("b{k}.input_ids"))?;
        ids_ok &= ids.len() == batch.ids.len() && ids.iter().zip(&batch.ids).all(|(&a, &b)| a == b as i64);
        let opts = ForwardOptions::default().traced(TraceRequest { hidden: true, ..TraceRequest::NONE });
        let out = e.forward(&batch, &opts).await?;
        let (seq, lengths) = (batch.seq, &batch.lengths);
        if let Some(t) = &out.trace {
            for (l, lt) in t.layers.iter().enumerate() {
                if let Some(h) = &lt.hidden {
                    let r = f32s(&w, &format!("b{k}.layer{l}.hidden"))?;
                    compare(&mut compared, format!("layer {l} hidden"), k, &real(&h.data, seq, lengths), &real(&r, seq, lengths), HIDDEN_TOL)?;
                }
            }
        }
        compare(&mut compared, "pooled".into(), k, &out.pooled.data, &f32s(&w, &format!("b{k}.pooled"))?, HIDDEN_TOL)?;
        if let (Some(l), Some(p)) = (&out.logits, &out.probs) {
            compare(&mut compared, "logits".into(), k, &l.data, &f32s(&w, &format!("b{k}.logits"))?, LOGIT_TOL)?;
            compare(&mut compared, "probabilities".into(), k, &p.data, &f32s(&w, &format!("b{k}.probs"))?, LOGIT_TOL)?;
        }
    }
    let max_abs_diff = compared.iter().map(|c| c.max_abs_diff).fold(0.0, f32::max);
    let ok = ids_ok && compared.iter().all(|c| c.ok);
    let backend = e.last_backend().to_string();
    Ok(Parity { model_dir: case.model_dir, batches: case.batches.len(), texts, backend, max_abs_diff, ids_equal: ids_ok, ok, compared })
}

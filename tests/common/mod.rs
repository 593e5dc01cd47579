//! Shared test helpers, used natively and in the browser: fixtures are compiled in with `include_bytes!`
//! so no test does file I/O.
#![allow(dead_code)]

pub mod error_checks;
pub mod golden_checks;

use encoder_lens::{Batch, Classifier, Engine, ForwardOptions, Output, Trace, TraceRequest};
use safetensors::{Dtype, SafeTensors};

/// One JSON object per line of a gzipped fixture (`tests/fixtures/*.jsonl.gz`).
pub fn gz_jsonl(gz: &[u8]) -> Vec<serde_json::Value> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text).expect("gunzip fixture");
    text.lines().map(|l| serde_json::from_str(l).expect("fixture line is JSON")).collect()
}

/// A JSON array of token ids.
pub fn json_ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().expect("ids array").iter().map(|x| x.as_u64().expect("id") as u32).collect()
}

/// Run the `classify` binary from the repository root with `args`, feeding `stdin` (closed either way).
#[cfg(not(target_arch = "wasm32"))]
pub fn run_classify(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_classify"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run classify");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        // A CLI that rejects its arguments exits before reading stdin: the pipe may then be closed.
        match pipe.write_all(input) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.unwrap(),
        }
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// The value of a future that completes without waiting — the CPU backend's forward, classify and
/// embed — on any target (natively and in the browser), without an executor.
pub fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a CPU forward pass had to wait"),
    }
}

/// An engine on the CPU backend.
pub fn cpu_engine(c: Classifier) -> Engine {
    Engine::cpu(c)
}

/// A CPU forward recording everything, with its trace.
pub fn traced_forward(c: &Classifier, batch: &Batch, opts: &ForwardOptions) -> (Output, Trace) {
    let mut out = encoder_lens::cpu::forward(&c.model, batch, &opts.traced(TraceRequest::ALL)).expect("traced forward");
    let trace = out.trace.take().expect("trace");
    (out, trace)
}

/// Process output as text.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `|a − b| <= atol + rtol·|b|` element-wise; on failure, panics naming the first bad index, the expected
/// and actual values, and the largest difference.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], atol: f32, rtol: f32) -> f32 {
    assert_eq!(actual.len(), expected.len(), "{what}: length {} vs expected {}", actual.len(), expected.len());
    let mut max_diff = 0.0f32;
    let mut first_bad: Option<usize> = None;
    let mut bad = 0usize;
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        let diff = (a - b).abs();
        let ok = diff <= atol + rtol * b.abs() || (a.is_nan() && b.is_nan());
        if diff > max_diff || diff.is_nan() {
            max_diff = diff;
        }
        if !ok {
            bad += 1;
            first_bad.get_or_insert(i);
        }
    }
    if let Some(i) = first_bad {
        panic!(
            "{what}: {bad} of {} values differ; first at index {i}: expected {}, actual {}; max |diff| {max_diff:e} (atol {atol:e}, rtol {rtol:e})",
            actual.len(),
            expected[i],
            actual[i]
        );
    }
    max_diff
}

pub struct Fixture {
    pub bytes: &'static [u8],
}

impl Fixture {
    pub fn st(&self) -> SafeTensors<'static> {
        SafeTensors::deserialize(self.bytes).expect("fixture is valid safetensors")
    }

    pub fn has(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }

    pub fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let st = self.st();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("fixture has no tensor {name}"));
        assert_eq!(t.dtype(), Dtype::F32, "{name}");
        (t.shape().to_vec(), t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    pub fn i64(&self, name: &str) -> (Vec<usize>, Vec<i64>) {
        let st = self.st();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("fixture has no tensor {name}"));
        assert_eq!(t.dtype(), Dtype::I64, "{name}");
        (t.shape().to_vec(), t.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect())
    }

    /// Batch `k` of the fixture as the engine's input.
    pub fn batch(&self, k: usize) -> Batch {
        let (shape, ids) = self.i64(&format!("b{k}.input_ids"));
        let (_, lengths) = self.i64(&format!("b{k}.lengths"));
        Batch {
            ids: ids.iter().map(|&i| i as u32).collect(),
            type_ids: None,
            lengths: lengths.iter().map(|&l| l as usize).collect(),
            batch: shape[0],
            seq: shape[1],
        }
    }

    pub fn num_batches(&self) -> usize {
        (0..).take_while(|k| self.has(&format!("b{k}.input_ids"))).count()
    }
}

/// Rows of `x (batch, seq, rest…)` at real positions only (padded positions are not compared).
pub fn real_rows(x: &[f32], batch: usize, seq: usize, lengths: &[usize]) -> Vec<f32> {
    let per = x.len() / (batch * seq);
    let mut out = Vec::new();
    for b in 0..batch {
        for s in 0..lengths[b] {
            out.extend_from_slice(&x[(b * seq + s) * per..(b * seq + s + 1) * per]);
        }
    }
    out
}

/// A model folder compiled into the test binary.
pub struct ModelDir {
    pub name: &'static str,
    pub config: &'static str,
    pub weights: &'static [u8],
    pub vocab: &'static str,
    pub golden: &'static [u8],
    pub golden_json: &'static str,
}

impl ModelDir {
    pub fn classifier(&self) -> Classifier {
        Classifier::from_bytes(self.config, self.weights, self.vocab).expect("model loads")
    }
    pub fn fixture(&self) -> Fixture {
        Fixture { bytes: self.golden }
    }
}

macro_rules! model_dir {
    ($name:literal, $dir:literal) => {
        ModelDir {
            name: $name,
            config: include_str!(concat!("../../", $dir, "/config.json")),
            weights: include_bytes!(concat!("../../", $dir, "/model.safetensors")),
            vocab: include_str!(concat!("../../", $dir, "/vocab.txt")),
            golden: include_bytes!(concat!("../fixtures/golden/", $name, ".safetensors")),
            golden_json: include_str!(concat!("../fixtures/golden/", $name, ".json")),
        }
    };
}

/// DeLighT (`scripts/export_delight_fixtures.py`): 4 blocks N 2..5 w_m 2 g_max 8 d_m 64; one block N 5 w_m 1.5 d_m 48.
/// And the trained DeLighT sentiment model.
pub const DELIGHT: [ModelDir; 3] = [
    model_dir!("delight-a", "tests/fixtures/models/delight-a"),
    model_dir!("delight-b1", "tests/fixtures/models/delight-b1"),
    model_dir!("sentiment-delight", "models/sentiment-delight"),
];

pub const MODELS: [ModelDir; 5] = [
    model_dir!("sentiment-ln", "models/sentiment-ln"),
    model_dir!("sentiment-bn", "models/sentiment-bn"),
    model_dir!("prenorm-gelu", "tests/fixtures/models/prenorm-gelu"),
    model_dir!("prenorm-bn", "tests/fixtures/models/prenorm-bn"),
    model_dir!("postnorm-silu", "tests/fixtures/models/postnorm-silu"),
];

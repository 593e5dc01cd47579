//! The browser boundary: a thin `#[wasm_bindgen]` wrapper. Every method returns `Result<_, JsError>`;
//! nothing here unwraps. JavaScript fetches and caches the bytes; Rust does no I/O.

use crate::model::{BatchNormStats, ForwardOptions};
use crate::pipeline::Classifier;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Options for `classify`, from a plain JS object; every field is optional.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ClassifyOptions {
    /// Record attention, norm statistics and hidden states for the page.
    trace: bool,
    /// "running" (eval, default) or "batch" (normalise BatchNorm with this batch's statistics).
    batch_norm: BatchNormStats,
}

#[wasm_bindgen]
pub struct Engine {
    classifier: Classifier,
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let s = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    v.serialize(&s).map_err(|e| JsError::new(&format!("serialising result: {e}")))
}

/// Large results (hundreds of thousands of floats) cross as one JSON string parsed by the browser: several
/// times faster than building the JS arrays element by element.
fn json_to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let s = serde_json::to_string(v).map_err(|e| JsError::new(&format!("serialising result: {e}")))?;
    js_sys::JSON::parse(&s).map_err(|_| JsError::new("parsing the serialised result"))
}

#[wasm_bindgen]
impl Engine {
    /// Build an engine from a model folder's three files: `config.json` text, `model.safetensors` bytes
    /// and `vocab.txt` text.
    pub async fn create(config_json: String, weights: Vec<u8>, vocab_txt: String) -> Result<Engine, JsError> {
        Ok(Engine { classifier: Classifier::from_bytes(&config_json, &weights, &vocab_txt)? })
    }

    /// The model's config as a JS object.
    pub fn config(&self) -> Result<JsValue, JsError> {
        to_js(self.classifier.config())
    }

    /// Which backend runs the forward pass.
    pub fn backend(&self) -> String {
        "cpu".into()
    }

    /// Classify an array of strings as one padded batch. `options`: `{ trace?: bool, batchNorm?: "running" | "batch" }`.
    /// Returns `{ labels, predictions: [{ label, labelIndex, probabilities, tokens, ids, truncated }], trace }`.
    pub fn classify(&self, texts: JsValue, options: JsValue) -> Result<JsValue, JsError> {
        let texts: Vec<String> = serde_wasm_bindgen::from_value(texts)
            .map_err(|e| JsError::new(&format!("texts must be an array of strings: {e}")))?;
        let opts: ClassifyOptions = if options.is_undefined() || options.is_null() {
            ClassifyOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("bad options: {e}")))?
        };
        let fwd = ForwardOptions { batch_norm: opts.batch_norm };
        to_js(&self.classifier.classify(&texts, &fwd, opts.trace)?)
    }

    /// L2-normalised pooled sentence embeddings, one array per text.
    pub fn embed(&self, texts: JsValue) -> Result<JsValue, JsError> {
        let texts: Vec<String> = serde_wasm_bindgen::from_value(texts)
            .map_err(|e| JsError::new(&format!("texts must be an array of strings: {e}")))?;
        to_js(&self.classifier.embed(&texts)?)
    }

    /// The positional table `(max_len, d)` the model adds: `{ shape, data }`.
    #[wasm_bindgen(js_name = positionalTable)]
    pub fn positional_table(&self) -> Result<JsValue, JsError> {
        to_js(self.classifier.model.positional_table())
    }

    /// Everything the page draws for `text` (see `inspect::Inspection`), including the batch experiment
    /// with `companion`; `attention: false` leaves the attention maps out.
    pub fn inspect(&self, text: &str, companion: &str, attention: Option<bool>) -> Result<JsValue, JsError> {
        json_to_js(&crate::inspect::inspect(&self.classifier, text, companion, attention.unwrap_or(true))?)
    }

    /// The positional table and its position-position dot products: `{ table, similarity }`.
    #[wasm_bindgen(js_name = positionalView)]
    pub fn positional_view(&self) -> Result<JsValue, JsError> {
        json_to_js(&crate::inspect::positional_view(&self.classifier))
    }

    /// Token strings for `text`, as the model will see them (after truncation).
    pub fn tokenize(&self, text: &str) -> Result<JsValue, JsError> {
        let (_, enc) = self.classifier.batch(&[text])?;
        let tokens: Vec<&str> = enc[0].ids.iter().map(|&i| self.classifier.tokenizer.token(i)).collect();
        to_js(&tokens)
    }
}

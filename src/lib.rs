//! encoder-lens: a Transformer encoder text classifier that computes what PyTorch computes, on the CPU

//! (scalar reference + SIMD) and on WebGPU, and records what happens inside it for the page to draw.
//!
//! A model is a folder of three files (this project's `config.json` + `model.safetensors` + `vocab.txt`,
//! or a Hugging Face BERT folder); the crate reads them as bytes, never from paths, so the same code runs
//! natively and in the browser. [`Classifier`] is the tokenizer and the model, [`Engine`] runs it on a
//! backend (the CPU, or the GPU through wgpu):
//!
//! ```
//! use encoder_lens::{Classifier, Engine, ForwardOptions};
//!
//! // The default model's files (shipped with the crate); any model folder's bytes work the same way.
//! let config = include_str!("../models/sentiment-ln/config.json");
//! let weights = include_bytes!("../models/sentiment-ln/model.safetensors");
//! let vocab = include_str!("../models/sentiment-ln/vocab.txt");
//!
//! let mut engine = Engine::cpu(Classifier::from_bytes(config, weights, vocab)?);
//! let texts = ["an absolute joy from start to finish", "a dull, lifeless waste of two hours"];
//! // `classify` is async (the GPU backend awaits its readback); on the CPU any executor will do.
//! let result = pollster::block_on(engine.classify(&texts, &ForwardOptions::default()))?;
//! assert_eq!(result.labels, ["negative", "positive"]);
//! assert_eq!(result.predictions[0].label, "positive");
//! assert_eq!(result.predictions[1].label, "negative");
//! assert!(result.predictions[0].probabilities[1] > 0.5);
//! # Ok::<(), encoder_lens::Error>(())
//! ```
//!
//! `Engine::new(classifier, Backend::Auto).await` picks the GPU when there is one; [`Engine::embed`] gives
//! sentence embeddings; a [`TraceRequest`] in [`ForwardOptions`] records attention, norm statistics and
//! hidden states.

#![deny(missing_docs)]

pub mod batch;
pub mod choice;
pub mod config;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod explain;
pub mod gpu;
pub mod hf;
pub mod model;
pub mod parity;
pub mod pipeline;
pub mod profile;
pub mod quant;
pub mod quant_report;
pub mod teach;
pub mod tensor;
pub mod tokenizer;
pub mod trace;
pub mod weights;
// What the page draws beyond one forward pass (the LN-vs-BN batch experiment, PE similarity).
pub mod inspect;

#[cfg(not(target_arch = "wasm32"))]
pub mod embedded;
#[cfg(not(target_arch = "wasm32"))]
pub mod folder;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(all(target_arch = "wasm32", feature = "bench"))]
pub mod bench;

pub use config::Config;
pub use engine::{Backend, Engine};
pub use error::{Error, Result};
pub use hf::{HfFiles, HfOverrides};
pub use batch::Batch;
pub use model::{Ablation, AblationMode, BatchNormStats, ForwardOptions, Model, Output};
pub use pipeline::{Classification, Classifier, Prediction};
pub use tensor::Tensor;
pub use tokenizer::{Encoding, Tokenizer};
pub use trace::{Trace, TraceRequest};

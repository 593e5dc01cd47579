//! The encoder classifier, defined once. The struct tree mirrors the checkpoint's name tree; `load` takes
//! safetensors bytes and a validated [`Config`]; [`Model::forward`] is the order of operations —
//! embeddings → layers → final norm → pooling → pooler → classifier → softmax — written once for every
//! [`Backend`] (CPU: eager kernels; GPU: one recorded command stream).

pub mod ablation;
pub mod attention;
pub mod backend;
pub mod delight;
pub mod embeddings;
pub mod layer;
pub mod linear;
pub mod norm;
pub mod param;

pub use ablation::{Ablation, AblationMode};
use backend::Backend;
use crate::config::{Activation, Architecture, Config};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::trace::{Trace, TraceRequest};
use crate::weights::Weights;
pub use crate::batch::Batch;
use delight::DelightBlock;
use embeddings::Embeddings;
use layer::EncoderLayer;
use linear::Linear;
use norm::Norm;
use param::Param;

/// Which statistics BatchNorm layers normalise with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormStats {
    /// Eval mode: the running statistics learned in training (PyTorch `model.eval()`).
    #[default]
    Running,
    /// Train-mode normalisation: this batch's own per-feature statistics over all batch × positions,
    /// padding included. Shows how BN's output depends on what else is in the batch.
    Batch,
}

/// How to run one forward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardOptions<'a> {
    /// Which statistics BatchNorm layers use.
    pub batch_norm: BatchNormStats,
    /// What to record besides the outputs.
    pub trace: TraceRequest,
    /// Attention heads to ablate (per sequence); `None` runs the model as it is.
    pub ablate: Option<&'a Ablation>,
}

impl ForwardOptions<'_> {
    /// These options, recording `trace`.
    pub fn traced(self, trace: TraceRequest) -> Self {
        Self { trace, ..self }
    }
}

/// What a forward pass returns. `T` is a host [`Tensor`], or a backend's pending read while it runs.
#[derive(Clone, Debug)]
pub struct Output<T = Tensor> {
    /// Final hidden states, when the trace asked for them.
    pub hidden: Option<T>, // (batch, seq, d): final hidden states, when `trace.hidden` was asked for
    /// One vector per text, after pooling (and the pooler, if any).
    pub pooled: T,         // (batch, d): after pooling (and pooler, if any)
    /// Classifier logits.
    pub logits: Option<T>, // (batch, labels)
    /// Softmax of the logits.
    pub probs: Option<T>,  // (batch, labels): softmax(logits)
    /// What the forward recorded.
    pub trace: Option<Trace<T>>,
}

impl<T> Output<T> {
    /// The same output with every tensor passed through `f`.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Output<U> {
        Output {
            hidden: self.hidden.map(&mut f),
            pooled: f(self.pooled),
            logits: self.logits.map(&mut f),
            probs: self.probs.map(&mut f),
            trace: self.trace.map(|t| t.map(&mut f)),
        }
    }
}

#[derive(Clone, Debug)]
/// A whole encoder: embeddings, layers, optional final norm, pooler and classifier head.
pub struct Model {
    /// Its configuration.
    pub config: Config,
    /// The embeddings.
    pub embeddings: Embeddings,
    /// The encoder layers.
    pub layers: Vec<EncoderLayer>,
    /// DeLighT blocks (architecture `delight_classifier`; then `layers` is empty).
    pub blocks: Vec<DelightBlock>,
    /// A norm after the last layer (pre-norm models).
    pub final_norm: Option<Norm>,
    /// BERT pooler, tanh.
    pub pooler: Option<Linear>,     // (d, d), tanh
    /// Classifier head.
    pub classifier: Option<Linear>, // (labels, d)
}

impl Model {
    /// Load from one safetensors file's bytes.
    pub fn from_bytes(config: Config, bytes: &[u8]) -> Result<Self> {
        Self::from_weights(config, &Weights::from_bytes(bytes)?)
    }

    /// Load from already-parsed weights (one safetensors file or several, e.g. a base model + a head).
    pub fn from_weights(config: Config, w: &Weights) -> Result<Self> {
        config.validate()?;
        let c = &config;
        let d = c.hidden_size;
        let root = match c.architecture {
            // HF sequence-classification checkpoints nest the encoder under `bert.`.
            Architecture::Bert if w.contains("bert.embeddings.word_embeddings.weight") => w.pp("bert"),
            _ => w.pp(""),
        }
        .with_precision(c.precision)
        .with_activation(c.activation_range);
        let embeddings = Embeddings::load(&root, c)?;
        let layer_root = match c.architecture {
            Architecture::EncoderClassifier | Architecture::Delight => root.pp("encoder.layers"),
            Architecture::Bert => root.pp("encoder.layer"),
        };
        let (layers, blocks) = match &c.delight {
            Some(dc) => (Vec::new(), dc.blocks(c).iter().enumerate().map(|(i, b)| DelightBlock::load(&layer_root.pp(&i.to_string()), c, b)).collect::<Result<Vec<_>>>()?),
            None => ((0..c.num_layers).map(|i| EncoderLayer::load(&layer_root.pp(&i.to_string()), c)).collect::<Result<Vec<_>>>()?, Vec::new()),
        };
        let final_norm = if c.final_norm { Some(Norm::load(&root.pp("encoder.norm"), c.norm, d, c.norm_eps)?) } else { None };
        let pooler = if c.pooler { Some(Linear::load(&root.pp("pooler.dense"), d, d)?) } else { None };
        let classifier = if c.labels.is_empty() { None } else { Some(Linear::load(&w.pp("classifier").with_precision(c.precision).with_activation(c.activation_range), d, c.num_labels())?) };
        Ok(Self { config, embeddings, layers, blocks, final_norm, pooler, classifier })
    }

    /// The positional table the model adds, `(max_len, d)`: sinusoidal or learned.
    pub fn positional_table(&self) -> &Tensor {
        &self.embeddings.position.tensor
    }

    /// Every parameter tensor (what a backend uploads once).
    pub fn params(&self) -> Vec<&Param> {
        let mut p = self.embeddings.params();
        for l in &self.layers {
            p.extend(l.params());
        }
        for b in &self.blocks {
            p.extend(b.params());
        }
        if let Some(n) = &self.final_norm {
            p.extend(n.params());
        }
        for l in self.pooler.iter().chain(&self.classifier) {
            p.extend(l.params());
        }
        p
    }

    /// The forward pass on backend `be`: records (GPU) or runs (CPU) every op, then [`Backend::finish`]es.
    pub async fn forward<B: Backend>(&self, be: &mut B, batch: &Batch, opts: &ForwardOptions<'_>) -> Result<Output> {
        let pending = self.record(be, batch, opts)?;
        let fetched = be.finish().await?;
        Ok(pending.map(|p| be.fetch(&fetched, p)))
    }

    /// The order of operations, written once. Returns the pending reads of the outputs and the trace.
    pub fn record<B: Backend>(&self, be: &mut B, batch: &Batch, opts: &ForwardOptions) -> Result<Output<B::Pending>> {
        batch.check(self.config.max_len)?;
        self.embeddings.check_ids(batch)?;
        if let Some(a) = opts.ablate {
            a.check(self.layers.len(), self.config.num_heads, batch.batch)?;
        }
        be.begin(batch)?;
        let req = &opts.trace;
        let (b, s, d) = (batch.batch, batch.seq, self.config.hidden_size);
        let x = self.embeddings.forward(be, batch)?; // (batch·seq, d)
        let mut trace = req.any().then(|| Trace::new(b, s, batch.lengths.clone()));
        if let Some(t) = trace.as_mut().filter(|_| req.embeddings) {
            let pe = self.positional_table();
            t.positional = Some(Tensor { shape: vec![s, d], data: pe.data[..s * d].to_vec() });
            t.embeddings = Some(be.read(&x, vec![b, s, d]));
        }
        self.record_from(be, x, 0, batch, opts, trace)
    }

    /// The rest of the forward from encoder layer `from` on, given that layer's input `x (batch·seq, d)`
    /// (the embeddings for `from = 0`): layers `from..`, final norm, pooling, pooler, classifier, softmax.
    /// The head-ablation sweep runs the layers below the ablated one once and starts its copies here
    /// ([`crate::explain::head_sweep`]). The caller has run [`Backend::begin`] for `batch`.
    pub fn record_from<B: Backend>(
        &self,
        be: &mut B,
        x: B::Tensor, // (batch·seq, d): input to layer `from`
        from: usize,
        batch: &Batch,
        opts: &ForwardOptions,
        mut trace: Option<Trace<B::Pending>>,
    ) -> Result<Output<B::Pending>> {
        let req = &opts.trace;
        let (b, s, d) = (batch.batch, batch.seq, self.config.hidden_size);
        let mut x = x;
        if from > self.layers.len() || (from > 0 && !self.blocks.is_empty()) {
            return Err(crate::Error::Input(format!("cannot start the forward at layer {from} of {}", self.layers.len())));
        }
        if let Some(a) = opts.ablate {
            a.check(self.layers.len(), self.config.num_heads, batch.batch)?;
        }
        for (l, layer) in self.layers.iter().enumerate().skip(from) {
            let gate = opts.ablate.and_then(|a| a.layer_gate(l, b).map(|g| (g, a.mode))); // (batch, heads)
            x = layer.forward(be, x, batch, opts, gate.as_ref().map(|(g, m)| (&g[..], *m)), trace.as_mut().map(|t| &mut t.layers))?;
        }
        for block in &self.blocks {
            x = block.forward(be, x, batch, opts, trace.as_mut().map(|t| &mut t.layers))?;
        }
        if let Some(n) = &self.final_norm {
            let (y, nt) = n.forward(be, &x, batch, opts.batch_norm, req)?;
            be.release(std::mem::replace(&mut x, y));
            if let Some(t) = trace.as_mut() {
                t.final_norm = nt;
            }
        }
        let hidden = req.hidden.then(|| be.read(&x, vec![b, s, d]));
        let mut pooled = be.pool(&x, batch, self.config.pooling)?; // (batch, d)
        be.release(x);
        if let Some(p) = &self.pooler {
            let y = be.linear(&pooled, p, Some(Activation::Tanh))?;
            be.release(std::mem::replace(&mut pooled, y));
        }
        let (mut logits, mut probs) = (None, None);
        if let Some(c) = &self.classifier {
            let l = be.linear(&pooled, c, None)?; // (batch, labels)
            let p = be.softmax(&l, c.out_dim())?;
            logits = Some(be.read(&l, vec![b, c.out_dim()]));
            probs = Some(be.read(&p, vec![b, c.out_dim()]));
            be.release(l);
            be.release(p);
        }
        let pooled_read = be.read(&pooled, vec![b, d]);
        be.release(pooled);
        Ok(Output { hidden, pooled: pooled_read, logits, probs, trace })
    }
}

//! The front door: the only API that runs a forward pass (classify, embed, and through it the page's
//! inspection). A [`Classifier`] (tokenizer + model) plus the backend the model runs on: the CPU, or —
//! when a GPU is there — a [`GpuBackend`] holding the same weights on the device. `auto` runs on WebGPU/Vulkan when an adapter and device are available
//! and on the CPU otherwise; `gpu` and `cpu` force one. If the GPU fails mid-session (device lost, a
//! dispatch or readback fails), that forward is re-run on the CPU, every later one runs there too, and
//! [`Engine::fallback_reason`] says why.

use crate::error::{Error, Result};
use crate::gpu::{context::default_backends, GpuBackend, GpuContext};
use crate::model::{Batch, ForwardOptions, Output};
use crate::pipeline::{Classification, Classifier};
use crate::trace::TraceRequest;
use serde::{Deserialize, Serialize};

/// Which backend to run the forward pass on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The CPU (scalar / SIMD kernels).
    Cpu,
    /// The GPU through wgpu (WebGPU in the browser, Vulkan natively); an error without one.
    Gpu,
    /// The GPU when one is available, else the CPU.
    #[default]
    Auto,
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Backend::Cpu),
            "gpu" | "webgpu" | "vulkan" => Ok(Backend::Gpu),
            "auto" | "" => Ok(Backend::Auto),
            _ => Err(Error::Input(format!("backend must be cpu, gpu or auto, got `{s}`"))),
        }
    }
}

/// A [`Classifier`] on a backend: the only API that runs a forward pass (see the module docs).
pub struct Engine {
    /// The tokenizer and model it runs.
    pub classifier: Classifier,
    gpu: Option<GpuBackend>,
    fallback: Option<String>,
    /// Which backend ran the latest forward pass.
    last: &'static str,
    /// Forward passes run so far (a batch counts once).
    forwards: u64,
}

impl Engine {
    /// Build with the platform's GPU API (WebGPU in the browser, Vulkan natively).
    pub async fn new(classifier: Classifier, backend: Backend) -> Result<Self> {
        Self::with_gpu_backends(classifier, backend, default_backends()).await
    }

    /// As [`Engine::new`], asking wgpu only for `backends` (`wgpu::Backends::empty()` means no adapter).
    /// `Backend::Gpu` without a usable GPU is an error; `Backend::Auto` falls back to the CPU and records why.
    pub async fn with_gpu_backends(classifier: Classifier, backend: Backend, backends: wgpu::Backends) -> Result<Self> {
        if backend == Backend::Cpu {
            return Self::with_context(classifier, backend, Err(Error::Gpu("CPU backend chosen".into())));
        }
        Self::with_context(classifier, backend, GpuContext::new(backends).await)
    }

    /// As [`Engine::new`] with a GPU context made by the caller (or the reason there is none).
    pub fn with_context(classifier: Classifier, backend: Backend, ctx: Result<GpuContext>) -> Result<Self> {
        let mut engine = Self::cpu(classifier);
        if backend == Backend::Cpu {
            return Ok(engine);
        }
        match ctx.and_then(|ctx| GpuBackend::new(ctx, &engine.classifier.model)) {
            Ok(g) => {
                engine.last = g.ctx.backend_name();
                engine.gpu = Some(g);
            }
            Err(e) if backend == Backend::Auto => engine.fallback = Some(e.to_string()),
            Err(e) => return Err(e),
        }
        Ok(engine)
    }

    /// An engine on the CPU backend (no GPU is asked for).
    pub fn cpu(classifier: Classifier) -> Self {
        Self { classifier, gpu: None, fallback: None, last: "cpu", forwards: 0 }
    }

    /// "webgpu" or "vulkan" while the GPU runs the forward pass, else "cpu".
    pub fn backend(&self) -> &'static str {
        self.gpu.as_ref().map_or("cpu", |g| g.ctx.backend_name())
    }

    /// Why the engine is on the CPU although a GPU was allowed (none when it never was, or still isn't).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The backend that ran the latest forward pass: differs from [`Engine::backend`] when a batch was
    /// too large for the GPU's limits and ran on the CPU alone.
    pub fn last_backend(&self) -> &'static str {
        self.last
    }

    /// The GPU backend while it is in use (its context, last submit statistics).
    pub fn gpu(&self) -> Option<&GpuBackend> {
        self.gpu.as_ref()
    }

    /// Forward passes this engine has run (a batch counts once; a GPU pass re-run on the CPU counts once).
    pub fn forward_count(&self) -> u64 {
        self.forwards
    }

    /// One forward pass on the current backend. A GPU failure switches to the CPU for this call and all
    /// later ones; a batch over the GPU's limits runs on the CPU alone (the GPU stays for the next);
    /// input errors are returned as they are.
    pub async fn forward(&mut self, batch: &Batch, opts: &ForwardOptions<'_>) -> Result<Output> {
        self.forwards += 1;
        let model = &self.classifier.model;
        if let Some(g) = self.gpu.as_mut() {
            match model.forward(g, batch, opts).await {
                Err(Error::Gpu(msg)) => {
                    self.fallback = Some(format!("GPU failed, running on the CPU from now on: {msg}"));
                    self.gpu = None;
                }
                Err(Error::GpuLimit(msg)) => self.fallback = Some(format!("this batch ran on the CPU: {msg}")),
                Ok(out) => {
                    self.last = g.ctx.backend_name();
                    return Ok(out);
                }
                Err(e) => return Err(e),
            }
        }
        self.last = "cpu";
        crate::cpu::forward(model, batch, opts)
    }

    /// Classify with `head` (its labels and classifier) in place of the model's own, e.g. one trained by
    /// [`crate::teach::train`]; on the GPU only the head's parameters are uploaded.
    pub fn set_head(&mut self, head: crate::teach::Head) -> Result<()> {
        let m = &mut self.classifier.model;
        if head.info.hidden_size != m.config.hidden_size {
            return Err(Error::Config(format!(
                "the head was trained on {}-dimensional features; this model's are {}",
                head.info.hidden_size, m.config.hidden_size
            )));
        }
        m.classifier = Some(head.linear);
        m.config.labels = head.info.labels;
        if let Some(g) = self.gpu.as_mut() {
            if let Err(e) = g.upload_missing(&self.classifier.model) {
                self.fallback = Some(format!("GPU failed, running on the CPU from now on: {e}"));
                self.gpu = None;
            }
        }
        Ok(())
    }

    /// Classify `texts` as one padded batch, recording `trace`.
    pub async fn classify<S: AsRef<str>>(&mut self, texts: &[S], opts: &ForwardOptions<'_>) -> Result<Classification> {
        self.classifier.check_classifier()?;
        let (batch, enc) = self.classifier.batch(texts)?;
        let out = self.forward(&batch, opts).await?;
        self.classifier.classification(enc, out)
    }

    /// Pooled (per the config), L2-normalised sentence embeddings, one per text.
    pub async fn embed<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let (batch, _) = self.classifier.batch(texts)?;
        let out = self.forward(&batch, &ForwardOptions { trace: TraceRequest::NONE, ..Default::default() }).await?;
        Ok(self.classifier.embeddings(&out))
    }
}

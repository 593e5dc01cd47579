//! The engine the CLI and the browser use: a [`Classifier`] plus, when a GPU is there, a [`GpuModel`]
//! built from the same weights. `auto` runs on WebGPU/Vulkan when an adapter and device are available
//! and on the CPU otherwise; `gpu` and `cpu` force one. If the GPU fails mid-session (device lost, a
//! dispatch or readback fails), that forward is re-run on the CPU, every later one runs there too, and
//! [`Engine::fallback_reason`] says why.

use crate::error::{Error, Result};
use crate::gpu::{context::default_backends, GpuContext, GpuModel};
use crate::model::{Batch, ForwardOptions, Output};
use crate::pipeline::{Classification, Classifier};
use crate::trace::Trace;
use serde::{Deserialize, Serialize};

/// Which backend to run the forward pass on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Cpu,
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

pub struct Engine {
    pub classifier: Classifier,
    gpu: Option<GpuModel>,
    fallback: Option<String>,
}

impl Engine {
    /// Build with the platform's GPU API (WebGPU in the browser, Vulkan natively).
    pub async fn new(classifier: Classifier, backend: Backend) -> Result<Self> {
        Self::with_gpu_backends(classifier, backend, default_backends()).await
    }

    /// As [`Engine::new`], asking wgpu only for `backends` (`wgpu::Backends::empty()` means no adapter).
    /// `Backend::Gpu` without a usable GPU is an error; `Backend::Auto` falls back to the CPU and records why.
    pub async fn with_gpu_backends(classifier: Classifier, backend: Backend, backends: wgpu::Backends) -> Result<Self> {
        let mut engine = Self { classifier, gpu: None, fallback: None };
        if backend == Backend::Cpu {
            return Ok(engine);
        }
        let gpu = match GpuContext::new(backends).await {
            Ok(ctx) => GpuModel::new(ctx, &engine.classifier.model),
            Err(e) => Err(e),
        };
        match gpu {
            Ok(g) => engine.gpu = Some(g),
            Err(e) if backend == Backend::Auto => engine.fallback = Some(e.to_string()),
            Err(e) => return Err(e),
        }
        Ok(engine)
    }

    /// "webgpu" or "vulkan" while the GPU runs the forward pass, else "cpu".
    pub fn backend(&self) -> &'static str {
        self.gpu.as_ref().map_or("cpu", |g| g.ctx.backend_name())
    }

    /// Why the engine is on the CPU although a GPU was allowed (none when it never was, or still isn't).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The GPU model while it is in use (its context, last submit statistics).
    pub fn gpu(&self) -> Option<&GpuModel> {
        self.gpu.as_ref()
    }

    /// One forward pass on the current backend. A GPU failure switches to the CPU for this call and all
    /// later ones; input errors are returned as they are.
    pub async fn forward(&mut self, batch: &Batch, opts: &ForwardOptions, mut trace: Option<&mut Trace>) -> Result<Output> {
        if let Some(g) = self.gpu.as_mut() {
            match g.forward(batch, opts, trace.as_deref_mut()).await {
                Err(Error::Gpu(msg)) => {
                    self.fallback = Some(format!("GPU failed, running on the CPU from now on: {msg}"));
                    self.gpu = None;
                }
                other => return other,
            }
        }
        self.classifier.model.forward(batch, opts, trace)
    }

    /// [`Classifier::classify`] on the current backend.
    pub async fn classify<S: AsRef<str>>(&mut self, texts: &[S], opts: &ForwardOptions, trace: bool) -> Result<Classification> {
        self.classifier.check_classifier()?;
        let (batch, enc) = self.classifier.batch(texts)?;
        let mut tr = trace.then(Trace::default);
        let out = self.forward(&batch, opts, tr.as_mut()).await?;
        self.classifier.classification(enc, out, tr)
    }

    /// [`Classifier::embed`] on the current backend.
    pub async fn embed<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let (batch, _) = self.classifier.batch(texts)?;
        let out = self.forward(&batch, &ForwardOptions::default(), None).await?;
        Ok(self.classifier.embeddings(&out))
    }
}

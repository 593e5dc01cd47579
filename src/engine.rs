//! The front door: the only API that runs a forward pass (classify, embed, and through it the page's
//! inspection). A [`Classifier`] (tokenizer + model) plus the backend the model runs on: the CPU, or —
//! when a GPU is there — a [`GpuBackend`] holding the same weights on the device. `auto` runs on
//! WebGPU/Vulkan only where that is measured to be faster than the CPU path (never on a software /
//! fallback adapter; otherwise a one-off timed probe, see [`crate::choice`]), and on the CPU otherwise;
//! `gpu` and `cpu` force one. [`Engine::choice`] says where it runs and why. If the GPU fails mid-session (device lost, a
//! dispatch or readback fails), that forward is re-run on the CPU, every later one runs there too, and
//! [`Engine::fallback_reason`] says why.

use crate::choice::{self, BackendChoice, Probe};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::gpu::{context::default_backends, ops::forward_pipelines, GpuBackend, GpuContext};
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

/// Most forwards [`Engine::timed_forward`] averages over.
pub const MAX_TIMED_RUNS: u32 = 200;

/// The build step of [`Engine::building`]: the classifier, once its weights are there.
pub type Build<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Classifier>> + 'a>>;

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
    /// Where the engine was set to run at load, and why.
    choice: BackendChoice,
}

impl Engine {
    /// Build with the platform's GPU API (WebGPU in the browser, Vulkan natively), on the shared GPU context
    /// (the worker's in the browser, the process's natively: [`GpuContext::shared`]), opened by the first
    /// GPU load.
    pub async fn new(classifier: Classifier, backend: Backend) -> Result<Self> {
        Self::with_gpu_backends(classifier, backend, default_backends()).await
    }

    /// As [`Engine::new`], asking wgpu only for `backends` (`wgpu::Backends::empty()` means no adapter).
    /// `Backend::Gpu` without a usable GPU is an error; `Backend::Auto` falls back to the CPU and records
    /// why, and on a hardware adapter times a probe forward on both backends and keeps the faster.
    pub async fn with_gpu_backends(classifier: Classifier, backend: Backend, backends: wgpu::Backends) -> Result<Self> {
        let config = classifier.model.config.clone();
        Self::building(&config, Box::pin(async move { Ok(classifier) }), backend, backends).await
    }

    /// As [`Engine::with_gpu_backends`], with the classifier (whose model has `config`) built by `build`
    /// while the GPU compiles the forward's pipelines: waiting for the weights (in the browser `build` may
    /// first await them: a read still under way), reading them into memory and uploading them overlap the
    /// shader compile instead of following it. An error of `build` is this call's error. (`build` is boxed so
    /// that this large async function is compiled once, not once per caller's future.)
    pub async fn building(config: &Config, build: Build<'_>, backend: Backend, backends: wgpu::Backends) -> Result<Self> {
        if backend == Backend::Cpu {
            return Self::with_context(build.await?, backend, Err(Error::Gpu("CPU backend chosen".into())));
        }
        // The shared context; the first GPU load (or the first after a device loss) opens it.
        let ctx = match GpuContext::shared(backends) {
            Some(ctx) => Ok(ctx),
            None => match GpuContext::adapter(backends).await {
                Ok(a) => {
                    let info = a.get_info();
                    if backend == Backend::Auto && choice::is_software(&info) {
                        // A software adapter is declined before a device and its pipelines are built.
                        let mut engine = Self::cpu(build.await?);
                        engine.decline_software(format!("{} ({:?}, {})", info.name, info.device_type, info.driver_info));
                        return Ok(engine);
                    }
                    GpuContext::share(backends, a).await
                }
                Err(e) => Err(e),
            },
        };
        let mut engine = match ctx {
            // `with_context` declines a software adapter for `auto`: no pipelines for it.
            Ok(ctx) if backend == Backend::Auto && choice::is_software(&ctx.info) => Self::with_context(build.await?, backend, Ok(ctx))?,
            // The pipelines this model's forward of a short text runs, built now unless an earlier engine on
            // the shared context built them (the others at their first use), and awaited only after the model
            // is built and its weights are uploaded: the GPU process compiles meanwhile.
            Ok(ctx) => {
                let pipelines = ctx.prepare_start(&forward_pipelines(config));
                let engine = Self::with_context(build.await?, backend, Ok(ctx))?;
                match pipelines.await {
                    Ok(()) => engine,
                    // The uploaded weights go with the GPU backend; `auto` runs on the CPU and says why.
                    Err(e) => Self::with_context(engine.classifier, backend, Err(e))?,
                }
            }
            Err(e) => Self::with_context(build.await?, backend, Err(e))?,
        };
        if backend == Backend::Auto {
            engine.probe().await;
        }
        Ok(engine)
    }

    /// As [`Engine::new`] with a GPU context made by the caller (or the reason there is none). `auto`
    /// declines a software (fallback) adapter here; the timed probe is [`Engine::with_gpu_backends`]'s.
    pub fn with_context(classifier: Classifier, backend: Backend, ctx: Result<GpuContext>) -> Result<Self> {
        let mut engine = Self::cpu(classifier);
        engine.choice.requested = backend;
        if backend == Backend::Cpu {
            return Ok(engine);
        }
        let ctx = match ctx {
            Ok(ctx) if backend == Backend::Auto && choice::is_software(&ctx.info) => {
                engine.decline_software(ctx.adapter_name());
                return Ok(engine);
            }
            ctx => ctx,
        };
        let adapter = ctx.as_ref().ok().map(GpuContext::adapter_name);
        let software = ctx.as_ref().is_ok_and(|c| choice::is_software(&c.info));
        match ctx.and_then(|ctx| GpuBackend::new(ctx, &engine.classifier.model)) {
            Ok(g) => {
                engine.last = g.ctx.backend_name();
                engine.choice = BackendChoice { fallback_adapter: software, ..BackendChoice::forced(backend, engine.last, adapter) };
                engine.gpu = Some(g);
            }
            Err(e) if backend == Backend::Auto => {
                engine.choice = BackendChoice { reason: e.to_string(), ..BackendChoice::forced(backend, "cpu", adapter) };
                engine.fallback = Some(e.to_string());
            }
            Err(e) => return Err(e),
        }
        Ok(engine)
    }

    /// `auto` on a software adapter (named `adapter`): the CPU, and why.
    fn decline_software(&mut self, adapter: String) {
        let why = format!(
            "the GPU adapter ({adapter}) is a software (fallback) adapter, a CPU emulating a GPU: slower than the CPU path; ask for WebGPU explicitly to use it anyway"
        );
        self.fallback = Some(why.clone());
        self.choice = BackendChoice { reason: why, adapter: Some(adapter), fallback_adapter: true, ..BackendChoice::forced(Backend::Auto, "cpu", None) };
    }

    /// `auto`'s probe on the adapter of `ctx`, whatever kind it is (software adapters included, which
    /// `auto` itself declines without timing them): the engine runs on the faster of the two.
    pub async fn measured(classifier: Classifier, ctx: GpuContext) -> Result<Self> {
        let mut engine = Self::with_context(classifier, Backend::Gpu, Ok(ctx))?;
        engine.choice.requested = Backend::Auto;
        engine.probe().await;
        Ok(engine)
    }

    /// `auto` on a hardware adapter: time one short forward on the GPU (after a warm-up) and on the CPU,
    /// keep the GPU only where it is faster. The result is cached per model shape and adapter.
    async fn probe(&mut self) {
        let Some(g) = self.gpu.as_mut() else { return };
        let name = g.ctx.backend_name();
        let key = choice::cache_key(&self.classifier.model.config, &g.ctx.info);
        let (probe, cached) = match choice::cached(&key) {
            Some(p) => (p, true),
            None => match Self::time_probe(&self.classifier, g).await {
                Ok(p) => {
                    choice::remember(key, p.clone());
                    (p, false)
                }
                Err(e) => {
                    let why = format!("the probe forward failed on the GPU, running on the CPU: {e}");
                    self.choice = BackendChoice { reason: why.clone(), ..BackendChoice::forced(Backend::Auto, "cpu", self.choice.adapter.clone()) };
                    self.fallback = Some(why);
                    self.gpu = None; // its buffers are freed; the shared device stays for other engines
                    self.last = "cpu";
                    return;
                }
            },
        };
        let reason = choice::probe_reason(&probe, name, cached);
        let wins = choice::gpu_wins(&probe);
        self.choice.runs_on = if wins { name } else { "cpu" }.into();
        self.choice.reason = reason.clone();
        self.choice.probe = Some(probe);
        self.choice.cached = cached;
        if !wins {
            self.fallback = Some(reason);
            self.gpu = None; // its buffers are freed; the shared device stays for other engines
            self.last = "cpu";
        }
    }

    /// One warm-up and [`choice::PROBE_GPU_RUNS`] timed GPU forwards, [`choice::PROBE_CPU_RUNS`] CPU
    /// forwards, of [`choice::PROBE_TEXT`]; the fastest of each.
    async fn time_probe(classifier: &Classifier, g: &mut GpuBackend) -> Result<Probe> {
        let (batch, _) = classifier.batch(&[choice::PROBE_TEXT])?;
        let opts = ForwardOptions { trace: TraceRequest::NONE, ..Default::default() };
        let model = &classifier.model;
        let t0 = choice::now_ms();
        model.forward(g, &batch, &opts).await?;
        let gpu_first_ms = choice::now_ms() - t0;
        let mut gpu_ms = f64::INFINITY;
        for _ in 0..choice::PROBE_GPU_RUNS {
            let t = choice::now_ms();
            model.forward(g, &batch, &opts).await?;
            gpu_ms = gpu_ms.min(choice::now_ms() - t);
        }
        let mut cpu_ms = f64::INFINITY;
        for _ in 0..choice::PROBE_CPU_RUNS {
            let t = choice::now_ms();
            crate::cpu::forward(model, &batch, &opts)?;
            cpu_ms = cpu_ms.min(choice::now_ms() - t);
        }
        Ok(Probe { seq: batch.seq, cpu_ms, gpu_ms, gpu_first_ms })
    }

    /// An engine on the CPU backend (no GPU is asked for).
    pub fn cpu(classifier: Classifier) -> Self {
        Self {
            classifier,
            gpu: None,
            fallback: None,
            last: "cpu",
            forwards: 0,
            choice: BackendChoice::forced(Backend::Cpu, "cpu", None),
        }
    }

    /// Where the engine was set to run when it was built, and why (the probe's timings for `auto`).
    pub fn choice(&self) -> &BackendChoice {
        &self.choice
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

    /// Count `n` forward passes run outside [`Engine::forward`] (the CPU head sweep's shared layers).
    pub(crate) fn count_forwards(&mut self, n: u64) {
        self.forwards += n;
        self.last = "cpu";
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

    /// A forward pass with its per-op timings ([`crate::profile`]), repeated until `min_ms` have passed
    /// (at least once, at most [`MAX_TIMED_RUNS`] times); times are the mean over the runs without the
    /// slowest fifth (a busy machine preempts some runs; a browser's timer ticks in up to 0.1 ms steps): on
    /// the CPU every op is timed (wall time, FLOPs, share of the measured peak). On the GPU the whole
    /// forward is the fastest of the runs, and where the device has timestamp queries one more forward
    /// times every dispatch on the device (each in its own compute pass), summed per op; without them the
    /// note says so. Returns the last run's output. The plain [`Engine::forward`] times nothing.
    pub async fn timed_forward(&mut self, batch: &Batch, opts: &ForwardOptions<'_>, min_ms: f64) -> Result<(Output, crate::profile::Timings)> {
        let mut runs = 0u32;
        if self.gpu.is_some() {
            let t0 = choice::now_ms();
            let mut total_ms = f64::INFINITY;
            let out = loop {
                let t = choice::now_ms();
                let out = self.forward(batch, opts).await?;
                total_ms = total_ms.min(choice::now_ms() - t);
                runs += 1;
                if runs >= MAX_TIMED_RUNS || choice::now_ms() - t0 >= min_ms {
                    break out;
                }
            };
            // The forward above may have fallen back to the CPU (device lost): then nothing is timed per op.
            let backend = self.last;
            let (ops, note) = match self.gpu.as_mut() {
                Some(g) if g.has_timestamps() && backend != "cpu" => {
                    g.time_next_forward();
                    let mut p = crate::profile::Profiled::new(g);
                    match self.classifier.model.forward(&mut p, batch, opts).await {
                        Ok(_) => {
                            let ops = p.ops();
                            let sum: f64 = ops.iter().map(|o| o.ms).sum();
                            let note = format!(
                                "{backend}: per-op times from GPU timestamps, one more forward with each dispatch in its own compute pass \
                                 (sum {sum:.3} ms; the whole forward above runs them in one pass); GFLOP/s are the GPU's own, with no peak to compare"
                            );
                            (ops, note)
                        }
                        Err(e) => (Vec::new(), format!("{backend}: the timed forward failed ({e}), so only the whole forward is timed")),
                    }
                }
                _ => (Vec::new(), format!("{backend}: per-op times on the GPU need timestamp queries; this adapter does not offer them, so only the whole forward is timed")),
            };
            let flops = ops.iter().map(|o| o.flops).sum();
            let t = crate::profile::Timings { backend: backend.into(), batch: batch.batch, seq: batch.seq, runs, ops, total_ms, flops, peak_gflops: 0.0, peak_kernel: String::new(), note: Some(note) };
            return Ok((out, t));
        }
        // The peak is measured once per process: before the clock starts, so the first call's `min_ms`
        // goes to forwards.
        let peak_gflops = crate::profile::peak_gflops();
        let peak_kernel = crate::profile::peak_kernel_name().to_string();
        let t0 = choice::now_ms();
        self.last = "cpu";
        // The mean over the runs, leaving out the slowest fifth of them (by whole-forward time): a busy
        // machine preempts some runs, and a browser's timer ticks in up to 0.1 ms steps, which the mean of
        // many runs smooths out where a minimum would read 0 for every short op.
        let mut each: Vec<(f64, Vec<crate::profile::OpTime>)> = Vec::new(); // (runs): (total ms, ops)
        let out = loop {
            self.forwards += 1;
            let mut cpu = crate::cpu::CpuBackend::default();
            let mut p = crate::profile::Profiled::new(&mut cpu);
            let t = choice::now_ms();
            let out = self.classifier.model.record(&mut p, batch, opts)?; // the CPU runs each op at once
            each.push((choice::now_ms() - t, p.ops()));
            runs += 1;
            if runs >= MAX_TIMED_RUNS || choice::now_ms() - t0 >= min_ms {
                break out;
            }
        };
        each.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let kept = &each[..(each.len() - each.len() / 5).max(1)];
        let n = kept.len() as f64;
        let total_ms = kept.iter().map(|r| r.0).sum::<f64>() / n;
        let mut ops = kept[0].1.clone();
        for (i, o) in ops.iter_mut().enumerate() {
            o.ms = kept.iter().map(|r| r.1.get(i).map_or(0.0, |q| q.ms)).sum::<f64>() / n;
        }
        let flops = ops.iter().map(|o| o.flops).sum();
        let t = crate::profile::Timings { backend: "cpu".into(), batch: batch.batch, seq: batch.seq, runs, ops, total_ms, flops, peak_gflops, peak_kernel, note: None };
        Ok((out, t))
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

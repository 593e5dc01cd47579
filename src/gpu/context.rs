//! The GPU context, built once: adapter, device and queue (limits taken from the adapter), one shader
//! module and bind-group layout per [`Kernel`] and one compute pipeline per entry point — each built when
//! first needed: the engine builds those its model's forward of a short text runs at load
//! ([`GpuContext::prepare`]); the others (`main` tiles for long inputs on a hardware GPU, an int8 or f16
//! matmul, ablation, batch statistics) wait for their first use, since on a software adapter one
//! pipeline can take seconds to compile —, and the device's health (lost, or an error nobody caught) so
//! the engine can fall back to the CPU with the reason.
//!
//! One context — per worker in the browser, per process natively — is shared by every engine built there
//! ([`GpuContext::shared`], opened at the first GPU load by [`GpuContext::share`]): a model loaded after
//! another reuses its device, queue and pipelines, and a dropped model frees only its own buffers. In the
//! browser this also bounds what wgpu keeps per device (its WebGPU backend `forget()`s the JS closures of a
//! device's `lost` and `onuncapturederror` handlers: two per device, for good). A lost (or failed) shared
//! context is replaced at the next GPU load.

use crate::error::{Error, Result};
use crate::gpu::ops::{Access, Kernel};
use std::borrow::Cow;
#[cfg(target_arch = "wasm32")]
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

// The shared context and the backends it was opened for: one per thread in the browser (a worker; wgpu's
// WebGPU objects stay on their thread), one per process natively (wgpu's device is thread-safe, its error
// scopes are per thread; a static is never dropped: wgpu must not be dropped while threads are torn down).
#[cfg(target_arch = "wasm32")]
thread_local! {
    static SHARED: RefCell<Option<(wgpu::Backends, GpuContext)>> = const { RefCell::new(None) };
}
#[cfg(not(target_arch = "wasm32"))]
static SHARED: Mutex<Option<(wgpu::Backends, GpuContext)>> = Mutex::new(None);

fn with_shared<T>(f: impl FnOnce(&mut Option<(wgpu::Backends, GpuContext)>) -> T) -> T {
    #[cfg(target_arch = "wasm32")]
    return SHARED.with(|s| f(&mut s.borrow_mut()));
    #[cfg(not(target_arch = "wasm32"))]
    match SHARED.lock() {
        Ok(mut g) => f(&mut g),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// Cloning is cheap and shares the device (wgpu handles are reference-counted).
#[derive(Clone)]
pub struct GpuContext {
    /// The wgpu device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter says about itself (name, backend, driver).
    pub info: wgpu::AdapterInfo,
    /// The device's limits (what the adapter offers).
    pub limits: wgpu::Limits,
    /// Per kernel, in `Kernel::ALL` order: its module and layouts, and one pipeline per entry point, each
    /// built at its first use (or by [`GpuContext::prepare`]); shared by the clones.
    pipelines: Arc<[KernelSlot]>,
    /// Set by the device-lost callback and by errors outside any error scope.
    failure: Arc<Mutex<Option<String>>>,
    /// A 16-byte buffer bound where a kernel's optional input or output is absent.
    pub dummy: wgpu::Buffer,
    /// WGSL's `packed_4x8_integer_dot_product` language feature is there: the int8 matmul is built with
    /// `dot4I8Packed` ([`Kernel::source_on`]), else with the shift-unpack path.
    pub packed_dot4: bool,
}

/// A kernel's shader module, bind group layout and pipeline layout (built at the kernel's first use), and
/// its compute pipelines, one per entry point (each built at that entry's first use).
struct KernelSlot {
    base: OnceLock<(wgpu::ShaderModule, wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    entries: Vec<OnceLock<wgpu::ComputePipeline>>,
}

/// One empty slot per kernel: nothing built yet.
fn empty_slots() -> Arc<[KernelSlot]> {
    Kernel::ALL.iter().map(|k| KernelSlot { base: OnceLock::new(), entries: k.entries().iter().map(|_| OnceLock::new()).collect() }).collect()
}

fn gpu_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Gpu(format!("{what}: {e}"))
}

/// The backends this build asks wgpu for: WebGPU in the browser, Vulkan natively.
pub fn default_backends() -> wgpu::Backends {
    if cfg!(target_arch = "wasm32") {
        wgpu::Backends::BROWSER_WEBGPU
    } else {
        wgpu::Backends::VULKAN
    }
}

impl GpuContext {
    /// Find an adapter among `backends` and open a device with the adapter's limits (pipelines are built
    /// at their first use, or by [`GpuContext::prepare`]). Fails (never panics) when there is no adapter, e.g. no WebGPU in this browser, no Vulkan
    /// driver, or `backends` empty.
    pub async fn new(backends: wgpu::Backends) -> Result<Self> {
        Self::from_adapter(Self::adapter(backends).await?).await
    }

    /// The adapter [`GpuContext::new`] would use (its info says what kind it is before any device exists).
    pub async fn adapter(backends: wgpu::Backends) -> Result<wgpu::Adapter> {
        if backends.is_empty() {
            return Err(Error::Gpu("no GPU adapter: no backend enabled".into()));
        }
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            return Err(Error::Gpu("no GPU adapter: WebGPU is not available here (navigator.gpu missing or requestAdapter() gave none)".into()));
        }
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| gpu_err("no GPU adapter", e))?;
        Ok(adapter)
    }

    /// Open a device on `adapter` with the adapter's limits; no pipeline is built yet.
    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("encoder-lens"),
                // Timestamp queries where offered: the timings panel's per-op GPU times (nothing else uses them).
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| gpu_err("requesting a device", e))?;

        let failure = Arc::new(Mutex::new(None::<String>));
        {
            let f = failure.clone();
            device.set_device_lost_callback(move |reason, msg| {
                if let Ok(mut g) = f.lock() {
                    g.get_or_insert(format!("device lost ({reason:?}): {msg}"));
                }
            });
            let f = failure.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                if let Ok(mut g) = f.lock() {
                    g.get_or_insert(format!("uncaught GPU error: {e}"));
                }
            }));
        }

        let limits = device.limits();
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(Self { device, queue, info, limits, pipelines: empty_slots(), failure, dummy, packed_dot4: packed_dot4_offered() })
    }

    /// This device with the int8 matmul's portable shift-unpack path even where `dot4I8Packed` is offered
    /// (tests and timings compare the two): its own pipeline cache, the same device and queue.
    pub fn without_packed_dot4(&self) -> Self {
        Self { pipelines: empty_slots(), packed_dot4: false, ..self.clone() }
    }

    /// The shared context for `backends` (the worker's in the browser, the process's natively), while it is
    /// healthy: `None` before the first GPU load, for other backends, and once its device is lost or failed.
    pub fn shared(backends: wgpu::Backends) -> Option<Self> {
        with_shared(|s| s.as_ref().filter(|(b, c)| *b == backends && c.health().is_ok()).map(|(_, c)| c.clone()))
    }

    /// Open a device on `adapter` (found for `backends`) and make it the shared context for `backends`,
    /// replacing one that was lost. When another load shared a context while this one waited for its
    /// device (two loads in flight at once), that one is returned and the new device destroyed.
    pub async fn share(backends: wgpu::Backends, adapter: wgpu::Adapter) -> Result<Self> {
        let ctx = Self::from_adapter(adapter).await?;
        if let Some(other) = Self::shared(backends) {
            ctx.device.destroy();
            return Ok(other);
        }
        with_shared(|s| *s = Some((backends, ctx.clone())));
        Ok(ctx)
    }

    /// The shared context for `backends`, opened now when there is none yet (or it was lost).
    pub async fn open_shared(backends: wgpu::Backends) -> Result<Self> {
        match Self::shared(backends) {
            Some(ctx) => Ok(ctx),
            None => Self::share(backends, Self::adapter(backends).await?).await,
        }
    }

    /// True for clones of one context (one device). wgpu's `Device` equality compares ids, which two
    /// instances give out alike.
    pub fn same_as(&self, other: &GpuContext) -> bool {
        Arc::ptr_eq(&self.failure, &other.failure)
    }

    /// "webgpu", "vulkan", … — the API this context runs on.
    pub fn backend_name(&self) -> &'static str {
        match self.info.backend {
            wgpu::Backend::BrowserWebGpu => "webgpu",
            wgpu::Backend::Vulkan => "vulkan",
            wgpu::Backend::Metal => "metal",
            wgpu::Backend::Dx12 => "dx12",
            wgpu::Backend::Gl => "gl",
            _ => "gpu",
        }
    }

    /// Adapter name and driver, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?}, {})", self.info.name, self.info.device_type, self.info.driver_info)
    }

    /// Build the pipelines of `entries` — (kernel, entry point index into [`Kernel::entries`]) — not built
    /// yet, and wait until the device has them (in the browser the GPU process compiles them while this
    /// thread waits without blocking): a shader the device refuses is an error here instead of a failed
    /// forward later.
    pub async fn prepare(&self, entries: &[(Kernel, usize)]) -> Result<()> {
        self.prepare_start(entries).await
    }

    /// As [`GpuContext::prepare`], with the pipelines asked for now, when this is called: what is awaited is
    /// only the device's answer, so this thread can do other work meanwhile (the engine builds its model
    /// from the weights while the browser's GPU process compiles).
    pub fn prepare_start(&self, entries: &[(Kernel, usize)]) -> impl std::future::Future<Output = Result<()>> + use<> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        for &(k, e) in entries {
            self.pipeline_entry(k, e);
        }
        let popped = scope.pop();
        async move {
            match popped.await {
                Some(e) => Err(gpu_err("building the compute pipelines", e)),
                None => Ok(()),
            }
        }
    }

    /// Every pipeline of every kernel, built now (tests; the engine prepares only what its model runs).
    pub async fn prepare_all(&self) -> Result<()> {
        let all: Vec<(Kernel, usize)> = Kernel::ALL.iter().flat_map(|&k| (0..k.entries().len()).map(move |e| (k, e))).collect();
        self.prepare(&all).await
    }

    /// The (kernel, entry point) pipelines built so far, in `Kernel::ALL` and entry order.
    pub fn built(&self) -> Vec<(Kernel, usize)> {
        Kernel::ALL
            .iter()
            .flat_map(|&k| self.pipelines[k as usize].entries.iter().enumerate().filter(|(_, p)| p.get().is_some()).map(move |(e, _)| (k, e)))
            .collect()
    }

    /// Kernel `k`'s shader module, bind group layout and pipeline layout, built now if this is its first use.
    fn base(&self, k: Kernel) -> &(wgpu::ShaderModule, wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        self.pipelines[k as usize].base.get_or_init(|| build_base(&self.device, k, self.packed_dot4))
    }

    /// The bind group layout of kernel `k` (built now if this is its first use).
    pub fn layout(&self, k: Kernel) -> &wgpu::BindGroupLayout {
        &self.base(k).1
    }

    /// The compute pipeline of kernel `k`'s `main`.
    pub fn pipeline(&self, k: Kernel) -> &wgpu::ComputePipeline {
        self.pipeline_entry(k, 0)
    }

    /// The compute pipeline of entry point `entry` (an index into [`Kernel::entries`]) of kernel `k`;
    /// `main` for an index past the end. Built now if this is its first use.
    pub fn pipeline_entry(&self, k: Kernel, entry: usize) -> &wgpu::ComputePipeline {
        let slot = &self.pipelines[k as usize];
        let e = entry.min(slot.entries.len() - 1);
        slot.entries[e].get_or_init(|| {
            let (module, _, layout) = self.base(k);
            self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(k.entries()[e]),
                layout: Some(layout),
                module,
                entry_point: Some(k.entries()[e]),
                // Every kernel writes its workgroup memory before reading it (WebGPU zeroes it anyway).
                compilation_options: wgpu::PipelineCompilationOptions { zero_initialize_workgroup_memory: false, ..Default::default() },
                cache: None,
            })
        })
    }

    /// `Err` with the reason once the device is lost or an error escaped every error scope.
    pub fn health(&self) -> Result<()> {
        match self.failure.lock() {
            Ok(g) => match g.as_ref() {
                Some(m) => Err(Error::Gpu(m.clone())),
                None => Ok(()),
            },
            Err(_) => Err(Error::Gpu("GPU failure state poisoned".into())),
        }
    }

    /// Destroy the device, as a driver reset would: every later forward on it fails and the engine falls
    /// back to the CPU. For tests of that path.
    pub fn simulate_device_loss(&self) {
        self.device.destroy();
        if let Ok(mut g) = self.failure.lock() {
            g.get_or_insert("device lost: destroyed (simulated)".into());
        }
    }

    /// A storage buffer of `bytes` (at least 16), refusing tensors over the device's binding limit.
    pub fn storage_buffer(&self, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        let limit = self.limits.max_storage_buffer_binding_size;
        if bytes > limit || bytes > self.limits.max_buffer_size {
            return Err(Error::GpuLimit(format!(
                "tensor `{label}` needs {bytes} bytes, more than this device allows in one storage binding \
                 (maxStorageBufferBindingSize {limit}, maxBufferSize {}); use the CPU backend for this model/batch",
                self.limits.max_buffer_size
            )));
        }
        let size = bytes.max(16).div_ceil(16) * 16;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC | extra,
            mapped_at_creation: false,
        }))
    }

    /// A storage buffer holding `data`.
    pub fn upload<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buf = self.storage_buffer(label, bytes.len() as u64, wgpu::BufferUsages::empty())?;
        if !bytes.is_empty() {
            self.queue.write_buffer(&buf, 0, bytes);
        }
        Ok(buf)
    }

    /// Map `buffer[..bytes]` for reading and copy it out as f32, awaiting the map callback (natively the
    /// device is polled; in the browser the promise resolves on its own — the thread never blocks).
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<f32>> {
        let slice = buffer.slice(..bytes);
        let (tx, rx) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_err("waiting for the GPU", e))?;
        rx.await
            .map_err(|_| Error::Gpu("readback cancelled (device lost?)".into()))?
            .map_err(|e| gpu_err("mapping the readback buffer", e))?;
        let out = {
            let view = slice.get_mapped_range().map_err(|e| gpu_err("reading the readback buffer", e))?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        buffer.unmap();
        Ok(out)
    }
}

/// Whether WGSL's `packed_4x8_integer_dot_product` language feature is there. The language features belong
/// to the instance: in the browser `navigator.gpu.wgslLanguageFeatures`, natively naga's (it lowers
/// `dot4I8Packed` to SPIR-V's OpSDot where the device has VK_KHR_shader_integer_dot_product, else to
/// bit-field extracts), so an instance without backends answers natively without opening a driver.
fn packed_dot4_offered() -> bool {
    let backends = default_backends() & wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
    instance.wgsl_language_features().contains(wgpu::WgslLanguageFeatures::Packed4x8IntegerDotProduct)
}

/// Kernel `k`'s shader module, bind group layout and pipeline layout. wgpu has no asynchronous pipeline
/// creation; [`GpuContext::prepare`] awaits the error scope around the pipelines, which in the browser
/// resolves once the GPU process has built them, without blocking the page's thread.
fn build_base(device: &wgpu::Device, k: Kernel, packed_dot4: bool) -> (wgpu::ShaderModule, wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(k.file()),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(k.source_on(packed_dot4))),
    });
    let buffer = |ty| wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None };
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: buffer(wgpu::BufferBindingType::Uniform),
        count: None,
    }];
    for (i, a) in k.storage().iter().enumerate() {
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: i as u32 + 1,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: buffer(wgpu::BufferBindingType::Storage { read_only: *a == Access::Read }),
            count: None,
        });
    }
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(k.file()), entries: &entries });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(k.file()),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    (module, layout, pl)
}

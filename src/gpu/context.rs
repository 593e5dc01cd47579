//! The GPU context, built once: adapter, device and queue (limits taken from the adapter), one shader
//! module, bind-group layout and compute pipeline per [`Kernel`], and the device's health (lost, or an
//! error nobody caught) so the engine can fall back to the CPU with the reason.

use crate::error::{Error, Result};
use crate::gpu::ops::{Access, Kernel};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

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
    /// One (layout, pipeline per entry point) per kernel, in `Kernel::ALL` order.
    pipelines: Vec<(wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>)>,
    /// Set by the device-lost callback and by errors outside any error scope.
    failure: Arc<Mutex<Option<String>>>,
    /// A 16-byte buffer bound where a kernel's optional input or output is absent.
    pub dummy: wgpu::Buffer,
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
    /// Find an adapter among `backends`, open a device with the adapter's limits, and build every
    /// pipeline. Fails (never panics) when there is no adapter, e.g. no WebGPU in this browser, no Vulkan
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

    /// Open a device on `adapter` with the adapter's limits and build every pipeline.
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

        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipelines = Kernel::ALL.iter().map(|&k| build_pipeline(&device, k)).collect();
        if let Some(e) = scope.pop().await {
            return Err(gpu_err("building the compute pipelines", e));
        }
        let limits = device.limits();
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(Self { device, queue, info, limits, pipelines, failure, dummy })
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

    /// The bind group layout of kernel `k`.
    pub fn layout(&self, k: Kernel) -> &wgpu::BindGroupLayout {
        &self.pipelines[k as usize].0
    }

    /// The compute pipeline of kernel `k`'s `main`.
    pub fn pipeline(&self, k: Kernel) -> &wgpu::ComputePipeline {
        self.pipeline_entry(k, 0)
    }

    /// The compute pipeline of entry point `entry` (an index into [`Kernel::entries`]) of kernel `k`;
    /// `main` for an index past the end.
    pub fn pipeline_entry(&self, k: Kernel, entry: usize) -> &wgpu::ComputePipeline {
        let p = &self.pipelines[k as usize].1;
        &p[entry.min(p.len() - 1)]
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

/// Kernel `k`'s bind group layout and one pipeline per entry point, all compiled now (at load), so the
/// first forward does not wait for a compiler. wgpu has no asynchronous pipeline creation; the caller
/// awaits the error scope around these, which in the browser resolves once the GPU process has built
/// them, without blocking the page's thread.
fn build_pipeline(device: &wgpu::Device, k: Kernel) -> (wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(k.file()),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(k.source())),
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
    let pipelines = k
        .entries()
        .iter()
        .map(|entry| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pl),
                module: &module,
                entry_point: Some(entry),
                // Every kernel writes its workgroup memory before reading it (WebGPU zeroes it anyway).
                compilation_options: wgpu::PipelineCompilationOptions { zero_initialize_workgroup_memory: false, ..Default::default() },
                cache: None,
            })
        })
        .collect();
    (layout, pipelines)
}

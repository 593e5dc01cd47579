//! Recording one forward's GPU work: dispatches (kernel, params, buffers, workgroups) and readback copies
//! are collected first, then encoded into ONE command encoder — consecutive dispatches share a compute
//! pass, copies sit between passes — with every dispatch's params in one uniform buffer written once,
//! ONE submit, and ONE mapped readback of everything requested. Each op's `record` function
//! (`crate::gpu::ops::<op>::record`) binds its buffers in its shader's order and queues its dispatch here.

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::ops::Kernel;
use bytemuck::Pod;
use std::collections::HashMap;
use std::num::NonZeroU64;

/// What identifies a bind group: the kernel (its layout), where its params sit in the params buffer,
/// and its storage buffers in binding order.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BindKey {
    kernel: Kernel,
    params_offset: u64,
    params_size: u64,
    buffers: Vec<wgpu::Buffer>,
}

/// Submits a cached bind group may go unused before it is dropped (it holds its buffers alive).
const BIND_GROUP_MAX_AGE: u64 = 8;

/// Buffers reused across forwards: the params uniform buffer and the readback (staging) buffer, each
/// grown to the largest size seen; the params last written (not written again while unchanged); and
/// the bind groups of recent submits, so a forward of a shape seen before creates none.
#[derive(Default)]
pub struct Scratch {
    params: Option<wgpu::Buffer>,
    staging: Option<wgpu::Buffer>,
    written: Vec<u8>,
    bind_groups: HashMap<BindKey, (wgpu::BindGroup, u64)>,
    submits: u64,
}

impl Scratch {
    /// Free both buffers on the device now (see [`crate::gpu::GpuBackend`]'s `Drop`).
    pub fn destroy(&mut self) {
        for b in [self.params.take(), self.staging.take()].into_iter().flatten() {
            b.destroy();
        }
    }
}

enum Op {
    Dispatch { kernel: Kernel, entry: usize, params_offset: u64, params_size: u64, buffers: Vec<wgpu::Buffer>, groups: [u32; 3] },
    Copy { src: wgpu::Buffer, src_offset: u64, dst_offset: u64, bytes: u64 },
}

/// Where a readback landed in the result of [`Recorder::submit`], in floats.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// First float.
    pub offset: usize,
    /// Number of floats.
    pub len: usize,
}

impl Slot {
    /// This slot's floats in the whole readback `all`.
    pub fn get<'a>(&self, all: &'a [f32]) -> &'a [f32] {
        &all[self.offset..self.offset + self.len]
    }
}

/// What one submit did (for the report and the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitStats {
    /// Compute dispatches.
    pub dispatches: usize,
    /// Compute passes (consecutive dispatches share one).
    pub compute_passes: usize,
    /// Buffer-to-buffer copies into the readback buffer.
    pub copies: usize,
    /// Queue submits.
    pub submits: usize,
    /// Mapped readbacks.
    pub readbacks: usize,
    /// Bytes read back.
    pub readback_bytes: u64,
    /// Bind groups created (the others came from the cache of earlier submits).
    pub bind_groups_created: usize,
    /// Device buffers the backend created for this forward (inputs, activations; 0 once pooled).
    pub buffers_created: usize,
    /// Bytes of dispatch params written to the uniform buffer (0 when they equal the last submit's).
    pub params_bytes_written: u64,
}

/// Collects one forward's dispatches and copies, then encodes and submits them at once.
pub struct Recorder {
    /// The device it records for.
    pub ctx: GpuContext,
    ops: Vec<Op>,
    params: Vec<u8>,
    readback_bytes: u64,
    /// Time every dispatch with timestamp queries (see [`Recorder::time_dispatches`]).
    timed: bool,
}

/// Whether `ctx`'s device can time dispatches (WebGPU's `timestamp-query` feature, requested at device
/// creation where the adapter offers it).
pub fn has_timestamps(ctx: &GpuContext) -> bool {
    ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
}

impl Recorder {
    /// An empty recording on `ctx`.
    pub fn new(ctx: &GpuContext) -> Self {
        Self { ctx: ctx.clone(), ops: Vec::new(), params: Vec::new(), readback_bytes: 0, timed: false }
    }

    /// Time each dispatch of this recording on the device: every dispatch gets its own compute pass
    /// with a timestamp at its start and end (WebGPU times passes, not dispatches inside one), so
    /// [`Recorder::submit_timed`] returns one duration per dispatch. Without timestamp queries on the
    /// device, or with more dispatches than one query set holds, nothing is timed.
    pub fn time_dispatches(&mut self) {
        self.timed = has_timestamps(&self.ctx);
    }

    /// Workgroup counts `[gx, gy, 1]` covering `groups` workgroups within the per-dimension limit.
    pub fn grid(&self, groups: usize) -> Result<[u32; 3]> {
        let max = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
        let gx = groups.clamp(1, max);
        let gy = groups.div_ceil(gx).max(1);
        if gy > max {
            return Err(Error::GpuLimit(format!("{groups} workgroups exceed this device's dispatch limit")));
        }
        Ok([gx as u32, gy as u32, 1])
    }

    /// Queue one dispatch of `kernel`'s `main` with `params` and storage `buffers` (bindings 1.. in order).
    pub fn dispatch<P: Pod>(&mut self, kernel: Kernel, params: &P, buffers: &[&wgpu::Buffer], groups: [u32; 3]) -> Result<()> {
        self.dispatch_entry(kernel, 0, params, buffers, groups)
    }

    /// As [`Recorder::dispatch`], of entry point `entry` (an index into [`Kernel::entries`]).
    pub fn dispatch_entry<P: Pod>(&mut self, kernel: Kernel, entry: usize, params: &P, buffers: &[&wgpu::Buffer], groups: [u32; 3]) -> Result<()> {
        if entry >= kernel.entries().len() {
            return Err(Error::Gpu(format!("{kernel:?}: no entry point {entry}")));
        }
        let max = self.ctx.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::GpuLimit(format!("{kernel:?}: dispatch {groups:?} exceeds the device limit of {max} per dimension")));
        }
        if buffers.len() != kernel.storage().len() || size_of::<P>() != kernel.params_size() {
            return Err(Error::Gpu(format!("{kernel:?}: wrong bindings or params for this kernel")));
        }
        let align = self.ctx.limits.min_uniform_buffer_offset_alignment.max(16) as usize;
        let params_offset = self.params.len().div_ceil(align) * align;
        self.params.resize(params_offset, 0);
        self.params.extend_from_slice(bytemuck::bytes_of(params));
        self.ops.push(Op::Dispatch {
            kernel,
            entry,
            params_offset: params_offset as u64,
            params_size: size_of::<P>() as u64,
            buffers: buffers.iter().map(|&b| b.clone()).collect(),
            groups,
        });
        Ok(())
    }

    /// Copy `floats` values of `src` (from float `offset`) into the readback, at this point of the
    /// command stream.
    pub fn read(&mut self, src: &wgpu::Buffer, offset: usize, floats: usize) -> Slot {
        let slot = Slot { offset: (self.readback_bytes / 4) as usize, len: floats };
        if floats > 0 {
            let bytes = floats as u64 * 4;
            self.ops.push(Op::Copy { src: src.clone(), src_offset: offset as u64 * 4, dst_offset: self.readback_bytes, bytes });
            self.readback_bytes += bytes;
        }
        slot
    }

    /// Dispatches recorded so far.
    pub fn dispatch_count(&self) -> usize {
        self.ops.iter().filter(|o| matches!(o, Op::Dispatch { .. })).count()
    }

    /// Encode everything into one command encoder, submit once, map the readback once and return it.
    /// Validation and out-of-memory errors come back as `Err`, never as a panic.
    pub async fn submit(self, scratch: &mut Scratch) -> Result<(Vec<f32>, SubmitStats)> {
        let (out, stats, _) = self.submit_timed(scratch).await?;
        Ok((out, stats))
    }

    /// As [`Recorder::submit`], plus each dispatch's GPU time in milliseconds, in recording order, when
    /// [`Recorder::time_dispatches`] was asked for and the device can (else `None`).
    pub async fn submit_timed(self, scratch: &mut Scratch) -> Result<(Vec<f32>, SubmitStats, Option<Vec<f64>>)> {
        let ctx = &self.ctx;
        ctx.health()?;
        let device = &ctx.device;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let params_len = (self.params.len().max(16)).div_ceil(16) as u64 * 16;
        if scratch.params.as_ref().is_none_or(|b| b.size() < params_len) {
            // The cached bind groups bind the old params buffer.
            scratch.bind_groups.clear();
            scratch.written.clear();
            scratch.params = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("params"),
                size: params_len,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let dispatches = self.dispatch_count() as u64;
        let queries = (self.timed && dispatches > 0 && 2 * dispatches <= wgpu::QUERY_SET_MAX_QUERIES as u64).then_some(2 * dispatches);
        // Timestamps (u64 each) follow the floats in the readback, at an offset a resolve can target.
        let stamps_at = self.readback_bytes.div_ceil(wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT) * wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT;
        let stamp_bytes = queries.map_or(0, |q| q * wgpu::QUERY_SIZE as u64);
        let readback_end = if stamp_bytes > 0 { stamps_at + stamp_bytes } else { self.readback_bytes };
        let readback_len = readback_end.max(16).div_ceil(16) * 16;
        if readback_len > ctx.limits.max_buffer_size {
            return Err(Error::GpuLimit(format!(
                "readback of {} bytes exceeds this device's maxBufferSize {}",
                self.readback_bytes, ctx.limits.max_buffer_size
            )));
        }
        if scratch.staging.as_ref().is_none_or(|b| b.size() < readback_len) {
            scratch.staging = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: readback_len,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let (Some(params), Some(staging)) = (scratch.params.as_ref(), scratch.staging.as_ref()) else {
            return Err(Error::Gpu("scratch buffers missing".into()));
        };

        let mut stats = SubmitStats::default();
        scratch.submits += 1;
        let now = scratch.submits;
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") });
        let timing = queries.map(|count| {
            let set = device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("dispatch times"), ty: wgpu::QueryType::Timestamp, count: count as u32 });
            let resolved = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("dispatch times"),
                size: count * wgpu::QUERY_SIZE as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolved)
        });
        let mut timed_dispatch = 0u32;
        let mut i = 0;
        while i < self.ops.len() {
            match &self.ops[i] {
                Op::Copy { src, src_offset, dst_offset, bytes } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, staging, *dst_offset, *bytes);
                    stats.copies += 1;
                    i += 1;
                }
                Op::Dispatch { .. } => {
                    let timestamp_writes = timing.as_ref().map(|(set, _)| wgpu::ComputePassTimestampWrites {
                        query_set: set,
                        beginning_of_pass_write_index: Some(2 * timed_dispatch),
                        end_of_pass_write_index: Some(2 * timed_dispatch + 1),
                    });
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
                    stats.compute_passes += 1;
                    while let Some(Op::Dispatch { kernel, entry, params_offset, params_size, buffers, groups }) = self.ops.get(i) {
                        if timing.is_some() && stats.dispatches > timed_dispatch as usize {
                            break; // timed: one dispatch per pass
                        }
                        let key = BindKey { kernel: *kernel, params_offset: *params_offset, params_size: *params_size, buffers: buffers.clone() };
                        let bg = match scratch.bind_groups.get_mut(&key) {
                            Some((bg, used)) => {
                                *used = now;
                                bg.clone()
                            }
                            None => {
                                let mut entries = vec![wgpu::BindGroupEntry {
                                    binding: 0,
                                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                        buffer: params,
                                        offset: *params_offset,
                                        size: NonZeroU64::new(*params_size),
                                    }),
                                }];
                                for (j, b) in buffers.iter().enumerate() {
                                    entries.push(wgpu::BindGroupEntry { binding: j as u32 + 1, resource: b.as_entire_binding() });
                                }
                                let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
                                    label: Some(kernel.file()),
                                    layout: ctx.layout(*kernel),
                                    entries: &entries,
                                });
                                stats.bind_groups_created += 1;
                                scratch.bind_groups.insert(key, (bg.clone(), now));
                                bg
                            }
                        };
                        pass.set_pipeline(ctx.pipeline_entry(*kernel, *entry));
                        pass.set_bind_group(0, &bg, &[]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        stats.dispatches += 1;
                        i += 1;
                    }
                    if timing.is_some() {
                        timed_dispatch += 1;
                    }
                }
            }
        }
        if let (Some((set, resolved)), Some(count)) = (timing.as_ref(), queries) {
            encoder.resolve_query_set(set, 0..count as u32, resolved, 0);
            encoder.copy_buffer_to_buffer(resolved, 0, staging, stamps_at, stamp_bytes);
        }
        // Drop the bind groups no recent submit used (each keeps its buffers alive).
        scratch.bind_groups.retain(|_, (_, used)| now - *used < BIND_GROUP_MAX_AGE);
        if scratch.written != self.params {
            ctx.queue.write_buffer(params, 0, &self.params);
            stats.params_bytes_written = self.params.len() as u64;
            scratch.written = self.params.clone();
        }
        ctx.queue.submit([encoder.finish()]);
        stats.submits = 1;
        let oom = oom.pop();
        let validation = validation.pop();
        if let Some(e) = oom.await {
            return Err(Error::Gpu(format!("out of GPU memory: {e}")));
        }
        if let Some(e) = validation.await {
            return Err(Error::Gpu(format!("GPU validation error: {e}")));
        }
        let mut out = ctx.read_f32(staging, readback_end.max(4)).await?;
        let times = timing.map(|(set, resolved)| {
            // Each pair (start, end) of u64 ticks, stored as two f32 words each.
            let words = &out[(stamps_at / 4) as usize..(readback_end / 4) as usize];
            let ticks: Vec<u64> = words.chunks_exact(2).map(|w| u64::from(w[0].to_bits()) | (u64::from(w[1].to_bits()) << 32)).collect();
            let ns_per_tick = ctx.queue.get_timestamp_period() as f64;
            set.destroy();
            resolved.destroy();
            ticks.chunks_exact(2).map(|t| t[1].saturating_sub(t[0]) as f64 * ns_per_tick / 1e6).collect::<Vec<f64>>()
        });
        out.truncate((self.readback_bytes.max(4) / 4) as usize);
        stats.readbacks = 1;
        stats.readback_bytes = self.readback_bytes;
        ctx.health()?;
        Ok((out, stats, times))
    }
}

//! The GPU backend. [`GpuBackend::new`] uploads every parameter of a model once (but the word embedding
//! table: a forward's word rows are gathered on the host and written with its inputs); during a forward each op
//! of [`Backend`] records one dispatch (or a readback copy) into a [`Recorder`], with activations taken
//! from a buffer pool reused across forwards; [`Backend::finish`] encodes everything into one command
//! encoder, submits once and maps one readback buffer.

use crate::model::backend::Backend;
use crate::batch::Batch;
use crate::config::{Activation, Pooling};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::{Recorder, Scratch, Slot, SubmitStats};
use crate::gpu::ops::{self, attention::MAX_HEAD_DIM, matmul::act, matmul_int8::Int8Buffers};
use crate::model::delight::Glt;
use crate::model::embeddings::Embeddings;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::param::{Param, ParamId, Weight};
use crate::model::{AblationMode, BatchNormStats, Model};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// An activation on the device: `len` floats at the start of `buf` (pooled, possibly larger).
pub struct GpuTensor {
    buf: wgpu::Buffer,
    len: usize,
}

/// A host copy asked for during the forward.
pub enum GpuPending {
    /// `shape`'s floats at `slot` of the readback.
    Device(Slot, Vec<usize>),
    /// A tensor that is on the host already.
    Host(Tensor),
}

/// The per-forward inputs, sized for the largest batch seen.
struct Inputs {
    rows: usize,            // capacity in batch·seq rows
    batch: usize,           // capacity in sequences
    ids: wgpu::Buffer,      // (rows) u32: row r's row in `words` (r: the word rows are gathered on the host)
    type_ids: wgpu::Buffer, // (rows) u32
    lengths: wgpu::Buffer,  // (batch) u32
}

/// The word embedding rows of a forward's tokens, gathered on the host: the (vocab, d) table — the largest
/// tensor of a small model (all-MiniLM-L6-v2: 47 of its 90 MB) — is never uploaded.
struct Words {
    floats: usize,       // capacity in floats
    buf: wgpu::Buffer,   // (rows, d) f32
}

/// Most idle activation buffers kept between forwards.
const MAX_POOLED: usize = 24;

/// The GPU backend: the model's weights uploaded once (by [`crate::model::param::ParamId`]) and each forward
/// recorded into one command encoder, one submit and one readback.
pub struct GpuBackend {
    /// The device, queue and cached pipelines.
    pub ctx: GpuContext,
    weights: HashMap<ParamId, wgpu::Buffer>,
    /// f16 weights (packed halves) by their weight's id, uploaded at their first use.
    halves: HashMap<ParamId, wgpu::Buffer>,
    /// int8 weights (packed words + per-row scale and sum, outlier column indices) by their weight's id,
    /// uploaded at first use (the outlier columns' f32 weights are parameters, in `weights`).
    int8: HashMap<ParamId, Int8Buffers>,
    pool: Vec<GpuTensor>,
    inputs: Option<Inputs>,
    /// One per `embed` of a recording (written before its submit, so two embeds of one recording need two).
    words: Vec<Words>,
    /// `embed`s recorded since `begin`.
    embeds: usize,
    rec: Option<Recorder>,
    scratch: Scratch,
    /// Device buffers created since `begin` (reported in `last`).
    created: usize,
    /// What the last forward did.
    pub last: SubmitStats,
    /// Time the next forward's dispatches ([`GpuBackend::time_next_forward`]).
    time_next: bool,
    /// Each dispatch's GPU time in ms of the last timed forward, in recording order (empty when untimed).
    pub dispatch_ms: Vec<f64>,
}

/// The parameters that live on the device: all but the word embedding table (its rows are gathered on the
/// host per forward, see [`Words`]).
fn device_params(model: &Model) -> impl Iterator<Item = &Param> {
    let word = model.embeddings.word.id;
    model.params().into_iter().filter(move |p| p.id != word)
}

fn act_code(a: Option<Activation>) -> u32 {
    match a {
        None => act::NONE,
        Some(Activation::Relu) => act::RELU,
        Some(Activation::Gelu) => act::GELU,
        Some(Activation::GeluTanh) => act::GELU_TANH,
        Some(Activation::Tanh) => act::TANH,
        Some(Activation::Silu) => act::SILU,
    }
}

/// wgpu's WebGPU backend leaves a dropped buffer to the JavaScript garbage collector (its `Drop` is a
/// no-op), which keeps the GPU memory until a collection the GPU's own memory pressure does not trigger:
/// the buffers this backend owns (weights, pooled activations, inputs, scratch) are destroyed when it goes.
/// (Natively wgpu frees them on drop anyway; destroying first changes nothing there.)
impl Drop for GpuBackend {
    fn drop(&mut self) {
        for b in self.weights.values().chain(self.halves.values()) {
            b.destroy();
        }
        for w in self.int8.values() {
            for b in [&w.words, &w.rows].into_iter().chain(&w.cols) {
                b.destroy();
            }
        }
        for t in &self.pool {
            t.buf.destroy();
        }
        if let Some(i) = &self.inputs {
            for b in [&i.ids, &i.type_ids, &i.lengths] {
                b.destroy();
            }
        }
        for w in &self.words {
            w.buf.destroy();
        }
        self.scratch.destroy();
    }
}

impl GpuBackend {
    /// Upload `model`'s parameters to the device of `ctx` (once).
    pub fn new(ctx: GpuContext, model: &Model) -> Result<Self> {
        let c = &model.config;
        let head_dim = c.delight.as_ref().map_or(c.head_dim(), |d| d.d_o); // DeLighT: one head on d_o
        if head_dim > MAX_HEAD_DIM {
            return Err(Error::Gpu(format!("head size {head_dim} is larger than the GPU kernel's {MAX_HEAD_DIM}")));
        }
        let mut weights = HashMap::new();
        for p in device_params(model) {
            if let std::collections::hash_map::Entry::Vacant(slot) = weights.entry(p.id) {
                slot.insert(ctx.upload("parameter", p.data())?);
            }
        }
        let (pool, words) = (Vec::new(), Vec::new());
        Ok(Self { ctx, weights, halves: HashMap::new(), int8: HashMap::new(), pool, inputs: None, words, embeds: 0, rec: None, scratch: Scratch::default(), created: 0, last: SubmitStats::default(), time_next: false, dispatch_ms: Vec::new() })
    }

    /// Upload the parameters of `model` this backend does not hold yet (e.g. a newly trained head).
    pub fn upload_missing(&mut self, model: &Model) -> Result<()> {
        for p in device_params(model) {
            if !self.weights.contains_key(&p.id) {
                let b = self.ctx.upload("parameter", p.data())?;
                self.weights.insert(p.id, b);
            }
        }
        Ok(())
    }

    fn weight(&self, p: &Param) -> Result<&wgpu::Buffer> {
        self.weights.get(&p.id).ok_or_else(|| Error::Gpu("a parameter of this model was never uploaded (another model's layer?)".into()))
    }

    fn rec(&mut self) -> Result<&mut Recorder> {
        self.rec.as_mut().ok_or_else(|| Error::Gpu("GPU op outside a forward pass (begin was not called)".into()))
    }

    fn inputs(&self) -> Result<&Inputs> {
        self.inputs.as_ref().ok_or_else(|| Error::Gpu("no input buffers".into()))
    }

    /// A device buffer of at least `len` floats, from the pool when one fits.
    fn alloc(&mut self, len: usize) -> Result<GpuTensor> {
        let best = self.pool.iter().enumerate().filter(|(_, t)| t.buf.size() >= len as u64 * 4).min_by_key(|(_, t)| t.buf.size());
        if let Some((i, _)) = best {
            let mut t = self.pool.swap_remove(i);
            t.len = len;
            return Ok(t);
        }
        self.created += 1;
        Ok(GpuTensor { buf: self.ctx.storage_buffer("activation", len as u64 * 4, wgpu::BufferUsages::empty())?, len })
    }

    fn matmul(&mut self, x: &GpuTensor, l: &Linear, out: &GpuTensor, act: u32, accumulate: bool) -> Result<()> {
        let (k, n) = (l.in_dim(), l.out_dim());
        let m = x.len / k.max(1);
        let b = l.bias.as_ref().map(|b| self.weight(b).cloned()).transpose()?;
        match &l.weight {
            Weight::F32(p) => {
                let w = self.weight(p)?.clone();
                ops::matmul::record(self.rec()?, &x.buf, &w, b.as_ref(), &out.buf, (m, k, n), act, accumulate)
            }
            Weight::F16(h) => {
                if !self.halves.contains_key(&h.id) {
                    let buf = self.ctx.upload("f16 weight", &ops::matmul_f16::pack(h))?;
                    self.halves.insert(h.id, buf);
                    self.created += 1;
                }
                let w = self.halves[&h.id].clone();
                ops::matmul_f16::record(self.rec()?, &x.buf, &w, b.as_ref(), &out.buf, (m, k, n), act, accumulate)
            }
            Weight::Int8(q) => {
                if !self.int8.contains_key(&q.id) {
                    let bufs = Int8Buffers::upload(&self.ctx, q)?;
                    self.created += bufs.buffers();
                    self.int8.insert(q.id, bufs);
                }
                // The outlier columns' f32 weights (n, ncols): a parameter, uploaded with the others.
                let wo = q.outliers.as_ref().map(|o| self.weight(&o.weight).cloned()).transpose()?;
                // The input's parameters over the whole (m, k) tensor, then the product (two dispatches).
                let qp = self.alloc(ops::act_quant::QP_WORDS)?; // (4) u32: scale, zero point, 1/scale, ok
                let rec = self.rec.as_mut().ok_or_else(|| Error::Gpu("GPU op outside a forward pass (begin was not called)".into()))?;
                let w = &self.int8[&q.id];
                ops::act_quant::record(rec, &x.buf, &qp.buf, (m * k, 1), w.act_grid(k))?;
                ops::matmul_int8::record(rec, &x.buf, &qp.buf, w, wo.as_ref(), b.as_ref(), &out.buf, (m, k, n), act, accumulate, false)?;
                self.release(qp);
                Ok(())
            }
        }
    }

    /// Time each dispatch of the next forward with GPU timestamps (one compute pass per dispatch), where
    /// the device has timestamp queries; the times land in [`GpuBackend::dispatch_ms`].
    pub fn time_next_forward(&mut self) {
        self.time_next = true;
    }

    /// Whether this device records per-dispatch times ([`GpuBackend::time_next_forward`]).
    pub fn has_timestamps(&self) -> bool {
        crate::gpu::encode::has_timestamps(&self.ctx)
    }
}

/// Marks are dispatch counts; a span sums its dispatches' timestamps of the last (timed) forward.
impl crate::profile::OpClock for GpuBackend {
    fn mark(&self) -> f64 {
        self.rec.as_ref().map_or(0, |r| r.dispatch_count()) as f64
    }
    fn span_ms(&self, from: f64, to: f64) -> f64 {
        let (from, to) = (from as usize, (to as usize).min(self.dispatch_ms.len()));
        self.dispatch_ms.get(from..to).map_or(0.0, |d| d.iter().sum())
    }
}

impl crate::profile::TensorLen for GpuTensor {
    fn len_floats(&self) -> usize {
        self.len
    }
}

impl Backend for GpuBackend {
    type Tensor = GpuTensor;
    type Pending = GpuPending;
    type Fetched = Vec<f32>;

    fn begin(&mut self, batch: &Batch) -> Result<()> {
        self.ctx.health()?;
        self.created = 0;
        self.embeds = 0;
        let (rows, b) = (batch.rows(), batch.batch);
        if self.inputs.as_ref().is_none_or(|i| i.rows < rows || i.batch < b) {
            let (rows, b) = self.inputs.as_ref().map_or((rows, b), |i| (i.rows.max(rows), i.batch.max(b)));
            let f = |name: &str, n: usize| self.ctx.storage_buffer(name, n as u64 * 4, wgpu::BufferUsages::empty());
            self.inputs = Some(Inputs { rows, batch: b, ids: f("ids", rows)?, type_ids: f("type ids", rows)?, lengths: f("lengths", b)? });
            self.created += 3;
        }
        let i = self.inputs()?;
        let q = &self.ctx.queue;
        let rows_of: Vec<u32> = (0..rows as u32).collect();
        q.write_buffer(&i.ids, 0, bytemuck::cast_slice(&rows_of));
        let types: Vec<u32> = batch.type_ids.clone().unwrap_or_else(|| vec![0; rows]);
        q.write_buffer(&i.type_ids, 0, bytemuck::cast_slice(&types));
        let lengths: Vec<u32> = batch.lengths.iter().map(|&l| l as u32).collect();
        q.write_buffer(&i.lengths, 0, bytemuck::cast_slice(&lengths));
        let mut rec = Recorder::new(&self.ctx);
        if std::mem::take(&mut self.time_next) {
            rec.time_dispatches();
        }
        self.rec = Some(rec);
        Ok(())
    }

    fn embed(&mut self, e: &Embeddings, batch: &Batch) -> Result<GpuTensor> {
        let d = e.dim();
        // The tokens' word rows, gathered here (rows, d): the kernel reads row r of them for token r.
        let table = e.word.data();
        let mut gathered = Vec::with_capacity(batch.rows() * d);
        for &id in &batch.ids {
            let row = table.get(id as usize * d..(id as usize + 1) * d).ok_or_else(|| Error::Input(format!("token id {id} is outside the vocabulary ({} rows)", table.len() / d.max(1))))?;
            gathered.extend_from_slice(row);
        }
        let k = self.embeds;
        if self.words.get(k).is_none_or(|w| w.floats < gathered.len()) {
            let floats = self.words.get(k).map_or(0, |w| w.floats).max(gathered.len());
            let w = Words { floats, buf: self.ctx.storage_buffer("word rows", floats as u64 * 4, wgpu::BufferUsages::empty())? };
            self.created += 1;
            match self.words.get_mut(k) {
                Some(old) => std::mem::replace(old, w).buf.destroy(),
                None => self.words.push(w),
            }
        }
        self.embeds += 1;
        let word = self.words[k].buf.clone();
        if !gathered.is_empty() {
            self.ctx.queue.write_buffer(&word, 0, bytemuck::cast_slice(&gathered));
        }
        let out = self.alloc(batch.rows() * d)?;
        let position = self.weight(&e.position)?.clone();
        let table = e.token_type.as_ref().map(|t| self.weight(t).cloned()).transpose()?;
        let i = self.inputs()?;
        let (ids, type_ids) = (i.ids.clone(), i.type_ids.clone());
        let types = table.as_ref().map(|t| (&type_ids, t));
        ops::embed::record(self.rec()?, &ids, types, &word, &position, &out.buf, (batch.rows(), batch.seq, d), e.scale)?;
        Ok(out)
    }

    fn linear(&mut self, x: &GpuTensor, l: &Linear, act: Option<Activation>) -> Result<GpuTensor> {
        let out = self.alloc(x.len / l.in_dim() * l.out_dim())?;
        self.matmul(x, l, &out, act_code(act), false)?;
        Ok(out)
    }

    fn linear_add(&mut self, x: &GpuTensor, l: &Linear, acc: &mut GpuTensor) -> Result<()> {
        self.matmul(x, l, acc, act::NONE, true)
    }

    fn glt(&mut self, x: &GpuTensor, mix: Option<&GpuTensor>, g: &Glt) -> Result<GpuTensor> {
        let (xd, md, n) = (g.x_dim(), g.mix_dim, g.out_dim);
        let rows = x.len / xd;
        if mix.is_some_and(|m| m.len != rows * md) || (mix.is_none() && md != 0) {
            return Err(Error::Input(format!("glt: mixed input does not match ({rows} rows, width {md})")));
        }
        let out = self.alloc(rows * n)?;
        let (w, b) = (self.weight(&g.weight)?.clone(), self.weight(&g.bias)?.clone());
        let m = mix.map(|m| m.buf.clone());
        ops::glt::record(self.rec()?, &x.buf, m.as_ref(), &w, &b, &out.buf, (rows, xd, md, n, g.groups))?;
        Ok(out)
    }

    fn activation(&mut self, x: &mut GpuTensor, a: Activation) -> Result<()> {
        let len = x.len;
        ops::activation::record(self.rec()?, &x.buf, len, act_code(Some(a)))
    }

    fn attention(&mut self, qkv: &GpuTensor, batch: &Batch, heads: usize, probs: bool) -> Result<(GpuTensor, Option<GpuPending>)> {
        let (b, s) = (batch.batch, batch.seq);
        let d = qkv.len / (3 * batch.rows());
        let ctx = self.alloc(batch.rows() * d)?;
        let p = if probs { Some(self.alloc(b * heads * s * s)?) } else { None };
        let lengths = self.inputs()?.lengths.clone();
        ops::attention::record(self.rec()?, &qkv.buf, &lengths, &ctx.buf, p.as_ref().map(|p| &p.buf), (b, s, heads, d / heads))?;
        let read = p.map(|p| {
            let r = self.read(&p, vec![b, heads, s, s]);
            self.release(p);
            r
        });
        Ok((ctx, read))
    }

    fn ablate_heads(&mut self, ctx: &mut GpuTensor, batch: &Batch, heads: usize, keep: &[f32], mode: AblationMode) -> Result<()> {
        let d = ctx.len / batch.rows();
        if keep.len() != batch.batch * heads || heads == 0 || d % heads != 0 {
            return Err(Error::Input(format!("head gate of {} values for {} sequences × {heads} heads", keep.len(), batch.batch)));
        }
        let gate = self.ctx.upload("head gate", keep)?; // (batch, heads), written before the submit
        self.created += 1;
        let lengths = self.inputs()?.lengths.clone();
        ops::head_ablate::record(self.rec()?, &ctx.buf, &gate, &lengths, (batch.batch, batch.seq, heads, d / heads), mode == AblationMode::Mean)
    }

    fn norm(&mut self, x: &GpuTensor, n: &Norm, batch: &Batch, bn: BatchNormStats, stats: bool) -> Result<(GpuTensor, Option<[GpuPending; 2]>)> {
        let out = self.alloc(x.len)?;
        // LayerNorm normalises chunks of its own width (DeLighT's per-group norms: several per row).
        let (rows, d) = match n {
            Norm::Layer { .. } => (x.len / n.dim().max(1), n.dim()),
            Norm::Batch { .. } => (batch.rows(), x.len / batch.rows()),
        };
        // LayerNorm: per-row (2·rows) [mean | var], shaped (batch, seq); BatchNorm: this batch's (2·d).
        let (s, count, shape) = match n {
            Norm::Layer { weight, bias, eps } => {
                let s = self.alloc(2 * rows)?;
                let (w, b) = (self.weight(weight)?.clone(), self.weight(bias)?.clone());
                ops::layer_norm::record(self.rec()?, &x.buf, &w, &b, &out.buf, &s.buf, (rows, d), *eps)?;
                (s, rows, vec![batch.batch, batch.seq])
            }
            Norm::Batch { weight, bias, running, eps } => {
                let s = self.alloc(2 * d)?;
                if stats || bn == BatchNormStats::Batch {
                    ops::batch_stats::record(self.rec()?, &x.buf, &s.buf, (rows, d))?;
                }
                let (w, b, r) = (self.weight(weight)?.clone(), self.weight(bias)?.clone(), self.weight(running)?.clone());
                let used = if bn == BatchNormStats::Batch { &s.buf } else { &r };
                ops::batch_norm::record(self.rec()?, &x.buf, used, &w, &b, &out.buf, (rows, d), *eps)?;
                (s, d, vec![d])
            }
        };
        let read = if stats {
            let rec = self.rec()?;
            let (mean, var) = (rec.read(&s.buf, 0, count), rec.read(&s.buf, count, count));
            Some([GpuPending::Device(mean, shape.clone()), GpuPending::Device(var, shape)])
        } else {
            None
        };
        self.release(s);
        Ok((out, read))
    }

    fn pool(&mut self, x: &GpuTensor, batch: &Batch, pooling: Pooling) -> Result<GpuTensor> {
        let d = x.len / batch.rows();
        let out = self.alloc(batch.batch * d)?;
        let lengths = self.inputs()?.lengths.clone();
        ops::pool::record(self.rec()?, &x.buf, &lengths, &out.buf, (batch.batch, batch.seq, d), pooling == Pooling::Cls)?;
        Ok(out)
    }

    fn softmax(&mut self, x: &GpuTensor, n: usize) -> Result<GpuTensor> {
        let out = self.alloc(x.len)?;
        ops::softmax::record(self.rec()?, &x.buf, &out.buf, (x.len / n, n))?;
        Ok(out)
    }

    fn read(&mut self, x: &GpuTensor, shape: Vec<usize>) -> GpuPending {
        match self.rec.as_mut() {
            Some(r) => GpuPending::Device(r.read(&x.buf, 0, x.len), shape),
            None => GpuPending::Host(Tensor::zeros(vec![0])),
        }
    }

    fn host(&mut self, t: Tensor) -> GpuPending {
        GpuPending::Host(t)
    }

    fn release(&mut self, x: GpuTensor) {
        if self.pool.len() >= MAX_POOLED {
            // Keep the larger buffers: drop the smallest idle one.
            if let Some((i, _)) = self.pool.iter().enumerate().min_by_key(|(_, t)| t.buf.size()) {
                self.pool.swap_remove(i);
            }
        }
        self.pool.push(x);
    }

    async fn finish(&mut self) -> Result<Vec<f32>> {
        let rec = self.rec.take().ok_or_else(|| Error::Gpu("finish without a forward pass".into()))?;
        let (data, stats, times) = rec.submit_timed(&mut self.scratch).await?;
        self.last = SubmitStats { buffers_created: self.created, ..stats };
        self.dispatch_ms = times.unwrap_or_default();
        Ok(data)
    }

    fn fetch(&self, fetched: &Vec<f32>, p: GpuPending) -> Tensor {
        match p {
            GpuPending::Device(slot, shape) => Tensor { shape, data: slot.get(fetched).to_vec() },
            GpuPending::Host(t) => t,
        }
    }
}

//! The encoder on the GPU. [`GpuModel::new`] uploads the model's public weight tensors once;
//! [`GpuModel::forward`] records the whole forward pass (embedding → layers → final norm → pooling →
//! pooler → classifier → softmax) into one command encoder, submits once and reads back once: the final
//! hidden states, pooled vector, logits and probabilities, plus — only when a trace is asked for — every
//! layer's attention probabilities (from the fused attention kernel), norm statistics and hidden states.
//! It returns the same [`Output`] and [`Trace`] as the CPU path.

use crate::config::{Activation, NormKind, Pooling};
use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::encode::{self, Recorder, Scratch, Slot, SubmitStats};
use crate::gpu::kernels::{act, MAX_HEAD_DIM};
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::{Batch, BatchNormStats, ForwardOptions, Model, Output};
use crate::tensor::Tensor;
use crate::trace::{LayerTrace, NormTrace, Trace};

struct GpuLinear {
    w: wgpu::Buffer,         // (n, k)
    b: Option<wgpu::Buffer>, // (n)
    k: usize,
    n: usize,
}

enum GpuNorm {
    Layer { w: wgpu::Buffer, b: wgpu::Buffer, eps: f32 },
    /// `running`: (2·d) = [running_mean | running_var]; host copies kept for the trace.
    Batch { w: wgpu::Buffer, b: wgpu::Buffer, running: wgpu::Buffer, eps: f32, mean: Tensor, var: Tensor },
}

struct GpuLayer {
    in_proj: GpuLinear,  // (3d, d)
    out_proj: GpuLinear, // (d, d)
    linear1: GpuLinear,  // (ffn, d)
    linear2: GpuLinear,  // (d, ffn)
    norm1: GpuNorm,
    norm2: GpuNorm,
}

/// Activation buffers, allocated for the largest (batch, seq) seen and reused.
struct Arena {
    rows: usize,  // capacity in batch·seq rows
    batch: usize, // capacity in sequences
    x: wgpu::Buffer,        // (rows, d)
    h: wgpu::Buffer,        // (rows, d)
    qkv: wgpu::Buffer,      // (rows, 3d)
    ctx: wgpu::Buffer,      // (rows, d)
    ffn: wgpu::Buffer,      // (rows, ffn)
    ln_stats: wgpu::Buffer, // (2·rows)
    bn_stats: wgpu::Buffer, // (2·d)
    ids: wgpu::Buffer,      // (rows) u32
    type_ids: wgpu::Buffer, // (rows) u32
    lengths: wgpu::Buffer,  // (batch) u32
    pooled: wgpu::Buffer,   // (batch, d)
    pooled2: wgpu::Buffer,  // (batch, d) after the pooler
    logits: wgpu::Buffer,   // (batch, labels)
    probs: wgpu::Buffer,    // (batch, labels)
    /// (batch, heads, seq, seq), only allocated once a trace is asked for; capacity in floats.
    attn: Option<(wgpu::Buffer, usize)>,
}

pub struct GpuModel {
    pub ctx: GpuContext,
    d: usize,
    heads: usize,
    ffn: usize,
    labels: usize,
    max_len: usize,
    vocab: usize,
    activation: Activation,
    norm_first: bool,
    pooling: Pooling,
    scale: f32,
    positional: Tensor, // (max_len, d), host copy for the trace
    word: wgpu::Buffer,
    position: wgpu::Buffer,
    token_type: Option<(wgpu::Buffer, usize)>,
    emb_norm: Option<GpuNorm>,
    layers: Vec<GpuLayer>,
    final_norm: Option<GpuNorm>,
    pooler: Option<GpuLinear>,
    classifier: Option<GpuLinear>,
    arena: Option<Arena>,
    scratch: Scratch,
    /// What the last forward did.
    pub last: SubmitStats,
}

fn up_linear(ctx: &GpuContext, name: &str, l: &Linear) -> Result<GpuLinear> {
    Ok(GpuLinear {
        w: ctx.upload(&format!("{name}.weight"), &l.weight.data)?,
        b: l.bias.as_ref().map(|b| ctx.upload(&format!("{name}.bias"), &b.data)).transpose()?,
        k: l.in_dim(),
        n: l.out_dim(),
    })
}

fn up_norm(ctx: &GpuContext, name: &str, n: &Norm) -> Result<GpuNorm> {
    Ok(match n {
        Norm::Layer { weight, bias, eps } => GpuNorm::Layer {
            w: ctx.upload(&format!("{name}.weight"), &weight.data)?,
            b: ctx.upload(&format!("{name}.bias"), &bias.data)?,
            eps: *eps,
        },
        Norm::Batch { weight, bias, running_mean, running_var, eps } => {
            let both: Vec<f32> = running_mean.data.iter().chain(&running_var.data).copied().collect();
            GpuNorm::Batch {
                w: ctx.upload(&format!("{name}.weight"), &weight.data)?,
                b: ctx.upload(&format!("{name}.bias"), &bias.data)?,
                running: ctx.upload(&format!("{name}.running_stats"), &both)?,
                eps: *eps,
                mean: running_mean.clone(),
                var: running_var.clone(),
            }
        }
    })
}

/// Readback slots of one norm's trace.
struct NormSlots {
    kind: NormKind,
    mean: Slot,
    var: Slot,
    input: Slot,
    output: Slot,
    running: Option<(Tensor, Tensor)>,
}

struct LayerSlots {
    attention: Slot,
    norm1: NormSlots,
    norm2: NormSlots,
    hidden: Slot,
}

impl GpuModel {
    /// Upload `model`'s weights to the device of `ctx` (once).
    pub fn new(ctx: GpuContext, model: &Model) -> Result<Self> {
        let c = &model.config;
        if c.head_dim() > MAX_HEAD_DIM {
            return Err(Error::Gpu(format!("head size {} is larger than the GPU kernel's {MAX_HEAD_DIM}", c.head_dim())));
        }
        let e = &model.embeddings;
        let layers = model
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let p = |s: &str| format!("layers.{i}.{s}");
                Ok(GpuLayer {
                    in_proj: up_linear(&ctx, &p("in_proj"), &l.self_attn.in_proj)?,
                    out_proj: up_linear(&ctx, &p("out_proj"), &l.self_attn.out_proj)?,
                    linear1: up_linear(&ctx, &p("linear1"), &l.linear1)?,
                    linear2: up_linear(&ctx, &p("linear2"), &l.linear2)?,
                    norm1: up_norm(&ctx, &p("norm1"), &l.norm1)?,
                    norm2: up_norm(&ctx, &p("norm2"), &l.norm2)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            d: c.hidden_size,
            heads: c.num_heads,
            ffn: c.ffn_size,
            labels: model.classifier.as_ref().map_or(0, |l| l.out_dim()),
            max_len: c.max_len,
            vocab: e.word.shape[0],
            activation: c.activation,
            norm_first: c.norm_first,
            pooling: c.pooling,
            scale: e.scale,
            positional: e.position.clone(),
            word: ctx.upload("embedding.word", &e.word.data)?,
            position: ctx.upload("embedding.position", &e.position.data)?,
            token_type: e.token_type.as_ref().map(|t| Ok::<_, Error>((ctx.upload("embedding.token_type", &t.data)?, t.shape[0]))).transpose()?,
            emb_norm: e.norm.as_ref().map(|n| up_norm(&ctx, "embedding.norm", n)).transpose()?,
            layers,
            final_norm: model.final_norm.as_ref().map(|n| up_norm(&ctx, "final_norm", n)).transpose()?,
            pooler: model.pooler.as_ref().map(|l| up_linear(&ctx, "pooler", l)).transpose()?,
            classifier: model.classifier.as_ref().map(|l| up_linear(&ctx, "classifier", l)).transpose()?,
            arena: None,
            scratch: Scratch::default(),
            last: SubmitStats::default(),
            ctx,
        })
    }

    /// Grow the activation buffers to hold (batch, seq) (and the attention probabilities when tracing).
    fn ensure_arena(&mut self, batch: usize, seq: usize, trace: bool) -> Result<()> {
        let rows = batch * seq;
        let attn_len = batch * self.heads * seq * seq;
        let fits = self.arena.as_ref().is_some_and(|a| a.rows >= rows && a.batch >= batch);
        if !fits {
            let (rows, batch) = match &self.arena {
                Some(a) => (a.rows.max(rows), a.batch.max(batch)),
                None => (rows, batch),
            };
            let (ctx, d) = (&self.ctx, self.d);
            let f = |name: &str, n: usize| ctx.storage_buffer(name, n as u64 * 4, wgpu::BufferUsages::empty());
            self.arena = Some(Arena {
                rows,
                batch,
                x: f("x", rows * d)?,
                h: f("h", rows * d)?,
                qkv: f("qkv", rows * 3 * d)?,
                ctx: f("attention context", rows * d)?,
                ffn: f("ffn", rows * self.ffn)?,
                ln_stats: f("layer norm stats", 2 * rows)?,
                bn_stats: f("batch norm stats", 2 * d)?,
                ids: f("ids", rows)?,
                type_ids: f("type ids", rows)?,
                lengths: f("lengths", batch)?,
                pooled: f("pooled", batch * d)?,
                pooled2: f("pooler output", batch * d)?,
                logits: f("logits", batch * self.labels.max(1))?,
                probs: f("probabilities", batch * self.labels.max(1))?,
                attn: None,
            });
        }
        if trace {
            let a = self.arena.as_mut().ok_or_else(|| Error::Gpu("no activation buffers".into()))?;
            if a.attn.as_ref().is_none_or(|(_, cap)| *cap < attn_len) {
                let buf = self.ctx.storage_buffer("attention probabilities", attn_len as u64 * 4, wgpu::BufferUsages::empty())?;
                a.attn = Some((buf, attn_len));
            }
        }
        Ok(())
    }

    /// The host-side checks the CPU path makes, so both reject the same input with the same error.
    fn check_ids(&self, batch: &Batch) -> Result<()> {
        for (row, &id) in batch.ids.iter().enumerate() {
            if id as usize >= self.vocab {
                return Err(Error::TokenId { id, pos: row % batch.seq, vocab: self.vocab });
            }
        }
        if let (Some((_, types)), Some(t)) = (&self.token_type, &batch.type_ids) {
            if let Some(&bad) = t.iter().find(|&&t| t as usize >= *types) {
                return Err(Error::Input(format!("token type {bad} is outside type_vocab_size {types}")));
            }
        }
        Ok(())
    }

    /// One forward pass on the GPU: one command encoder, one submit, one readback.
    pub async fn forward(&mut self, batch: &Batch, opts: &ForwardOptions, trace: Option<&mut Trace>) -> Result<Output> {
        self.ctx.health()?;
        batch.check(self.max_len)?;
        self.check_ids(batch)?;
        let tracing = trace.is_some();
        let (b, s, d) = (batch.batch, batch.seq, self.d);
        let rows = b * s;
        self.ensure_arena(b, s, tracing)?;
        let a = self.arena.as_ref().ok_or_else(|| Error::Gpu("no activation buffers".into()))?;
        let ctx = &self.ctx;

        ctx.queue.write_buffer(&a.ids, 0, bytemuck::cast_slice(&batch.ids));
        let types: Vec<u32> = batch.type_ids.clone().unwrap_or_else(|| vec![0; rows]);
        ctx.queue.write_buffer(&a.type_ids, 0, bytemuck::cast_slice(&types));
        let lengths: Vec<u32> = batch.lengths.iter().map(|&l| l as u32).collect();
        ctx.queue.write_buffer(&a.lengths, 0, bytemuck::cast_slice(&lengths));

        let mut rec = Recorder::new(ctx);
        let bn = opts.batch_norm;
        let tt = self.token_type.as_ref().map(|(t, _)| (&a.type_ids, t));
        // Embeddings land in x (through h when BERT's embedding LayerNorm follows).
        match &self.emb_norm {
            None => encode::embed(&mut rec, &a.ids, tt, &self.word, &self.position, &a.x, (rows, s, d), self.scale)?,
            Some(n) => {
                encode::embed(&mut rec, &a.ids, tt, &self.word, &self.position, &a.h, (rows, s, d), self.scale)?;
                self.norm(&mut rec, n, &a.h, &a.x, rows, BatchNormStats::Running, false)?;
            }
        }
        let emb_slot = tracing.then(|| rec.read(&a.x, 0, rows * d));

        let mut layer_slots = Vec::new();
        let attn = tracing.then(|| a.attn.as_ref().map(|(buf, _)| buf)).flatten();
        for l in &self.layers {
            let (n1, n2);
            if self.norm_first {
                // x = x + sa(norm1(x)); x = x + ff(norm2(x))
                n1 = self.norm(&mut rec, &l.norm1, &a.x, &a.h, rows, bn, tracing)?;
                self.self_attention(&mut rec, l, &a.h, &a.x, attn, b, s)?;
                n2 = self.norm(&mut rec, &l.norm2, &a.x, &a.h, rows, bn, tracing)?;
                self.feed_forward(&mut rec, l, &a.h, &a.x, rows)?;
            } else {
                // x = norm1(x + sa(x)); x = norm2(x + ff(x))
                self.self_attention(&mut rec, l, &a.x, &a.x, attn, b, s)?;
                n1 = self.norm(&mut rec, &l.norm1, &a.x, &a.h, rows, bn, tracing)?;
                self.feed_forward(&mut rec, l, &a.h, &a.h, rows)?;
                n2 = self.norm(&mut rec, &l.norm2, &a.h, &a.x, rows, bn, tracing)?;
            }
            if tracing {
                // Both orders leave the layer's output in x.
                let attention = rec.read(attn.ok_or_else(|| Error::Gpu("no attention buffer".into()))?, 0, b * self.heads * s * s);
                if let (Some(norm1), Some(norm2)) = (n1, n2) {
                    layer_slots.push(LayerSlots { attention, norm1, norm2, hidden: rec.read(&a.x, 0, rows * d) });
                }
            }
        }
        let mut last = &a.x;
        let mut final_slots = None;
        if let Some(n) = &self.final_norm {
            final_slots = self.norm(&mut rec, n, &a.x, &a.h, rows, bn, tracing)?;
            last = &a.h;
        }
        encode::pool(&mut rec, last, &a.lengths, &a.pooled, (b, s, d), self.pooling == Pooling::Cls)?;
        let mut pooled = &a.pooled;
        if let Some(p) = &self.pooler {
            encode::matmul(&mut rec, &a.pooled, &p.w, p.b.as_ref(), &a.pooled2, (b, p.k, p.n), act::TANH, false)?;
            pooled = &a.pooled2;
        }
        if let Some(c) = &self.classifier {
            encode::matmul(&mut rec, pooled, &c.w, c.b.as_ref(), &a.logits, (b, c.k, c.n), act::NONE, false)?;
            encode::softmax(&mut rec, &a.logits, &a.probs, (b, c.n))?;
        }
        let hidden_slot = rec.read(last, 0, rows * d);
        let pooled_slot = rec.read(pooled, 0, b * d);
        let n = self.labels;
        let logit_slots = self.classifier.is_some().then(|| (rec.read(&a.logits, 0, b * n), rec.read(&a.probs, 0, b * n)));

        let (data, stats) = rec.submit(&mut self.scratch).await?;
        self.last = stats;

        let t = |slot: &Slot, shape: Vec<usize>| Tensor { shape, data: slot.get(&data).to_vec() };
        let pooled = t(&pooled_slot, vec![b, d]);
        if let Some(tr) = trace {
            *tr = Trace::new(batch);
            tr.positional = Some(Tensor { shape: vec![s, d], data: self.positional.data[..s * d].to_vec() });
            tr.embeddings = emb_slot.map(|e| t(&e, vec![b, s, d]));
            let norm = |n: NormSlots| NormTrace {
                kind: n.kind,
                mean: t(&n.mean, if n.kind == NormKind::Layer { vec![b, s] } else { vec![d] }),
                var: t(&n.var, if n.kind == NormKind::Layer { vec![b, s] } else { vec![d] }),
                running_mean: n.running.as_ref().map(|r| r.0.clone()),
                running_var: n.running.as_ref().map(|r| r.1.clone()),
                input: t(&n.input, vec![b, s, d]),
                output: t(&n.output, vec![b, s, d]),
            };
            tr.layers = layer_slots
                .into_iter()
                .map(|l| LayerTrace {
                    attention: t(&l.attention, vec![b, self.heads, s, s]),
                    norm1: norm(l.norm1),
                    norm2: norm(l.norm2),
                    hidden: t(&l.hidden, vec![b, s, d]),
                })
                .collect();
            tr.final_norm = final_slots.map(norm);
            tr.pooled = Some(pooled.clone());
        }
        Ok(Output {
            hidden: t(&hidden_slot, vec![b, s, d]),
            pooled,
            logits: logit_slots.map(|(l, _)| t(&l, vec![b, n])),
            probs: logit_slots.map(|(_, p)| t(&p, vec![b, n])),
        })
    }

    /// `x_out = x_res + out_proj(attention(in_proj(x_in)))`, accumulated in place into `x_res`.
    #[allow(clippy::too_many_arguments)]
    fn self_attention(
        &self,
        rec: &mut Recorder,
        l: &GpuLayer,
        x_in: &wgpu::Buffer,
        x_res: &wgpu::Buffer,
        probs: Option<&wgpu::Buffer>,
        b: usize,
        s: usize,
    ) -> Result<()> {
        let a = self.arena.as_ref().ok_or_else(|| Error::Gpu("no activation buffers".into()))?;
        let (rows, d) = (b * s, self.d);
        let ip = &l.in_proj;
        encode::matmul(rec, x_in, &ip.w, ip.b.as_ref(), &a.qkv, (rows, ip.k, ip.n), act::NONE, false)?;
        encode::attention(rec, &a.qkv, &a.lengths, &a.ctx, probs, (b, s, self.heads, d / self.heads))?;
        let op = &l.out_proj;
        encode::matmul(rec, &a.ctx, &op.w, op.b.as_ref(), x_res, (rows, op.k, op.n), act::NONE, true)
    }

    /// `x_res += linear2(act(linear1(x_in)))`, the activation fused into the first matmul.
    fn feed_forward(&self, rec: &mut Recorder, l: &GpuLayer, x_in: &wgpu::Buffer, x_res: &wgpu::Buffer, rows: usize) -> Result<()> {
        let a = self.arena.as_ref().ok_or_else(|| Error::Gpu("no activation buffers".into()))?;
        let code = match self.activation {
            Activation::Relu => act::RELU,
            Activation::Gelu => act::GELU,
            Activation::GeluTanh => act::GELU_TANH,
        };
        let (l1, l2) = (&l.linear1, &l.linear2);
        encode::matmul(rec, x_in, &l1.w, l1.b.as_ref(), &a.ffn, (rows, l1.k, l1.n), code, false)?;
        encode::matmul(rec, &a.ffn, &l2.w, l2.b.as_ref(), x_res, (rows, l2.k, l2.n), act::NONE, true)
    }

    /// Normalise `x (rows, d)` into `out`; with `trace`, read back the statistics and both sides.
    #[allow(clippy::too_many_arguments)]
    fn norm(
        &self,
        rec: &mut Recorder,
        n: &GpuNorm,
        x: &wgpu::Buffer,
        out: &wgpu::Buffer,
        rows: usize,
        bn: BatchNormStats,
        trace: bool,
    ) -> Result<Option<NormSlots>> {
        let a = self.arena.as_ref().ok_or_else(|| Error::Gpu("no activation buffers".into()))?;
        let d = self.d;
        Ok(match n {
            GpuNorm::Layer { w, b, eps } => {
                encode::layer_norm(rec, x, w, b, out, &a.ln_stats, (rows, d), *eps)?;
                trace.then(|| NormSlots {
                    kind: NormKind::Layer,
                    mean: rec.read(&a.ln_stats, 0, rows),
                    var: rec.read(&a.ln_stats, rows, rows),
                    input: rec.read(x, 0, rows * d),
                    output: rec.read(out, 0, rows * d),
                    running: None,
                })
            }
            GpuNorm::Batch { w, b, running, eps, mean, var } => {
                if trace || bn == BatchNormStats::Batch {
                    encode::batch_stats(rec, x, &a.bn_stats, (rows, d))?;
                }
                let stats = if bn == BatchNormStats::Batch { &a.bn_stats } else { running };
                encode::batch_norm(rec, x, stats, w, b, out, (rows, d), *eps)?;
                trace.then(|| NormSlots {
                    kind: NormKind::Batch,
                    mean: rec.read(&a.bn_stats, 0, d),
                    var: rec.read(&a.bn_stats, d, d),
                    input: rec.read(x, 0, rows * d),
                    output: rec.read(out, 0, rows * d),
                    running: Some((mean.clone(), var.clone())),
                })
            }
        })
    }
}

//! DeLighT blocks (Mehta et al., ICLR 2021), as `scripts/delight.py` (after the authors' fairseq code):
//! DExTra (a projection d_m → d_m/2, N group linear transformations that expand to w·d_m and reduce to
//! d_o with groups growing as powers of two up to g_max, feature shuffle and input mixer, a final linear
//! to d_o — each followed by LayerNorm and swish), single-head attention on d_o, a light FFN
//! d_m → d_m/r → d_m, post-norm residuals. Block-wise scaling sets each block's depth and width.
//!
//! The sizes are computed here from [`DelightConfig`] exactly as the reference computes them (numpy
//! `linspace` + cast, widths rounded up to a multiple of `max(g_l, g_{l+1}, 8)`), validated before any
//! weight is read, and checked against every tensor's shape at load.

use crate::batch::Batch;
use crate::config::{Activation, Config, NormKind};
use crate::error::{Error, Result};
use crate::model::backend::Backend;
use crate::model::linear::Linear;
use crate::model::norm::Norm;
use crate::model::param::{Param, Weight};
use crate::model::ForwardOptions;
use crate::tensor::Tensor;
use crate::trace::LayerTrace;
use crate::weights::Scope;
use serde::{Deserialize, Serialize};

/// The `delight` object of a `delight_classifier` config.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelightConfig {
    /// DExTra output width d_o; the encoder block needs d_o = d_m / 2.
    pub d_o: usize,
    /// Width multiplier w_m of the first block (at least 1).
    pub width_mult: f64,
    /// GLT layers of the first block (N_min) and of the last (N_max).
    pub min_depth: usize,
    /// GLT layers of the last block (N_max).
    pub max_depth: usize,
    /// Number of blocks B.
    pub blocks: usize,
    /// Largest number of GLT groups g_max.
    pub max_groups: usize,
    /// Light FFN reduction r: d_m → d_m/r → d_m.
    pub ffn_reduction: usize,
}

/// One GLT layer's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GltShape {
    /// input width (the projected input mixed in counts)
    pub in_dim: usize,
    /// output width
    pub out_dim: usize,
    /// Number of groups.
    pub groups: usize,
}

/// One block's sizes after block-wise scaling.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockShape {
    /// Number of GLT layers N.
    pub depth: usize,
    /// Width multiplier, rounded to 3 decimals as the reference does.
    pub width_mult: f64,
    /// The GLT layers in order.
    pub glt: Vec<GltShape>,
}

/// numpy `linspace(start, stop, num)` in f64 (`k · step + start`, the last point exactly `stop`).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    (0..num).map(|k| if k + 1 == num { stop } else { k as f64 * step + start }).collect()
}

/// numpy `linspace(start, stop, num, dtype=int)`: floor of the float grid.
fn linspace_int(start: f64, stop: f64, num: usize) -> Vec<usize> {
    linspace(start, stop, num).into_iter().map(|v| v.floor() as usize).collect()
}

/// The reference's `dextra_config`: the GLT layers of a DExTra with `depth` layers, projected input `proj`,
/// output `d_o`, widest `max_features`.
pub fn dextra_layers(proj: usize, d_o: usize, max_features: f64, depth: usize, max_groups: usize) -> Vec<GltShape> {
    let mid = depth.div_ceil(2);
    let mut groups: Vec<usize> = (0..mid).map(|i| (1usize << (i + 1).min(62)).min(max_groups)).collect();
    let mut sizes = linspace_int(proj as f64, max_features, mid);
    let skip = depth % 2; // odd depth: the middle layer is not repeated
    let (rg, rs): (Vec<usize>, Vec<usize>) = (groups.iter().rev().skip(skip).copied().collect(), sizes.iter().rev().skip(skip).copied().collect());
    groups.extend(rg);
    sizes.extend(rs);
    sizes.truncate(depth - 1);
    let mut ins = vec![proj; depth];
    for i in 0..depth - 1 {
        let g = groups[i + 1].max(groups[i]).max(8);
        sizes[i] = sizes[i].div_ceil(g) * g;
        ins[i + 1] = sizes[i] + proj;
    }
    sizes.push(d_o);
    (0..depth).map(|i| GltShape { in_dim: ins[i], out_dim: sizes[i], groups: groups[i] }).collect()
}

impl DelightConfig {
    /// Block-wise scaling: depth `int(linspace(N_min, N_max, B))`, width `round(linspace(w_m, w_m + N_max/N_min − 1, B), 3)`.
    pub fn scaling(&self) -> Vec<(usize, f64)> {
        let depths = linspace_int(self.min_depth as f64, self.max_depth as f64, self.blocks);
        let ratio = self.max_depth as f64 / self.min_depth as f64;
        let widths = linspace(self.width_mult, self.width_mult + (ratio - 1.0), self.blocks);
        depths.into_iter().zip(widths).map(|(d, w)| (d, (w * 1000.0).round_ties_even() / 1000.0)).collect()
    }

    /// Every block's sizes (call after [`DelightConfig::validate`]).
    pub fn blocks(&self, c: &Config) -> Vec<BlockShape> {
        let d_m = c.hidden_size;
        self.scaling()
            .into_iter()
            .map(|(depth, w)| BlockShape { depth, width_mult: w, glt: dextra_layers(d_m / 2, self.d_o, d_m as f64 * w, depth, self.max_groups) })
            .collect()
    }

    /// Check every size against the reference's constraints (a clear error for each).
    pub fn validate(&self, c: &Config) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("delight: {m}")));
        let d_m = c.hidden_size;
        if !(self.width_mult >= 1.0 && self.width_mult <= 64.0) {
            return bad(format!("width_mult (w_m) must be between 1 and 64, got {}", self.width_mult));
        }
        if self.min_depth < 2 {
            return bad(format!("min_depth (N_min) must be at least 2 (DExTra has at least 2 GLT layers), got {}", self.min_depth));
        }
        if self.min_depth > self.max_depth {
            return bad(format!("min_depth (N_min = {}) is larger than max_depth (N_max = {})", self.min_depth, self.max_depth));
        }
        if self.max_depth > 64 || self.blocks == 0 || self.blocks > 256 {
            return bad(format!("blocks (B = {}) must be 1..=256 and max_depth (N_max = {}) at most 64", self.blocks, self.max_depth));
        }
        if d_m % 2 != 0 {
            return bad(format!("hidden_size (d_m = {d_m}) must be even"));
        }
        if self.d_o != d_m / 2 {
            return bad(format!("d_o ({}) must be d_m / 2 = {}: the block's single-head attention runs on the projected width", self.d_o, d_m / 2));
        }
        if self.max_groups == 0 || d_m % self.max_groups != 0 {
            return bad(format!("hidden_size (d_m = {d_m}) is not divisible by max_groups (g_max = {})", self.max_groups));
        }
        if self.ffn_reduction == 0 || d_m % self.ffn_reduction != 0 {
            return bad(format!("hidden_size (d_m = {d_m}) is not divisible by ffn_reduction (r = {})", self.ffn_reduction));
        }
        if c.num_layers != self.blocks || c.num_heads != 1 || c.ffn_size != d_m / self.ffn_reduction {
            return bad(format!(
                "num_layers, num_heads, ffn_size must be B = {}, 1, d_m / r = {} (got {}, {}, {})",
                self.blocks,
                d_m / self.ffn_reduction,
                c.num_layers,
                c.num_heads,
                c.ffn_size
            ));
        }
        if c.norm != NormKind::Layer || c.norm_first || c.final_norm || c.pooler {
            return bad("DeLighT blocks are post-norm LayerNorm without a final norm or pooler".into());
        }
        let proj = d_m / 2;
        for (b, block) in self.blocks(c).iter().enumerate() {
            for (l, g) in block.glt.iter().enumerate() {
                // The mixer splits the projected input into the groups of the layer that reads it.
                let mix = if l == 0 { 0 } else { proj };
                if g.in_dim % g.groups != 0 || g.out_dim % g.groups != 0 || mix % g.groups != 0 {
                    return bad(format!(
                        "block {b} GLT layer {l}: widths in {} (mixed input {mix}) / out {} are not divisible by its {} groups",
                        g.in_dim, g.out_dim, g.groups
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A group linear transformation with feature shuffle and input mixer: input group k is the k-th chunk
/// of `mix` (the projected input, if any) followed by the k-th chunk of `x`; output group k's element j is
/// written at `j · groups + k` (the shuffle). `groups = 1` is a plain linear layer on `[mix, x]`.
#[derive(Clone, Debug)]
pub struct Glt {
    /// (groups, in/groups, out/groups)
    pub weight: Param,
    /// (groups, out/groups)
    pub bias: Param,
    /// Number of groups g.
    pub groups: usize,
    /// width of the mixed-in projected input (0: none)
    pub mix_dim: usize,
    /// Output width.
    pub out_dim: usize,
}

impl Glt {
    /// A reference GroupLinear (`weights (g, in/g, out/g)`, `bias (g, 1, out/g)`) or, with one group, a
    /// reference Linear (`weights (out, in)`, stored transposed as `(1, in, out)`).
    fn load(w: &Scope, s: &GltShape, mix_dim: usize) -> Result<Self> {
        let (g, n_in, n_out) = (s.groups, s.in_dim, s.out_dim);
        let (weight, bias) = if g == 1 {
            let wt = w.get("weights", &[n_out, n_in])?; // (out, in)
            let mut t = vec![0.0f32; n_in * n_out]; // (in, out)
            for o in 0..n_out {
                for i in 0..n_in {
                    t[i * n_out + o] = wt.data[o * n_in + i];
                }
            }
            (Tensor { shape: vec![1, n_in, n_out], data: t }, w.get("bias", &[n_out])?.data)
        } else {
            (w.get("weights", &[g, n_in / g, n_out / g])?, w.get("bias", &[g, 1, n_out / g])?.data)
        };
        Ok(Self { weight: Param::new(weight), bias: Param::new(Tensor { shape: vec![g, n_out / g], data: bias }), groups: g, mix_dim, out_dim: n_out })
    }

    /// Input width (the mixed-in part included).
    pub fn in_dim(&self) -> usize {
        self.weight.shape()[1] * self.groups
    }

    /// Width of the `x` input (the mixed-in part excluded).
    pub fn x_dim(&self) -> usize {
        self.in_dim() - self.mix_dim
    }
}

/// A weight layer of DExTra followed by its LayerNorm (per group after the shuffle) and activation.
#[derive(Clone, Debug)]
pub struct NormedGlt {
    /// The group linear transformation.
    pub glt: Glt,
    /// LayerNorm over each group of `out/groups` features (after the shuffle).
    pub norm: Norm,
}

/// DeLighT transformation: input projection, GLT layers with mixer and shuffle, output layer.
#[derive(Clone, Debug)]
pub struct Dextra {
    /// Input projection, weight `(d_m/2, d_m)`.
    pub input_layer: Linear,
    /// Its LayerNorm `(d_m/2)`.
    pub input_norm: Norm,
    /// The GLT layers (LayerNorm per group after each).
    pub layers: Vec<NormedGlt>,
    /// Output linear `(d_o + d_m/2) → d_o` on `[projected input, last GLT output]` (one group).
    pub output_layer: NormedGlt,
    /// Activation after every layer (swish).
    pub activation: Activation,
}

/// One DeLighT encoder block: DExTra, single-head attention, light FFN, post-norm residuals.
#[derive(Clone, Debug)]
pub struct DelightBlock {
    /// Its sizes after block-wise scaling.
    pub shape: BlockShape,
    /// DExTra (d_m → d_o).
    pub dextra: Dextra,
    /// (3·d_o, d_o): rows [q; k; v]
    pub kqv: Linear,
    /// (d_m, d_o)
    pub out_proj: Linear,
    /// self_attn_layer_norm (d_m)
    pub attn_norm: Norm,
    /// (d_m/r, d_m)
    pub fc1: Linear,
    /// (d_m, d_m/r)
    pub fc2: Linear,
    /// (d_m)
    pub final_norm: Norm,
    /// FFN and DExTra activation (swish).
    pub activation: Activation,
}

/// The reference's Linear: `weights (out, in)`, `bias (out)`.
fn load_linear(w: &Scope, in_dim: usize, out_dim: usize) -> Result<Linear> {
    let shape = [out_dim, in_dim];
    Ok(Linear { weight: Weight::from_stored(&shape, w.get_stored("weights", &shape)?), bias: Some(Param::new(w.get("bias", &[out_dim])?)), names: vec![w.path("weights")] })
}

impl DelightBlock {
    /// Load block `shape` from scope `w` (`encoder.layers.{b}`), every tensor's shape checked.
    pub fn load(w: &Scope, c: &Config, shape: &BlockShape) -> Result<Self> {
        let (d_m, eps) = (c.hidden_size, c.norm_eps);
        let d_o = d_m / 2; // validated: d_o = d_m / 2
        let r = c.delight.as_ref().map_or(4, |d| d.ffn_reduction);
        let x = w.pp("dextra_layer");
        let proj = d_m / 2;
        let layers = shape
            .glt
            .iter()
            .enumerate()
            .map(|(l, s)| {
                let lw = x.pp(&format!("dextra_layers.{l}"));
                let glt = Glt::load(&lw, s, if l == 0 { 0 } else { proj })?;
                let norm = Norm::load(&lw.pp("normalization_fn"), NormKind::Layer, s.out_dim / s.groups, eps)?;
                Ok(NormedGlt { glt, norm })
            })
            .collect::<Result<Vec<_>>>()?;
        let out_shape = GltShape { in_dim: d_o + proj, out_dim: d_o, groups: 1 };
        let ow = x.pp("output_layer");
        let output_layer = NormedGlt { glt: Glt::load(&ow, &out_shape, proj)?, norm: Norm::load(&ow.pp("normalization_fn"), NormKind::Layer, d_o, eps)? };
        let dextra = Dextra {
            input_layer: load_linear(&x.pp("input_layer"), d_m, proj)?,
            input_norm: Norm::load(&x.pp("input_layer.normalization_fn"), NormKind::Layer, proj, eps)?,
            layers,
            output_layer,
            activation: c.activation,
        };
        Ok(Self {
            shape: shape.clone(),
            dextra,
            kqv: load_linear(&w.pp("self_attn.linear_kqv"), d_o, 3 * d_o)?,
            out_proj: load_linear(&w.pp("self_attn.out_proj"), d_o, d_m)?,
            attn_norm: Norm::load(&w.pp("self_attn_layer_norm"), NormKind::Layer, d_m, eps)?,
            fc1: load_linear(&w.pp("fc1"), d_m, d_m / r)?,
            fc2: load_linear(&w.pp("fc2"), d_m / r, d_m)?,
            final_norm: Norm::load(&w.pp("final_layer_norm"), NormKind::Layer, d_m, eps)?,
            activation: c.activation,
        })
    }

    /// Every parameter tensor of the block.
    pub fn params(&self) -> Vec<&Param> {
        let d = &self.dextra;
        let mut p = d.input_layer.params();
        p.extend(d.input_norm.params());
        for l in d.layers.iter().chain(std::iter::once(&d.output_layer)) {
            p.extend([&l.glt.weight, &l.glt.bias]);
            p.extend(l.norm.params());
        }
        for l in [&self.kqv, &self.out_proj, &self.fc1, &self.fc2] {
            p.extend(l.params());
        }
        p.extend(self.attn_norm.params());
        p.extend(self.final_norm.params());
        p
    }

    /// `norm` (LayerNorm over each `norm.dim()` chunk of a row) then the activation, in place of `y`.
    fn norm_act<B: Backend>(&self, be: &mut B, y: B::Tensor, norm: &Norm, batch: &Batch) -> Result<B::Tensor> {
        let (mut z, _) = be.norm(&y, norm, batch, Default::default(), false)?;
        be.release(y);
        be.activation(&mut z, self.activation)?;
        Ok(z)
    }

    /// DExTra: `x (batch·seq, d_m)` → `(batch·seq, d_o)`.
    fn dextra<B: Backend>(&self, be: &mut B, x: &B::Tensor, batch: &Batch) -> Result<B::Tensor> {
        let d = &self.dextra;
        let h = be.linear(x, &d.input_layer, None)?; // (batch·seq, d_m/2)
        let proj = self.norm_act(be, h, &d.input_norm, batch)?; // (batch·seq, d_m/2)
        let mut out: Option<B::Tensor> = None; // (batch·seq, out_l)
        for l in d.layers.iter().chain(std::iter::once(&d.output_layer)) {
            let y = match &out {
                None => be.glt(&proj, None, &l.glt)?,
                Some(prev) => be.glt(prev, Some(&proj), &l.glt)?,
            }; // (batch·seq, out_l), shuffled
            let y = self.norm_act(be, y, &l.norm, batch)?;
            if let Some(prev) = out.replace(y) {
                be.release(prev);
            }
        }
        be.release(proj);
        out.ok_or_else(|| Error::Config("delight: a DExTra without layers".into()))
    }

    /// `x (batch·seq, d_m)` → `(batch·seq, d_m)`: post-norm DExTra + single-head attention, then light FFN.
    pub fn forward<B: Backend>(
        &self,
        be: &mut B,
        x: B::Tensor,
        batch: &Batch,
        opts: &ForwardOptions,
        trace: Option<&mut Vec<LayerTrace<B::Pending>>>,
    ) -> Result<B::Tensor> {
        let (req, bn) = (&opts.trace, opts.batch_norm);
        let probs = trace.is_some() && req.attention;
        let mut x = x;
        let h = self.dextra(be, &x, batch)?; // (batch·seq, d_o)
        let qkv = be.linear(&h, &self.kqv, None)?; // (batch·seq, 3·d_o)
        be.release(h);
        let (ctx, attention) = be.attention(&qkv, batch, 1, probs)?; // (batch·seq, d_o), (batch, 1, seq, seq)
        be.release(qkv);
        be.linear_add(&ctx, &self.out_proj, &mut x)?; // x + attn
        be.release(ctx);
        let (mut h, n1) = self.attn_norm.forward(be, &x, batch, bn, req)?;
        be.release(x);
        let f = be.linear(&h, &self.fc1, Some(self.activation))?; // (batch·seq, d_m/r)
        be.linear_add(&f, &self.fc2, &mut h)?;
        be.release(f);
        let (x, n2) = self.final_norm.forward(be, &h, batch, bn, req)?;
        be.release(h);
        if let Some(t) = trace {
            let d = self.final_norm.dim();
            let hidden = req.hidden.then(|| be.read(&x, vec![batch.batch, batch.seq, d]));
            t.push(LayerTrace { attention, norm1: n1, norm2: n2, hidden });
        }
        Ok(x)
    }
}

/// Parameters and multiply-accumulates of one encoder block, counted as the reference's
/// `compute_macs_params(S)` counts them: a linear layer's MACs per token = its weights + biases (norms
/// fused: 0 MACs, their parameters counted), attention `2·S²·d` for scores and weighted sum.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockCost {
    /// Parameters (norms included).
    pub params: usize,
    /// Multiply-accumulates at the sequence length asked for.
    pub macs: usize,
    /// The attention's share of `macs` (`2·S²·d`).
    pub attention_macs: usize,
}

/// What the page's architecture view draws for one block.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockSummary {
    /// `"delight"` or `"transformer"`.
    pub kind: &'static str,
    /// GLT layers N (0 for a standard layer).
    pub depth: usize,
    /// Width multiplier w (1 for a standard layer).
    pub width_mult: f64,
    /// DExTra's layers: input projection, GLT layers, output layer (one group each for the linears).
    pub dextra: Vec<GltShape>,
    /// Attention heads.
    pub attention_heads: usize,
    /// Attention width (d_o for DeLighT, d for a standard layer).
    pub attention_dim: usize,
    /// FFN hidden width.
    pub ffn_dim: usize,
    /// Params and MACs.
    pub cost: BlockCost,
}

/// The encoder as drawn: `blocks` of this model and, for comparison, what a standard Transformer layer of
/// the same width (the default models' `4·d` FFN, `d/32` heads) costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchitectureSummary {
    /// Which architecture.
    pub architecture: crate::config::Architecture,
    /// Model width d.
    pub hidden: usize,
    /// Sequence length the MACs are counted at.
    pub seq: usize,
    /// Token embedding parameters (counted apart from the encoder).
    pub embedding_params: usize,
    /// One entry per block.
    pub blocks: Vec<BlockSummary>,
    /// Sum of the blocks' parameters.
    pub encoder_params: usize,
    /// Sum of the blocks' MACs.
    pub encoder_macs: usize,
}

fn linear_cost(i: usize, o: usize) -> usize {
    i * o + o
}

/// A standard post-norm Transformer layer of width `d`, FFN `f`, at sequence length `seq`.
pub fn transformer_cost(d: usize, f: usize, seq: usize) -> BlockCost {
    let lin = linear_cost(d, 3 * d) + linear_cost(d, d) + linear_cost(d, f) + linear_cost(f, d);
    BlockCost { params: lin + 4 * d, macs: lin * seq + 2 * seq * seq * d, attention_macs: 2 * seq * seq * d }
}

/// One DeLighT block of width `d_m`, light FFN `f`, at sequence length `seq`.
pub fn delight_cost(d_m: usize, f: usize, shape: &BlockShape, seq: usize) -> BlockCost {
    let (proj, d_o) = (d_m / 2, d_m / 2);
    // DExTra: each layer's weights + biases; LayerNorm params per layer (per group after a GLT).
    let mut dextra = linear_cost(d_m, proj);
    let mut norms = 2 * proj;
    for g in &shape.glt {
        dextra += g.in_dim * g.out_dim / g.groups + g.out_dim;
        norms += 2 * g.out_dim / g.groups;
    }
    dextra += linear_cost(d_o + proj, d_o);
    norms += 2 * d_o;
    let lin = linear_cost(d_o, 3 * d_o) + linear_cost(d_o, d_m) + linear_cost(d_m, f) + linear_cost(f, d_m);
    let attn = 2 * seq * seq * d_o;
    BlockCost { params: dextra + norms + lin + 4 * d_m, macs: (dextra + lin) * seq + attn, attention_macs: attn }
}

/// The blocks' sizes and costs of a model with config `c` at sequence length `seq`.
pub fn summary(c: &Config, seq: usize) -> ArchitectureSummary {
    let d = c.hidden_size;
    let blocks: Vec<BlockSummary> = match &c.delight {
        Some(dc) => dc
            .blocks(c)
            .into_iter()
            .map(|b| {
                let mut dextra = vec![GltShape { in_dim: d, out_dim: d / 2, groups: 1 }];
                dextra.extend(b.glt.iter().copied());
                dextra.push(GltShape { in_dim: dc.d_o + d / 2, out_dim: dc.d_o, groups: 1 });
                BlockSummary {
                    kind: "delight",
                    depth: b.depth,
                    width_mult: b.width_mult,
                    dextra,
                    attention_heads: 1,
                    attention_dim: dc.d_o,
                    ffn_dim: c.ffn_size,
                    cost: delight_cost(d, c.ffn_size, &b, seq),
                }
            })
            .collect(),
        None => (0..c.num_layers)
            .map(|_| BlockSummary {
                kind: "transformer",
                depth: 0,
                width_mult: 1.0,
                dextra: Vec::new(),
                attention_heads: c.num_heads,
                attention_dim: d,
                ffn_dim: c.ffn_size,
                cost: transformer_cost(d, c.ffn_size, seq),
            })
            .collect(),
    };
    let encoder_params = blocks.iter().map(|b| b.cost.params).sum();
    let encoder_macs = blocks.iter().map(|b| b.cost.macs).sum();
    ArchitectureSummary { architecture: c.architecture, hidden: d, seq, embedding_params: c.vocab_size * d, blocks, encoder_params, encoder_macs }
}

//! Scalar reference kernels: plain loops, written for clarity first. All tensors are row-major `f32`.

use crate::Activation;

/// Dot product with eight independent partial sums (lets the compiler vectorise without changing the
/// result between runs).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * 8..n {
        tail += a[i] * b[i];
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `out (m, n) = x (m, k) · wᵀ + bias`, with `w (n, k)` in PyTorch `nn.Linear` layout.
pub fn linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        let xi = &x[i * k..(i + 1) * k];
        let oi = &mut out[i * n..(i + 1) * n];
        for j in 0..n {
            let b = bias.map_or(0.0, |b| b[j]);
            oi[j] = dot(xi, &w[j * k..(j + 1) * k]) + b;
        }
    }
}

/// `out = act(x · wᵀ + bias)`, or with `accumulate` `out += x · wᵀ + bias`: what the fast paths fuse into
/// the matmul epilogue, computed here by composing the reference kernels (same rounding as calling them
/// one after another).
#[allow(clippy::too_many_arguments)]
pub fn linear_fused(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    act: Option<Activation>,
    accumulate: bool,
) {
    if accumulate {
        let mut t = vec![0.0f32; m * n];
        linear(x, w, bias, &mut t, m, k, n);
        if let Some(a) = act {
            activation_inplace(&mut t, a);
        }
        add_inplace(&mut out[..m * n], &t);
    } else {
        linear(x, w, bias, out, m, k, n);
        if let Some(a) = act {
            activation_inplace(&mut out[..m * n], a);
        }
    }
}

/// Numerically stable softmax over one row, in place. An all `-inf` row becomes all zeros.
pub fn softmax_inplace(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        row.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Multi-head scaled dot-product attention with a key-padding mask.
///
/// `qkv (batch, seq, 3·d)` packed as `[q | k | v]` (PyTorch `in_proj` order); `lengths[b]` real tokens;
/// keys at positions `>= lengths[b]` are masked (probability 0). Writes `out (batch, seq, d)` with the heads
/// concatenated, and when asked the probabilities `probs (batch, heads, seq, seq)`.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    qkv: &[f32],
    lengths: &[usize],
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
    out: &mut [f32],
    mut probs: Option<&mut [f32]>,
) {
    let d = heads * head_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut scores = vec![0.0f32; seq];
    for b in 0..batch {
        let len = lengths[b].min(seq);
        for h in 0..heads {
            for i in 0..seq {
                let q = &qkv[(b * seq + i) * 3 * d + h * head_dim..][..head_dim];
                for j in 0..seq {
                    scores[j] = if j < len {
                        let k = &qkv[(b * seq + j) * 3 * d + d + h * head_dim..][..head_dim];
                        dot(q, k) * scale
                    } else {
                        f32::NEG_INFINITY
                    };
                }
                softmax_inplace(&mut scores);
                let o = &mut out[(b * seq + i) * d + h * head_dim..][..head_dim];
                o.iter_mut().for_each(|v| *v = 0.0);
                for (j, &p) in scores.iter().enumerate().take(len) {
                    let v = &qkv[(b * seq + j) * 3 * d + 2 * d + h * head_dim..][..head_dim];
                    for (oe, ve) in o.iter_mut().zip(v) {
                        *oe += p * ve;
                    }
                }
                if let Some(p) = probs.as_deref_mut() {
                    p[((b * heads + h) * seq + i) * seq..][..seq].copy_from_slice(&scores);
                }
            }
        }
    }
}

/// Head ablation on an attention context `ctx (batch, seq, heads·head_dim)`: for each sequence `b` and
/// head `h` with `keep[b·heads + h] == 0.0` (`keep (batch, heads)`), the head's `head_dim` columns of
/// every row of the sequence become 0 (`mean = false`) or their mean over the first `lengths[b]` rows,
/// summed in position order then scaled by 1 / length (`mean = true`). Other values are not touched.
#[allow(clippy::too_many_arguments)]
pub fn head_ablate(ctx: &mut [f32], keep: &[f32], lengths: &[usize], batch: usize, seq: usize, heads: usize, head_dim: usize, mean: bool) {
    let d = heads * head_dim;
    let mut m = vec![0.0f32; head_dim]; // (head_dim): the head's mean context
    for b in 0..batch {
        let len = lengths[b].min(seq);
        for h in (0..heads).filter(|&h| keep[b * heads + h] == 0.0) {
            m.iter_mut().for_each(|v| *v = 0.0);
            if mean && len > 0 {
                for t in 0..len {
                    add_inplace(&mut m, &ctx[(b * seq + t) * d + h * head_dim..][..head_dim]);
                }
                let inv = 1.0 / len as f32;
                m.iter_mut().for_each(|v| *v *= inv);
            }
            for t in 0..seq {
                ctx[(b * seq + t) * d + h * head_dim..][..head_dim].copy_from_slice(&m);
            }
        }
    }
}

/// The power of two LayerNorm scales a row by before its statistics, given the row's largest `|x|`: 1 below
/// 2^50, else `2^(128 − e)` for `amax = 2^(e−1)…` (biased exponent `e`), which brings the row into
/// [−4, 4]. Without it the variance of a row of huge but finite values (`|x| ≳ 1.8e19`: the squares, or
/// the sum of d of them, overflow f32) is infinite and the output NaN; LayerNorm is scale-invariant
/// (`LN(s·x)` with `eps·s²` equals `LN(x)` with `eps`) and a power of two scales exactly, so scaled
/// rows lose nothing and every other row computes bit for bit what it did before. A NaN or infinite
/// `amax` (exponent 255) is left alone: non-finite in, non-finite out. `shaders/layer_norm.wgsl` does
/// the same.
pub fn ln_row_scale(amax: f32) -> f32 {
    let e = (amax.to_bits() >> 23) & 0xff;
    if (177..=254).contains(&e) {
        f32::from_bits((255 - e) << 23)
    } else {
        1.0
    }
}

/// LayerNorm over the last dimension `d` of `x (rows, d)`: `(x − mean) / sqrt(var + eps) · w + b` with the
/// biased variance. Optionally writes the per-row mean and variance it used (a variance beyond f32's range
/// reads `f32::MAX`). Rows of huge values are first scaled by [`ln_row_scale`].
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: usize,
    d: usize,
    eps: f32,
    mut stats: Option<(&mut [f32], &mut [f32])>,
) {
    for r in 0..rows {
        let xr = &x[r * d..(r + 1) * d];
        // Mean and variance of the scaled row s·x (s = 1 for all but huge rows).
        let s = ln_row_scale(xr.iter().fold(0.0f32, |a, v| a.max(v.abs())));
        // A scaled row's mean is taken relative to its first value, so a constant row has exactly its
        // value as mean and variance 0 (its eps·s² is ~0 and would not hide the rounding of a plain sum).
        let shift = if s == 1.0 { 0.0 } else { xr[0] * s };
        let mean = shift + xr.iter().map(|v| v * s - shift).sum::<f32>() / d as f32;
        let var = xr.iter().map(|v| (v * s - mean) * (v * s - mean)).sum::<f32>() / d as f32;
        let rstd = 1.0 / (var + eps * s * s).max(f32::MIN_POSITIVE).sqrt();
        let or = &mut out[r * d..(r + 1) * d];
        for i in 0..d {
            or[i] = (xr[i] * s - mean) * rstd * w[i] + b[i];
        }
        if let Some((m, v)) = stats.as_mut() {
            m[r] = mean / s;
            v[r] = (var / s / s).min(f32::MAX);
        }
    }
}

/// BatchNorm1d in eval mode over the features of `x (rows, d)`:
/// `(x − running_mean) / sqrt(running_var + eps) · w + b`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_eval(
    x: &[f32],
    mean: &[f32],
    var: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    rows: usize,
    d: usize,
    eps: f32,
) {
    let scale: Vec<f32> = (0..d).map(|i| w[i] / (var[i] + eps).sqrt()).collect();
    for r in 0..rows {
        for i in 0..d {
            out[r * d + i] = (x[r * d + i] - mean[i]) * scale[i] + b[i];
        }
    }
}

/// Per-feature mean and biased variance of `x (rows, d)` over all rows: what train-mode BatchNorm uses.
pub fn batch_stats(x: &[f32], rows: usize, d: usize, mean: &mut [f32], var: &mut [f32]) {
    // Accumulate in f64: a batch can hold thousands of positions.
    let mut s = vec![0.0f64; d];
    for r in 0..rows {
        for i in 0..d {
            s[i] += x[r * d + i] as f64;
        }
    }
    for i in 0..d {
        mean[i] = (s[i] / rows.max(1) as f64) as f32;
    }
    let mut q = vec![0.0f64; d];
    for r in 0..rows {
        for i in 0..d {
            let c = x[r * d + i] as f64 - mean[i] as f64;
            q[i] += c * c;
        }
    }
    for i in 0..d {
        var[i] = (q[i] / rows.max(1) as f64) as f32;
    }
}

/// `a += b`, element-wise.
pub fn add_inplace(a: &mut [f32], b: &[f32]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Exact GELU, `x · Φ(x)` with erf (PyTorch `F.gelu`).
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's tanh approximation (PyTorch `F.gelu(x, approximate="tanh")`).
pub fn gelu_tanh(x: f32) -> f32 {
    const K: f32 = 0.797_884_6; // sqrt(2/pi)
    0.5 * x * (1.0 + (K * (x + 0.044_715 * x * x * x)).tanh())
}

/// `x · sigmoid(x)` (PyTorch `F.silu`, a.k.a. swish).
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// Apply `act` element-wise, in place (the scalar oracle).
pub fn activation_inplace(x: &mut [f32], act: Activation) {
    match act {
        Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Gelu => x.iter_mut().for_each(|v| *v = gelu(*v)),
        Activation::GeluTanh => x.iter_mut().for_each(|v| *v = gelu_tanh(*v)),
        Activation::Silu => x.iter_mut().for_each(|v| *v = silu(*v)),
        Activation::Tanh => x.iter_mut().for_each(|v| *v = v.tanh()),
    }
}

/// DeLighT's group linear transformation with input mixer and feature shuffle, one op:
/// `x (rows, xd)`, optional `mix (rows, md)`, `w (g, (md + xd)/g, n/g)`, `bias (g, n/g)` → `out (rows, n)`.
/// Input group `k` is `[mix[k·md/g .. (k+1)·md/g], x[k·xd/g .. (k+1)·xd/g]]`; output group `k`'s element `j`
/// lands at `j·g + k` (the shuffle; identity for `g = 1`).
#[allow(clippy::too_many_arguments)]
pub fn glt(x: &[f32], mix: Option<&[f32]>, w: &[f32], bias: &[f32], out: &mut [f32], rows: usize, xd: usize, md: usize, n: usize, g: usize) {
    let (xg, mg, og) = (xd / g, md / g, n / g);
    let ig = xg + mg;
    let mut acc = vec![0.0f32; og]; // (n/g): one output group
    for r in 0..rows {
        for k in 0..g {
            acc.copy_from_slice(&bias[k * og..(k + 1) * og]);
            let wk = &w[k * ig * og..(k + 1) * ig * og]; // (ig, og)
            let inputs = mix.map_or(&[][..], |m| &m[r * md + k * mg..r * md + (k + 1) * mg]).iter().chain(&x[r * xd + k * xg..r * xd + (k + 1) * xg]);
            for (i, &a) in inputs.enumerate() {
                for (o, &wv) in acc.iter_mut().zip(&wk[i * og..(i + 1) * og]) {
                    *o += a * wv;
                }
            }
            for (j, &v) in acc.iter().enumerate() {
                out[r * n + j * g + k] = v;
            }
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_masks() {
        let mut r = [1.0, 2.0, f32::NEG_INFINITY, 3.0];
        softmax_inplace(&mut r);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(r[2], 0.0);
        let mut all = [f32::NEG_INFINITY; 3];
        softmax_inplace(&mut all);
        assert_eq!(all, [0.0; 3]);
    }

    #[test]
    fn linear_small() {
        // x (1,2) · w(3,2)ᵀ + b
        let mut out = [0.0; 3];
        linear(&[1.0, 2.0], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], Some(&[0.5, 0.5, 0.5]), &mut out, 1, 2, 3);
        assert_eq!(out, [1.5, 2.5, 3.5]);
    }

    #[test]
    fn gelu_values() {
        // torch.nn.functional.gelu(torch.tensor([-1., 0.5, 2.]))
        let want = [-0.158_655_26, 0.345_731_1, 1.954_5];
        for (x, w) in [-1.0f32, 0.5, 2.0].iter().zip(want) {
            assert!((gelu(*x) - w).abs() < 1e-5, "{x}: {} vs {w}", gelu(*x));
        }
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-5);
    }

    #[test]
    fn seed_example_layer_and_batch_norm() {
        // The seeds' example: x = [[1,1,1],[1,2,4],[1,5,5],[1,3,4]].
        let x = [1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 1.0, 5.0, 5.0, 1.0, 3.0, 4.0];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        batch_stats(&x, 4, 3, &mut m, &mut v);
        assert_eq!(m, [1.0, 2.75, 3.5]);
        assert!((v[1] - 2.1875).abs() < 1e-6 && (v[2] - 2.25).abs() < 1e-6);
        let mut ln = [0.0; 12];
        let (mut lm, mut lv) = ([0.0; 4], [0.0; 4]);
        layer_norm(&x, &[1.0; 3], &[0.0; 3], &mut ln, 4, 3, 1e-5, Some((&mut lm, &mut lv)));
        assert_eq!(lm[0], 1.0);
        assert_eq!(&ln[0..3], &[0.0, 0.0, 0.0]);
        // Row [1,2,4]: mean 7/3, var 14/9 → first entry (1-7/3)/sqrt(14/9+1e-5) = -1.0690...
        assert!((ln[3] + 1.069_040_9).abs() < 1e-4, "{}", ln[3]);
    }
}

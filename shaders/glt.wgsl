// DeLighT's group linear transformation (GLT) with the input mixer and the feature shuffle folded into
// the index arithmetic (no concatenation or permutation pass):
//
//   input group k  = [mix[r, k·md/g .. (k+1)·md/g], x[r, k·xd/g .. (k+1)·xd/g]]      (length ig = (md+xd)/g)
//   y[k, j]        = bias[k, j] + Σ_i input_k[i] · w[k, i, j]                          (j < og = n/g)
//   out[r, j·g + k] = y[k, j]                                                            (the shuffle)
//
// With g = 1 it is a plain linear layer on [mix, x] (w stored (1, in, out)). md = 0: no mixer (mix unread).
//
// Layouts (row-major f32): x (rows, xd); mix (rows, md); w (g, ig, og); bias (g, og); out (rows, n).
//
// Dispatch: (gx, gy, 1) workgroups of 64 threads with 64 · gx · gy >= rows · n (gx <= 65535); thread
// t = (wg.y · gx + wg.x) · 64 + lid.x computes out element t (row t / n, position p = t % n, output group
// k = p % g, element j = p / g); threads past the end return.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 mix (read), 3 w (read), 4 bias (read),
// 5 out (read_write).

struct Params {
    rows: u32,
    xd: u32,
    md: u32,
    n: u32,
    groups: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mix: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = (wg.y * nwg.x + wg.x) * 64u + lid.x;
    let n = params.n;
    if (t >= params.rows * n) { return; }
    let g = params.groups;
    let r = t / n;
    let p = t % n;
    let k = p % g;
    let j = p / g;
    let og = n / g;
    let xg = params.xd / g;
    let mg = params.md / g;
    let ig = xg + mg;
    let wk = k * ig * og + j; // w[k, 0, j]; input i adds i · og
    var acc = bias[k * og + j];
    let mbase = r * params.md + k * mg;
    for (var i = 0u; i < mg; i++) {
        acc += mix[mbase + i] * w[wk + i * og];
    }
    let xbase = r * params.xd + k * xg;
    for (var i = 0u; i < xg; i++) {
        acc += x[xbase + i] * w[wk + (mg + i) * og];
    }
    out[r * n + p] = acc;
}

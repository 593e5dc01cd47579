// BatchNorm1d over features, applied with given statistics (eval mode: the running ones; or this
// batch's, from batch_stats.wgsl): out = (x − mean) · (w / sqrt(var + eps)) + b, element-wise.
//
// Layouts (row-major f32): x (rows, d); stats (2 · d): means in [0, d), variances in [d, 2 · d);
// weight (d); bias (d); out (rows, d).
//
// Dispatch: (gx, gy, 1) workgroups of 256 threads, gx · gy · 256 >= rows · d (gx <= 65535); element
// index (wg.y · gx + wg.x) · 256 + local index.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 stats (read), 3 weight (read), 4 bias (read),
// 5 out (read_write).

struct Params {
    rows: u32,
    d: u32,
    eps: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let idx = (wg.y * nwg.x + wg.x) * 256u + li;
    let d = params.d;
    if (idx >= params.rows * d) { return; }
    let f = idx % d;
    let scale = weight[f] / sqrt(stats[d + f] + params.eps);
    out[idx] = (x[idx] - stats[f]) * scale + bias[f];
}

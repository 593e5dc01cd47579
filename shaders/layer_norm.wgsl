// LayerNorm over the last dimension, one workgroup per row: mean, then the biased variance of the centred
// values (two passes over the row, as the CPU reference does), then (x − mean) / sqrt(var + eps) · w + b.
// Also writes the row's mean and variance (the trace's LayerNorm statistics; a variance beyond f32's
// range reads the largest f32). A row whose largest |x| reaches 2^50 is first scaled by a power of two
// into [−4, 4] (with eps · s²), exactly as the CPU's `scalar::ln_row_scale`: its variance would
// otherwise overflow to infinity and the output be NaN. Other rows compute what they did before.
//
// Layouts (row-major f32): x (rows, d); weight (d); bias (d); out (rows, d); stats (2 · rows): means in
// [0, rows), variances in [rows, 2 · rows).
//
// Dispatch: (gx, gy, 1) workgroups of 64 threads with gx · gy >= rows (gx <= 65535); the row is
// wg.y · gx + wg.x, and workgroups past the last row return.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 weight (read), 3 bias (read), 4 out (read_write),
// 5 stats (read_write).

struct Params {
    rows: u32,
    d: u32,
    eps: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

const WG: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

fn reduce_max(v: f32, t: u32) -> f32 {
    partial[t] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (t < s) { partial[t] = max(partial[t], partial[t + s]); }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

// scalar::ln_row_scale: 1, or 2^(128 − e) for a largest |x| of biased exponent e in 177..=254.
fn row_scale(amax: f32) -> f32 {
    let e = (bitcast<u32>(amax) >> 23u) & 0xffu;
    return select(1.0, bitcast<f32>((255u - e) << 23u), e >= 177u && e <= 254u);
}

fn reduce_sum(v: f32, t: u32) -> f32 {
    partial[t] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (t < s) { partial[t] += partial[t + s]; }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wg.y * nwg.x + wg.x;
    if (row >= params.rows) { return; }
    let d = params.d;
    let t = lid.x;
    let base = row * d;

    var a = 0.0;
    for (var i = t; i < d; i += WG) { a = max(a, abs(x[base + i])); }
    let sc = row_scale(reduce_max(a, t));
    // A scaled row's mean relative to its first value (scalar::layer_norm): a constant row gets variance 0.
    let shift = select(0.0, x[base] * sc, sc != 1.0);
    var s = 0.0;
    for (var i = t; i < d; i += WG) { s += x[base + i] * sc - shift; }
    let mean = shift + reduce_sum(s, t) / f32(d);
    var q = 0.0;
    for (var i = t; i < d; i += WG) {
        let c = x[base + i] * sc - mean;
        q += c * c;
    }
    let var_ = reduce_sum(q, t) / f32(d);
    let rstd = 1.0 / sqrt(max(var_ + params.eps * sc * sc, 1.17549435e-38));
    for (var i = t; i < d; i += WG) {
        out[base + i] = (x[base + i] * sc - mean) * rstd * weight[i] + bias[i];
    }
    if (t == 0u) {
        stats[row] = mean / sc;
        stats[params.rows + row] = min(var_ / sc / sc, bitcast<f32>(0x7f7fffffu)); // f32::MAX: Tint rejects the literal 3.40282347e38 as out of range
    }
}

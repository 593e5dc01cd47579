// Row-wise numerically stable softmax (the classifier's probabilities): exp(x − max) / sum.
//
// Layouts: x (rows, n) f32; out (rows, n) f32.
//
// Dispatch: (ceil(rows / 64), 1, 1) workgroups of 64 threads; one thread per row (n is the number of
// labels: small).
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 out (read_write).

struct Params {
    rows: u32,
    n: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= params.rows) { return; }
    let n = params.n;
    let base = r * n;
    var m = x[base];
    for (var j = 1u; j < n; j++) { m = max(m, x[base + j]); }
    var sum = 0.0;
    for (var j = 0u; j < n; j++) {
        let e = exp(x[base + j] - m);
        out[base + j] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < n; j++) { out[base + j] = out[base + j] * inv; }
}

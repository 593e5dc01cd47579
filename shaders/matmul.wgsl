// Tiled matrix multiply with bias and a fused epilogue — the workhorse for the QKV projection, the
// attention output projection, both FFN layers, the pooler and the classifier.
//
//   out (m, n) = act(x (m, k) · wᵀ + bias)            accumulate = 0
//   out (m, n) = out + act(x (m, k) · wᵀ + bias)      accumulate = 1 (fused residual add)
//
// Layouts (row-major f32): x (m, k); w (n, k), PyTorch nn.Linear layout; bias (n); out (m, n).
// act: 0 identity, 1 ReLU, 2 GELU (erf), 3 GELU (tanh approximation), 4 tanh (BERT pooler), 5 SiLU / swish.
//
// Dispatch: (ceil(n / 64), ceil(m / 64), 1) workgroups of 16 × 16 threads. A workgroup owns a 64 × 64
// output tile and walks k in steps of 16, staging a 64 × 16 slice of x and of w in workgroup memory
// (8 KiB). Each thread accumulates a 4 × 4 block: rows ty + 16·i, columns tx + 16·j (i, j < 4), so
// neighbouring threads write neighbouring columns. Every load and store is bounds-checked: any m, n, k.
// When k % 4 == 0 (vec4 = 1) each thread loads its four consecutive k values with one vec4 load through
// the vec4 views of x and w (bindings 5, 6: the same buffers as 1, 2).
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 w (read), 3 bias (read), 4 out (read_write),
// 5 x as vec4 (read), 6 w as vec4 (read).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    has_bias: u32,
    accumulate: u32,
    vec4: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> w4: array<vec4<f32>>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>; // [kk][row]: TK × TILE
var<workgroup> ws: array<f32, 1024>; // [kk][col]: TK × TILE

// activate(v, act): shaders/include/activate.wgsl, prepended.

// Four consecutive values of row `r` of a (rows, k) matrix starting at column `c`, zero outside.
fn load_x(r: u32, c: u32) -> vec4<f32> {
    let m = params.m;
    let k = params.k;
    if (r >= m) { return vec4<f32>(0.0); }
    if (params.vec4 == 1u) {
        if (c >= k) { return vec4<f32>(0.0); }
        return x4[(r * k + c) / 4u];
    }
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if (c + e < k) { v[e] = x[r * k + c + e]; }
    }
    return v;
}

fn load_w(r: u32, c: u32) -> vec4<f32> {
    let n = params.n;
    let k = params.k;
    if (r >= n) { return vec4<f32>(0.0); }
    if (params.vec4 == 1u) {
        if (c >= k) { return vec4<f32>(0.0); }
        return w4[(r * k + c) / 4u];
    }
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if (c + e < k) { v[e] = w[r * k + c + e]; }
    }
    return v;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tx = lid.x;
    let ty = lid.y;
    let tid = ty * 16u + tx;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    // This thread's share of each tile load: one row (of x, and of w) and four consecutive k.
    let lr = tid / 4u;
    let lk = (tid % 4u) * 4u;

    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }

    for (var k0 = 0u; k0 < params.k; k0 += TK) {
        let xv = load_x(row0 + lr, k0 + lk);
        let wv = load_w(col0 + lr, k0 + lk);
        for (var e = 0u; e < 4u; e++) {
            xs[(lk + e) * TILE + lr] = xv[e];
            ws[(lk + e) * TILE + lr] = wv[e];
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = xs[kk * TILE + ty + 16u * i];
                b[i] = ws[kk * TILE + tx + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += a[i] * b[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let r = row0 + ty + 16u * i;
        if (r >= params.m) { continue; }
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + tx + 16u * j;
            if (c >= params.n) { continue; }
            var v = acc[i * 4u + j];
            if (params.has_bias == 1u) { v += bias[c]; }
            v = activate(v, params.act);
            let o = r * params.n + c;
            if (params.accumulate == 1u) { v = out[o] + v; }
            out[o] = v;
        }
    }
}

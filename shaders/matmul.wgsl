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
// Entry point `main_rows` (register-tiled, no workgroup memory, no barriers; needs vec4 = 1, k % 4 == 0):
// dispatch (ceil(n / 64), ceil(m / 16), 1) workgroups of 16 × 4 threads, a 16 × 64 output tile each;
// thread (tx, ty) owns rows 4·ty.. and columns 4·tx.. of it (4 × 4 outputs), reading its four rows of x
// and of w straight from storage one vec4 of k at a time. For short sequences (the 64-row tile of `main`
// wastes ¾ of its work at 16 rows) and on adapters that emulate a GPU on the CPU, where workgroup memory
// is ordinary memory and each barrier a context switch of every invocation. Rows and columns past m / n
// are clamped for the loads (no branch in the k loop) and not stored.
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
    if (r >= m || c >= k) { return vec4<f32>(0.0); }
    if (params.vec4 == 1u) { return x4[(r * k + c) / 4u]; }
    let i = r * k + c;
    return vec4<f32>(x[i], select(0.0, x[i + 1u], c + 1u < k), select(0.0, x[i + 2u], c + 2u < k), select(0.0, x[i + 3u], c + 3u < k));
}

fn load_w(r: u32, c: u32) -> vec4<f32> {
    let n = params.n;
    let k = params.k;
    if (r >= n || c >= k) { return vec4<f32>(0.0); }
    if (params.vec4 == 1u) { return w4[(r * k + c) / 4u]; }
    let i = r * k + c;
    return vec4<f32>(w[i], select(0.0, w[i + 1u], c + 1u < k), select(0.0, w[i + 2u], c + 2u < k), select(0.0, w[i + 3u], c + 3u < k));
}

// Accumulators are named vec4s, never arrays: a dynamically indexed private array is memory (per-lane
// gathers and scatters) on CPU emulations of a GPU, and spills on some GPUs.
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

    // acc_i: row ty + 16·i, columns tx + 16·j in component j.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    for (var k0 = 0u; k0 < params.k; k0 += TK) {
        let xv = load_x(row0 + lr, k0 + lk);
        let wv = load_w(col0 + lr, k0 + lk);
        xs[lk * TILE + lr] = xv.x;
        xs[(lk + 1u) * TILE + lr] = xv.y;
        xs[(lk + 2u) * TILE + lr] = xv.z;
        xs[(lk + 3u) * TILE + lr] = xv.w;
        ws[lk * TILE + lr] = wv.x;
        ws[(lk + 1u) * TILE + lr] = wv.y;
        ws[(lk + 2u) * TILE + lr] = wv.z;
        ws[(lk + 3u) * TILE + lr] = wv.w;
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let o = kk * TILE;
            let a = vec4<f32>(xs[o + ty], xs[o + ty + 16u], xs[o + ty + 32u], xs[o + ty + 48u]);
            let b = vec4<f32>(ws[o + tx], ws[o + tx + 16u], ws[o + tx + 32u], ws[o + tx + 48u]);
            acc0 += a.x * b;
            acc1 += a.y * b;
            acc2 += a.z * b;
            acc3 += a.w * b;
        }
        workgroupBarrier();
    }

    store_spread(row0 + ty, col0 + tx, acc0);
    store_spread(row0 + ty + 16u, col0 + tx, acc1);
    store_spread(row0 + ty + 32u, col0 + tx, acc2);
    store_spread(row0 + ty + 48u, col0 + tx, acc3);
}

// `main`'s outputs of row r: columns c + 16·j from component j.
fn store_spread(r: u32, c: u32, acc: vec4<f32>) {
    if (r >= params.m) { return; }
    if (c < params.n) { store(r, c, acc.x); }
    if (c + 16u < params.n) { store(r, c + 16u, acc.y); }
    if (c + 32u < params.n) { store(r, c + 32u, acc.z); }
    if (c + 48u < params.n) { store(r, c + 48u, acc.w); }
}

// The epilogue of one output: bias, activation, residual add, store.
fn store(r: u32, c: u32, acc: f32) {
    var v = acc;
    if (params.has_bias == 1u) { v += bias[c]; }
    v = activate(v, params.act);
    let o = r * params.n + c;
    if (params.accumulate == 1u) { v = out[o] + v; }
    out[o] = v;
}

// `main_rows`'s outputs of row r: columns c .. c + 3.
fn store_row(r: u32, c: u32, acc: vec4<f32>) {
    if (r >= params.m) { return; }
    if (c < params.n) { store(r, c, acc.x); }
    if (c + 1u < params.n) { store(r, c + 1u, acc.y); }
    if (c + 2u < params.n) { store(r, c + 2u, acc.z); }
    if (c + 3u < params.n) { store(r, c + 3u, acc.w); }
}

@compute @workgroup_size(16, 4, 1)
fn main_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m = params.m;
    let n = params.n;
    let k4 = params.k / 4u;
    let r0 = wg.y * 16u + lid.y * 4u;
    let c0 = wg.x * 64u + lid.x * 4u;
    if (r0 >= m || c0 >= n) { return; }
    // First vec4 of each of this thread's rows of x and of w (clamped: duplicates are computed, not stored).
    let x0 = min(r0, m - 1u) * k4;
    let x1 = min(r0 + 1u, m - 1u) * k4;
    let x2 = min(r0 + 2u, m - 1u) * k4;
    let x3 = min(r0 + 3u, m - 1u) * k4;
    let w0 = min(c0, n - 1u) * k4;
    let w1 = min(c0 + 1u, n - 1u) * k4;
    let w2 = min(c0 + 2u, n - 1u) * k4;
    let w3 = min(c0 + 3u, n - 1u) * k4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < k4; kk++) {
        let a0 = x4[x0 + kk];
        let a1 = x4[x1 + kk];
        let a2 = x4[x2 + kk];
        let a3 = x4[x3 + kk];
        let b0 = w4[w0 + kk];
        let b1 = w4[w1 + kk];
        let b2 = w4[w2 + kk];
        let b3 = w4[w3 + kk];
        acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
        acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
        acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
        acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    }
    store_row(r0, c0, acc0);
    store_row(r0 + 1u, c0, acc1);
    store_row(r0 + 2u, c0, acc2);
    store_row(r0 + 3u, c0, acc3);
}

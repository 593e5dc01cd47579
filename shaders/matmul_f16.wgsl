// Linear over f16 weights computed in f32 (src/cpu/quant.rs `linear_f16`, PyTorch's
// quantize_dynamic(dtype=float16)): shaders/matmul.wgsl with the weight tiles unpacked from IEEE half
// pairs with integer bit operations (exact: every half is an f32). Not `unpack2x16float`: wgpu allows it
// only where the adapter reports SHADER_F16_IN_F32, which Mesa's llvmpipe ties to the shader-f16
// feature — and every pipeline is built at start-up, so one such shader would cost the whole GPU path.
//
//   out (m, n) = act(x (m, k) · f32(w)ᵀ + bias)            accumulate = 0
//   out (m, n) = out + x (m, k) · f32(w)ᵀ + bias           accumulate = 1 (fused residual add)
//
// Layouts: x (m, k) f32 row-major; w (n, kw) u32 with kw = 2·ceil(k/4): two halves per word, element
// 2·j in the low 16 bits of word j, each row's tail zero; bias (n) f32; out (m, n) f32.
// act: 0 identity, 1 ReLU, 2 GELU (erf), 3 GELU (tanh approximation), 4 tanh, 5 SiLU.
//
// Dispatch: (ceil(n / 64), ceil(m / 64), 1) workgroups of 16 × 16 threads; a workgroup owns a 64 × 64
// output tile and walks k in steps of 16, staging 64 × 16 slices of x and of w (8 KiB); each thread
// accumulates a 4 × 4 block (rows ty + 16·i, columns tx + 16·j). Every load and store is bounds-checked.
// When k % 4 == 0 (vec4 = 1) x is read through its vec4 view (binding 5: the same buffer as 1).
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 w (read), 3 bias (read), 4 out (read_write),
// 5 x as vec4 (read).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    has_bias: u32,
    accumulate: u32,
    vec4: u32,
    kw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> x4: array<vec4<f32>>;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>; // [kk][row]: TK × TILE
var<workgroup> ws: array<f32, 1024>; // [kk][col]: TK × TILE

// activate(v, act): shaders/include/activate.wgsl, prepended.

// Four consecutive values of row `r` of x starting at column `c`, zero outside.
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

// IEEE half `h` (low 16 bits) as f32, exactly.
fn half(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) { // zero or subnormal: m · 2^-24 (both factors and the product exact)
        return bitcast<f32>(bitcast<u32>(f32(m) * 5.9604644775390625e-8) | s);
    }
    if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}

fn halves(v: u32) -> vec2<f32> {
    return vec2<f32>(half(v & 0xffffu), half(v >> 16u));
}

// Weights c .. c + 3 (c a multiple of 4) of row `r`: two words of halves; the padded tail is zero.
fn load_w(r: u32, c: u32) -> vec4<f32> {
    if (r >= params.n || c >= params.k) { return vec4<f32>(0.0); }
    let i = r * params.kw + c / 2u;
    return vec4<f32>(halves(w[i]), halves(w[i + 1u]));
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tx = lid.x;
    let ty = lid.y;
    let tid = ty * 16u + tx;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
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
            let o = r * params.n + c;
            if (params.accumulate == 1u) {
                v = out[o] + v;
            } else {
                v = activate(v, params.act);
            }
            out[o] = v;
        }
    }
}

// int8 linear with PyTorch's dynamic quantization (src/cpu/quant.rs `linear_int8`): the input quantized
// on load with the parameters shaders/act_quant.wgsl computed, an exact integer product, the
// dequantizing epilogue, the f32 outlier columns, and a fused activation / residual add. Two activation
// grids: fbgemm's (grid 0: reduce_range, 0..127, fma epilogue) and qnnpack's (grid 1: 0..255, mul then add):
//
//   q_x[r, i]  = clamp(round_half_even(x[r, i] · inv) + zp, 0, qmax)      (qmax 127 or 255)
//   acc[r, c]  = Σ_i (q_x[r, i] − off) · q_w[c, i]                         (i32, exact; off 0 or 128)
//   raw[r, c]  = acc[r, c] − (zp − off) · rowsum[c]                         (= Σ_i (q_x − zp) · q_w)
//   y[r, c]    = fma(f32(raw), scale · w_scale[c], bias[c])                 grid 0
//   y[r, c]    = f32(raw) · (scale · w_scale[c]) + bias[c]                  grid 1 (two roundings)
//   y[r, c]   += Σ_j x[r, cols[j]] · w_out[c, j]                            (ncols outlier columns, f32,
//                                                                          summed in j order)
//   out[r, c]  = act(y)           accumulate = 0
//   out[r, c] += y                accumulate = 1
//   out[r, c]  = bitcast<f32>(raw[r, c])                                   raw = 1 (the tests' view)
//
// An input holding a NaN or an infinity (qp ok = 0; an outlier column's too) makes every output NaN, as
// on the CPU. The weight's outlier columns are 0 (matmul_int8.rs `pack` zeroes them and sums the rows
// without them), so whatever x holds there takes no part in the integer product.
// The inner product of two words (four int8 × int8 products) is `dot4I8Packed` where WGSL's
// packed_4x8_integer_dot_product language feature is there, else unpacked with shifts: the context picks
// the prepended dot4 at pipeline build (src/gpu/ops/matmul_int8.rs). The activation bytes are stored as
// signed int8 q_x − off (q_x itself on the 7-bit grid, q_x − 128 on the 8-bit one), which both take. Every
// integer is exact, so either equals the CPU's integer for integer.
//
// Layouts: x (m, k) f32; qp [scale bits, zero point, inv bits, ok] u32; w (n, kw) u32 with kw = ceil(k/4),
// four int8 per word, element 4·j + b of a row in byte b (little-endian), the row's tail bytes 0;
// rows (n) vec2<u32> [w_scale bits, rowsum as i32 bits]; bias (n) f32; out (m, n) f32;
// cols (ncols) u32; w_out (n, ncols) f32.
//
// Dispatch: (ceil(n / 64), ceil(m / 64), 1) workgroups of 16 × 16 threads. A workgroup owns a 64 × 64
// output tile and walks k in steps of 16 (4 words), staging a 64 × 4-word slice of quantized x and of w
// in workgroup memory (2 KiB); each thread accumulates a 4 × 4 block: rows ty + 16·i, columns tx + 16·j.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 qp (read), 3 w (read), 4 rows (read), 5 bias (read),
// 6 out (read_write), 7 cols (read), 8 w_out (read).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    kw: u32,
    act: u32,
    has_bias: u32,
    accumulate: u32,
    raw: u32,
    grid: u32,
    ncols: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> qp: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> rows: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> cols: array<u32>;
@group(0) @binding(8) var<storage, read> w_out: array<f32>;

const TILE: u32 = 64u;
const TW: u32 = 4u; // words of k per step

var<workgroup> xs: array<u32, 256>; // [word][row]: TW × TILE
var<workgroup> ws: array<u32, 256>; // [word][col]: TW × TILE

// activate(v, act): shaders/include/activate.wgsl, prepended.

// x quantized, as the byte stored: clamp(round_half_even(v · inv) + zp, 0, qmax) − off as int8 (|v · inv|
// is clamped first so the conversion to i32 is defined; anything past ±256 clamps to 0 or qmax either way).
fn quantize(v: f32, inv: f32, zp: i32, qmax: i32, off: u32) -> u32 {
    let t = clamp(round(v * inv), -256.0, 256.0);
    return u32(clamp(i32(t) + zp, 0, qmax)) ^ off;
}

// dot4(a, b): Σ of the four products of a word of int8 activations and a word of int8 weights —
// shaders/include/dot4_packed.wgsl (dot4I8Packed) or dot4_unpack.wgsl (shifts), prepended.

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tx = lid.x;
    let ty = lid.y;
    let tid = ty * 16u + tx;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let lr = tid / TW; // this thread's row of the tile loads
    let lw = tid % TW; // and its word
    let zp = i32(qp[1]);
    let inv = bitcast<f32>(qp[2]);
    let wide = params.grid == 1u; // qnnpack's 8-bit grid
    let qmax = select(127, 255, wide);
    let off = select(0u, 0x80u, wide); // q − 128 is q with its top bit flipped

    var acc: array<i32, 16>;
    for (var i = 0u; i < 16u; i++) { acc[i] = 0; }

    for (var w0 = 0u; w0 < params.kw; w0 += TW) {
        let word = w0 + lw;
        var xp = 0u;
        let r = row0 + lr;
        if (r < params.m) {
            for (var e = 0u; e < 4u; e++) {
                let c = 4u * word + e;
                if (c < params.k) { xp |= quantize(x[r * params.k + c], inv, zp, qmax, off) << (8u * e); }
            }
        }
        xs[lw * TILE + lr] = xp;
        let c = col0 + lr;
        var wp = 0u;
        if (c < params.n && word < params.kw) { wp = w[c * params.kw + word]; }
        ws[lw * TILE + lr] = wp;
        workgroupBarrier();
        for (var kk = 0u; kk < TW; kk++) {
            var a: array<u32, 4>;
            var b: array<u32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = xs[kk * TILE + ty + 16u * i];
                b[i] = ws[kk * TILE + tx + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += dot4(a[i], b[j]);
                }
            }
        }
        workgroupBarrier();
    }

    // The outlier columns' f32 product, register-blocked like the integer one: per column, 4 values of x
    // (this thread's rows) and 4 weights (its columns), 16 products (rows and columns past the edge read
    // the last one, and are not written).
    var fo: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { fo[i] = 0.0; }
    for (var t = 0u; t < params.ncols; t++) {
        let col = cols[t];
        var xo: array<f32, 4>;
        var wo: array<f32, 4>;
        for (var i = 0u; i < 4u; i++) {
            xo[i] = x[min(row0 + ty + 16u * i, params.m - 1u) * params.k + col];
            wo[i] = w_out[min(col0 + tx + 16u * i, params.n - 1u) * params.ncols + t];
        }
        for (var i = 0u; i < 4u; i++) {
            for (var j = 0u; j < 4u; j++) {
                fo[i * 4u + j] += xo[i] * wo[j];
            }
        }
    }

    let ok = qp[3] == 1u;
    let sx = bitcast<f32>(qp[0]);
    let nan = bitcast<f32>(0x7fc00000u | qp[3]); // qp[3] is 0 here: a quiet NaN computed at run time
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + ty + 16u * i;
        if (r >= params.m) { continue; }
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + tx + 16u * j;
            if (c >= params.n) { continue; }
            let o = r * params.n + c;
            let rw = rows[c];
            let raw = acc[i * 4u + j] - (zp - i32(off)) * bitcast<i32>(rw.y);
            if (params.raw == 1u) {
                out[o] = bitcast<f32>(raw);
                continue;
            }
            if (!ok) {
                out[o] = nan;
                continue;
            }
            var b = 0.0;
            if (params.has_bias == 1u) { b = bias[c]; }
            let mult = sx * bitcast<f32>(rw.x);
            var v = 0.0;
            if (wide) {
                v = f32(raw) * mult;
                v = v + b;
            } else {
                v = fma(f32(raw), mult, b);
            }
            if (params.ncols > 0u) { v = v + fo[i * 4u + j]; }
            if (params.accumulate == 1u) {
                v = out[o] + v;
            } else {
                v = activate(v, params.act);
            }
            out[o] = v;
        }
    }
}

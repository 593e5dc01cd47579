// Fused multi-head self-attention with a key-padding mask, one workgroup per (query block, head, batch):
// scores q·kᵀ, scale 1/sqrt(head_dim), mask keys at positions >= length, numerically stable softmax and the
// probability-weighted sum of V, in one pass over the keys (online softmax: running max and sum,
// accumulator rescaled when the max grows). When write_probs = 1 (only when the trace asks) a second pass
// recomputes each score and writes the normalised probabilities, exp(s − max) / sum, 0 on masked keys —
// the page's heatmaps come from here.
//
// Layouts (row-major f32): qkv (batch, seq, 3·d) packed [q | k | v] (PyTorch in_proj order), head h uses
// columns h·head_dim .. (h+1)·head_dim of each part; lengths (batch) u32; out (batch, seq, d), heads
// concatenated; probs (batch, heads, seq, seq).
//
// Dispatch: (ceil(seq / 64), heads, batch) workgroups of 64 threads; thread t owns query q0 + t.
// Keys and values stream through workgroup memory in tiles of floor(1024 / head_dim) keys (8 KiB).
// head_dim <= 128 (MAX_DH; the host refuses larger).
//
// Entry point `main_small`, for small heads (head_dim <= 32 and a multiple of 4: MiniLM's 32): no
// workgroup memory and no barriers. Dispatch (ceil(seq / 16), ceil(heads / 4), batch) workgroups of
// 16 × 4 threads; thread (tx, ty) owns query 16·wg.x + tx of head 4·wg.y + ty, holds its q and its
// accumulator in eight vec4 registers and reads keys and values through the vec4 view of qkv (binding 5)
// straight from storage: 16 queries per head instead of 64, so a short sequence leaves few threads idle.
// Same online softmax and the same probabilities pass as `main`.
//
// Bindings (group 0): 0 params (uniform), 1 qkv (read), 2 lengths (read), 3 out (read_write),
// 4 probs (read_write), 5 qkv as vec4 (read; the same buffer as 1).

struct Params {
    batch: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    scale: f32,
    write_probs: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read> qkv4: array<vec4<f32>>;

const BQ: u32 = 64u;
const MAX_DH: u32 = 128u;
const TILE_FLOATS: u32 = 1024u;
const NEG_BIG: f32 = -3.0e38;

var<workgroup> ks: array<f32, 1024>; // [key][dim]
var<workgroup> vs: array<f32, 1024>; // [key][dim]
var<workgroup> len_shared: u32;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wg.z;
    let h = wg.y;
    let qi = wg.x * BQ + lid.x;
    let seq = params.seq;
    let dh = params.head_dim;
    let d = params.heads * dh;
    let row_stride = 3u * d;
    if (lid.x == 0u) { len_shared = min(lengths[b], seq); }
    let len = workgroupUniformLoad(&len_shared);
    let tile_keys = TILE_FLOATS / dh;
    let in_range = qi < seq;

    var q: array<f32, 128>;
    var acc: array<f32, 128>;
    if (in_range) {
        let qbase = (b * seq + qi) * row_stride + h * dh;
        for (var c = 0u; c < dh; c++) {
            q[c] = qkv[qbase + c];
            acc[c] = 0.0;
        }
    }
    var m = NEG_BIG;
    var l = 0.0;

    for (var j0 = 0u; j0 < len; j0 += tile_keys) {
        let nk = min(tile_keys, len - j0);
        // Cooperative, coalesced load of nk keys and values of this head.
        for (var idx = lid.x; idx < nk * dh; idx += BQ) {
            let key = idx / dh;
            let c = idx % dh;
            let base = (b * seq + j0 + key) * row_stride + h * dh + c;
            ks[idx] = qkv[base + d];
            vs[idx] = qkv[base + 2u * d];
        }
        workgroupBarrier();
        if (in_range) {
            for (var jj = 0u; jj < nk; jj++) {
                var s = 0.0;
                for (var c = 0u; c < dh; c++) { s += q[c] * ks[jj * dh + c]; }
                s = s * params.scale;
                let m_new = max(m, s);
                let corr = exp(m - m_new);
                let p = exp(s - m_new);
                l = l * corr + p;
                for (var c = 0u; c < dh; c++) { acc[c] = acc[c] * corr + p * vs[jj * dh + c]; }
                m = m_new;
            }
        }
        workgroupBarrier();
    }

    if (!in_range) { return; }
    // len >= 1 (checked on the host), so l > 0.
    let inv = 1.0 / l;
    let obase = (b * seq + qi) * d + h * dh;
    for (var c = 0u; c < dh; c++) { out[obase + c] = acc[c] * inv; }

    if (params.write_probs == 1u) {
        let pbase = ((b * params.heads + h) * seq + qi) * seq;
        for (var j = 0u; j < seq; j++) {
            var p = 0.0;
            if (j < len) {
                let kbase = (b * seq + j) * row_stride + d + h * dh;
                var s = 0.0;
                for (var c = 0u; c < dh; c++) { s += q[c] * qkv[kbase + c]; }
                p = exp(s * params.scale - m) * inv;
            }
            probs[pbase + j] = p;
        }
    }
}

// Vec4s of a head in `main_small`.
const SMALL_D4: u32 = 8u;

@compute @workgroup_size(16, 4, 1)
fn main_small(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wg.z;
    let h = wg.y * 4u + lid.y;
    let qi = wg.x * 16u + lid.x;
    let seq = params.seq;
    if (qi >= seq || h >= params.heads) { return; }
    let nd4 = params.head_dim / 4u;
    let d4 = params.heads * nd4;
    let row4 = 3u * d4;
    let len = min(lengths[b], seq);

    var q: array<vec4<f32>, 8>;
    var acc: array<vec4<f32>, 8>;
    let qbase = (b * seq + qi) * row4 + h * nd4;
    for (var c = 0u; c < SMALL_D4; c++) {
        acc[c] = vec4<f32>(0.0);
        q[c] = vec4<f32>(0.0);
        if (c < nd4) { q[c] = qkv4[qbase + c]; }
    }
    var m = NEG_BIG;
    var l = 0.0;
    for (var j = 0u; j < len; j++) {
        let kbase = (b * seq + j) * row4 + d4 + h * nd4;
        var s4 = vec4<f32>(0.0);
        for (var c = 0u; c < SMALL_D4; c++) {
            if (c < nd4) { s4 += q[c] * qkv4[kbase + c]; }
        }
        let s = (s4.x + s4.y + s4.z + s4.w) * params.scale;
        let m_new = max(m, s);
        let corr = exp(m - m_new);
        let p = exp(s - m_new);
        l = l * corr + p;
        let vbase = kbase + d4;
        for (var c = 0u; c < SMALL_D4; c++) {
            if (c < nd4) { acc[c] = acc[c] * corr + p * qkv4[vbase + c]; }
        }
        m = m_new;
    }

    // len >= 1 (checked on the host), so l > 0.
    let inv = 1.0 / l;
    let obase = (b * seq + qi) * params.heads * params.head_dim + h * params.head_dim;
    for (var c = 0u; c < SMALL_D4; c++) {
        if (c < nd4) {
            let v = acc[c] * inv;
            for (var e = 0u; e < 4u; e++) { out[obase + 4u * c + e] = v[e]; }
        }
    }

    if (params.write_probs == 1u) {
        let pbase = ((b * params.heads + h) * seq + qi) * seq;
        for (var j = 0u; j < seq; j++) {
            var p = 0.0;
            if (j < len) {
                let kbase = (b * seq + j) * row4 + d4 + h * nd4;
                var s4 = vec4<f32>(0.0);
                for (var c = 0u; c < SMALL_D4; c++) {
                    if (c < nd4) { s4 += q[c] * qkv4[kbase + c]; }
                }
                p = exp((s4.x + s4.y + s4.z + s4.w) * params.scale - m) * inv;
            }
            probs[pbase + j] = p;
        }
    }
}

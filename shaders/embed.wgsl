// Embedding gather + positional encoding: out[b, s] = word[id] · scale + position[s] (+ token_type[t]).
// Ids and token types are checked against the table sizes on the host before upload.
//
// Layouts: ids (batch, seq) u32; type_ids (batch, seq) u32; word (vocab, d); position (max_len, d);
// token_type (types, d) (a 4-byte dummy when has_types = 0); out (batch · seq, d). f32 row-major.
//
// Dispatch: (gx, gy, 1) workgroups of 256 threads, gx · gy · 256 >= batch · seq · d (gx <= 65535);
// element index (wg.y · gx + wg.x) · 256 + local index.
//
// Bindings (group 0): 0 params (uniform), 1 ids (read), 2 type_ids (read), 3 word (read),
// 4 position (read), 5 token_type (read), 6 out (read_write).

struct Params {
    rows: u32,
    seq: u32,
    d: u32,
    has_types: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> type_ids: array<u32>;
@group(0) @binding(3) var<storage, read> word: array<f32>;
@group(0) @binding(4) var<storage, read> position: array<f32>;
@group(0) @binding(5) var<storage, read> token_type: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let idx = (wg.y * nwg.x + wg.x) * 256u + li;
    let d = params.d;
    if (idx >= params.rows * d) { return; }
    let row = idx / d;
    let i = idx % d;
    let s = row % params.seq;
    var v = word[ids[row] * d + i] * params.scale + position[s * d + i];
    if (params.has_types == 1u) {
        v += token_type[type_ids[row] * d + i];
    }
    out[idx] = v;
}

// Head ablation on an attention context, before the output projection: for each sequence b and head h
// whose keep gate is 0, the head's head_dim columns of every row of the sequence become 0 (mode 0) or
// their mean over the sequence's real tokens (mode 1; summed in position order then scaled by
// 1 / length, as the CPU does). Heads with keep != 0 are not touched (written back bit for bit: nothing).
//
// Layouts (row-major f32): ctx (batch, seq, heads·head_dim), heads concatenated; keep (batch, heads) f32,
// 1 keep, 0 ablate; lengths (batch) u32.
//
// Dispatch: (ceil(head_dim / 64), heads, batch) workgroups of 64 threads; thread = one column c of head h
// of sequence b, looping over the sequence's rows.
//
// Bindings (group 0): 0 params (uniform), 1 ctx (read_write), 2 keep (read), 3 lengths (read).

struct Params {
    batch: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    mode: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> ctx: array<f32>;
@group(0) @binding(2) var<storage, read> keep: array<f32>;
@group(0) @binding(3) var<storage, read> lengths: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let h = gid.y;
    let b = gid.z;
    let dh = params.head_dim;
    if (c >= dh || h >= params.heads || b >= params.batch) { return; }
    if (keep[b * params.heads + h] != 0.0) { return; }
    let d = params.heads * dh;
    let seq = params.seq;
    let col = h * dh + c;
    var v = 0.0;
    if (params.mode == 1u) {
        let len = min(lengths[b], seq);
        for (var t = 0u; t < len; t++) { v += ctx[(b * seq + t) * d + col]; }
        if (len > 0u) { v = v * (1.0 / f32(len)); }
    }
    for (var t = 0u; t < seq; t++) { ctx[(b * seq + t) * d + col] = v; }
}

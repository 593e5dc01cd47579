// Pooling of the final hidden states to one vector per sequence: the mean over the real tokens
// (mode 0; padding excluded, summed in position order then scaled by 1 / length, as the CPU does) or
// the first token, [CLS] (mode 1).
//
// Layouts: x (batch, seq, d) f32; lengths (batch) u32; out (batch, d) f32.
//
// Dispatch: (ceil(d / 64), batch, 1) workgroups of 64 threads; thread = one feature of one sequence.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 lengths (read), 3 out (read_write).

struct Params {
    batch: u32,
    seq: u32,
    d: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    let d = params.d;
    if (i >= d || b >= params.batch) { return; }
    let base = b * params.seq * d;
    if (params.mode == 1u) {
        out[b * d + i] = x[base + i];
        return;
    }
    let len = min(lengths[b], params.seq);
    var s = 0.0;
    for (var t = 0u; t < len; t++) { s += x[base + t * d + i]; }
    out[b * d + i] = s * (1.0 / f32(len));
}

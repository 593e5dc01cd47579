// Element-wise activation in place: x = act(x). The same functions as the matmul epilogue
// (shaders/matmul.wgsl), for where an activation follows a norm (DeLighT's DExTra: layer → LayerNorm → swish).
//
// act: 0 identity, 1 ReLU, 2 GELU (erf), 3 GELU (tanh approximation), 4 tanh, 5 SiLU / swish.
//
// Layouts: x (len) f32.
//
// Dispatch: (gx, gy, 1) workgroups of 64 threads with 64 · gx · gy >= len (gx <= 65535); element
// t = (wg.y · gx + wg.x) · 64 + lid.x; threads past the end return.
//
// Bindings (group 0): 0 params (uniform), 1 x (read_write).

struct Params {
    len: u32,
    act: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

// activate(v, act): shaders/include/activate.wgsl, prepended.

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = (wg.y * nwg.x + wg.x) * 64u + lid.x;
    if (t >= params.len) { return; }
    x[t] = activate(x[t], params.act);
}

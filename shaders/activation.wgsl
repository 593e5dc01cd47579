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

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26); WGSL has no erf builtin.
fn erf_approx(v: f32) -> f32 {
    let s = sign(v);
    let a = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return s * y;
}

fn activate(v: f32, act: u32) -> f32 {
    switch act {
        case 1u: { return max(v, 0.0); }
        case 2u: { return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752)); }
        case 3u: {
            let inner = 0.7978845608 * (v + 0.044715 * v * v * v);
            return 0.5 * v * (1.0 + tanh(clamp(inner, -15.0, 15.0)));
        }
        case 4u: { return tanh(clamp(v, -15.0, 15.0)); }
        case 5u: { return v / (1.0 + exp(-v)); }
        default: { return v; }
    }
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = (wg.y * nwg.x + wg.x) * 64u + lid.x;
    if (t >= params.len) { return; }
    x[t] = activate(x[t], params.act);
}

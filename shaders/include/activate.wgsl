// Shared WGSL functions, prepended to the kernels that use them (src/gpu/ops: `concat!` of this file and
// the kernel's own): the activations of the matmul epilogue (shaders/matmul.wgsl) and of the in-place
// activation kernel (shaders/activation.wgsl), so both compute exactly the same function.
//
// act: 0 identity, 1 ReLU, 2 GELU (erf), 3 GELU (tanh approximation), 4 tanh (BERT pooler), 5 SiLU / swish.

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

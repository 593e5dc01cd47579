// Shared WGSL functions, prepended to the kernels that use them (src/gpu/ops: `concat!` of this file and
// the kernel's own): the activations of the matmul epilogue (shaders/matmul.wgsl) and of the in-place
// activation kernel (shaders/activation.wgsl), so both compute exactly the same function.
//
// act: 0 identity, 1 ReLU, 2 GELU (erf), 3 GELU (tanh approximation), 4 tanh (BERT pooler), 5 SiLU / swish.

// erf(x) as the rational minimax approximation Eigen and XLA use for f32 (as the SIMD CPU kernels do:
// src/cpu/simd128/math.rs `erf4`), x · P(x²) / Q(x²) with |error| ≤ 4e-7, exactly ±1
// from |x| ≥ 3.9 on (erf(3.9) = 1 − 3.5e-8), so GELU's 1 + erf is exactly 0 far in the negative tail.
// No exp, one division; WGSL has no erf builtin.
fn erf_approx(v: f32) -> f32 {
    let x = clamp(v, -3.9, 3.9);
    let x2 = x * x;
    var p = -2.7261423e-10;
    p = p * x2 + 2.7706814e-8;
    p = p * x2 - 2.101024e-6;
    p = p * x2 - 5.6925064e-5;
    p = p * x2 - 7.3499063e-4;
    p = p * x2 - 2.9546e-3;
    p = p * x2 - 1.6096033e-2;
    var q = -1.4566072e-5;
    q = q * x2 - 2.1337406e-4;
    q = q * x2 - 1.682827e-3;
    q = q * x2 - 7.373329e-3;
    q = q * x2 - 1.426474e-2;
    return select(x * p / q, sign(v), abs(v) >= 3.9);
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

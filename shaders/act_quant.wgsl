// Dynamic activation quantization parameters of int8 linears (src/quant.rs `quantize_activations` +
// `choose_qparams`, PyTorch's fbgemm with reduce_range, qmax 127, or qnnpack, qmax 255): for each of
// `count` tensors of `len` floats,
//
//   min, max      = extremes of the tensor, widened to include 0 (a NaN or ±inf anywhere: ok = 0); the
//                   `ncols` outlier columns (of rows of `k` floats) are left out: they run in f32 instead
//   scale64       = f64(f64(max − min) / qmax)   (0.1 when f32(scale64) is 0 or 1/f32(scale64) is inf)
//   if scale64 < 6.1e-5: scale64 = 6.1e-5, min/max stretched in f32 (fbgemm's SMALL_SCALE_THRESHOLD)
//   zero point    = round_half_even of (−min/scale64  or  qmax − max/scale64, whichever fbgemm picks), in
//                   f64, clamped to [0, qmax]
//   scale         = f32(scale64),  inv = f32(1 / scale)
//
// Exactness. The CPU computes the scale and zero point in f64; WGSL has no f64 and its `/` is only
// accurate to 2.5 ulp, and f32 subnormals may be flushed. So the parameters are computed here with
// integer arithmetic only: a binary64 emulation (53-bit significands in two u32, round-half-even with a
// sticky bit — SoftFloat's "shift right and jam") of exactly the operations the CPU performs, in the same
// order, so every rounding matches bit for bit (no f64 subnormal or overflow can occur: every value is an
// f32 divided by qmax or by a scale >= 6.1e-5). The f32 divisions the CPU does (1/scale, the stretch
// factor) are an f64 division rounded to f32: double rounding through 53 bits is innocuous for a quotient
// of two 24-bit numbers (53 >= 2·24 + 2, Figueroa 1995). The extremes are taken on order-preserving u32
// keys of the bit patterns, so flushed subnormals cannot change them. The only f32 hardware arithmetic
// left is in the consumer (`x · inv`, a correctly rounded multiply per the WGSL spec).
//
// Layouts: x (count, len) f32, each tensor (len / k, k) when ncols > 0; qp (count, 4) u32: [scale bits,
// zero point, inv bits, ok]; cols: the outlier columns (ncols) u32, strictly increasing, < k
// (checked by src/gpu/ops/matmul_int8.rs `pack`).
//
// Dispatch: (count, 1, 1) workgroups of 256 threads; workgroup t reduces tensor t (strided loads — by
// column when ncols > 0, each thread's outlier columns checked for finiteness only —, tree reduction in
// workgroup memory) and its thread 0 computes the parameters.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 qp (read_write), 3 cols (read).

struct Params {
    len: u32,
    count: u32,
    qmax: u32,
    k: u32,
    ncols: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> qp: array<u32>;
@group(0) @binding(3) var<storage, read> cols: array<u32>;

const WG: u32 = 256u;
var<workgroup> lo_keys: array<u32, 256>;
var<workgroup> hi_keys: array<u32, 256>;
var<workgroup> bad: array<u32, 256>;

// ---- 64-bit unsigned integers as two u32 -------------------------------------------------------------

struct U64 {
    hi: u32,
    lo: u32,
}

fn u64_add(a: U64, b: U64) -> U64 {
    let lo = a.lo + b.lo;
    return U64(a.hi + b.hi + select(0u, 1u, lo < a.lo), lo);
}

fn u64_sub(a: U64, b: U64) -> U64 {
    return U64(a.hi - b.hi - select(0u, 1u, a.lo < b.lo), a.lo - b.lo);
}

fn u64_ge(a: U64, b: U64) -> bool {
    return a.hi > b.hi || (a.hi == b.hi && a.lo >= b.lo);
}

fn u64_zero(a: U64) -> bool {
    return a.hi == 0u && a.lo == 0u;
}

// a << s, 0 <= s < 64.
fn u64_shl(a: U64, s: u32) -> U64 {
    if (s == 0u) { return a; }
    if (s >= 32u) { return U64(a.lo << (s - 32u), 0u); }
    return U64((a.hi << s) | (a.lo >> (32u - s)), a.lo << s);
}

// a >> s, 0 <= s < 64 (bits shifted out are lost).
fn u64_shr(a: U64, s: u32) -> U64 {
    if (s == 0u) { return a; }
    if (s >= 32u) { return U64(0u, a.hi >> (s - 32u)); }
    return U64(a.hi >> s, (a.lo >> s) | (a.hi << (32u - s)));
}

// a >> s with every bit shifted out ORed into bit 0 (the sticky bit), any s.
fn u64_shr_jam(a: U64, s: u32) -> U64 {
    if (s == 0u) { return a; }
    if (s >= 64u) { return U64(0u, select(0u, 1u, !u64_zero(a))); }
    let r = u64_shr(a, s);
    let lost = !u64_zero(u64_sub(a, u64_shl(r, s)));
    return U64(r.hi, r.lo | select(0u, 1u, lost));
}

fn u64_clz(a: U64) -> u32 {
    if (a.hi != 0u) { return countLeadingZeros(a.hi); }
    return 32u + countLeadingZeros(a.lo);
}

// a >> s rounded half to even, 1 <= s < 64.
fn u64_shr_round(a: U64, s: u32) -> U64 {
    let q = u64_shr(a, s);
    let rem = u64_sub(a, u64_shl(q, s));
    let half = u64_shl(U64(0u, 1u), s - 1u);
    let up = u64_ge(rem, half) && (!u64_ge(half, rem) || (q.lo & 1u) == 1u);
    if (up) { return u64_add(q, U64(0u, 1u)); }
    return q;
}

// ---- binary64 emulation: value = (−1)^neg · m · 2^e, m in [2^52, 2^53) or m = 0 --------------------

struct F64 {
    neg: bool,
    e: i32,
    m: U64,
}

const ZERO_E: i32 = -100000;

fn f64_zero() -> F64 {
    return F64(false, ZERO_E, U64(0u, 0u));
}

// Round m · 2^e (m any 64-bit value whose bit 0 may be a sticky bit, top bit at 53 or above, or at most
// 10 bits below 63 when a sticky bit is set) to 53 bits, half to even.
fn f64_round(neg: bool, e: i32, m: U64) -> F64 {
    if (u64_zero(m)) { return F64(neg, ZERO_E, m); }
    let n = u64_clz(m);
    let top = u64_shl(m, n); // top bit at 63
    var r = u64_shr_round(top, 11u);
    var ex = e - i32(n) + 11;
    if (r.hi == 0x00200000u) { // rounded up to 2^53
        r = U64(0x00100000u, 0u);
        ex += 1;
    }
    return F64(neg, ex, r);
}

fn f64_from_f32(bits: u32) -> F64 {
    let neg = (bits >> 31u) == 1u;
    let ef = (bits >> 23u) & 0xffu;
    let frac = bits & 0x7fffffu;
    if (ef == 0u) { return f64_round(neg, -149, U64(0u, frac)); } // zero or subnormal (exact)
    return f64_round(neg, i32(ef) - 150, U64(0u, frac | 0x800000u));
}

fn f64_neg(a: F64) -> F64 {
    return F64(!a.neg, a.e, a.m);
}

fn f64_abs(a: F64) -> F64 {
    return F64(false, a.e, a.m);
}

fn mag_lt(a: F64, b: F64) -> bool {
    if (u64_zero(a.m)) { return !u64_zero(b.m); }
    if (u64_zero(b.m)) { return false; }
    return a.e < b.e || (a.e == b.e && !u64_ge(a.m, b.m));
}

// a < b.
fn f64_lt(a: F64, b: F64) -> bool {
    let az = u64_zero(a.m);
    let bz = u64_zero(b.m);
    if (az && bz) { return false; }
    let an = a.neg && !az;
    let bn = b.neg && !bz;
    if (an != bn) { return an; }
    if (an) { return mag_lt(b, a); }
    return mag_lt(a, b);
}

// a + b rounded to f64.
fn f64_add(a0: F64, b0: F64) -> F64 {
    if (u64_zero(a0.m)) { return b0; }
    if (u64_zero(b0.m)) { return a0; }
    var a = a0;
    var b = b0;
    if (mag_lt(a, b)) {
        a = b0;
        b = a0;
    }
    let ma = u64_shl(a.m, 10u); // 10 guard bits below the 53
    let mb = u64_shr_jam(u64_shl(b.m, 10u), u32(a.e - b.e));
    if (a.neg == b.neg) {
        return f64_round(a.neg, a.e - 10, u64_add(ma, mb));
    }
    let d = u64_sub(ma, mb);
    if (u64_zero(d)) { return f64_zero(); }
    return f64_round(a.neg, a.e - 10, d);
}

// a / b rounded to f64 (b nonzero).
fn f64_div(a: F64, b: F64) -> F64 {
    let neg = a.neg != b.neg;
    if (u64_zero(a.m)) { return F64(neg, ZERO_E, a.m); }
    var r = a.m;
    var e = a.e - b.e;
    if (!u64_ge(r, b.m)) {
        r = u64_shl(r, 1u);
        e -= 1;
    }
    // r / b.m in [1, 2): 62 quotient bits, then the remainder as the sticky bit.
    var q = U64(0u, 0u);
    for (var i = 0u; i < 62u; i++) {
        q = u64_shl(q, 1u);
        if (u64_ge(r, b.m)) {
            r = u64_sub(r, b.m);
            q.lo |= 1u;
        }
        r = u64_shl(r, 1u);
    }
    q.lo |= select(0u, 1u, !u64_zero(r));
    return f64_round(neg, e - 61, q);
}

// a · b rounded to f64, for a and b holding f32 values (24-bit significands: the product is exact).
fn f64_mul24(a: F64, b: F64) -> F64 {
    let x = (a.m.hi << 3u) | (a.m.lo >> 29u); // m >> 29: 24 bits (the low 29 are zero for an f32 value)
    let y = (b.m.hi << 3u) | (b.m.lo >> 29u);
    let xh = x >> 16u;
    let xl = x & 0xffffu;
    let yh = y >> 16u;
    let yl = y & 0xffffu;
    let mid = xh * yl + xl * yh; // < 2^25
    var p = U64(xh * yh, xl * yl);
    p = u64_add(p, U64(mid >> 16u, mid << 16u));
    if (u64_zero(p)) { return F64(a.neg != b.neg, ZERO_E, p); }
    return f64_round(a.neg != b.neg, a.e + b.e + 58, p);
}

// a rounded to f32 (half to even, subnormals included), as bits.
fn f64_to_f32(a: F64) -> u32 {
    let sign = select(0u, 0x80000000u, a.neg);
    if (u64_zero(a.m)) { return sign; }
    let ex = a.e + 52; // unbiased exponent
    if (ex >= -126) {
        var r = u64_shr_round(a.m, 29u); // 24 bits
        var biased = ex + 127;
        if (r.lo == 0x1000000u) {
            r.lo = 0x800000u;
            biased += 1;
        }
        if (biased >= 255) { return sign | 0x7f800000u; }
        return sign | (u32(biased) << 23u) | (r.lo & 0x7fffffu);
    }
    let s = -(a.e + 149); // value / 2^-149 = m >> s, s >= 30
    if (s >= 54) { return sign; }
    // 2^23 (rounded up to the smallest normal) encodes itself.
    return sign | u64_shr_round(a.m, u32(s)).lo;
}

// a rounded half to even to an integer, for 0 <= a <= 255.
fn f64_round_int(a: F64) -> i32 {
    if (u64_zero(a.m)) { return 0; }
    if (a.e >= 0) { return i32(a.m.lo << u32(a.e)); }
    let s = -a.e;
    if (s >= 64) { return 0; }
    return i32(u64_shr_round(a.m, u32(s)).lo);
}

// ---- ChooseQuantizationParams(min, max, 0, qmax): fbgemm's reduce_range (127) or qnnpack's 255 --------

const SMALL_BITS: u32 = 0x387fda40u; // 6.1e-5f32
const F32_ONE: u32 = 0x3f800000u;

// Order-preserving key of an f32 bit pattern.
fn key(b: u32) -> u32 {
    return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn unkey(k: u32) -> u32 {
    return select(~k, k & 0x7fffffffu, (k >> 31u) == 1u);
}

fn is_zero_bits(b: u32) -> bool {
    return (b & 0x7fffffffu) == 0u;
}

// Writes [scale bits, zero point, inv bits] of the widened extremes (f32 bits) at qp[o..o+3], for the grid
// 0..=qmax (127 or 255: exact in f32).
fn choose(min_bits: u32, max_bits: u32, qmax: u32, o: u32) {
    var mn = min_bits;
    var mx = max_bits;
    let fq = f64_from_f32(bitcast<u32>(f32(qmax)));
    let small = f64_from_f32(SMALL_BITS);
    var scale = f64_div(f64_add(f64_from_f32(mx), f64_neg(f64_from_f32(mn))), fq);
    // f32(scale) == 0, or 1 / f32(scale) overflows (exactly when f32(scale) <= 2^-128 = bits 0x00200000).
    if ((f64_to_f32(scale) & 0x7fffffffu) <= 0x00200000u) {
        scale = F64(false, -56, U64(0x00199999u, 0x9999999au)); // 0.1 as f64
    }
    if (f64_lt(scale, small)) {
        let org = f64_to_f32(scale);
        scale = small;
        let span = f64_mul24(small, fq);
        if (is_zero_bits(mn)) {
            mx = f64_to_f32(span);
        } else if (is_zero_bits(mx)) {
            mn = f64_to_f32(f64_neg(span));
        } else {
            let amp = f64_from_f32(f64_to_f32(f64_div(small, f64_from_f32(org))));
            mn = f64_to_f32(f64_mul24(f64_from_f32(mn), amp));
            mx = f64_to_f32(f64_mul24(f64_from_f32(mx), amp));
        }
    }
    let lo = f64_div(f64_from_f32(mn), scale);
    let hi = f64_div(f64_from_f32(mx), scale);
    let from_min = f64_neg(lo); // 0 − lo
    let from_max = f64_add(fq, f64_neg(hi));
    let err_min = f64_neg(f64_abs(lo)); // |0| − |lo|
    let err_max = f64_add(fq, f64_neg(f64_abs(hi)));
    var initial = from_max;
    if (f64_lt(err_min, err_max)) { initial = from_min; }
    var zp = 0;
    if (f64_lt(initial, f64_zero())) {
        zp = 0;
    } else if (f64_lt(fq, initial)) {
        zp = i32(qmax);
    } else {
        zp = f64_round_int(initial);
    }
    let s32 = f64_to_f32(scale);
    qp[o] = s32;
    qp[o + 1u] = u32(zp);
    qp[o + 2u] = f64_to_f32(f64_div(f64_from_f32(F32_ONE), f64_from_f32(s32)));
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = wg.x;
    let base = t * params.len;
    var lo = 0xffffffffu; // key(+inf) and above
    var hi = 0u;
    var b = 0u;
    if (params.ncols == 0u) {
        for (var i = lid.x; i < params.len; i += WG) {
            let bits = bitcast<u32>(x[base + i]);
            if ((bits & 0x7f800000u) == 0x7f800000u) { b = 1u; }
            let k = key(bits);
            lo = min(lo, k);
            hi = max(hi, k);
        }
    } else {
        // By column: this thread's columns ascend, so one walk over the sorted outlier list finds its own.
        let rows = params.len / max(params.k, 1u);
        var j = 0u;
        for (var c = lid.x; c < params.k; c += WG) {
            while (j < params.ncols && cols[j] < c) { j++; }
            let skip = j < params.ncols && cols[j] == c;
            for (var r = 0u; r < rows; r++) {
                let bits = bitcast<u32>(x[base + r * params.k + c]);
                if ((bits & 0x7f800000u) == 0x7f800000u) { b = 1u; }
                if (skip) { continue; }
                let k = key(bits);
                lo = min(lo, k);
                hi = max(hi, k);
            }
        }
    }
    lo_keys[lid.x] = lo;
    hi_keys[lid.x] = hi;
    bad[lid.x] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            lo_keys[lid.x] = min(lo_keys[lid.x], lo_keys[lid.x + s]);
            hi_keys[lid.x] = max(hi_keys[lid.x], hi_keys[lid.x + s]);
            bad[lid.x] = bad[lid.x] | bad[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u && t < params.count) {
        let o = t * 4u;
        // Widen to include 0: min(lo, +0), max(hi, +0) on keys.
        let mn = unkey(min(lo_keys[0], key(0u)));
        let mx = unkey(max(hi_keys[0], key(0u)));
        choose(mn, mx, params.qmax, o);
        qp[o + 3u] = select(1u, 0u, bad[0] == 1u);
    }
}

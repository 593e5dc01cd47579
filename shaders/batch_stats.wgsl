// Per-feature mean and biased variance of x over all rows (batch × positions, padding included): the
// statistics train-mode BatchNorm normalises with. Two passes (mean, then centred squares), each row
// strided over 4 lanes with compensated (Kahan) summation, then the lanes are combined.
//
// Layouts (row-major f32): x (rows, d); stats (2 · d): means in [0, d), variances in [d, 2 · d).
//
// Dispatch: (ceil(d / 64), 1, 1) workgroups of 64 × 4 threads: lid.x picks the feature, lid.y the lane.
//
// Bindings (group 0): 0 params (uniform), 1 x (read), 2 stats (read_write).

struct Params {
    rows: u32,
    d: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

const LANES: u32 = 4u;
var<workgroup> partial: array<f32, 256>; // [lane][feature]

// Sum over this feature's column, combined across the 4 lanes; `centre` is subtracted and the result
// squared when `square` is true.
fn column_sum(f: u32, lane: u32, fx: u32, centre: f32, square: bool) -> f32 {
    var sum = 0.0;
    var comp = 0.0;
    if (f < params.d) {
        for (var r = lane; r < params.rows; r += LANES) {
            var v = x[r * params.d + f];
            if (square) {
                v = (v - centre) * (v - centre);
            }
            let y = v - comp;
            let t = sum + y;
            comp = (t - sum) - y;
            sum = t;
        }
    }
    partial[lane * 64u + fx] = sum;
    workgroupBarrier();
    let total = (partial[fx] + partial[64u + fx]) + (partial[128u + fx] + partial[192u + fx]);
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 4, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let f = wg.x * 64u + lid.x;
    let n = f32(max(params.rows, 1u));
    let mean = column_sum(f, lid.y, lid.x, 0.0, false) / n;
    let var_ = column_sum(f, lid.y, lid.x, mean, true) / n;
    if (lid.y == 0u && f < params.d) {
        stats[f] = mean;
        stats[params.d + f] = var_;
    }
}

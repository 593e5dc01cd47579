//! The int8 linear on wasm SIMD, equal to the scalar reference ([`crate::packed`]) bit for bit: the
//! integer product exactly, the float epilogue with the same operations in the same order.
//!
//! **Weights** are packed once per weight ([`PackedInt8`]): panels of 8 output columns; in a panel, each
//! step of 4 `k` is 32 values — columns 0–3 (4 values each) then columns 4–7 — so one `v128` of bytes holds
//! 4 columns × 4 k and lane `c` of a 4-way dot product is column `c`'s partial sum: the inner loop is pure
//! dot products into per-column accumulators, no horizontal sums. `k` is padded with zeros to a multiple of
//! 4, the columns to a multiple of 8. [`Panels`] is a weight packed for its kernel: int8 values for the
//! relaxed kernels, the same layout widened to i16 for `Dot16` (twice the bytes, made once per weight).
//!
//! **Activations** are quantized once per call ([`super::act_quant::quantize`]: one min/max scan, one pass
//! that scales, rounds, clamps and narrows 16 values at a time) into rows padded with zeros to the packed
//! `k`: bytes for the relaxed kernels, u16 for `Dot16`. Each step broadcasts a row's 4 activations to all
//! lanes.
//!
//! **Microkernels** ([`Int8Kernel`]): a tile of up to 4 rows × 8 columns kept in registers over the whole
//! `k`:
//! - `RelaxedDotAdd` (relaxed-SIMD builds): `i32x4.relaxed_dot_i8x16_i7x16_add_s` with the weights as the
//!   signed operand and the activations (`[0, 127]`, 7-bit by `reduce_range`) as the 7-bit one, where its
//!   result is fully defined: 16 multiply-adds per instruction. 4 rows × 8 columns = 8 accumulators.
//! - `RelaxedDot16`: the same through `i16x8.relaxed_dot_i8x16_i7x16_s` (pair sums `|a·b + c·d| ≤ 2 · 128 ·
//!   127` fit i16 exactly) + `i32x4.dot_i16x8_s` with ones (the pairwise widening; LLVM would fuse
//!   `extadd_pairwise` + add back into the first kernel's instruction).
//! - `Dot16` (every SIMD128 build): `i32x4.dot_i16x8_s` on operands widened before the product — the
//!   weights when packed, the activations when quantized — so a step is 4 weight loads, and per row one
//!   64-bit broadcast load, 4 dot products and 4 adds: no widening in the loop (it had 6 widening
//!   instructions per step and one per row: peak 65 → 82 GOP/s, BENCHMARKS.md "int8 speed, session 8").
//!   Each lane holds half a column's sum; the halves are added once at the end of the tile. 2 rows × 8
//!   columns = 8 accumulators (3 rows spill: 12 accumulators + 4 weight vectors). The only kernel for
//!   qnnpack's 8-bit activations (`[0, 255]`; pair sums ≤ 2 · 255 · 128 fit i32), which the relaxed dot
//!   products cannot take as their 7-bit operand.
//!
//! On x86 without AVX-VNNI, V8 lowers `i32x4.relaxed_dot_i8x16_i7x16_add_s` to five instructions
//! (`pcmpeqd` + `psrlw` rebuild a ones vector, `pmaddubsw`, `pmaddwd`, `paddd`) and `RelaxedDot16` to three
//! (`pmaddubsw`, `pmaddwd` with a ones register, `paddd`); with AVX-VNNI (or Arm's `sdot`) the first is one.
//! The relaxed build uses `RelaxedDot16` ([`DEFAULT_KERNEL`]); [`set_int8_kernel`] overrides it (the
//! benchmark compares them).
//!
//! **Epilogue** ([`Epilogue`]), per 4 columns in registers: `raw = acc − zp·Σw` (i32), then
//! `f32(raw)` → f64 `· f32(sx·sw) + bias` → f32 (7-bit grid) or `f32(raw) · f32(sx·sw)` then `+ bias` in f32
//! (8-bit grid), plus the outlier columns' f32 product when the weight has some, then the residual add or
//! the activation — the scalar reference's operations. Panels are the outer loop (8 × k weights stay in L1
//! while the rows stream past); the thread pool splits rows or panels (`encoder_lens::cpu::quant::linear_int8`).

use super::math::act4;
use crate::Activation;
use crate::packed::{Int8Panels, PackedInt8, KSTEP, PANEL};
use core::arch::wasm32::*;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The integer microkernels (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Kernel {
    /// `i32x4.dot_i16x8_s` on widened values (every SIMD128 build).
    Dot16,
    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s` (relaxed-SIMD builds).
    RelaxedDotAdd,
    /// `i16x8.relaxed_dot_i8x16_i7x16_s` + `i32x4.extadd_pairwise_i16x8_s` (relaxed-SIMD builds).
    RelaxedDot16,
}

impl Int8Kernel {
    /// The kernels this build has.
    pub fn available() -> &'static [Int8Kernel] {
        if cfg!(target_feature = "relaxed-simd") {
            &[Int8Kernel::Dot16, Int8Kernel::RelaxedDotAdd, Int8Kernel::RelaxedDot16]
        } else {
            &[Int8Kernel::Dot16]
        }
    }

    /// Its name, as the benchmark prints it.
    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Dot16 => "dot-i16x8",
            Int8Kernel::RelaxedDotAdd => "relaxed-dot-i8x16-i7x16-add",
            Int8Kernel::RelaxedDot16 => "relaxed-dot-i8x16-i7x16+extadd",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Int8Kernel::RelaxedDotAdd,
            2 => Int8Kernel::RelaxedDot16,
            _ => Int8Kernel::Dot16,
        }
    }
}

/// The default kernel: `RelaxedDot16` in relaxed builds. `RelaxedDotAdd` is one instruction on x86 with
/// AVX-VNNI (`vpdpbusd`) and on Arm with the dot-product extension (`sdot`), but five on other x86 (V8
/// rebuilds its ones vector for `pmaddwd` every time) against `RelaxedDot16`'s three, and node 20's
/// baseline compiler gets it wrong. Timing both on first use was tried and dropped: the first calls run
/// V8's baseline (Liftoff) code, where one wasm instruction beats two whatever the optimized code does, so
/// it picked the slower kernel in Chromium here.
const DEFAULT_KERNEL: Int8Kernel = if cfg!(target_feature = "relaxed-simd") { Int8Kernel::RelaxedDot16 } else { Int8Kernel::Dot16 };

static KERNEL: AtomicU8 = AtomicU8::new(DEFAULT_KERNEL as u8);

/// Use `k` for the int8 product from now on; `false` (and no change) when this build lacks it.
pub fn set_int8_kernel(k: Int8Kernel) -> bool {
    let ok = Int8Kernel::available().contains(&k);
    if ok {
        KERNEL.store(k as u8, Ordering::Relaxed);
    }
    ok
}

/// The kernel selected for the int8 product ([`kernel_in_use`]: the one that runs).
pub fn int8_kernel() -> Int8Kernel {
    Int8Kernel::from_u8(KERNEL.load(Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------------------
// Microkernels: a tile of R ≤ 4 rows × 8 columns, `[row][columns 0–3, columns 4–7]` as i32x4.

type Tile = [[v128; 2]; 4];

/// Rows of a full `Dot16` tile.
const DOT16_ROWS: usize = 2;
/// Rows of a full relaxed tile.
const RELAXED_ROWS: usize = 4;

/// Rows of a full tile for `kernel`.
fn tile_rows(kernel: Int8Kernel) -> usize {
    match kernel {
        Int8Kernel::Dot16 => DOT16_ROWS,
        Int8Kernel::RelaxedDotAdd | Int8Kernel::RelaxedDot16 => RELAXED_ROWS,
    }
}

/// `Dot16`: `x` = R rows of `kp` activations as u16, `w` = one packed panel widened to i16.
#[inline(always)]
unsafe fn tile_dot16<const R: usize>(x: *const u16, kp: usize, w: *const i16) -> Tile {
    let z = i32x4_splat(0);
    let mut acc = [[z; 4]; R]; // [row][columns 0–1, 2–3, 4–5, 6–7]: two half sums per column
    let mut wp = w;
    let mut kk = 0;
    while kk < kp {
        // columns 0–1, 2–3, 4–5, 6–7 (4 k each), widened when the weight was packed
        let ws = [v128_load(wp as *const v128), v128_load(wp.add(8) as *const v128), v128_load(wp.add(16) as *const v128), v128_load(wp.add(24) as *const v128)];
        for (r, a) in acc.iter_mut().enumerate() {
            // x0 x1 x2 x3 x0 x1 x2 x3 as i16
            let xs = v128_load64_splat(x.add(r * kp + kk) as *const u64);
            for c in 0..4 {
                a[c] = i32x4_add(a[c], i32x4_dot_i16x8(ws[c], xs));
            }
        }
        wp = wp.add(KSTEP * PANEL);
        kk += KSTEP;
    }
    let mut t = [[z; 2]; 4];
    for (o, a) in t.iter_mut().zip(&acc) {
        for h in 0..2 {
            let (p, q) = (a[2 * h], a[2 * h + 1]); // (c0 lo, c0 hi, c1 lo, c1 hi), (c2 …, c3 …)
            o[h] = i32x4_add(i32x4_shuffle::<0, 2, 4, 6>(p, q), i32x4_shuffle::<1, 3, 5, 7>(p, q));
        }
    }
    t
}

/// `RelaxedDotAdd` / `RelaxedDot16` (`PAIRS`): see the module docs.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
unsafe fn tile_relaxed<const R: usize, const PAIRS: bool>(x: *const u8, kp: usize, w: *const i8) -> Tile {
    let z = i32x4_splat(0);
    let ones = i16x8_splat(1);
    let mut acc = [[z; 2]; R];
    let mut wp = w;
    let mut kk = 0;
    while kk < kp {
        let ws = [v128_load(wp as *const v128), v128_load(wp.add(16) as *const v128)];
        for (r, a) in acc.iter_mut().enumerate() {
            let xs = v128_load32_splat(x.add(r * kp + kk) as *const u32); // 4 activations in every lane
            for c in 0..2 {
                a[c] = if PAIRS {
                    // `i32x4.dot_i16x8_s` with ones rather than `i32x4.extadd_pairwise_i16x8_s`: LLVM fuses
                    // the latter with the add into `relaxed_dot_i8x16_i7x16_add` (the instruction this
                    // variant avoids)
                    i32x4_add(a[c], i32x4_dot_i16x8(i16x8_relaxed_dot_i8x16_i7x16(ws[c], xs), ones))
                } else {
                    i32x4_relaxed_dot_i8x16_i7x16_add(ws[c], xs, a[c])
                };
            }
        }
        wp = wp.add(KSTEP * PANEL);
        kk += KSTEP;
    }
    let mut t = [[z; 2]; 4];
    t[..R].copy_from_slice(&acc);
    t
}

/// A weight packed for the kernel that reads it: `Dot16` the widened panels, the relaxed kernels the int8
/// ones (`pairs`: `RelaxedDot16`).
#[derive(Clone, Copy)]
pub enum Panels<'a> {
    /// `i32x4.dot_i16x8_s` on i16 panels.
    Dot16(&'a PackedInt8<i16>),
    /// A relaxed dot product on int8 panels.
    #[cfg(target_feature = "relaxed-simd")]
    Relaxed {
        /// `RelaxedDot16` rather than `RelaxedDotAdd`.
        pairs: bool,
        /// The int8 panels.
        w: &'a PackedInt8,
    },
}

impl<'a> Panels<'a> {
    /// `w` packed for `kernel` (packed on first use; `RelaxedDotAdd` where it is not exact: see
    /// [`kernel_in_use`]).
    pub fn of(kernel: Int8Kernel, w: &'a impl Int8Panels) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        if kernel != Int8Kernel::Dot16 {
            return Panels::Relaxed { pairs: kernel == Int8Kernel::RelaxedDot16, w: w.packed() };
        }
        let _ = kernel;
        Panels::Dot16(w.packed_wide())
    }

    /// Bytes per activation value the kernel reads: 2 for `Dot16` (u16), 1 for the relaxed ones.
    pub fn x_bytes(&self) -> usize {
        match self {
            Panels::Dot16(_) => 2,
            #[cfg(target_feature = "relaxed-simd")]
            Panels::Relaxed { .. } => 1,
        }
    }

    /// The packed `k` (a multiple of [`KSTEP`]).
    pub fn kp(&self) -> usize {
        match self {
            Panels::Dot16(p) => p.kp,
            #[cfg(target_feature = "relaxed-simd")]
            Panels::Relaxed { w, .. } => w.kp,
        }
    }

    /// `(n, panels)`: output columns and panels of [`PANEL`] columns.
    pub fn columns(&self) -> (usize, usize) {
        match self {
            Panels::Dot16(p) => (p.n, p.panels()),
            #[cfg(target_feature = "relaxed-simd")]
            Panels::Relaxed { w, .. } => (w.n, w.panels()),
        }
    }
}

/// Where a finished tile row goes: `put(row, col0, [columns col0..col0+4, col0+4..col0+8])`.
trait Sink {
    unsafe fn put(&self, row: usize, col0: usize, v: [v128; 2]);
}

/// Bytes of activation rows a block of rows keeps hot while every panel passes over it (a run-time setting
/// so the benchmark can compare blockings: [`set_int8_row_block_bytes`]).
static ROW_BLOCK_BYTES: AtomicUsize = AtomicUsize::new(16 * 1024);

/// Set the activation bytes per row block of the int8 product (at least one tile of rows per block).
pub fn set_int8_row_block_bytes(bytes: usize) {
    ROW_BLOCK_BYTES.store(bytes, Ordering::Relaxed);
}

/// Sweep `rows × panels` of `xq (m, kp) · wᵀ` into `sink` with `w`'s kernel (`xq`: rows of `kp` values of
/// `w.x_bytes()` bytes).
#[inline(always)]
unsafe fn sweep<S: Sink>(w: Panels, xq: &[u8], rows: Range<usize>, panels: Range<usize>, sink: &S) {
    let kp = w.kp();
    match w {
        Panels::Dot16(p) => {
            let (wd, x) = (p.data.as_ptr(), xq.as_ptr() as *const u16);
            sweep_tiles(DOT16_ROWS, 2 * kp, rows, panels, sink, |panel, i, r| match r {
                2 => tile_dot16::<2>(x.add(i * kp), kp, wd.add(panel * PANEL * kp)),
                _ => tile_dot16::<1>(x.add(i * kp), kp, wd.add(panel * PANEL * kp)),
            })
        }
        #[cfg(target_feature = "relaxed-simd")]
        Panels::Relaxed { pairs, w: p } => {
            let (wd, x) = (p.data.as_ptr(), xq.as_ptr());
            sweep_tiles(RELAXED_ROWS, kp, rows, panels, sink, |panel, i, r| {
                let (x, w) = (x.add(i * kp), wd.add(panel * PANEL * kp));
                match (r, pairs) {
                    (4, false) => tile_relaxed::<4, false>(x, kp, w),
                    (3, false) => tile_relaxed::<3, false>(x, kp, w),
                    (2, false) => tile_relaxed::<2, false>(x, kp, w),
                    (_, false) => tile_relaxed::<1, false>(x, kp, w),
                    (4, true) => tile_relaxed::<4, true>(x, kp, w),
                    (3, true) => tile_relaxed::<3, true>(x, kp, w),
                    (2, true) => tile_relaxed::<2, true>(x, kp, w),
                    (_, true) => tile_relaxed::<1, true>(x, kp, w),
                }
            })
        }
    }
}

/// The loop nest of [`sweep`]: blocks of rows (their activations stay in L1, their output rows in L2), and
/// in a block every panel (8 × kp weights, in L1) over its rows, `tile(panel, row, r)` computing `r ≤ mr`
/// rows at a time; `row_bytes`: bytes of one row of activations.
#[inline(always)]
unsafe fn sweep_tiles<S: Sink>(mr: usize, row_bytes: usize, rows: Range<usize>, panels: Range<usize>, sink: &S, tile: impl Fn(usize, usize, usize) -> Tile) {
    let block = (ROW_BLOCK_BYTES.load(Ordering::Relaxed) / row_bytes.max(1)).max(mr) / mr * mr;
    let mut b0 = rows.start;
    while b0 < rows.end {
        let b1 = (b0 + block).min(rows.end);
        for p in panels.clone() {
            let mut i = b0;
            while i < b1 {
                let r = mr.min(b1 - i);
                let t = tile(p, i, r);
                for (dr, v) in t.iter().enumerate().take(r) {
                    sink.put(i + dr, p * PANEL, *v);
                }
                i += r;
            }
        }
        b0 = b1;
    }
}

/// 0: not checked yet; 1: this engine computes `i32x4.relaxed_dot_i8x16_i7x16_add_s` as specified for a
/// 7-bit second operand; 2: it does not.
#[cfg(target_feature = "relaxed-simd")]
static RELAXED_DOT_ADD: AtomicU8 = AtomicU8::new(0);

/// Does `i32x4.relaxed_dot_i8x16_i7x16_add_s` give the exact sums here? node 20 (V8 11.3) on x86-64
/// returns twice the sum (Chromium 156 is exact), so the relaxed build checks once, on a tile of known
/// values against `Dot16`, before using it.
fn relaxed_dot_add_exact() -> bool {
    #[cfg(target_feature = "relaxed-simd")]
    {
        match RELAXED_DOT_ADD.load(Ordering::Relaxed) {
            1 => return true,
            2 => return false,
            _ => {}
        }
        let x: Vec<u8> = (0..16u8).map(|i| [127, 0, 1, 64, 126, 127, 3, 100][i as usize % 8]).collect(); // (1, 16)
        let w: Vec<i8> = (0..PANEL * 16).map(|i| [-128i8, 127, -1, 5, 100, -100, 3, -7, -128][i % 9]).collect(); // (8, 16)
        let x16: Vec<u16> = x.iter().map(|&v| v as u16).collect();
        let (pw, pw16) = (PackedInt8::<i8>::new(&w, PANEL, 16), PackedInt8::<i16>::new(&w, PANEL, 16));
        let (x, x16, pw, pw16) = (core::hint::black_box(x), core::hint::black_box(x16), core::hint::black_box(pw), core::hint::black_box(pw16));
        // SAFETY: one row of 16 activations, one packed panel of k = 16.
        let (a, b) = unsafe { (tile_relaxed::<1, false>(x.as_ptr(), 16, pw.data.as_ptr()), tile_dot16::<1>(x16.as_ptr(), 16, pw16.data.as_ptr())) };
        let same = (0..2).all(|h| i32x4_all_true(i32x4_eq(a[0][h], b[0][h])));
        RELAXED_DOT_ADD.store(if same { 1 } else { 2 }, Ordering::Relaxed);
        same
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    false
}

/// The kernel [`int8_kernel`] selects, or `RelaxedDot16` where this engine gets `RelaxedDotAdd` wrong.
pub fn kernel_in_use() -> Int8Kernel {
    match int8_kernel() {
        Int8Kernel::RelaxedDotAdd if !relaxed_dot_add_exact() => Int8Kernel::RelaxedDot16,
        k => k,
    }
}

// ---------------------------------------------------------------------------------------------------
// Integer output (tests; the scalar-epilogue path)

struct I32Sink {
    acc: *mut i32,
    n: usize,
}

impl Sink for I32Sink {
    #[inline(always)]
    unsafe fn put(&self, row: usize, col0: usize, v: [v128; 2]) {
        let dst = self.acc.add(row * self.n + col0);
        if col0 + PANEL <= self.n {
            v128_store(dst as *mut v128, v[0]);
            v128_store(dst.add(4) as *mut v128, v[1]);
        } else {
            let mut t = [0i32; PANEL];
            v128_store(t.as_mut_ptr() as *mut v128, v[0]);
            v128_store(t.as_mut_ptr().add(4) as *mut v128, v[1]);
            std::ptr::copy_nonoverlapping(t.as_ptr(), dst, self.n - col0);
        }
    }
}

/// `acc (m, n) = xq (m, kp) · wᵀ` in i32 for packed `w` (its kernel); `xq` rows padded with zeros from `k`
/// to `kp`, `w.x_bytes()` bytes per value. Returns `false` (and writes nothing) when a buffer is too short.
pub fn gemm_i8_packed(xq: &[u8], w: Panels, acc: &mut [i32], m: usize) -> bool {
    let (n, panels) = w.columns();
    if xq.len() < m * w.kp() * w.x_bytes() || acc.len() < m * n {
        return false;
    }
    // SAFETY: rows < m and columns < n are in bounds of `acc (m, n)`; the kernels read rows < m of `xq` and
    // whole panels of `w`.
    unsafe { sweep(w, xq, 0..m, 0..panels, &I32Sink { acc: acc.as_mut_ptr(), n }) };
    true
}

/// `acc (m, n) = xq (m, k) · wᵀ` in i32 (`xq` in `[0, 127]`, or `[0, 255]` with `Dot16`; `w (n, k)` int8,
/// both unpacked) with the current [`Int8Kernel`]: packs them and runs [`gemm_i8_packed`]. Equal as
/// integers to [`crate::packed::gemm_i8_scalar`].
pub fn gemm_i8(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    if xq.len() < m * k || w.len() < n * k || acc.len() < m * n || k == 0 {
        return crate::packed::gemm_i8_scalar(xq, w, acc, m, k, n);
    }
    let weight = crate::packed::LazyPanels::new(&w[..n * k], n, k);
    let pw = Panels::of(kernel_in_use(), &weight);
    let (kp, size) = (pw.kp(), pw.x_bytes());
    let mut padded = vec![0u8; m * kp * size]; // (m, kp) values of `size` bytes (u16: little-endian)
    for (dst, src) in padded.chunks_mut(kp * size).zip(xq.chunks(k)).take(m) {
        for (d, &v) in dst.chunks_mut(size).zip(src) {
            d[0] = v;
        }
    }
    gemm_i8_packed(&padded, pw, acc, m);
}

// ---------------------------------------------------------------------------------------------------
// Float output: the fused epilogue

/// What turns a tile's integer sums into the linear's output, per column `j` (each slice padded to the
/// packed columns: `w.panels() · 8`).
pub struct Epilogue<'a> {
    /// `zp · Σ_k q_w[j, k]` (wrapping), subtracted from the sum.
    pub zrs: &'a [i32],
    /// `f32(scale_x · scale_w[j])` as f64 (7-bit grid: fbgemm's fused epilogue).
    pub mult: &'a [f64],
    /// `bias[j]` as f64 (0 without a bias; 7-bit grid).
    pub bias: &'a [f64],
    /// `f32(scale_x · scale_w[j])` (8-bit grid: qnnpack's epilogue, mul then add in f32).
    pub mult32: &'a [f32],
    /// `bias[j]` (0 without a bias; 8-bit grid).
    pub bias32: &'a [f32],
    /// The 8-bit (qnnpack) epilogue rather than the 7-bit (fbgemm) one.
    pub u8_grid: bool,
    /// `(m, n)`, added to the output before the activation or the residual: the outlier columns' product.
    pub extra: Option<&'a [f32]>,
    /// Applied to the result (not with `accumulate`).
    pub act: Option<Activation>,
    /// `out += y` (the residual) instead of `out = act(y)`.
    pub accumulate: bool,
}

struct F32Sink<'a> {
    out: *mut f32,
    n: usize,
    e: &'a Epilogue<'a>,
}

impl F32Sink<'_> {
    /// Columns `j..j+4`: `f32(f64(f32(acc − zrs)) · mult + bias)` (7-bit grid) or
    /// `f32(f32(acc − zrs) · mult32) + bias32` (8-bit grid).
    #[inline(always)]
    unsafe fn y4(&self, acc: v128, j: usize) -> v128 {
        let raw = i32x4_sub(acc, v128_load(self.e.zrs.as_ptr().add(j) as *const v128));
        let f = f32x4_convert_i32x4(raw);
        if self.e.u8_grid {
            let (m, b) = (self.e.mult32.as_ptr().add(j), self.e.bias32.as_ptr().add(j));
            return f32x4_add(f32x4_mul(f, v128_load(m as *const v128)), v128_load(b as *const v128));
        }
        let (m, b) = (self.e.mult.as_ptr().add(j), self.e.bias.as_ptr().add(j));
        let lo = f64x2_add(f64x2_mul(f64x2_promote_low_f32x4(f), v128_load(m as *const v128)), v128_load(b as *const v128));
        let hi = f64x2_add(
            f64x2_mul(f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(f, f)), v128_load(m.add(2) as *const v128)),
            v128_load(b.add(2) as *const v128),
        );
        i32x4_shuffle::<0, 1, 4, 5>(f32x4_demote_f64x2_zero(lo), f32x4_demote_f64x2_zero(hi))
    }

    /// `out[j..j+cols] (cols ≤ 4)` ← `y` with the residual or the activation.
    #[inline(always)]
    unsafe fn store(&self, dst: *mut f32, y: v128, cols: usize) {
        if cols == 4 {
            let v = if self.e.accumulate {
                f32x4_add(v128_load(dst as *const v128), y)
            } else if let Some(a) = self.e.act {
                act4(y, a)
            } else {
                y
            };
            v128_store(dst as *mut v128, v);
        } else {
            let mut t = [0.0f32; 4];
            std::ptr::copy_nonoverlapping(dst, t.as_mut_ptr(), cols);
            self.store(t.as_mut_ptr(), y, 4);
            std::ptr::copy_nonoverlapping(t.as_ptr(), dst, cols);
        }
    }
}

impl Sink for F32Sink<'_> {
    #[inline(always)]
    unsafe fn put(&self, row: usize, col0: usize, v: [v128; 2]) {
        let dst = self.out.add(row * self.n + col0);
        let cols = self.n - col0; // ≥ 1
        let (mut lo, mut hi) = (self.y4(v[0], col0), if cols > 4 { self.y4(v[1], col0 + 4) } else { v[1] });
        if let Some(extra) = self.e.extra {
            // (m, n): the outlier product of these columns, added before the activation / residual
            let at = extra.as_ptr().add(row * self.n + col0);
            lo = f32x4_add(lo, load_partial(at, cols.min(4)));
            if cols > 4 {
                hi = f32x4_add(hi, load_partial(at.add(4), (cols - 4).min(4)));
            }
        }
        self.store(dst, lo, cols.min(4));
        if cols > 4 {
            self.store(dst.add(4), hi, (cols - 4).min(4));
        }
    }
}

/// `cols ≤ 4` f32 at `p` in the low lanes (the rest 0).
#[inline(always)]
unsafe fn load_partial(p: *const f32, cols: usize) -> v128 {
    if cols == 4 {
        return v128_load(p as *const v128);
    }
    let mut t = [0.0f32; 4];
    std::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), cols);
    v128_load(t.as_ptr() as *const v128)
}

/// `out[rows, panels' columns]` of the int8 linear: the product of quantized `xq (m, kp)` (rows padded to
/// `w.kp()`, `w.x_bytes()` bytes per value) and `w` packed for its kernel (resolved once per linear, so every task of a split runs the same
/// one), through `e`.
///
/// # Safety
/// `out` points to an `(m, n)` f32 matrix (`n` = `w.columns().0`) with `rows.end ≤ m`, valid for reads and
/// writes of those rows' columns of `panels` (other threads may write other rows or panels meanwhile);
/// `xq.len() ≥ rows.end · w.kp() · w.x_bytes()`; `panels.end ≤ w.columns().1`; every slice of `e` the grid uses has at
/// least `panels · 8` values, and `e.extra`, when given, `m · n`.
pub unsafe fn linear_packed(w: Panels, xq: &[u8], rows: Range<usize>, panels: Range<usize>, e: &Epilogue, out: *mut f32) {
    sweep(w, xq, rows, panels, &F32Sink { out, n: w.columns().0, e });
}

// ---------------------------------------------------------------------------------------------------
// The ceiling

/// `k` of the [`peak_int8`] tile (a panel of 8 × 256 bytes and one tile of activation rows: L1-resident).
const PEAK_K: usize = 256;

/// Integer operations (2 per multiply-add) of one [`peak_int8`] iteration with the current kernel.
pub fn peak_int8_ops_per_iter() -> f64 {
    (2 * tile_rows(kernel_in_use()) * PANEL * PEAK_K) as f64
}

/// The ceiling of the int8 product with the current kernel: its full tile run again and again on one
/// packed panel and one tile of activation rows that stay in L1, so only the core's integer multiply-add
/// throughput limits it (no cache misses, no quantization, no epilogue). Returns a checksum.
#[inline(never)]
pub fn peak_int8(iters: u32) -> i32 {
    peak_tile(kernel_in_use(), iters)
}

/// [`peak_int8`] with `kernel` (never `RelaxedDotAdd` where it is not exact).
#[inline(never)]
fn peak_tile(kernel: Int8Kernel, iters: u32) -> i32 {
    let mr = tile_rows(kernel);
    let x: Vec<u16> = (0..mr * PEAK_K).map(|i| (i % 128) as u16).collect(); // (mr, k); the relaxed kernels read its bytes
    let w: Vec<i8> = (0..PANEL * PEAK_K).map(|i| (i % 251) as u8 as i8).collect(); // (8, k)
    let weight = crate::packed::LazyPanels::new(&w, PANEL, PEAK_K);
    let pw = Panels::of(kernel, &weight);
    // Opaque depth: with a constant the compiler unrolls the panel into code the product never runs.
    let kp = std::hint::black_box(PEAK_K);
    // SAFETY: mr rows of kp activations (u16 for Dot16; the relaxed kernels read the first mr · kp bytes),
    // one packed panel of kp.
    unsafe {
        match pw {
            Panels::Dot16(p) => peak_loop(iters, mr, || tile_dot16::<DOT16_ROWS>(x.as_ptr(), kp, p.data.as_ptr())),
            #[cfg(target_feature = "relaxed-simd")]
            Panels::Relaxed { pairs: false, w } => peak_loop(iters, mr, || tile_relaxed::<RELAXED_ROWS, false>(x.as_ptr() as *const u8, kp, w.data.as_ptr())),
            #[cfg(target_feature = "relaxed-simd")]
            Panels::Relaxed { pairs: true, w } => peak_loop(iters, mr, || tile_relaxed::<RELAXED_ROWS, true>(x.as_ptr() as *const u8, kp, w.data.as_ptr())),
        }
    }
}

/// `iters` runs of `tile`, its `mr` rows summed into a checksum.
#[inline(always)]
fn peak_loop(iters: u32, mr: usize, tile: impl Fn() -> Tile) -> i32 {
    let mut s = i32x4_splat(0);
    for _ in 0..iters {
        for v in tile().iter().take(mr) {
            s = i32x4_add(s, i32x4_add(v[0], v[1]));
        }
    }
    i32x4_extract_lane::<0>(s)
}

//! Int8 weights in the layout the SIMD int8 microkernels stream ([`PackedInt8`]), and the integer
//! product's reference ([`gemm_i8_scalar`]).

use std::cell::OnceCell;

/// Output columns per panel of a [`PackedInt8`].
pub const PANEL: usize = 8;
/// `k` values per step of a [`PackedInt8`] panel (one 32-bit lane of a 4-way dot product).
pub const KSTEP: usize = 4;

/// An int8 weight `(n, k)` in the layout the SIMD int8 microkernels stream: panels of [`PANEL`] output
/// columns, `(panels, kp / 4, 8, 4)` — in a panel, each step of 4 `k` is 32 values: columns 0–3 (their 4
/// values each), then columns 4–7. `k` is padded with zeros to `kp` (a multiple of 4), the columns to a
/// multiple of 8 (zero weights: they add nothing and their outputs are never stored). `T` is the element
/// type: `i8` for the relaxed dot products, `i16` (the same values sign-extended once, at first use: twice
/// the bytes) for the `i32x4.dot_i16x8_s` kernel, which then loads its operand ready instead of widening
/// it at every step.
#[derive(Clone)]
pub struct PackedInt8<T = i8> {
    /// Output columns `n` (weight rows).
    pub n: usize,
    /// Inputs `k`.
    pub k: usize,
    /// `k` rounded up to a multiple of [`KSTEP`].
    pub kp: usize,
    /// `(panels, kp / 4, 8, 4)` int8 values (as `T`).
    pub data: Vec<T>,
}

impl<T: From<i8> + Copy + Default> PackedInt8<T> {
    /// Pack `q (n, k)` (PyTorch `nn.Linear` layout).
    pub fn new(q: &[i8], n: usize, k: usize) -> Self {
        let kp = k.div_ceil(KSTEP) * KSTEP;
        let panels = n.div_ceil(PANEL);
        let mut data = vec![T::default(); panels * PANEL * kp];
        for (j, row) in q.chunks(k.max(1)).enumerate().take(n) {
            let (p, c) = (j / PANEL, j % PANEL);
            let base = p * PANEL * kp + (c / 4) * 16 + (c % 4) * KSTEP;
            for (kk, &v) in row.iter().enumerate() {
                data[base + (kk / KSTEP) * KSTEP * PANEL + kk % KSTEP] = T::from(v);
            }
        }
        Self { n, k, kp, data }
    }

    /// Panels of [`PANEL`] columns.
    pub fn panels(&self) -> usize {
        self.n.div_ceil(PANEL)
    }
}

impl<T> std::fmt::Debug for PackedInt8<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedInt8<{}> {{ n: {}, k: {}, kp: {} }}", std::any::type_name::<T>(), self.n, self.k, self.kp)
    }
}

/// An int8 weight `(n, k)` that hands out its panels, packed on first use (the model's weights keep
/// theirs for the next forward).
pub trait Int8Panels {
    /// The int8 panels.
    fn packed(&self) -> &PackedInt8;
    /// The panels widened to i16 (the `i32x4.dot_i16x8_s` kernel's operand).
    fn packed_wide(&self) -> &PackedInt8<i16>;
}

/// Panels of a plain `q (n, k)`, packed on first use (tests and the peak loop).
pub struct LazyPanels<'q> {
    q: &'q [i8],
    n: usize,
    k: usize,
    p8: OnceCell<PackedInt8>,
    p16: OnceCell<PackedInt8<i16>>,
}

impl<'q> LazyPanels<'q> {
    /// `q (n, k)`, not packed yet.
    pub fn new(q: &'q [i8], n: usize, k: usize) -> Self {
        Self { q, n, k, p8: OnceCell::new(), p16: OnceCell::new() }
    }
}

impl Int8Panels for LazyPanels<'_> {
    fn packed(&self) -> &PackedInt8 {
        self.p8.get_or_init(|| PackedInt8::new(self.q, self.n, self.k))
    }
    fn packed_wide(&self) -> &PackedInt8<i16> {
        self.p16.get_or_init(|| PackedInt8::new(self.q, self.n, self.k))
    }
}

/// `acc (m, n) = xq (m, k) · wᵀ` in i32, `w (n, k)` int8: the reference.
pub fn gemm_i8_scalar(xq: &[u8], w: &[i8], acc: &mut [i32], m: usize, k: usize, n: usize) {
    for i in 0..m {
        let x = &xq[i * k..(i + 1) * k];
        for j in 0..n {
            let wr = &w[j * k..(j + 1) * k];
            acc[i * n + j] = x.iter().zip(wr).map(|(&a, &b)| a as i32 * b as i32).sum();
        }
    }
}

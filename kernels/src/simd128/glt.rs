//! DeLighT's group linear transformation (input mixer + grouped matmul + bias + feature shuffle) with the
//! scalar reference's signature ([`crate::scalar::glt`]). Per row and group, the output group's
//! `n/g` accumulators are f32x4 vectors; each input value is broadcast against a row of the group's
//! `(in/g, n/g)` weight (contiguous), so no packing is needed; the shuffle is the store index.

use super::{ld, madd, st};
use core::arch::wasm32::*;

/// See [`crate::scalar::glt`]: same arguments, same result within float rounding.
#[allow(clippy::too_many_arguments)]
pub fn glt(x: &[f32], mix: Option<&[f32]>, w: &[f32], bias: &[f32], out: &mut [f32], rows: usize, xd: usize, md: usize, n: usize, g: usize) {
    let (xg, mg, og) = (xd / g, md / g, n / g);
    let ig = xg + mg;
    let v = og / 4 * 4; // vectorised part of an output group
    let mut acc = vec![0.0f32; og]; // (n/g)
    for r in 0..rows {
        for k in 0..g {
            acc.copy_from_slice(&bias[k * og..(k + 1) * og]);
            let wk = &w[k * ig * og..(k + 1) * ig * og]; // (ig, og)
            let m_in = mix.map_or(&[][..], |m| &m[r * md + k * mg..r * md + (k + 1) * mg]);
            let x_in = &x[r * xd + k * xg..r * xd + (k + 1) * xg];
            for (i, &a) in m_in.iter().chain(x_in).enumerate() {
                let wr = &wk[i * og..(i + 1) * og];
                let av = f32x4_splat(a);
                // SAFETY: j + 4 <= v <= og = acc.len() = wr.len().
                unsafe {
                    for j in (0..v).step_by(4) {
                        let p = acc.as_mut_ptr().add(j);
                        st(p, madd(ld(p), av, ld(wr.as_ptr().add(j))));
                    }
                }
                for j in v..og {
                    acc[j] += a * wr[j];
                }
            }
            for (j, &val) in acc.iter().enumerate() {
                out[r * n + j * g + k] = val;
            }
        }
    }
}

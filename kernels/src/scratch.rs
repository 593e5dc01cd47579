//! Reusable activation buffers for the CPU backend (`encoder_lens::cpu::CpuBackend`): a small per-thread pool,
//! so after the first forward of a given size the layers allocate nothing (what escapes — the output,
//! and the trace when one is asked for — is allocated as before).
//!
//! Every buffer in the pool is fully initialised (`len == capacity`), so [`take`] hands out memory with
//! stale but valid contents without zero-filling it: callers overwrite every element.

use std::cell::RefCell;

/// Buffers kept between forwards (a layer needs at most five live at once).
const MAX_POOLED: usize = 12;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `n` values whose contents are unspecified: the caller must write all of them.
pub fn take(n: usize) -> Vec<f32> {
    let reused = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let best = p.iter().enumerate().filter(|(_, v)| v.len() >= n).min_by_key(|(_, v)| v.len()).map(|(i, _)| i);
        best.map(|i| p.swap_remove(i))
    });
    match reused {
        Some(mut v) => {
            v.truncate(n);
            v
        }
        None => vec![0.0; n],
    }
}

/// A pooled copy of `src`.
pub fn take_copy(src: &[f32]) -> Vec<f32> {
    let mut v = take(src.len());
    v.copy_from_slice(src);
    v
}

/// Return a buffer to the pool.
pub fn give(mut v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    v.resize(v.capacity(), 0.0); // initialise the spare capacity once, so `take` never has to
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < MAX_POOLED {
            p.push(v);
        } else if let Some(i) = p.iter().enumerate().min_by_key(|(_, b)| b.len()).map(|(i, _)| i) {
            // Keep the larger buffers: they are the expensive ones to allocate.
            if p[i].len() < v.len() {
                p[i] = v;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers_without_growing() {
        let a = take(100);
        let ptr = a.as_ptr();
        give(a);
        let b = take(60);
        assert_eq!(b.len(), 60);
        assert_eq!(b.as_ptr(), ptr, "the pooled buffer is handed out again");
        let c = take_copy(&[1.0, 2.0, 3.0]);
        assert_eq!(c, vec![1.0, 2.0, 3.0]);
        give(b);
        give(c);
    }
}

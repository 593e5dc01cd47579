//! Data parallelism for the CPU kernels: [`run`] calls a task function for task indices `0..tasks`, spread
//! over the thread pool where the build has one, in this thread otherwise.
//!
//! Only the wasm threads build (`+atomics`: shared memory, `make pkg-threads`) has a pool: Web Workers that
//! instantiate the same module on the same memory and park in `worker_loop`; JavaScript spawns them
//! (js/src/threads.js) and sets how many take part with [`set_threads`]. Every other build — native, the
//! single-thread SIMD128 and relaxed-SIMD builds — runs the tasks one after the other here, so callers
//! split their work the same way in every build. A task computes a fixed part of the output (rows of a
//! matmul, one (sequence, head) of attention) with the same arithmetic as the whole call would, so the
//! results are bit-identical with any number of threads.
//!
//! The pool is small and specific (no work stealing): one job at a time, its tasks claimed from a shared
//! counter by the calling thread and the workers alike; idle workers spin briefly, then sleep on
//! `memory.atomic.wait32`. The caller never sleeps (it spins on the job's completion count), so a pool is
//! usable from a browser's main thread too, where waiting is not allowed.

/// Threads that take part in [`run`] (the caller included): 1 without a pool.
pub fn threads() -> usize {
    imp::threads()
}

/// Run `f(i)` for every `i` in `0..tasks`, each exactly once, spread over the pool; returns when all are
/// done. Tasks must not call `run` themselves (a nested call runs its tasks serially, in its thread).
pub fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    imp::run(tasks, f)
}

/// How many threads [`run`] may use, the caller included (clamped to 1 ..= the workers started + 1).
/// Returns the number now in effect. Without a pool it stays 1.
pub fn set_threads(n: usize) -> usize {
    imp::set_threads(n)
}

/// Parallel jobs run so far (calls of [`run`] that the pool shared out; 0 without a pool): tests check
/// that the threaded paths ran.
pub fn jobs() -> usize {
    imp::jobs()
}

/// Workers that have entered the pool (`worker_loop`; 0 without a pool).
pub fn workers() -> usize {
    imp::workers()
}

/// A raw pointer that tasks may share: each task writes a disjoint part of the buffer behind it.
#[derive(Clone, Copy)]
pub struct SharedMut(pub *mut f32);
impl SharedMut {
    /// The pointer (a method, so closures capture the `Sync` wrapper rather than its field).
    pub fn get(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: tasks only ever write disjoint elements through it (each caller documents its split).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

/// `0..n` cut into `parts` contiguous ranges whose starts are multiples of `align` (the last one takes the
/// rest); fewer parts when `n` is small. Range `i` of [`split`]`(n, parts, align)`.
pub fn split(n: usize, parts: usize, align: usize) -> Vec<std::ops::Range<usize>> {
    let align = align.max(1);
    let units = n.div_ceil(align);
    let parts = parts.clamp(1, units.max(1));
    (0..parts)
        .map(|p| ((units * p / parts) * align).min(n)..((units * (p + 1) / parts) * align).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use imp::worker_loop;

#[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
mod imp {
    pub fn threads() -> usize {
        1
    }
    pub fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..tasks).for_each(f)
    }
    pub fn set_threads(_: usize) -> usize {
        1
    }
    pub fn workers() -> usize {
        0
    }
    pub fn jobs() -> usize {
        0
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod imp {
    use core::arch::wasm32::{memory_atomic_notify, memory_atomic_wait32};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering::SeqCst};

    /// One parallel call: the task function and its claim / completion counters (on the caller's stack).
    struct Job<'a> {
        f: &'a (dyn Fn(usize) + Sync),
        tasks: usize,
        next: AtomicUsize,
        done: AtomicUsize,
    }

    /// The job workers should help with (null between jobs), type-erased to `Job<'static>`.
    static JOB: AtomicPtr<Job<'static>> = AtomicPtr::new(std::ptr::null_mut());
    /// Bumped for every job: idle workers wait for it to change.
    static GENERATION: AtomicI32 = AtomicI32::new(0);
    /// Workers between reading [`JOB`] and letting go of it: the caller waits for 0 before its job dies.
    static HOLDING: AtomicUsize = AtomicUsize::new(0);
    /// Workers parked in [`worker_loop`].
    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    /// Threads to use, the caller included.
    static WANTED: AtomicUsize = AtomicUsize::new(usize::MAX);
    /// A caller is running a job (a second caller, another thread, runs serially instead of waiting).
    static BUSY: AtomicBool = AtomicBool::new(false);

    thread_local! {
        /// This thread is a pool worker or is inside a task: nested `run`s run serially.
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    /// Jobs shared out so far.
    static JOBS: AtomicUsize = AtomicUsize::new(0);

    pub fn jobs() -> usize {
        JOBS.load(SeqCst)
    }

    /// Spins of an idle worker before it sleeps (a forward issues its parallel calls back to back).
    const SPINS: u32 = 20_000;

    pub fn workers() -> usize {
        WORKERS.load(SeqCst)
    }

    pub fn threads() -> usize {
        WANTED.load(SeqCst).clamp(1, workers() + 1)
    }

    pub fn set_threads(n: usize) -> usize {
        WANTED.store(n.max(1), SeqCst);
        threads()
    }

    /// Claim and run tasks of `job` until none is left.
    fn work(job: &Job) {
        loop {
            let i = job.next.fetch_add(1, SeqCst);
            if i >= job.tasks {
                return;
            }
            (job.f)(i);
            job.done.fetch_add(1, SeqCst);
        }
    }

    pub fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        let nested = INSIDE.with(|c| c.get());
        if tasks <= 1 || threads() <= 1 || nested || BUSY.swap(true, SeqCst) {
            (0..tasks).for_each(f);
            return;
        }
        JOBS.fetch_add(1, SeqCst);
        let job = Job { f, tasks, next: AtomicUsize::new(0), done: AtomicUsize::new(0) };
        // SAFETY: the lifetime is erased only while the job is published; it is withdrawn below and no
        // worker holds it any more (HOLDING == 0) before `job` goes out of scope.
        JOB.store(&job as *const Job as *mut Job<'static>, SeqCst);
        GENERATION.fetch_add(1, SeqCst);
        unsafe {
            memory_atomic_notify(GENERATION.as_ptr(), u32::MAX);
        }
        INSIDE.with(|c| c.set(true));
        work(&job);
        INSIDE.with(|c| c.set(false));
        while job.done.load(SeqCst) < tasks {
            std::hint::spin_loop();
        }
        JOB.store(std::ptr::null_mut(), SeqCst);
        while HOLDING.load(SeqCst) > 0 {
            std::hint::spin_loop();
        }
        BUSY.store(false, SeqCst);
    }

    /// A pool worker's life: wait for a job, help with it, forever. Called once by each Web Worker of
    /// js/src/threads.js after it has instantiated the module on the shared memory (it never returns).
    pub fn worker_loop() {
        INSIDE.with(|c| c.set(true));
        WORKERS.fetch_add(1, SeqCst);
        let mut seen = GENERATION.load(SeqCst);
        loop {
            let mut spins = 0;
            while GENERATION.load(SeqCst) == seen {
                if spins < SPINS {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    // Sleeps until notified, unless the generation moved on already (then returns at once).
                    unsafe {
                        memory_atomic_wait32(GENERATION.as_ptr(), seen, -1);
                    }
                }
            }
            seen = GENERATION.load(SeqCst);
            HOLDING.fetch_add(1, SeqCst);
            let job = JOB.load(SeqCst);
            if !job.is_null() {
                // SAFETY: the caller keeps the job alive while HOLDING > 0.
                work(unsafe { &*job });
            }
            HOLDING.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_aligned() {
        assert_eq!(split(20, 2, 8), vec![0..8, 8..20]);
        assert_eq!(split(16, 2, 8), vec![0..8, 8..16]);
        assert_eq!(split(5, 4, 8), vec![0..5]);
        assert_eq!(split(0, 3, 8), Vec::<std::ops::Range<usize>>::new());
        let r = split(100, 3, 4);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, 100);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start && w[1].start % 4 == 0));
    }

    #[test]
    fn serial_run_visits_every_task_once() {
        let hits: Vec<std::sync::atomic::AtomicUsize> = (0..7).map(|_| Default::default()).collect();
        run(7, &|i| {
            hits[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(std::sync::atomic::Ordering::Relaxed) == 1));
        assert_eq!(threads(), 1);
    }
}

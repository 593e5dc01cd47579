// The wasm threads build's pool: Web Workers that instantiate the same module on the same shared memory and
// run the CPU kernels' tasks (kernels/src/par.rs). They are started from the thread that runs the engine (the
// package's worker, the page's worker, or your thread with { worker: false }); each one calls the module's
// poolWorker(), which never returns. The engine's thread never sleeps waiting for them (it spins on the
// job's completion), so the pool works on a browser's main thread too.

/** True where a threads build can run here: shared memory needs a cross-origin isolated context. */
export function threadsAvailable() {
  return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && typeof Worker === 'function';
}

/** Threads to use when asked for `requested` (0 or undefined: one per logical core, at most 8). */
export function threadsWanted(requested) {
  const cores = Math.max(1, Number(globalThis.navigator?.hardwareConcurrency) || 1);
  const n = requested ? Math.floor(Number(requested)) : Math.min(cores, 8);
  if (!Number.isFinite(n) || n < 1) throw new Error(`threads must be a positive integer (got ${requested})`);
  return Math.min(n, 64);
}

const pools = new WeakMap(); // wasm module namespace -> Worker[]
/** How long a pool worker may take to instantiate the module (then the load falls back to one thread). */
const START_MS = 30000;

/**
 * Make the threads build `build` ({ wasm, url, module, memory }: the initialised module namespace, its
 * encoder_lens.js URL, its compiled WebAssembly.Module and shared memory) use `n` threads, the caller
 * included: starts the workers still missing and waits until they have joined. Returns the count in effect.
 */
export async function useThreads(build, n) {
  const { wasm, url, module, memory } = build;
  if (typeof wasm.poolWorker !== 'function') return 1;
  const workers = pools.get(wasm) || [];
  pools.set(wasm, workers);
  const started = [];
  while (workers.length < n - 1) {
    const w = new Worker(new URL('./pool-worker.js', import.meta.url), { type: 'module', name: `encoder-lens pool ${workers.length + 1}` });
    workers.push(w);
    started.push(
      new Promise((resolve, reject) => {
        const late = setTimeout(() => reject(new Error(`pool worker did not start within ${START_MS / 1000} s`)), START_MS);
        w.onmessage = (e) => {
          clearTimeout(late);
          if (e.data?.ready) resolve();
          else reject(new Error(`pool worker: ${e.data?.error}`));
        };
        w.onerror = (e) => {
          clearTimeout(late);
          reject(new Error(`pool worker failed to start: ${e.message || 'pool-worker.js'}`));
        };
      }),
    );
    w.postMessage({ url, module, memory });
  }
  await Promise.all(started);
  // A worker posts `ready` just before it enters poolWorker(); wait (briefly) until all have joined.
  for (let i = 0; i < 400 && wasm.poolWorkers() < workers.length; i++) await new Promise((r) => setTimeout(r, 5));
  return wasm.setThreads(n);
}

// Which wasm build to run, by feature detection, and loading it in a browser, a worker or node.
//
// Builds: `threads` (relaxed SIMD + shared memory and atomics: the CPU kernels over a pool of Web Workers,
// js/src/threads.js) where the context is cross-origin isolated (COOP/COEP headers: SharedArrayBuffer) and
// validates relaxed SIMD, unless one thread is asked for; else `relaxed` (SIMD128 + f32x4.relaxed_madd, a
// real FMA) where WebAssembly.validate accepts relaxed SIMD; else `simd128`. A build that fails to load
// (absent, stale) falls back to the next. Node always runs a single-thread build.

import { relaxedSimdSupported, simdSupported } from './simd-detect.js';
import { threadsAvailable, threadsWanted, useThreads } from './threads.js';

/** The package's own builds, next to src/. */
export const PACKAGE_BUILDS = {
  threads: new URL('../wasm/threads/encoder_lens.js', import.meta.url).href,
  relaxed: new URL('../wasm/relaxed/encoder_lens.js', import.meta.url).href,
  simd128: new URL('../wasm/simd128/encoder_lens.js', import.meta.url).href,
};

export const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node) && typeof window === 'undefined';

const loaded = new Map(); // builds + threads wanted -> Promise<Build>

/** The wasm-bindgen module of `url`, initialised (node reads the .wasm from disk; browsers fetch it). */
async function init(url) {
  const m = await import(/* @vite-ignore */ url);
  if (isNode) {
    const { readFile } = await import('node:fs/promises');
    await m.default({ module_or_path: await readFile(new URL('encoder_lens_bg.wasm', url)) });
  } else {
    await m.default();
  }
  return m;
}

/** The threads build of `url` on a new shared memory, with what its pool workers need to join it. */
async function initThreads(url) {
  const m = await import(/* @vite-ignore */ url);
  if (typeof m.poolWorker !== 'function') throw new Error('not a threads build');
  await m.default();
  const [module, memory] = m.poolShare();
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('threads build without shared memory');
  return { wasm: m, url, module, memory };
}

/**
 * The best build this runtime runs: `{ wasm, flavour, threads, setThreads(n) }` — flavour `'relaxed SIMD +
 * threads' | 'relaxed SIMD' | 'SIMD128'`, `threads` the count in use (the caller's thread included), and
 * `setThreads(n)` (async; the threads build only, else it stays 1) to change it. `builds` maps `threads` /
 * `relaxed` / `simd128` to the builds' `encoder_lens.js` URLs (default: the package's); `threads` (0: one per
 * logical core, at most 8; 1: a single-thread build) is how many threads to use where the threads build runs.
 */
export function loadWasm(builds = PACKAGE_BUILDS, { threads = 0 } = {}) {
  const single = Number(threads) === 1;
  const key = `${builds.threads}|${builds.relaxed}|${builds.simd128}|${single}`;
  if (!loaded.has(key)) {
    loaded.set(
      key,
      (async () => {
        if (!(await simdSupported())) throw new Error('this runtime has no WebAssembly SIMD128 (Chrome 91+, Firefox 89+, Safari 16.4+, node 16.4+)');
        const relaxed = await relaxedSimdSupported();
        if (builds.threads && !single && !isNode && threadsAvailable() && relaxed) {
          try {
            const build = await initThreads(builds.threads);
            const b = { wasm: build.wasm, flavour: 'relaxed SIMD + threads', threads: 1 };
            b.setThreads = async (n) => (b.threads = await useThreads(build, threadsWanted(n)));
            await b.setThreads(threads);
            return b;
          } catch (e) {
            console.warn(`encoder-lens: the threads build did not load (${e && e.message ? e.message : e}); running single-threaded`);
          }
        }
        const one = { threads: 1, setThreads: async () => 1 };
        if (builds.relaxed && relaxed) {
          try {
            const m = await init(builds.relaxed);
            if (typeof m.Engine?.load !== 'function') throw new Error('relaxed build lacks Engine.load()');
            return { wasm: m, flavour: 'relaxed SIMD', ...one };
          } catch {
            // No relaxed build shipped, or a stale one: the portable build.
          }
        }
        return { wasm: await init(builds.simd128), flavour: 'SIMD128', ...one };
      })(),
    );
  }
  return loaded.get(key);
}

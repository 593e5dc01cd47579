// Which wasm build to run, by feature detection, and loading it in a browser, a worker or node.
//
// Builds: `relaxed` (SIMD128 + f32x4.relaxed_madd, a real FMA) where WebAssembly.validate accepts relaxed
// SIMD, else `simd128`. A `threads` build (shared memory + atomics) would be picked first where the page is
// cross-origin isolated; none is shipped yet, so `threads` resolves to 1.

import { relaxedSimdSupported, simdSupported } from './simd-detect.js';

/** The package's own builds, next to src/. */
export const PACKAGE_BUILDS = {
  relaxed: new URL('../wasm/relaxed/encoder_lens.js', import.meta.url).href,
  simd128: new URL('../wasm/simd128/encoder_lens.js', import.meta.url).href,
};

export const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node) && typeof window === 'undefined';

const loaded = new Map(); // module URL -> Promise<{ wasm, flavour }>

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

/**
 * The best build this runtime validates: `{ wasm, flavour: 'relaxed SIMD' | 'SIMD128' }`. `builds` maps
 * `relaxed` / `simd128` to the builds' `encoder_lens.js` URLs (default: the package's). A relaxed build that
 * fails to load (absent, stale) falls back to SIMD128.
 */
export function loadWasm(builds = PACKAGE_BUILDS) {
  const key = `${builds.relaxed}|${builds.simd128}`;
  if (!loaded.has(key)) {
    loaded.set(
      key,
      (async () => {
        if (!(await simdSupported())) throw new Error('this runtime has no WebAssembly SIMD128 (Chrome 91+, Firefox 89+, Safari 16.4+, node 16.4+)');
        if (builds.relaxed && (await relaxedSimdSupported())) {
          try {
            const m = await init(builds.relaxed);
            if (typeof m.Engine?.load !== 'function') throw new Error('relaxed build lacks Engine.load()');
            return { wasm: m, flavour: 'relaxed SIMD' };
          } catch {
            // No relaxed build shipped, or a stale one: the portable build.
          }
        }
        return { wasm: await init(builds.simd128), flavour: 'SIMD128' };
      })(),
    );
  }
  return loaded.get(key);
}

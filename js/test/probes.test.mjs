// js/src/probes.js: the backend choice's probes kept in a Cache API store across page loads. The Cache API
// is a small in-memory CacheStorage here (node has none); the wasm module is a stand-in with the two calls
// probes.js uses, `Engine.probeCache()` / `Engine.seedProbeCache(json)` (their Rust side, the cache merge and
// the refusal of bad JSON, is tested in src/choice.rs and, through a real probe, in tests/gpu.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreProbes, keepProbes, PROBE_CACHE } from '../src/probes.js';

/** CacheStorage in memory: open(name) -> { match, put, delete } over request URLs. */
function memoryCaches() {
  const stores = new Map();
  return {
    stores,
    async open(name) {
      if (!stores.has(name)) stores.set(name, new Map());
      const s = stores.get(name);
      return {
        async match(url) {
          return s.has(url) ? new Response(s.get(url)) : undefined;
        },
        async put(url, resp) {
          s.set(url, await resp.text());
        },
        async delete(url) {
          return s.delete(url);
        },
      };
    },
  };
}

/** One wasm instance's probe cache (a page load): export as JSON, import merging, refuse non-objects. */
function wasmInstance() {
  const cache = {};
  return {
    cache,
    Engine: {
      probeCache: () => JSON.stringify(cache),
      seedProbeCache(json) {
        const v = JSON.parse(json);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('probe cache: not a { key: probe } JSON object');
        let added = 0;
        for (const [k, p] of Object.entries(v)) if (!(k in cache)) (cache[k] = p), added++;
        return added;
      },
    },
  };
}

const PROBE = { seq: 20, cpuMs: 2.5, gpuMs: 0.75, gpuFirstMs: 40 };

test('a probe kept by one page load is given to the next one', async () => {
  const caches = memoryCaches();
  const first = wasmInstance();
  // Nothing kept yet: nothing restored, and an empty cache is not stored.
  assert.equal(await restoreProbes(first, caches), 0);
  assert.equal(await keepProbes(first, caches), false);
  first.cache['minilm|SwiftShader'] = PROBE; // the engine timed its probe
  assert.equal(await keepProbes(first, caches), true);
  assert.equal(caches.stores.get(PROBE_CACHE).size, 1);

  const reloaded = wasmInstance();
  assert.equal(await restoreProbes(reloaded, caches), 1);
  assert.deepEqual(reloaded.cache, { 'minilm|SwiftShader': PROBE });
  // A second model probed after the reload is kept beside the first.
  reloaded.cache['sentiment|SwiftShader'] = { ...PROBE, gpuMs: 9 };
  await keepProbes(reloaded, caches);
  const third = wasmInstance();
  assert.equal(await restoreProbes(third, caches), 2);
  assert.equal(third.cache['sentiment|SwiftShader'].gpuMs, 9);
});

test('a corrupted entry is dropped, not an error', async () => {
  const caches = memoryCaches();
  const c = await caches.open(PROBE_CACHE);
  const w = wasmInstance();
  w.cache.k = PROBE;
  await keepProbes(w, caches);
  const [url] = caches.stores.get(PROBE_CACHE).keys();
  await c.put(url, new Response('[1, 2]'));
  const fresh = wasmInstance();
  assert.equal(await restoreProbes(fresh, caches), 0);
  assert.deepEqual(fresh.cache, {});
  assert.equal(caches.stores.get(PROBE_CACHE).size, 0, 'the refused entry is deleted');
});

test('without a Cache API (node) nothing is kept or restored', async () => {
  const w = wasmInstance();
  w.cache.k = PROBE;
  assert.equal(await keepProbes(w, undefined), false);
  assert.equal(await restoreProbes(w, undefined), 0);
});

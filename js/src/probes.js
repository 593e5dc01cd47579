// The measured backend choice's probes kept across page loads. With backend 'auto' on a hardware GPU
// adapter the engine times one short forward on the GPU and on the CPU and keeps the faster (src/choice.rs);
// it caches that per model shape and adapter, but only inside its wasm instance, so every reload would time
// it again. Here the wasm side's cache (`Engine.probeCache()`, JSON keyed by model shape and adapter) is kept
// in the Cache API (windows and workers alike) and given back (`Engine.seedProbeCache`) before the next
// engine is built; the engine's choice then says `cached`. Where there is no Cache API (node) nothing is
// kept. It is a cache: an entry that cannot be read or is refused is dropped, never an error for the caller.

/** The Cache API cache the probes are kept in; bump the suffix when the stored layout changes. */
export const PROBE_CACHE = 'encoder-lens-probes-v1';
/** The one entry, a same-origin URL path (the Cache API keys by request URL). */
const ENTRY = '/encoder-lens/backend-probes.json';

function entryUrl() {
  const base = globalThis.location?.href || 'http://localhost/';
  return new URL(ENTRY, base).href;
}

/**
 * Give the kept probes to the wasm module's engine cache (call before `Engine.load`/`createHf`).
 * `storage`: a CacheStorage (default `globalThis.caches`). Returns how many probes were added.
 */
export async function restoreProbes(wasm, storage = globalThis.caches) {
  if (!storage) return 0;
  let cache;
  try {
    cache = await storage.open(PROBE_CACHE);
    const hit = await cache.match(entryUrl());
    if (!hit) return 0;
    return wasm.Engine.seedProbeCache(await hit.text());
  } catch {
    // Unreadable or refused (an older layout, a corrupted entry): forget it, the next probe writes anew.
    await cache?.delete(entryUrl()).catch(() => {});
    return 0;
  }
}

/**
 * Keep the wasm module's probes (call after building an 'auto' engine). Returns true when something was
 * stored. Storage failures (quota, private mode) only mean the next load probes again.
 */
export async function keepProbes(wasm, storage = globalThis.caches) {
  if (!storage) return false;
  const json = wasm.Engine.probeCache();
  if (!json || json === '{}') return false;
  try {
    const cache = await storage.open(PROBE_CACHE);
    await cache.put(entryUrl(), new Response(json, { headers: { 'content-type': 'application/json' } }));
    return true;
  } catch {
    return false;
  }
}

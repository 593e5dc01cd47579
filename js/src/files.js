// Model files: a folder URL (this project's format or a Hugging Face BERT folder) fetched with progress and
// kept in the Cache API under a version key, a folder on disk (node), a set of File objects, or an object of
// contents. Which files a folder has comes from the engine itself (`Engine.modelFiles()`), the list the CLI
// and the Rust tests read too.

import { isNode } from './wasm.js';

/** The Cache API cache the weights are kept in; bump the suffix when the stored layout changes. */
export const CACHE_NAME = 'encoder-lens-models-v1';

/** The version of `url` on its server (`size-mtime`, asked with a cheap HEAD request). */
async function serverVersion(url) {
  const head = await fetch(url, { method: 'HEAD', cache: 'no-store' });
  if (!head.ok) throw new Error(`${url}: HTTP ${head.status}`);
  return `${head.headers.get('content-length') || ''}-${head.headers.get('last-modified') || ''}`;
}

/** The cached copy of `url` (any version): `{ key, bytes }` with `bytes` a promise that is already being read. */
async function cachedCopy(cache, url) {
  const keys = await cache.keys(url, { ignoreSearch: true });
  if (!keys.length) return null;
  const hit = await cache.match(keys[0]);
  if (!hit) return null;
  const bytes = hit.arrayBuffer();
  bytes.catch(() => {}); // a copy that turns out stale is dropped unread
  return { key: keys[0].url, bytes };
}

/**
 * Bytes of `url`, from the Cache API when this exact version (same size and modification time, asked with a
 * cheap HEAD request) was downloaded before; otherwise downloaded with progress and stored. The HEAD request
 * and reading the cached copy run at the same time (a returning visitor waits for the longer of the two, not
 * both); without an answer from the server (offline) the cached copy is used as it is.
 * `progress(loaded, total, cached)` is called as bytes arrive.
 */
export async function fetchCached(url, progress = () => {}) {
  const cache = globalThis.caches ? await caches.open(CACHE_NAME).catch(() => null) : null;
  const copy = cache ? cachedCopy(cache, url).catch(() => null) : Promise.resolve(null);
  let version = '';
  try {
    version = await serverVersion(url);
  } catch (e) {
    if (!cache) throw e;
  }
  const key = `${url}?v=${encodeURIComponent(version)}`;
  const hit = await copy;
  if (hit && (version === '' || hit.key === new Request(key).url)) {
    const bytes = new Uint8Array(await hit.bytes);
    progress(bytes.length, bytes.length, true);
    return bytes;
  }
  // Announce the size first, so a progress bar's total counts every file from the start.
  const expected = Number(version.split('-')[0]) || 0;
  if (expected) progress(0, expected, false);
  const resp = await fetch(url, { cache: 'no-store' });
  if (!resp.ok) throw new Error(`could not download ${url}: HTTP ${resp.status}`);
  const total = Number(resp.headers.get('content-length')) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress(loaded, total, false);
  }
  const bytes = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  if (cache) {
    // Drop older versions of this file, then keep this one.
    for (const req of await cache.keys()) if (req.url.split('?')[0] === key.split('?')[0]) await cache.delete(req);
    await cache.put(key, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
  }
  return bytes;
}

/** Drop every cached file under folder `base` (after it failed to load, so the next try downloads again). */
export async function forgetCached(base) {
  if (!globalThis.caches) return;
  const cache = await caches.open(CACHE_NAME);
  for (const req of await cache.keys()) if (req.url.startsWith(base)) await cache.delete(req);
}

const decode = (b) => (typeof b === 'string' ? b : new TextDecoder().decode(b));

/**
 * A reader of one folder: `get(path, required)` → bytes, or undefined for a missing optional file.
 * `source`: a folder URL (string or URL; in node also a path or file: URL), an array / FileList of File
 * objects (paths from `webkitRelativePath` below the chosen folder, else the file name), or an object
 * mapping paths to contents (string, Uint8Array, ArrayBuffer).
 */
function folderReader(source, onProgress) {
  const report = (file) => (loaded, total, cached) => onProgress?.({ file, loaded, total, cached });
  if (source && typeof source === 'object' && !(source instanceof URL) && typeof source.length !== 'number') {
    return async (path) => {
      const v = source[path];
      if (v === undefined) return undefined;
      const bytes = typeof v === 'string' ? new TextEncoder().encode(v) : new Uint8Array(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v);
      report(path)(bytes.length, bytes.length, true);
      return bytes;
    };
  }
  if (source && typeof source === 'object' && typeof source.length === 'number') {
    const byPath = new Map();
    for (const f of Array.from(source)) {
      const rel = f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name;
      byPath.set(rel || f.name, f);
      if (!byPath.has(f.name)) byPath.set(f.name, f);
    }
    return async (path) => {
      const f = byPath.get(path);
      if (!f) return undefined;
      const bytes = new Uint8Array(await f.arrayBuffer());
      report(path)(bytes.length, bytes.length, true);
      return bytes;
    };
  }
  let base = String(source);
  if (!base.endsWith('/')) base += '/';
  const local = isNode && !/^(https?|blob|data):/i.test(base);
  if (local) {
    return async (path) => {
      const { readFile } = await import('node:fs/promises');
      const url = /^file:/i.test(base) ? new URL(path, base) : (await import('node:path')).resolve(base, path);
      try {
        const bytes = new Uint8Array(await readFile(url));
        report(path)(bytes.length, bytes.length, true);
        return bytes;
      } catch (e) {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      }
    };
  }
  const abs = new URL(base, globalThis.location?.href).href;
  return async (path, required) => {
    try {
      return await fetchCached(new URL(path, abs).href, report(path));
    } catch (e) {
      if (required) throw e;
      return undefined;
    }
  };
}

/** The `precision` a model folder's `config.json` declares (`f32` when it says none, e.g. an HF folder). */
export async function folderPrecision(source) {
  const config = await folderReader(source)('config.json', true);
  if (!config) throw new Error('the model folder has no config.json');
  let parsed;
  try {
    parsed = JSON.parse(decode(config));
  } catch (e) {
    throw new Error(`the model folder's config.json is not JSON: ${e.message}`);
  }
  return typeof parsed.precision === 'string' ? parsed.precision : 'f32';
}

/**
 * The folder to load for `precision` ('auto' | 'f32' | 'int8' | 'f16'): `source` itself when it already
 * holds that precision ('auto': whatever it holds), else — for a folder URL or path — its sibling named
 * with the precision (`…/sentiment-ln/` → `…/sentiment-ln-int8/`, what `classify quantize --out` is
 * conventionally given; 'f32' from an `-int8` / `-f16` folder goes back to the original). File sets and content objects have no siblings: they must hold the precision.
 */
export async function precisionSource(source, precision) {
  if (!['auto', 'f32', 'int8', 'f16'].includes(precision)) throw new Error(`precision "${precision}": use 'auto', 'f32', 'int8' or 'f16'`);
  if (precision === 'auto') return source;
  const have = await folderPrecision(source);
  if (have === precision) return source;
  const convert = `make one with \`classify quantize --model DIR --to ${precision} --out DIR-${precision}\``;
  if (!(typeof source === 'string' || source instanceof URL)) {
    throw new Error(`precision "${precision}": this model is ${have} and was given as files, which have no ${precision} sibling folder; ${convert}`);
  }
  const base = String(source).replace(/\/+$/, '');
  const stem = base.replace(/-(int8|f16)$/, ''); // the f32 original's folder
  const sibling = precision === 'f32' ? `${stem}/` : `${stem}-${precision}/`;
  let got;
  try {
    got = await folderPrecision(sibling);
  } catch (e) {
    throw new Error(`precision "${precision}": this model is ${have} and there is no ${precision} version at ${sibling} (${e.message}); ${convert}`);
  }
  if (got !== precision) throw new Error(`precision "${precision}": ${sibling} holds a ${got} model`);
  return sibling;
}

/**
 * A model folder's files as `Engine.load` takes them, each half as soon as it is there:
 * `{ texts: Promise<{ path: text }>, weights: Promise<Uint8Array[]> }` (`Engine.load` takes the weights'
 * promise as it is: a GPU engine compiles its pipelines while they are read). `wasm` is the initialised
 * wasm-bindgen module (its `Engine.modelFiles()` lists what a folder holds), or a promise of it.
 * `config.json` and `model.safetensors` (every folder has it but a sharded one, whose index names its
 * files) are read from the start, while the module loads and the other texts are read; `{ sharded: true }`
 * skips that early read for a folder whose weights an index lists.
 */
export function openModel(wasm, source, onProgress, { sharded = false } = {}) {
  const get = folderReader(source, onProgress);
  // A folder known to be sharded (`sharded`: its index names the files) is not asked for model.safetensors.
  const early = { config: get('config.json', true), weights: sharded ? Promise.resolve(undefined) : get('model.safetensors', true) };
  for (const p of Object.values(early)) p.catch(() => {}); // awaited below (model.safetensors: if the folder uses it)
  const module = Promise.resolve(wasm);
  const texts = (async () => {
    const wasm = await module;
    const config = await early.config;
    if (!config) throw new Error('the model folder has no config.json');
    const texts = { 'config.json': decode(config) };
    const hf = wasm.Engine.isHfBert(texts['config.json']);
    const wanted = wasm.Engine.modelFiles().filter((f) => f.path !== 'config.json' && f.path !== 'model.safetensors' && (hf || !f.hf_only));
    await Promise.all(
      wanted.map(async (f) => {
        const b = await get(f.path, f.required);
        if (b === undefined && f.required) throw new Error(`the model folder has no ${f.path}`);
        if (b !== undefined) texts[f.path] = decode(b);
      }),
    );
    return texts;
  })();
  const weights = texts.then(async (t) => {
    const index = t['model.safetensors.index.json'];
    const list = index ? (await module).Engine.hfWeightFiles(index) : ['model.safetensors'];
    return Promise.all(
      list.map(async (w) => {
        const b = await (w === 'model.safetensors' && !sharded ? early.weights : get(w, true));
        if (!b) throw new Error(`the model folder has no ${w}`);
        return b;
      }),
    );
  });
  weights.catch(() => {}); // the caller awaits it (Engine.load), unless the texts failed first
  return { texts, weights };
}

/** As openModel, both halves awaited: `{ texts: { path: text }, weights: Uint8Array[] }`. */
export async function readModel(wasm, source, onProgress) {
  const model = openModel(wasm, source, onProgress);
  return { texts: await model.texts, weights: await model.weights };
}

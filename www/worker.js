// The engine's home: a module Web Worker that loads the wasm build, fetches model files (with progress, kept
// in the Cache API so a reload does not download them again), builds one engine per model and backend, and
// answers the page's requests. The main thread only renders.
//
// Protocol: the page posts { id, type, ...args }; the worker answers { id, ok: true, value } or
// { id, ok: false, error }, and posts { type: 'progress', ... } while downloading.

import { analyse, COMPANION } from './analysis.js';

const CACHE_NAME = 'encoder-lens-models-v1';

let wasm = null; // the wasm-bindgen module
let flavour = ''; // which build runs: 'relaxed SIMD' | 'SIMD128'
let manifest = null;
const files = new Map(); // model id -> { config, weights, vocab }
const engines = new Map(); // `${model}|${backend}` -> { engine, info }
const failed = new Map(); // model id -> why it could not be loaded (comparison models are not retried)
let backendChoice = 'auto';

/** Load the relaxed-SIMD build where the browser runs it and it was built; otherwise the SIMD128 build. */
async function loadWasm() {
  try {
    const detect = await import('./simd-detect.js');
    if (await detect.relaxedSimdSupported()) {
      const m = await import('./pkg-relaxed/encoder_lens.js');
      // A stale relaxed build without the page's methods is not used.
      if (typeof m.Engine?.prototype?.inspect !== 'function') throw new Error('relaxed build lacks inspect()');
      await m.default();
      wasm = m;
      flavour = 'relaxed SIMD';
      return;
    }
  } catch {
    // No relaxed build or detector shipped: use the portable build.
  }
  const m = await import('./pkg/encoder_lens.js');
  await m.default();
  wasm = m;
  flavour = 'SIMD128';
}

function progress(model, file, loaded, total, cached) {
  self.postMessage({ type: 'progress', model, file, loaded, total, cached });
}

/**
 * Bytes of `url`, from the Cache API when this exact version (same size and modification time, asked with a
 * cheap HEAD request) was downloaded before; otherwise downloaded with progress and stored.
 */
async function fetchCached(url, model, file) {
  const cache = self.caches ? await caches.open(CACHE_NAME).catch(() => null) : null;
  let version = '';
  try {
    const head = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    if (!head.ok) throw new Error(`${url}: HTTP ${head.status}`);
    version = `${head.headers.get('content-length') || ''}-${head.headers.get('last-modified') || ''}`;
  } catch (e) {
    if (!cache) throw e;
  }
  const key = `${new URL(url, self.location.href).href}?v=${encodeURIComponent(version)}`;
  if (cache) {
    const hit = await cache.match(key, { ignoreSearch: version === '' });
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      progress(model, file, bytes.length, bytes.length, true);
      return bytes;
    }
  }
  // Announce the size first, so the progress bar's total counts every file from the start.
  const expected = Number(version.split('-')[0]) || 0;
  if (expected) progress(model, file, 0, expected, false);
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
    progress(model, file, loaded, total, false);
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

/** Text of an optional file, or undefined where it does not exist. */
async function optionalText(url, id, label) {
  try {
    return new TextDecoder().decode(await fetchCached(url, id, label));
  } catch {
    return undefined;
  }
}

/**
 * A model's files: this project's format (config.json, model.safetensors, vocab.txt), or a Hugging Face BERT
 * folder (config.json, vocab.txt, optional tokenizer / sentence-transformers configs, and one or more
 * safetensors files: `model.safetensors`, or those a `model.safetensors.index.json` lists).
 */
async function modelFiles(id) {
  if (files.has(id)) return files.get(id);
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) throw new Error(`unknown model "${id}"`);
  const base = entry.path.endsWith('/') ? entry.path : `${entry.path}/`;
  // An entry may name its files (`files: { config, weights, vocab }`, relative to its path).
  const name = (k, d) => `${base}${entry.files?.[k] || d}`;
  const text = (b) => new TextDecoder().decode(b);
  const config = text(await fetchCached(name('config', 'config.json'), id, 'config'));
  let f;
  if (typeof wasm.Engine.isHfBert === 'function' && wasm.Engine.isHfBert(config)) {
    const [vocab, tokenizerConfig, sentenceBertConfig, poolingConfig, index] = await Promise.all([
      fetchCached(name('vocab', 'vocab.txt'), id, 'vocab').then(text),
      optionalText(`${base}tokenizer_config.json`, id, 'tokenizer_config'),
      optionalText(`${base}sentence_bert_config.json`, id, 'sentence_bert_config'),
      optionalText(`${base}1_Pooling/config.json`, id, 'pooling_config'),
      entry.files?.weights ? undefined : optionalText(`${base}model.safetensors.index.json`, id, 'index'),
    ]);
    const list = index ? wasm.Engine.hfWeightFiles(index) : [entry.files?.weights || 'model.safetensors'];
    const weights = await Promise.all(list.map((w) => fetchCached(new URL(w, new URL(base, self.location.href)).href, id, w)));
    f = { hf: { config, vocab, tokenizerConfig, sentenceBertConfig, poolingConfig }, weights };
  } else {
    const [weights, vocab] = await Promise.all([
      fetchCached(name('weights', 'model.safetensors'), id, 'weights'),
      fetchCached(name('vocab', 'vocab.txt'), id, 'vocab').then(text),
    ]);
    f = { config, weights, vocab };
  }
  files.set(id, f);
  return f;
}

/** Drop a model's cached files (after they failed to load), so the next try downloads them again. */
async function forget(id) {
  files.delete(id);
  if (!self.caches) return;
  const entry = manifest.models.find((m) => m.id === id);
  const cache = await caches.open(CACHE_NAME);
  for (const req of await cache.keys()) if (entry && req.url.includes(`/${entry.path.replace(/\/$/, '')}/`)) await cache.delete(req);
}

function backendLabel(engine) {
  const b = typeof engine.backend === 'function' ? String(engine.backend()) : 'cpu';
  if (/gpu/i.test(b)) return { id: 'gpu', label: 'WebGPU' };
  return { id: 'cpu', label: /simd/i.test(b) ? `CPU (${b})` : `CPU · wasm ${flavour}` };
}

/** Build an engine on `backend`; where the GPU cannot be had, build a CPU engine and say why. */
async function createEngine(f, backend) {
  const make = (b) => (f.hf ? wasm.Engine.createHf(f.hf, f.weights, b) : wasm.Engine.create(f.config, f.weights, f.vocab, b));
  try {
    return { engine: await make(backend), why: null };
  } catch (e) {
    if (backend === 'cpu') throw e;
    const why = e && e.message ? e.message : String(e);
    return { engine: await make('cpu'), why };
  }
}

async function engineFor(id, backend = backendChoice) {
  const key = `${id}|${backend}`;
  if (engines.has(key)) return engines.get(key);
  let engine;
  let why;
  try {
    const f = await modelFiles(id);
    ({ engine, why } = await createEngine(f, backend));
  } catch (e) {
    await forget(id);
    const msg = `model "${id}" could not be loaded: ${e && e.message ? e.message : e}`;
    failed.set(id, msg);
    throw new Error(msg);
  }
  failed.delete(id);
  const ran = backendLabel(engine);
  let fallback = why || (typeof engine.fallbackReason === 'function' ? engine.fallbackReason() : null);
  if (backend === 'gpu' && ran.id !== 'gpu' && !fallback) {
    fallback = self.navigator.gpu ? 'this build of the engine has no WebGPU path' : 'this browser has no WebGPU';
  }
  const info = {
    model: id,
    requested: backend,
    backend: ran.id,
    backendLabel: ran.label,
    fallbackReason: fallback || null,
    config: engine.config(),
  };
  const rec = { engine, info, positional: null };
  engines.set(key, rec);
  return rec;
}

const handlers = {
  async init() {
    await loadWasm();
    const r = await fetch('models.json', { cache: 'no-store' });
    if (!r.ok) throw new Error(`models.json: HTTP ${r.status}`);
    manifest = await r.json();
    // Models whose files are not on the server (large checkpoints are not in the repository) are listed
    // as unavailable rather than failing when picked.
    await Promise.all(
      manifest.models.map(async (m) => {
        const base = m.path.endsWith('/') ? m.path : `${m.path}/`;
        const res = await fetch(`${base}${m.files?.config || 'config.json'}`, { method: 'HEAD', cache: 'no-store' }).catch(() => null);
        m.available = Boolean(res && res.ok);
      }),
    );
    return { manifest, flavour, webgpu: Boolean(self.navigator.gpu), companion: COMPANION };
  },
  async load({ model, backend }) {
    if (backend) backendChoice = backend;
    const rec = await engineFor(model);
    if (!rec.positional) rec.positional = rec.engine.positionalView();
    return { ...rec.info, positional: rec.positional };
  },
  async analyse({ model, text, companion }) {
    const primary = await engineFor(model);
    const role = (norm) => manifest.models.find((m) => m.compare === norm);
    const pick = async (norm) => {
      const m = role(norm);
      if (!m || (m.id !== model && failed.has(m.id))) return undefined;
      try {
        return { id: m.id, engine: (await engineFor(m.id, m.id === model ? backendChoice : 'cpu')).engine };
      } catch {
        return undefined; // the comparison model failed to load; the panel says so
      }
    };
    const result = await analyse(
      { primary: { id: model, engine: primary.engine }, ln: await pick('layer'), bn: await pick('batch') },
      text,
      companion || COMPANION,
    );
    return { ...result, info: primary.info };
  },
};

self.onmessage = async (ev) => {
  const { id, type, ...args } = ev.data;
  try {
    const value = await handlers[type](args);
    self.postMessage({ id, ok: true, value });
  } catch (e) {
    self.postMessage({ id, ok: false, error: e && e.message ? e.message : String(e) });
  }
};

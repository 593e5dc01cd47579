// The engine's home: a module Web Worker that loads the wasm build, fetches model files (with progress, kept
// in the Cache API so a reload does not download them again), builds one engine per model and backend, and
// answers the page's requests. The main thread only renders.
//
// Protocol (www/rpc.js is the page's side): the page posts { id, type, lane?, ...args }; the worker answers
// { id, ok: true, value } or { id, ok: false, error }, and posts { type: 'progress', ... } while downloading.
// Requests run one at a time, in order (an engine runs one call at a time); a queued request on a lane that a
// newer request has since joined is skipped and answered { id, stale: true }: only the latest keystroke runs.

import { analyse, compare, COMPANION } from './analysis.js';
import { counted, forwardsOf } from './forwards.js';

const CACHE_NAME = 'encoder-lens-models-v1';

let wasm = null; // the wasm-bindgen module
let flavour = ''; // which build runs: 'relaxed SIMD' | 'SIMD128'
let manifest = null;
const files = new Map(); // model id -> { config, weights, vocab }
const engines = new Map(); // `${model}|${backend}` -> { engine, info }
const failed = new Map(); // model id -> why it could not be loaded (comparison models are not retried)
let backendChoice = 'auto';
let autoRunsOn = null; // where the last 'auto' engine ran: 'gpu' | 'cpu'
let autoFallback = self.navigator.gpu ? null : 'this browser has no WebGPU'; // and why not on the GPU

/** Load the relaxed-SIMD build where the browser runs it and it was built; otherwise the SIMD128 build. */
async function loadWasm() {
  try {
    const detect = await import('./simd-detect.js');
    if (await detect.relaxedSimdSupported()) {
      const m = await import('./pkg-relaxed/encoder_lens.js');
      // A stale relaxed build without the page's methods is not used.
      if (typeof m.Engine?.load !== 'function') throw new Error('relaxed build lacks Engine.load()');
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
 * A model's files, read through the engine's own list of a folder's files (`Engine.modelFiles()`, the list the
 * CLI and the tests read too): `config.json` first, then the other text files its format has (Hugging Face
 * BERT folders: tokenizer / sentence-transformers configs and a weight index, when present), then the weights
 * — `model.safetensors`, or the files `model.safetensors.index.json` names.
 */
async function modelFiles(id) {
  if (files.has(id)) return files.get(id);
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) throw new Error(`unknown model "${id}"`);
  const base = new URL(entry.path.endsWith('/') ? entry.path : `${entry.path}/`, self.location.href);
  const url = (path) => new URL(path, base).href;
  const text = (b) => new TextDecoder().decode(b);
  const texts = { 'config.json': text(await fetchCached(url('config.json'), id, 'config.json')) };
  const hf = wasm.Engine.isHfBert(texts['config.json']);
  const wanted = wasm.Engine.modelFiles().filter((f) => !(f.path in texts) && f.path !== 'model.safetensors' && (hf || !f.hf_only));
  await Promise.all(
    wanted.map(async (f) => {
      const t = f.required ? text(await fetchCached(url(f.path), id, f.path)) : await optionalText(url(f.path), id, f.path);
      if (t !== undefined) texts[f.path] = t;
    }),
  );
  const index = texts['model.safetensors.index.json'];
  const list = index ? wasm.Engine.hfWeightFiles(index) : ['model.safetensors'];
  const weights = await Promise.all(list.map((w) => fetchCached(url(w), id, w)));
  const f = { texts, weights };
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
  const make = (b) => wasm.Engine.load(f.texts, f.weights, b);
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
  // One engine per model and backend that runs: where 'auto' runs on the CPU (no WebGPU, or an earlier 'auto'
  // engine fell back), the 'auto' and 'cpu' engines of a model are one.
  const runs = backend === 'auto' ? autoRunsOn || (self.navigator.gpu ? null : 'cpu') : backend;
  for (const rec of engines.values()) {
    if (rec.info.model === id && rec.info.backend === runs) {
      // Same engine; this request's own account of what was asked and why it runs where it does.
      const fallbackReason = rec.info.fallbackReason || (backend === 'auto' && runs === 'cpu' ? autoFallback : null);
      const same = { ...rec, info: { ...rec.info, requested: backend, fallbackReason } };
      engines.set(key, same);
      return same;
    }
  }
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
  if (backend === 'auto') [autoRunsOn, autoFallback] = [ran.id, fallback || null];
  const rec = { engine: counted(engine), info, positional: null };
  engines.set(key, rec);
  return rec;
}


/** The engines built so far, one entry each: 'model|backend it runs on'. */
function enginesRunning() {
  const seen = new Map();
  for (const rec of engines.values()) seen.set(rec.engine, `${rec.info.model}|${rec.info.backend}`);
  return [...seen.values()];
}

/** Where a model plays a role in the LN-vs-BN panel ('layer' | 'batch'): { id, engine } or undefined. */
async function roleEngine(norm, primaryId) {
  const m = manifest.models.find((x) => x.compare === norm);
  if (!m) return undefined;
  if (m.id === primaryId) return { id: m.id }; // the panel draws the primary's own inspection
  if (failed.has(m.id)) return undefined;
  try {
    return { id: m.id, engine: (await engineFor(m.id, 'cpu')).engine };
  } catch {
    return undefined; // the comparison model failed to load; the panel says so
  }
}

/**
 * Tensors ({ shape, data: number[] }) become Float32Arrays (the engine's own precision): the structured clone
 * to the page copies them as one block instead of number by number.
 */
function pack(v) {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = pack(v[i]);
    return v;
  }
  if (v && typeof v === 'object') {
    if (Array.isArray(v.shape) && Array.isArray(v.data)) return { shape: v.shape, data: Float32Array.from(v.data) };
    for (const k of Object.keys(v)) v[k] = pack(v[k]);
  }
  return v;
}

/** After the model's head changed (taught or loaded): new labels in its info, no stale remembered answers. */
function relabel(model, engine) {
  for (const rec of engines.values()) if (rec.engine === engine || rec.info.model === model) rec.info.config = engine.config();
  recent.clear();
}

/** Recent packed answers by (model, backend, companion, text): a repeated question runs no forward. */
const recent = new Map();
async function remembered(key, run) {
  let v = recent.get(key);
  if (v) recent.delete(key);
  else v = pack(await run());
  recent.set(key, v);
  while (recent.size > 6) recent.delete(recent.keys().next().value);
  return v;
}

/** Run `work` on `engines` and say how many forwards each ran: { modelId: n }. */
async function countingForwards(engines, work) {
  const before = engines.map((e) => forwardsOf(e.engine));
  const value = await work();
  const forwards = {};
  engines.forEach((e, i) => (forwards[e.id] = (forwards[e.id] || 0) + forwardsOf(e.engine) - before[i]));
  return { value, forwards };
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
        const res = await fetch(`${base}config.json`, { method: 'HEAD', cache: 'no-store' }).catch(() => null);
        m.available = Boolean(res && res.ok);
      }),
    );
    return { manifest, flavour, webgpu: Boolean(self.navigator.gpu), companion: COMPANION };
  },
  async load({ model, backend }) {
    if (backend) backendChoice = backend;
    const rec = await engineFor(model);
    if (!rec.positional) rec.positional = pack(rec.engine.positionalView());
    return { ...rec.info, positional: rec.positional };
  },
  /** The primary model's analysis of `text`: one inspect (3 forwards), or none for a repeated question. */
  async analyse({ model, text, companion, padded = true }) {
    const rec = await engineFor(model);
    const c = companion || COMPANION;
    const primary = { id: model, engine: rec.engine };
    // A model that plays no part in the LN-vs-BN panel sends no norm traces.
    const norms = Boolean(manifest.models.find((m) => m.id === model)?.compare);
    // The batch experiment feeds panel 4 (norms) and the attention panel's padded view only.
    const batchTest = norms || padded;
    const run = async () => {
      const before = forwardsOf(rec.engine);
      const v = await analyse(primary, text, c, { norms, batchTest });
      return { ...v, inspectForwards: forwardsOf(rec.engine) - before };
    };
    const key = `${model}|${rec.info.backend}|${c}|${batchTest}|${text}`;
    const { value, forwards } = await countingForwards([primary], () => remembered(key, run));
    return { ...value, forwards, info: rec.info, engines: enginesRunning() };
  },
  /**
   * Why the model labels `text` as it does (panels 5–7): the engine's explanation — occlusion and rollout
   * attributions, the head-ablation sweep (one batched forward) and the logit lens; 4 forwards, none for a
   * repeated question.
   */
  async explain({ model, text, ablate = 'zero' }) {
    const rec = await engineFor(model);
    const t0 = performance.now();
    const key = `explain|${model}|${rec.info.backend}|${ablate}|${text}`;
    const value = await remembered(key, () => rec.engine.explain(text, { ablate }));
    return { ...value, model, backend: rec.info.backend, backendLabel: rec.info.backendLabel, workMs: performance.now() - t0 };
  },
  /** Classify `text` with the attention heads `heads` ([[layer, head], …]) ablated together: 2 forwards. */
  async ablate({ model, text, heads, ablate = 'zero' }) {
    const rec = await engineFor(model);
    const value = await rec.engine.classifyAblated(text, heads, { ablate });
    return { ...value, model, text, heads, ablate };
  },
  /**
   * Teach the model your labels (panel 8): the engine trains a softmax head on the pooled features of the
   * examples and classifies with it from then on. Returns the report and the head's two files (to save).
   */
  async teach({ model, labels, examples }) {
    const rec = await engineFor(model);
    const { report, config, weights } = await rec.engine.teach(labels, examples);
    relabel(model, rec.engine);
    return { report, config, weights, labels: rec.info.config.labels };
  },
  /** Classify with a head saved before (head.json text, head.safetensors bytes). */
  async setHead({ model, config, weights }) {
    const rec = await engineFor(model);
    wasm.Engine.checkWeightsFile('head.safetensors', weights.subarray(0, 8), weights.length);
    rec.engine.setHead(config, weights);
    relabel(model, rec.engine);
    return { labels: rec.info.config.labels };
  },
  /**
   * Bring your own model: `files` [{ path, file }] of a model folder (this project's or a Hugging Face BERT
   * folder), dropped or picked on the page. Sizes and safetensors header claims are checked (by the engine)
   * before any file is read into memory; the model is built in a new engine, so a bad folder leaves the
   * current model running. Returns its manifest entry.
   */
  async addModel({ name, files: list }) {
    const byPath = new Map(list.map(({ path, file }) => [path.replace(/^\.?\//, ''), file]));
    const texts = {};
    const MAX_TEXT = 32 << 20;
    for (const f of wasm.Engine.modelFiles()) {
      const file = byPath.get(f.path);
      if (!file || f.path.endsWith('.safetensors')) continue;
      if (file.size > MAX_TEXT) throw new Error(`${f.path} is ${file.size} bytes; a text file of a model folder is at most ${MAX_TEXT >> 20} MiB`);
      texts[f.path] = await file.text();
    }
    if (!texts['config.json']) throw new Error('the folder has no config.json (drop the whole model folder, or pick its files)');
    if (!texts['vocab.txt']) throw new Error('the folder has no vocab.txt');
    const index = texts['model.safetensors.index.json'];
    const names = index ? wasm.Engine.hfWeightFiles(index) : ['model.safetensors'];
    const blobs = names.map((n) => {
      const file = byPath.get(n.replace(/^\.?\//, ''));
      if (!file) throw new Error(`the folder has no ${n}`);
      return [n, file];
    });
    for (const [n, file] of blobs) wasm.Engine.checkWeightsFile(n, new Uint8Array(await file.slice(0, 8).arrayBuffer()), file.size);
    const weights = [];
    for (const [, file] of blobs) weights.push(new Uint8Array(await file.arrayBuffer()));
    const id = `user-${(name || 'model').replace(/[^A-Za-z0-9_-]/g, '_')}-${manifest.models.length}`;
    // Build it once here so a broken folder fails now, with the engine's message, and nothing is registered.
    const engine = await wasm.Engine.load(texts, weights, 'cpu');
    engine.free?.();
    files.set(id, { texts, weights });
    const entry = { id, name: `${name || 'Your model'} (yours)`, path: null, user: true, available: true };
    manifest.models.push(entry);
    return entry;
  },
  /** The LN-vs-BN panel's comparison models for `text` (3 forwards each that is not the primary model). */
  async compare({ model, text, companion }) {
    const c = companion || COMPANION;
    const roles = { ln: await roleEngine('layer', model), bn: await roleEngine('batch', model) };
    const others = Object.values(roles).filter((e) => e?.engine);
    const run = () => compare(roles, model, text, c);
    const key = `${others.map((e) => e.id).join(',')}|${model}|${c}|${text}`;
    const { value, forwards } = await countingForwards(others, () => remembered(key, run));
    return { text, companion: c, model, roles: value, forwards };
  },
};

const queue = [];
const newest = new Map(); // lane -> id of its newest request
let busy = false;

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const { id, type, lane, ...args } = queue.shift();
    if (lane && newest.get(lane) !== id) {
      self.postMessage({ id, stale: true });
      continue;
    }
    try {
      const t0 = performance.now();
      let value = await handlers[type](args);
      if (type === 'analyse' || type === 'compare') {
        // When the page got it, in the page's clock: timeOrigin + now is the same instant in both.
        value = { ...value, workMs: performance.now() - t0, sentAt: performance.timeOrigin + performance.now() };
      }
      self.postMessage({ id, ok: true, value });
    } catch (e) {
      self.postMessage({ id, ok: false, error: e && e.message ? e.message : String(e) });
    }
  }
  busy = false;
}

self.onmessage = (ev) => {
  if (ev.data.lane) newest.set(ev.data.lane, ev.data.id);
  queue.push(ev.data);
  drain();
};

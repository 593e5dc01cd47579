// The engine's home: a module Web Worker that loads the wasm build, fetches model files (with progress, kept
// in the Cache API so a reload does not download them again), builds one engine per model and backend, and
// answers the page's requests. The main thread only renders.
//
// Protocol: the npm package's (js/src/, served as www/lens/): the page's client is lens/rpc.js, this worker's
// side lens/serve.js — the page posts { id, type, lane?, ...args }; the worker answers { id, ok: true, value }
// or { id, ok: false, error }, and posts { type: 'progress', ... } while downloading. Requests run one at a
// time, in order; a queued request on a lane that a newer request has since joined is skipped and answered
// { id, stale: true }: only the latest keystroke runs. Add a request type by adding a handler to `handlers`.

import { analyse, compare, COMPANION } from './analysis.js';
import { counted, forwardsOf } from './forwards.js';
import { serve } from './lens/serve.js';
import { loadWasm as loadBuild } from './lens/wasm.js';
import { openModel, forgetCached } from './lens/files.js';
import { restoreProbes, keepProbes } from './lens/probes.js';

let wasm = null; // the wasm-bindgen module
let flavour = ''; // which build runs: 'relaxed SIMD + threads' | 'relaxed SIMD' | 'SIMD128'
let build = null; // loadBuild's answer: { wasm, flavour, threads, setThreads }
let loading = null; // a promise of the wasm-bindgen module: model files are read while it loads
let manifest = null;
const files = new Map(); // model id -> { texts, weights }: each a promise (lens/files.js openModel) or a value
const engines = new Map(); // `${model}|${backend}` -> { engine, info }
const failed = new Map(); // model id -> why it could not be loaded (comparison models are not retried)
let backendChoice = 'auto';
// Where each model's 'auto' engine runs ('gpu' | 'cpu'), why not on the GPU, and the engine's account of its
// choice (a software adapter is declined; on a hardware one a timed probe decides, per model).
const autoRuns = new Map(); // model id -> { runs, fallback, choice }
const NO_WEBGPU = 'this browser has no WebGPU';

/**
 * Load the threads build where the page is cross-origin isolated (and `threads` is not 1), else the relaxed-SIMD
 * build where the browser runs it, else the SIMD128 build (lens/wasm.js decides; a build missing on the server
 * falls back to the next). `threads`: 0 = one per logical core (at most 8).
 */
async function loadWasm(threads) {
  const builds = {
    threads: new URL('./pkg-threads/encoder_lens.js', import.meta.url).href,
    relaxed: new URL('./pkg-relaxed/encoder_lens.js', import.meta.url).href,
    simd128: new URL('./pkg/encoder_lens.js', import.meta.url).href,
  };
  const pending = loadBuild(builds, { threads });
  loading = pending.then((b) => b.wasm);
  loading.catch(() => {}); // the caller awaits `pending`
  build = await pending;
  ({ wasm, flavour } = build);
}

/** What the page says about the build: which one, how many threads, and whether the page is isolated. */
function buildInfo() {
  return { flavour, threads: build.threads, isolated: self.crossOriginIsolated === true, cores: self.navigator.hardwareConcurrency || 1 };
}

// How each model's files came: { ms, bytes, cached } (cached: every file came from the Cache API), measured
// around the fetches in modelFiles; the precision panel shows it as the download time.
const fetchLog = new Map(); // model id -> { ms, bytes, cached }

function progress(model, file, loaded, total, cached) {
  const log = fetchLog.get(model);
  if (log && !cached) log.cached = false;
  self.postMessage({ type: 'progress', model, file, loaded, total, cached });
}

/**
 * A model's files as `Engine.load` takes them, `{ texts, weights }`, each a promise: read through the engine's
 * own list of a folder's files (lens/files.js `openModel`, the package's reader: `config.json` and the weights
 * from the start, while the wasm build may still be loading), from the Cache API when this version was
 * downloaded before; read once per model.
 */
function openFiles(id) {
  if (files.has(id)) return files.get(id);
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry?.path) throw new Error(`unknown model "${id}"`);
  const log = { ms: 0, bytes: 0, cached: true };
  fetchLog.set(id, log);
  const t0 = performance.now();
  const f = openModel(loading, folderUrl(entry), (p) => progress(id, p.file, p.loaded, p.total, p.cached), { sharded: !!entry.sharded });
  // A failed read is tried again at the next load.
  const drop = () => files.get(id) === f && files.delete(id);
  f.texts.catch(drop);
  f.weights.then((w) => {
    log.ms = performance.now() - t0;
    log.bytes = w.reduce((n, b) => n + b.length, 0);
  }, drop);
  files.set(id, f);
  return f;
}

/** A model's files with both halves read: `{ texts: { path: text }, weights: Uint8Array[] }`. */
async function modelFiles(id) {
  const f = openFiles(id);
  return { texts: await f.texts, weights: await f.weights };
}

/** The absolute URL of a manifest entry's folder. */
function folderUrl(entry) {
  return new URL(entry.path.endsWith('/') ? entry.path : `${entry.path}/`, self.location.href).href;
}

/** Drop a model's cached files (after they failed to load), so the next try downloads them again. */
async function forget(id) {
  files.delete(id);
  const entry = manifest.models.find((m) => m.id === id);
  if (entry?.path) await forgetCached(folderUrl(entry));
}

function backendLabel(engine) {
  const b = typeof engine.backend === 'function' ? String(engine.backend()) : 'cpu';
  if (/gpu/i.test(b)) return { id: 'gpu', label: 'WebGPU' };
  const threads = build.threads > 1 ? `, ${build.threads} threads` : '';
  return { id: 'cpu', label: /simd/i.test(b) ? `CPU (${b}${threads})` : `CPU · wasm ${flavour}${threads}` };
}

/** Build an engine on `backend`; where the GPU cannot be had, build a CPU engine and say why. */
async function createEngine(f, backend) {
  const make = (b) => wasm.Engine.load(f.texts, f.weights, b);
  try {
    // 'auto' times a probe forward per model and adapter: kept across reloads (lens/probes.js).
    if (backend === 'auto') await restoreProbes(wasm);
    const engine = await make(backend);
    if (backend === 'auto') await keepProbes(wasm);
    return { engine, why: null };
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
  const auto = autoRuns.get(id) || (self.navigator.gpu ? null : { runs: 'cpu', fallback: NO_WEBGPU, choice: null });
  const runs = backend === 'auto' ? auto?.runs : backend;
  for (const rec of engines.values()) {
    if (rec.info.model === id && rec.info.backend === runs) {
      // Same engine; this request's own account of what was asked and why it runs where it does.
      const fallbackReason = rec.info.fallbackReason || (backend === 'auto' && runs === 'cpu' ? auto.fallback : null);
      const choice = backend === 'auto' ? auto.choice || rec.info.choice : rec.info.choice;
      const same = { ...rec, info: { ...rec.info, requested: backend, fallbackReason, choice } };
      engines.set(key, same);
      return same;
    }
  }
  let engine;
  let why;
  try {
    // The weights as a promise: a GPU engine compiles its pipelines while they are still being read.
    const f = openFiles(id);
    ({ engine, why } = await createEngine({ texts: await f.texts, weights: f.weights }, backend));
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
    // { requested, runsOn, reason, adapter, fallbackAdapter, probe: { seq, cpuMs, gpuMs, gpuFirstMs }, cached }
    choice: typeof engine.choice === 'function' ? engine.choice() : null,
    // Blocks' depth and width, DExTra's layers and groups, params and MACs per block (at the longest input).
    architecture: engine.architecture(engine.config().max_len),
  };
  if (backend === 'auto') autoRuns.set(id, { runs: ran.id, fallback: fallback || null, choice: info.choice });
  const rec = { engine: counted(engine), info, positional: null };
  engines.set(key, rec);
  return rec;
}

/**
 * After a call on `rec`'s engine: an engine that ran on WebGPU and now runs on the CPU lost its GPU mid-run
 * (device lost, a failed dispatch or readback). The engine re-ran that forward on the CPU and stays there;
 * every record of that engine says so from now on (`backend: 'cpu'`, `fallbackReason`, `gpuLost`), so the
 * page tells the user why. Returns the record's (new) info.
 */
function noticeFallback(rec) {
  if (rec.info.backend !== 'gpu' || backendLabel(rec.engine).id === 'gpu') return rec.info;
  const reason = (typeof rec.engine.fallbackReason === 'function' && rec.engine.fallbackReason()) || 'the GPU stopped working';
  const ran = backendLabel(rec.engine);
  for (const r of engines.values()) {
    if (r.engine !== rec.engine) continue;
    r.info = { ...r.info, backend: ran.id, backendLabel: ran.label, fallbackReason: reason, gpuLost: reason };
    if (r.info.requested === 'auto') autoRuns.set(r.info.model, { runs: ran.id, fallback: reason, choice: r.info.choice });
  }
  recent.clear();
  return rec.info;
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

/**
 * The precision lab of `id`'s f32 model (the model itself, or the one a quantized twin says it is `of`): its
 * files, and those of the twins the manifest lists as `of` it (fetched, timed), given to the engine's
 * PrecisionLab, which converts the precisions no twin has. Kept per f32 model. `info` says where each
 * precision's weights came from: { base, baseName, convertMs, sources: { f32 | f16 | int8: { id?, how, ms,
 * bytes } } }. Only the latest model's lab is kept.
 */
const labs = new Map(); // f32 model id -> { lab, matrices, info }
async function labFor(id) {
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) throw new Error(`unknown model "${id}"`);
  const base = entry.precision && entry.precision !== 'f32' && entry.of ? entry.of : id;
  if (labs.has(base)) return labs.get(base);
  const fetched = (mid) => {
    const log = fetchLog.get(mid);
    return log ? { id: mid, how: log.cached ? 'cache' : 'network', ms: log.ms, bytes: log.bytes } : { id: mid, how: 'local', ms: null, bytes: null };
  };
  const f32 = await modelFiles(base);
  const sources = { f32: fetched(base) };
  const twins = manifest.models.filter((m) => m.of === base && ['f16', 'int8'].includes(m.precision) && m.available !== false);
  const downloaded = [];
  for (const t of twins) {
    downloaded.push(await modelFiles(t.id));
    sources[t.precision] = fetched(t.id);
  }
  // One lab at a time: a model in three precisions is ~2.3× its f32 weights in wasm memory.
  for (const old of labs.values()) old.lab.free?.();
  labs.clear();
  const t0 = performance.now();
  const lab = new wasm.PrecisionLab(f32, downloaded);
  const convertMs = performance.now() - t0;
  for (const p of ['f16', 'int8']) sources[p] ||= { how: 'converted', ms: null };
  const info = { base, baseName: manifest.models.find((m) => m.id === base)?.name || base, convertMs, sources };
  const rec = { lab, matrices: lab.matrices(), info };
  labs.set(base, rec);
  return rec;
}

const handlers = {
  /**
   * Load the wasm build and the manifest; `model`: the model the page will load first (default: the
   * manifest's), whose files are read while the wasm build loads.
   */
  async init({ threads = 0, model = null } = {}) {
    const built = loadWasm(threads);
    built.catch(() => {}); // awaited below, after the manifest
    const r = await fetch('models.json', { cache: 'no-store' });
    if (!r.ok) throw new Error(`models.json: HTTP ${r.status}`);
    manifest = await r.json();
    const first = manifest.models.find((m) => m.id === model && m.path) || manifest.models.find((m) => m.id === manifest.default && m.path);
    if (first) openFiles(first.id).texts.catch(() => {}); // its 'load' reports a failure
    await built;
    // Models whose files are not on the server (large checkpoints are not in the repository) are listed
    // as unavailable rather than failing when picked.
    await Promise.all(
      manifest.models.map(async (m) => {
        const base = m.path.endsWith('/') ? m.path : `${m.path}/`;
        const res = await fetch(`${base}config.json`, { method: 'HEAD', cache: 'no-store' }).catch(() => null);
        m.available = Boolean(res && res.ok);
      }),
    );
    return { manifest, flavour, build: buildInfo(), webgpu: Boolean(self.navigator.gpu), companion: COMPANION };
  },
  /** Run the CPU kernels on `n` threads (the threads build only; elsewhere it stays 1). */
  async threads({ n }) {
    await build.setThreads(n);
    for (const rec of engines.values()) if (rec.info.backend === 'cpu') rec.info.backendLabel = backendLabel(rec.engine).label;
    recent.clear();
    return buildInfo();
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
    return { ...value, forwards, info: noticeFallback(rec), engines: enginesRunning() };
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
    const info = noticeFallback(rec);
    return { ...value, model, backend: info.backend, backendLabel: info.backendLabel, info, workMs: performance.now() - t0 };
  },
  /** Panel 9: one forward of `text` on `model` with per-op timings measured by the engine: 1 forward. */
  async timings({ model, text }) {
    const rec = await engineFor(model);
    const t = await rec.engine.timings(text, 50);
    return { ...t, model, text, backendLabel: rec.info.backendLabel };
  },
  /**
   * Panel 9's parity check: the PyTorch golden case shipped beside `model` (parity.json + parity.safetensors,
   * made by the build from tests/fixtures/golden), or beside the default model when `model` has none, run
   * through that model's engine on the chosen backend.
   */
  async parity({ model }) {
    const fetchCase = async (id) => {
      const entry = manifest.models.find((m) => m.id === id);
      if (!entry?.path) return null;
      const base = new URL(entry.path.endsWith('/') ? entry.path : `${entry.path}/`, self.location.href);
      const j = await fetch(new URL('parity.json', base), { cache: 'no-store' });
      if (!j.ok) return null;
      const t = await fetch(new URL('parity.safetensors', base), { cache: 'no-store' });
      if (!t.ok) throw new Error(`${entry.path}parity.safetensors: HTTP ${t.status}`);
      return { id, json: await j.text(), tensors: new Uint8Array(await t.arrayBuffer()) };
    };
    const c = (await fetchCase(model)) || (await fetchCase(manifest.default));
    if (!c) throw new Error('no PyTorch golden case is shipped with this page (make models writes them)');
    const rec = await engineFor(c.id);
    const p = await rec.engine.parity(c.json, c.tensors);
    return { ...p, model: c.id, modelName: manifest.models.find((m) => m.id === c.id)?.name || c.id };
  },
  /**
   * Panel 10, precision: `model` (or the f32 model it is a quantized twin of) in f32, f16 and int8 on the
   * CPU — the twins the server has downloaded, the others converted in the engine from the f32 files — and
   * `text` run through each (the engine's report: sizes, ms per forward, Δp and per-layer error vs f32), with
   * weight matrix `matrix` (default: the first) binned under its int8 grid. 1 traced + timed forwards per
   * precision; the lab is built once per model.
   */
  async precision({ model, text, matrix, minMs = 30 }) {
    const lab = await labFor(model);
    const report = await lab.lab.report(text, minMs);
    const name = lab.matrices.some((m) => m.name === matrix) ? matrix : lab.matrices[0]?.name;
    const histogram = name ? lab.lab.histogram(name, 96) : null;
    return { ...lab.info, model, text, report, histogram, matrices: lab.matrices };
  },
  /** Panel 10's histogram of another weight matrix (no forward). */
  async histogram({ model, matrix }) {
    const lab = await labFor(model);
    return { model: lab.info.base, histogram: lab.lab.histogram(matrix, 96) };
  },
  /** Classify `text` with the attention heads `heads` ([[layer, head], …]) ablated together: 2 forwards. */
  async ablate({ model, text, heads, ablate = 'zero' }) {
    const rec = await engineFor(model);
    const value = await rec.engine.classifyAblated(text, heads, { ablate });
    return { ...value, model, text, heads, ablate, info: noticeFallback(rec) };
  },
  /**
   * Teach the model your labels (panel 8): the engine trains a softmax head on the pooled features of the
   * examples and classifies with it from then on. Returns the report and the head's two files (to save).
   */
  async teach({ model, labels, examples }) {
    const rec = await engineFor(model);
    const { report, config, weights } = await rec.engine.teach(labels, examples);
    noticeFallback(rec);
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

serve(handlers, {
  after(type, value, t0) {
    if (type !== 'analyse' && type !== 'compare') return value;
    // When the page got it, in the page's clock: timeOrigin + now is the same instant in both.
    return { ...value, workMs: performance.now() - t0, sentAt: performance.timeOrigin + performance.now() };
  },
});

// The engine behind a TextClassifier: one wasm Engine and the calls the package offers. It runs inside the
// package's worker (js/src/worker.js) or, with { worker: false }, in the caller's thread (node, workers).

import { loadWasm } from './wasm.js';
import { precisionSource, openModel } from './files.js';
import { restoreProbes, keepProbes } from './probes.js';

/** Most texts per forward pass (the engine's MAX_BATCH). */
const MAX_BATCH = 256;

function chunks(texts, n = MAX_BATCH) {
  const out = [];
  for (let i = 0; i < texts.length; i += n) out.push(texts.slice(i, i + n));
  return out;
}

function checkTexts(texts) {
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new TypeError('texts must be a string or an array of strings');
}

export class Host {
  /**
   * Load the wasm build and the model. `source`: see readModel (js/src/files.js); `backend`: 'auto' |
   * 'webgpu' | 'gpu' | 'cpu'; `precision`: 'auto' (the folder as it is) | 'f32' | 'int8' | 'f16' (the folder,
   * or its `-int8` / `-f16` sibling: see precisionSource); `threads`: CPU threads (0: one per core, at most 8;
   * the threads build runs only where the context is cross-origin isolated); `builds`: wasm build URLs
   * (default: the package's). Returns what `info` describes.
   */
  async load({ source, backend = 'auto', precision = 'auto', threads = 0, builds } = {}, onProgress) {
    const folder = await precisionSource(source, precision);
    // The wasm build loads while the model's files are read (config.json first: the module says which others).
    const loading = loadWasm(builds, { threads }).then(async (build) => {
      // The threads build is shared by every classifier of this thread: it runs with the latest count asked.
      if (threads && build.threads !== 1) await build.setThreads(threads);
      return build;
    });
    // The weights go to Engine.load still being read: a GPU engine compiles its pipelines meanwhile.
    const model = openModel(loading.then((b) => b.wasm), folder, onProgress);
    const [build, texts] = await Promise.all([loading, model.texts]);
    const { wasm, flavour } = build;
    const hasGpu = Boolean(globalThis.navigator?.gpu);
    const want = backend === 'webgpu' ? 'gpu' : backend;
    // Without WebGPU (node, some browsers) wgpu must not be asked at all.
    const run = want === 'auto' && !hasGpu ? 'cpu' : want;
    if (want === 'gpu' && !hasGpu) throw new Error('backend "webgpu": this runtime has no WebGPU');
    // 'auto' times a probe forward per model and adapter: kept across loads, so a reload does not time it again.
    if (run === 'auto') await restoreProbes(wasm);
    // A second load on the same host replaces the engine: the old one's wasm memory and GPU buffers are freed.
    const previous = this.engine;
    this.engine = await wasm.Engine.load(texts, model.weights, run);
    previous?.free();
    if (run === 'auto') await keepProbes(wasm);
    const config = this.engine.config();
    const ran = /gpu/i.test(String(this.engine.backend())) ? 'webgpu' : 'cpu';
    this.info = {
      backend: ran,
      fallbackReason: this.engine.fallbackReason() ?? (want === 'auto' && !hasGpu ? 'this runtime has no WebGPU' : null),
      gpuLost: false,
      wasm: flavour,
      threads: build.threads,
      requestedThreads: threads || 0,
      precision: config.precision || 'f32',
      source: typeof folder === 'string' ? folder : null,
      labels: config.labels,
      config,
    };
    return this.info;
  }

  #need() {
    if (!this.engine) throw new Error('this classifier was disposed (or never loaded)');
    return this.engine;
  }

  /**
   * After a call: an engine that ran on WebGPU and now runs on the CPU lost its GPU mid-run (device lost, a
   * failed dispatch or readback). The engine re-ran that forward on the CPU and stays there; `info` says so
   * from now on (`backend: 'cpu'`, `fallbackReason`, `gpuLost: true`) and `onInfo(info)` is told once.
   */
  #noticeFallback() {
    if (this.info?.backend !== 'webgpu' || !this.engine || /gpu/i.test(String(this.engine.backend()))) return;
    this.info.backend = 'cpu';
    this.info.fallbackReason = this.engine.fallbackReason() ?? 'the GPU stopped working';
    this.info.gpuLost = true;
    this.onInfo?.(this.info);
  }

  /** [{ label, score, scores: { label: p } }] per text. */
  async classify({ texts }) {
    checkTexts(texts);
    const engine = this.#need();
    const out = [];
    for (const part of chunks(texts)) {
      const r = await engine.classify(part, null);
      for (const p of r.predictions) {
        const scores = {};
        r.labels.forEach((l, i) => (scores[l] = p.probabilities[i]));
        out.push({ label: p.label, score: p.probabilities[p.labelIndex], scores });
      }
      this.#noticeFallback();
    }
    return out;
  }

  /** L2-normalised sentence embeddings, one Float32Array per text. */
  async embed({ texts }) {
    checkTexts(texts);
    const engine = this.#need();
    const out = [];
    for (const part of chunks(texts)) {
      for (const e of await engine.embed(part)) out.push(Float32Array.from(e));
      this.#noticeFallback();
    }
    return out;
  }

  /**
   * Why the model says what it says about `text`: its prediction, the tokens, and — as asked —
   * `attention` (per layer, the head-averaged `(seq, seq)` map, and every head's `(heads, seq, seq)`),
   * `ablation` (per word: the text without it, and how much the predicted label's score drops).
   */
  async explain({ text, attention = true, ablation = false, attribution = false }) {
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    if (attribution) throw new Error('attribution is not in this build of the engine (use attention or ablation)');
    const engine = this.#need();
    const [pred] = await this.classify({ texts: [text] });
    const out = { text, ...pred, tokens: engine.tokenize(text) };
    if (attention) {
      const v = await engine.inspect(text, '', { attention: true, norms: false, batchTest: false });
      this.#noticeFallback();
      const seq = v.result.trace.seq;
      out.attention = {
        seq,
        mean: v.attentionMean.map((t) => Float32Array.from(t.data)),
        heads: v.result.trace.layers.map((l) => Float32Array.from(l.attention.data)),
      };
    }
    if (ablation) {
      const words = [...text.matchAll(/\S+/g)];
      const variants = words.map((w) => text.slice(0, w.index) + text.slice(w.index + w[0].length));
      const scores = variants.length ? await this.classify({ texts: variants }) : [];
      out.ablation = words.map((w, i) => ({
        word: w[0],
        start: w.index,
        end: w.index + w[0].length,
        delta: pred.score - scores[i].scores[pred.label],
      }));
    }
    return out;
  }

  dispose() {
    this.engine?.free();
    this.engine = null;
  }
}

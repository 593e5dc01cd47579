// encoder-lens: Transformer encoder text classifiers in WebAssembly (CPU SIMD) and WebGPU, exact to PyTorch.
//
//   const clf = await TextClassifier.load();                 // the bundled sentiment model
//   const [r] = await clf.classify('an absolute joy');      // { label: 'positive', score, scores }
//
// The engine runs in a Web Worker by default (the package's js/src/worker.js, spoken to through
// js/src/rpc.js); { worker: false } runs it in this thread (node, or inside your own worker).

import { connect } from './rpc.js';
import { Host } from './host.js';
import { isNode, PACKAGE_BUILDS } from './wasm.js';

export { connect, StaleError } from './rpc.js';
export { serve } from './serve.js';
export { loadWasm, PACKAGE_BUILDS } from './wasm.js';
export { readModel, openModel, fetchCached, CACHE_NAME } from './files.js';

/** The model shipped with the package: a small LayerNorm sentiment classifier (negative / positive). */
export const DEFAULT_MODEL = new URL('../models/sentiment-ln/', import.meta.url).href;

/** A folder URL as the worker needs it: absolute (relative to the page), as a string. */
function resolveSource(source) {
  if (source === undefined || source === null) return isNode ? DEFAULT_MODEL : DEFAULT_MODEL;
  if (source instanceof URL) return source.href;
  if (typeof source === 'string' && !isNode && globalThis.location) return new URL(source, globalThis.location.href).href;
  return source;
}

export class TextClassifier {
  #call;
  #worker;
  #host;
  #disposed = false;

  constructor(call, info, { worker = null, host = null } = {}) {
    this.#call = call;
    this.#worker = worker;
    this.#host = host;
    /**
     * Where and how the engine runs: backend, wasm build, labels, the model's config. Updated in place when
     * the GPU is lost mid-run (backend 'cpu', fallbackReason, gpuLost).
     */
    this.info = info;
  }

  /**
   * Load a model: `source` is a folder URL (this project's format or a Hugging Face BERT folder), a path
   * (node), File objects (e.g. from `<input type=file webkitdirectory>`), or an object of file contents;
   * undefined loads the bundled sentiment model.
   */
  static async load(source, options = {}) {
    const { backend = 'auto', precision = 'auto', threads = 0, onProgress, worker = !isNode && typeof Worker !== 'undefined', builds } = options;
    const args = { source: resolveSource(source), backend, precision, threads, builds };
    if (worker) {
      const w = typeof worker === 'object' ? worker : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      let clf = null;
      const rpc = connect(w, {
        onEvent: (m) => {
          if (m.type === 'progress') onProgress?.(m);
          else if (m.type === 'info' && clf) Object.assign(clf.info, m.info);
        },
      });
      // A worker that cannot start (its script missing, a syntax error) fails the load instead of hanging it.
      const failed = new Promise((_, reject) =>
        w.addEventListener?.('error', (e) => reject(new Error(`the encoder-lens worker failed: ${e.message || 'could not load worker.js'}`)), { once: true }),
      );
      try {
        const info = await Promise.race([rpc.call('load', args), failed]);
        clf = new TextClassifier(rpc.call, info, { worker: w });
        return clf;
      } catch (e) {
        w.terminate?.();
        throw e;
      }
    }
    const host = new Host();
    const info = await host.load(args, (p) => onProgress?.({ type: 'progress', ...p }));
    return new TextClassifier((type, a) => host[type](a), info, { host });
  }

  #run(type, args) {
    if (this.#disposed) return Promise.reject(new Error('this classifier was disposed'));
    return this.#call(type, args);
  }

  /** Labels and probabilities: one `{ label, score, scores }` per text (an array for one text too). */
  classify(texts) {
    return this.#run('classify', { texts: typeof texts === 'string' ? [texts] : texts });
  }

  /** L2-normalised sentence embeddings, one Float32Array per text. */
  embed(texts) {
    return this.#run('embed', { texts: typeof texts === 'string' ? [texts] : texts });
  }

  /** The prediction with what it rests on: attention maps and/or per-word ablation. */
  explain(text, options = {}) {
    return this.#run('explain', { text, ...options });
  }

  /** Free the engine (and end its worker). Later calls reject. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#worker) this.#worker.terminate();
    else this.#host?.dispose();
  }
}

// Hand-written types of the package's public API (the wasm-bindgen-generated types of the raw engine are
// in wasm/simd128/encoder_lens.d.ts).

/** Where to run the forward pass: WebGPU when there is one (`auto`), WebGPU only, or the wasm CPU path. */
export type Backend = 'auto' | 'webgpu' | 'gpu' | 'cpu';

/**
 * Weight precision: `auto` loads the folder as it is; `f32` / `int8` / `f16` load the folder when it holds
 * that precision, else its sibling folder named `<folder>-int8` / `<folder>-f16` (`classify quantize` output).
 */
export type Precision = 'auto' | 'f32' | 'int8' | 'f16';

/** A download (or cache hit) of one model file. */
export interface ProgressEvent {
  type: 'progress';
  /** Path in the model folder, e.g. `model.safetensors`. */
  file: string;
  /** Bytes so far. */
  loaded: number;
  /** Bytes in all (0 when the server does not say). */
  total: number;
  /** True when the file came from the Cache API (or disk) instead of the network. */
  cached: boolean;
}

/** The contents of a model folder by path (`config.json`, `vocab.txt`, `model.safetensors`, …). */
export type FolderContents = Record<string, string | Uint8Array | ArrayBuffer>;

/** A model folder URL (or a path in node), File objects, or the folder's contents; undefined: the bundled model. */
export type ModelSource = string | URL | ArrayLike<File> | FolderContents | undefined;

/** URLs of the wasm builds' `encoder_lens.js`. */
export interface WasmBuilds {
  /** The threads build (relaxed SIMD + shared memory); runs only where the context is cross-origin isolated. */
  threads?: string;
  relaxed?: string;
  simd128: string;
}

export interface LoadOptions {
  /** Default `auto`. */
  backend?: Backend;
  /** Default `auto`. */
  precision?: Precision;
  /**
   * CPU threads, the caller's included (default 0: one per logical core, at most 8; 1: a single-thread build).
   * The threads build runs only where the context is cross-origin isolated (COOP `same-origin` + COEP
   * `require-corp`) and validates relaxed SIMD; elsewhere the engine runs on one thread.
   */
  threads?: number;
  /** Called as model files download. */
  onProgress?: (event: ProgressEvent) => void;
  /** Run in a Web Worker (default in browsers), `false` for this thread (node, inside a worker), or a Worker of your own that runs `encoder-lens/worker`. */
  worker?: boolean | Worker;
  /** Where the wasm builds are (default: the package's own). */
  builds?: WasmBuilds;
}

/** What a loaded classifier runs on. */
export interface ClassifierInfo {
  backend: 'webgpu' | 'cpu';
  /** Why it runs on the CPU although WebGPU was allowed, or null. */
  fallbackReason: string | null;
  /**
   * True once the GPU was lost mid-run (device lost, a failed dispatch or readback): the call that met it
   * was re-run on the CPU, `backend` became 'cpu' and every later call runs there.
   */
  gpuLost: boolean;
  /** The wasm build in use. */
  wasm: 'relaxed SIMD + threads' | 'relaxed SIMD' | 'SIMD128';
  /** CPU threads in use (1 in the single-thread builds). */
  threads: number;
  /** The `threads` option as given (0: auto). */
  requestedThreads: number;
  precision: 'f32' | 'int8' | 'f16';
  /** The folder loaded (the `-int8` / `-f16` sibling when `precision` chose it), or null for files / contents. */
  source: string | null;
  /** The model's labels, in order (empty for an embeddings-only encoder). */
  labels: string[];
  /** The engine's model configuration. */
  config: Record<string, unknown>;
}

/** One text's classification. */
export interface Classification {
  /** The most probable label. */
  label: string;
  /** Its probability. */
  score: number;
  /** Every label's probability. */
  scores: Record<string, number>;
}

export interface ExplainOptions {
  /** Attention maps per layer (default true). */
  attention?: boolean;
  /** Classify the text without each word in turn (default false). */
  ablation?: boolean;
  /** Gradient attribution: not in this build (rejects). */
  attribution?: boolean;
}

export interface WordAblation {
  word: string;
  /** UTF-16 offsets of the word in the text. */
  start: number;
  end: number;
  /** How much the predicted label's probability drops without the word. */
  delta: number;
}

export interface Explanation extends Classification {
  text: string;
  /** The word pieces the model saw, `[CLS]` … `[SEP]`. */
  tokens: string[];
  attention?: {
    /** Tokens (rows and columns of each map). */
    seq: number;
    /** Per layer, the head-averaged map, `(seq, seq)` row-major. */
    mean: Float32Array[];
    /** Per layer, every head's map, `(heads, seq, seq)` row-major. */
    heads: Float32Array[];
  };
  ablation?: WordAblation[];
}

export declare class TextClassifier {
  private constructor();
  /** Load a model (see ModelSource) with its engine in a worker or in this thread. */
  static load(source?: ModelSource, options?: LoadOptions): Promise<TextClassifier>;
  readonly info: ClassifierInfo;
  classify(texts: string | string[]): Promise<Classification[]>;
  embed(texts: string | string[]): Promise<Float32Array[]>;
  explain(text: string, options?: ExplainOptions): Promise<Explanation>;
  dispose(): void;
}

/** URL of the bundled sentiment model's folder. */
export declare const DEFAULT_MODEL: string;
/** The package's wasm builds. */
export declare const PACKAGE_BUILDS: Required<WasmBuilds>;
/** The Cache API cache name (versioned). */
export declare const CACHE_NAME: string;

/** The worker protocol's client: `{ id, type, lane?, ...args }` → `{ id, ok, value | error }`. */
export interface RpcClient {
  call<T = unknown>(type: string, args?: Record<string, unknown>, options?: { lane?: string }): Promise<T>;
}
export declare function connect(worker: Worker, options?: { onEvent?: (message: any) => void }): RpcClient;
/** A request superseded by a newer one on its lane. */
export declare class StaleError extends Error {
  readonly stale: true;
}
/** The worker side of the protocol. */
export declare function serve(
  handlers: Record<string, (args: any) => unknown>,
  options?: { port?: any; after?: (type: string, value: any, t0: number) => any; transfer?: (value: any) => Transferable[] },
): void;
/** The best wasm build this runtime validates, initialised. */
export declare function loadWasm(
  builds?: WasmBuilds,
  options?: { threads?: number },
): Promise<{
  wasm: typeof import('../wasm/simd128/encoder_lens.js');
  flavour: 'relaxed SIMD + threads' | 'relaxed SIMD' | 'SIMD128';
  threads: number;
  setThreads(n: number): Promise<number>;
}>;
/** A model folder's files as the raw `Engine.load` takes them (`wasm`: the module, or a promise of it). */
export declare function readModel(
  wasm: unknown,
  source: ModelSource,
  onProgress?: (event: Omit<ProgressEvent, 'type'>) => void,
): Promise<{ texts: Record<string, string>; weights: Uint8Array[] }>;
/**
 * As readModel, each half as soon as it is read: `Engine.load(await texts, weights)` takes the weights' promise
 * as it is (a GPU engine opens its device and compiles its pipelines while they are still being read).
 */
export declare function openModel(
  wasm: unknown,
  source: ModelSource,
  onProgress?: (event: Omit<ProgressEvent, 'type'>) => void,
  options?: { /** The folder's weights are listed by model.safetensors.index.json: no early model.safetensors read. */ sharded?: boolean },
): { texts: Promise<Record<string, string>>; weights: Promise<Uint8Array[]> };
/** Bytes of a URL through the Cache API (version key from a HEAD request, made while the cached copy is read), with progress. */
export declare function fetchCached(url: string, progress?: (loaded: number, total: number, cached: boolean) => void): Promise<Uint8Array>;

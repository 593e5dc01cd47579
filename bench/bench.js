// The benchmark page: our wasm engine (scalar reference, SIMD128, relaxed-SIMD builds) and
// onnxruntime-web (wasm backend, SIMD, 1 thread) on the same weights, in one page, one run.
// Results land in `window.benchResult` (bench/run.mjs reads it); progress goes to the console.
import * as ort from '../bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';
import { relaxedSimdSupported } from '../js/src/simd-detect.js';

const params = new URLSearchParams(location.search);
const SEQS = (params.get('seqs') || '16,64,128,512').split(',').map(Number);
const MIN_MS = Number(params.get('minMs') || 1500); // time budget per measurement
const MAX_RUNS = Number(params.get('maxRuns') || 30);
const SHAPES = [[128, 128, 512], [128, 384, 1536], [512, 384, 384]]; // (m, k, n): x (m,k) · Wᵀ (k→n)
const REAL_SEQS = (params.get('realSeqs') || '16,128,256').split(',').map(Number);
const REAL_GPU_SEQS = (params.get('realGpuSeqs') || '16,64,128').split(',').map(Number);
// 'all' (default), or a comma list of sections: kernels (peak + matmul), forward (the two bench models),
// real (all-MiniLM-L6-v2 through the public JS API vs onnxruntime-web 1 and 2 threads), webgpu (both WebGPU
// sections), webgpu-real (only real MiniLM, ours vs onnxruntime-web's WebGPU EP).
const ONLY = new Set((params.get('only') || 'all').split(','));
const wants = (section) => ONLY.has('all') || ONLY.has(section);

const logEl = document.getElementById('log');
function log(...a) {
  const s = a.join(' ');
  console.log(s);
  logEl.textContent += s + '\n';
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/**
 * Time several variants round-robin (one call of each per round) so that load from other processes hits
 * them alike; warm each up twice first (JIT tier-up, scratch growth). Rounds continue until `minMs` is
 * spent (at least `minRounds`, at most `maxRounds`). Returns { name: { median, min, runs } } in ms.
 */
async function timeRounds(variants, { minRounds = 5, minMs = MIN_MS, maxRounds = MAX_RUNS } = {}) {
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const fn of Object.values(variants)) {
    await fn();
    await fn();
  }
  const start = performance.now();
  let rounds = 0;
  while (rounds < minRounds || (performance.now() - start < minMs && rounds < maxRounds)) {
    for (const [name, fn] of Object.entries(variants)) {
      const t0 = performance.now();
      await fn();
      times[name].push(performance.now() - t0);
    }
    rounds++;
  }
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, { median: median(t), min: Math.min(...t), runs: t.length }]));
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadBuild(dir) {
  const mod = await import(`../bench/${dir}/encoder_lens.js`);
  await mod.default({ module_or_path: `../bench/${dir}/encoder_lens_bg.wasm` });
  return mod;
}

/**
 * Get the hot wasm functions tiered up to V8's optimising compiler before anything is timed: V8 swaps
 * code only between calls, so a function entered rarely but looping long can stay on the baseline tier.
 */
function warmUp(mod) {
  for (let i = 0; i < 400; i++) mod.peakKernel(64, 1.0);
  const mb = new mod.MatmulBench(24, 36, 20);
  for (let i = 0; i < 400; i++) {
    mb.run(false);
    mb.run(true);
  }
  mb.free();
}

/**
 * An int8 peak call (the int8 product's register tile on L1-resident data, `kernel` selected first) of
 * about 4 ms; returns a function doing it and the integer operations (2 per multiply-add) it does.
 */
function peakInt8Call(mod, kernel) {
  mod.setInt8Kernel(kernel);
  let iters = 1 << 12;
  for (;;) {
    const t0 = performance.now();
    mod.peakInt8(iters);
    if (performance.now() - t0 > 4) break;
    iters *= 2;
  }
  const ops = iters * mod.peakInt8OpsPerIter();
  return { fn: () => { mod.setInt8Kernel(kernel); return mod.peakInt8(iters); }, flops: ops };
}

/**
 * The int8 microkernels the kernel rows measure: `dot-i16x8` (the only kernel of the 8-bit activation grid,
 * and of SIMD128 builds) in each build, and the relaxed build's default (`name: [build, kernel]`).
 */
function int8Kernels(builds) {
  const out = {};
  for (const [build, mod] of Object.entries(builds)) {
    if (!mod.peakInt8) continue;
    const dflt = mod.setInt8Kernel('');
    for (const k of new Set(['dot-i16x8', dflt])) out[`${build} ${k}`] = [build, k];
    mod.setInt8Kernel(dflt);
  }
  return out;
}

/** A peak-kernel call of about 4 ms; returns a function doing it and the FLOPs it does. */
function peakCall(mod) {
  let iters = 1 << 18;
  for (;;) {
    const t0 = performance.now();
    mod.peakKernel(iters, 1.0);
    if (performance.now() - t0 > 4) break; // about as long as one large matmul
    iters *= 2;
  }
  return { fn: () => mod.peakKernel(iters, 1.0), flops: iters * mod.peakFlopsPerIter() };
}

function maxDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function webgpuInfo() {
  if (!navigator.gpu) return { available: false, why: 'navigator.gpu is missing' };
  const a = await navigator.gpu.requestAdapter();
  if (!a) return { available: false, why: 'requestAdapter() returned null' };
  const info = a.info || {};
  return { available: true, vendor: info.vendor, architecture: info.architecture, fallback: !!(a.isFallbackAdapter || info.isFallbackAdapter) };
}

/**
 * The WebGPU path, where the engine has one: `Engine.create(config, weights, vocab, "gpu")` then
 * `classify([text])` on a text that tokenizes to exactly `seq` word pieces (batch 1). Timed on its own
 * (a software adapter is far slower than the CPU paths), at least 3 runs per length.
 */
async function gpuForwards(mod, result) {
  const vocab = await (await fetch('../models/vocab.txt')).text();
  const out = { rows: {} };
  for (const model of ['default', 'minilm']) {
    const base = `../bench/out/${model}`;
    const config = await (await fetch(`${base}/config.json`)).text();
    const weights = await fetchBytes(`${base}/model.safetensors`);
    let engine;
    try {
      engine = await mod.Engine.create(config, weights, vocab, 'gpu');
    } catch (e) {
      result.webgpu.forward = `not measured: ${e.message || e}`;
      return;
    }
    const backend = typeof engine.backend === 'function' ? engine.backend() : 'cpu';
    if (backend !== 'webgpu') {
      engine.free();
      result.webgpu.forward = 'not measured: this build has no WebGPU forward';
      return;
    }
    out.rows[model] = [];
    for (const seq of SEQS) {
      const text = Array(Math.max(seq - 2, 0)).fill('the').join(' '); // [CLS] the … the [SEP]
      const tokens = engine.tokenize(text).length;
      // A software adapter can take seconds per forward: 1 warm-up, then up to 5 runs within ~8 s, and
      // longer sequences are skipped once one run exceeds 5 s.
      await engine.classify([text], {});
      const times = [];
      const start = performance.now();
      while (times.length < 5 && (times.length < 1 || performance.now() - start < 8000)) {
        const t0 = performance.now();
        await engine.classify([text], {});
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      out.rows[model].push({ seq, tokens, ms, runs: times.length });
      log(`forward ${model} seq ${seq} WebGPU: ${ms.toFixed(1)} ms (${tokens} tokens, ${times.length} runs)`);
      if (Math.max(...times) > 5000) break;
    }
    engine.free();
  }
  result.webgpu.forward = out;
}

/**
 * onnxruntime-web as a separate module instance (its own wasm instance and `env`): `numThreads` is read once
 * per instance when its wasm starts, so 1 and 2 threads in one page need two instances. `flavour`: 'wasm'
 * (CPU) or 'webgpu'.
 */
async function ortInstance(flavour, threads) {
  const file = flavour === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs';
  const o = await import(`../bench/node_modules/onnxruntime-web/dist/${file}?instance=${flavour}-${threads}`);
  o.env.wasm.numThreads = threads;
  o.env.wasm.simd = true;
  o.env.wasm.proxy = false;
  o.env.wasm.wasmPaths = new URL('../bench/node_modules/onnxruntime-web/dist/', location.href).href;
  return o;
}

/**
 * The page's threads build (www/pkg-threads, `make pkg-threads`) with a pool of 2 threads, or null (noted)
 * where it is missing.
 */
async function threadsBuild(result) {
  const url = new URL('../www/pkg-threads/encoder_lens.js', location.href).href;
  try {
    const wasm = await import(url);
    await wasm.default();
    const [module, memory] = wasm.poolShare();
    const { useThreads } = await import('../js/src/threads.js');
    const n = await useThreads({ wasm, url, module, memory }, 2);
    if (n !== 2) throw new Error(`the pool runs ${n} threads, not 2`);
    return { wasm };
  } catch (e) {
    result.notes.push(`threads build not loaded (${e.message || e}; make pkg-threads): no ours-2-threads rows`);
    return null;
  }
}

/**
 * The text files of models/minilm (the HF folder `make setup` fetches) as `Engine.createHf` takes them;
 * `dir` = '../models/minilm-int8' for its int8 conversion (`classify quantize`, also made by setup).
 */
async function minilmFolder(dir = '../models/minilm') {
  const text = async (p) => (await fetch(`${dir}/${p}`)).text();
  const files = {
    config: await text('config.json'),
    vocab: await text('vocab.txt'),
    tokenizerConfig: await text('tokenizer_config.json'),
    sentenceBertConfig: await text('sentence_bert_config.json'),
    poolingConfig: await text('1_Pooling/config.json'),
  };
  return { files, weights: await fetchBytes(`${dir}/model.safetensors`) };
}

/** `the the …`: tokenizes to `[CLS] the … the [SEP]`, `seq` tokens (the ids reference.json lists). */
/** The sequence length of the default model's per-op profile. */
const PROFILE_SEQ = 128;
const theText = (seq) => Array(Math.max(seq - 2, 0)).fill('the').join(' ');

function ortFeeds(o, ids) {
  const seq = ids.length;
  return {
    input_ids: new o.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, seq]),
    attention_mask: new o.Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]),
  };
}

/**
 * all-MiniLM-L6-v2 with its real weights, as a user of the public JS API runs it: `Engine.createHf(files,
 * [weights], 'cpu')` then `embed([text])` (tokenizer, forward, mean pooling, L2 norm, the JS array), each
 * build, against onnxruntime-web on the ONNX export of the same weights (bench/out/minilm-real, with the
 * pooling and norm in the graph) with 1 and — where the page is cross-origin isolated — 2 threads. All
 * variants of a length run round-robin in one page; medians. Embeddings checked against PyTorch's.
 */
async function realMinilm(builds, result) {
  const { files, weights } = await minilmFolder();
  const reference = await (await fetch('../bench/out/minilm-real/reference.json')).json();
  const onnx = await fetchBytes('../bench/out/minilm-real/model.onnx');
  const engines = {};
  for (const [name, mod] of Object.entries(builds)) engines[name] = await mod.Engine.createHf(files, [weights], 'cpu');
  // int8 (PyTorch's dynamic quantization, our folder models/minilm-int8) vs onnxruntime-web on
  // onnxruntime.quantization.quantize_dynamic(QInt8) of the same ONNX export, 1 thread, same rounds.
  let int8;
  try {
    int8 = { folder: await minilmFolder('../models/minilm-int8'), onnx: await fetchBytes('../bench/out/minilm-real/model.int8.onnx') };
    for (const [name, mod] of Object.entries(builds)) engines[`int8:${name}`] = await mod.Engine.createHf(int8.folder.files, [int8.folder.weights], 'cpu');
  } catch (e) {
    int8 = null;
    result.notes.push(`real MiniLM int8 rows not measured: ${e.message || e} (make setup makes models/minilm-int8, make bench the int8 ONNX)`);
  }
  // The page's wasm threads build (www/pkg-threads: relaxed SIMD + shared memory) with a pool of 2, run with
  // 1 thread and with 2 (one engine, the count switched per call): needs cross-origin isolation.
  const threaded = crossOriginIsolated ? await threadsBuild(result) : null;
  const oursThreads = {};
  if (threaded) {
    const e = await threaded.wasm.Engine.createHf(files, [weights], 'cpu');
    engines['threads-2t'] = e;
    oursThreads['threads-1t'] = 1;
    oursThreads['threads-2t'] = 2;
  }
  const threads = crossOriginIsolated ? [1, 2] : [1];
  if (!crossOriginIsolated) result.notes.push('real MiniLM: the page is not cross-origin isolated, so onnxruntime-web ran with 1 thread only');
  const sessions = {};
  for (const t of threads) {
    const o = await ortInstance('wasm', t);
    sessions[`ort-${t}t`] = { o, s: await o.InferenceSession.create(onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }) };
  }
  if (int8) {
    const o = await ortInstance('wasm', 1);
    sessions['ort-int8-1t'] = { o, s: await o.InferenceSession.create(int8.onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }) };
  }
  const out = { source: reference.source, threads, crossOriginIsolated, int8: !!int8, rows: [] };
  for (const seq of REAL_SEQS) {
    const text = theText(seq);
    const ids = reference.ids[String(seq)];
    const want = reference.seqs[String(seq)];
    if (!ids) throw new Error(`bench/out/minilm-real/reference.json has no seq ${seq} (make bench exports it)`);
    const row = { seq, ms: {}, maxAbsDiffVsPyTorch: {} };
    const variants = {};
    for (const [name, e] of Object.entries(engines)) {
      const tokens = e.tokenize(text).length;
      if (tokens !== seq) throw new Error(`"the" × ${seq - 2} tokenizes to ${tokens} tokens, not ${seq}`);
      if (name.startsWith('threads-')) continue;
      row.maxAbsDiffVsPyTorch[name] = maxDiff((await e.embed([text]))[0], want);
      variants[name] = () => e.embed([text]);
    }
    for (const [name, n] of Object.entries(oursThreads)) {
      const e = engines['threads-2t'];
      threaded.wasm.setThreads(n);
      row.maxAbsDiffVsPyTorch[name] = maxDiff((await e.embed([text]))[0], want);
      variants[name] = () => {
        threaded.wasm.setThreads(n);
        return e.embed([text]);
      };
    }
    for (const [name, { o, s }] of Object.entries(sessions)) {
      const feeds = ortFeeds(o, ids);
      row.maxAbsDiffVsPyTorch[name] = maxDiff(Object.values(await s.run(feeds))[0].data, want);
      variants[name] = () => s.run(feeds);
    }
    const t = await timeRounds(variants);
    for (const [name, v] of Object.entries(t)) row.ms[name] = v.median;
    row.runs = t['ort-1t'].runs;
    const best = Math.min(row.ms.simd128, row.ms['relaxed-simd'] ?? Infinity);
    row.ratioOursOverOrt1 = best / row.ms['ort-1t'];
    if (row.ms['ort-2t']) row.ratioOursOverOrt2 = best / row.ms['ort-2t'];
    if (int8) int8Ratios(row);
    if (row.ms['threads-2t'] && row.ms['ort-2t']) row.ratioOurs2tOverOrt2 = row.ms['threads-2t'] / row.ms['ort-2t'];
    // Speed-up 2 vs 1 thread: against the single-thread relaxed build (what a page without isolation runs)
    // and against the threads build itself at 1 thread.
    if (row.ms['threads-2t'] && row.ms['relaxed-simd']) row.speedup2v1 = row.ms['relaxed-simd'] / row.ms['threads-2t'];
    if (row.ms['threads-2t']) row.speedup2v1Same = row.ms['threads-1t'] / row.ms['threads-2t'];
    log(`real minilm seq ${seq}: ` + Object.entries(row.ms).map(([k2, v]) => `${k2} ${v.toFixed(2)} ms`).join(', '));
    out.rows.push(row);
  }
  for (const { s } of Object.values(sessions)) await s.release();
  for (const e of Object.values(engines)) e.free();
  // Where the time goes: the same embed([text]) with a stopwatch around each op (src/bench.rs ProfileBench).
  const texts = {
    'config.json': files.config,
    'vocab.txt': files.vocab,
    'tokenizer_config.json': files.tokenizerConfig,
    'sentence_bert_config.json': files.sentenceBertConfig,
    '1_Pooling/config.json': files.poolingConfig,
  };
  out.profile = {};
  for (const [name, mod] of Object.entries(builds)) {
    const pb = new mod.ProfileBench(texts, weights);
    out.profile[name] = {};
    for (const seq of REAL_SEQS) {
      const p = pb.profile(theText(seq), 5);
      out.profile[name][seq] = p;
      log(`profile ${name} seq ${seq}: ${(p.totalMs / p.runs).toFixed(2)} ms per embed`);
    }
    pb.free();
  }
  result.real = out;
}

/**
 * WebGPU on the same adapter: ours (`createHf(…, 'gpu')` + `embed`) and onnxruntime-web's WebGPU execution
 * provider on the same ONNX export, round-robin per length. A software adapter takes seconds per forward:
 * 1 warm-up each, then rounds until 8 s (at least 2); longer lengths are skipped once a run exceeds 5 s.
 */
async function realMinilmGpu(builds, result) {
  const { files, weights } = await minilmFolder();
  const reference = await (await fetch('../bench/out/minilm-real/reference.json')).json();
  const onnx = await fetchBytes('../bench/out/minilm-real/model.onnx');
  const gpu = { rows: [] };
  result.webgpu.real = gpu;
  let engine;
  try {
    engine = await builds.simd128.Engine.createHf(files, [weights], 'gpu');
  } catch (e) {
    gpu.skipped = `ours: ${e.message || e}`;
    return;
  }
  let o;
  let session;
  try {
    o = await ortInstance('webgpu', 1);
    session = await o.InferenceSession.create(onnx, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' });
  } catch (e) {
    gpu.skipped = `onnxruntime-web webgpu: ${e.message || e}`;
    engine.free();
    return;
  }
  for (const seq of REAL_GPU_SEQS) {
    const text = theText(seq);
    const ids = reference.ids[String(seq)] || [101, ...Array(seq - 2).fill(1996), 102];
    const feeds = ortFeeds(o, ids);
    // The first forward of each length (buffers, bind groups; for the first length also the pipelines'
    // first use) is timed apart: not part of the medians.
    let t0 = performance.now();
    const ours = (await engine.embed([text]))[0];
    const firstOurs = performance.now() - t0;
    t0 = performance.now();
    const theirs = Object.values(await session.run(feeds))[0].data;
    const firstOrt = performance.now() - t0;
    const want = reference.seqs[String(seq)];
    const row = { seq, ms: {}, firstMs: { ours: firstOurs, ort: firstOrt }, maxAbsDiff: { oursVsOrt: maxDiff(ours, theirs) } };
    if (want) Object.assign(row.maxAbsDiff, { oursVsPyTorch: maxDiff(ours, want), ortVsPyTorch: maxDiff(theirs, want) });
    const times = { ours: [], ort: [] };
    const start = performance.now();
    while (times.ours.length < 2 || (performance.now() - start < 8000 && times.ours.length < 10)) {
      t0 = performance.now();
      await engine.embed([text]);
      times.ours.push(performance.now() - t0);
      t0 = performance.now();
      await session.run(feeds);
      times.ort.push(performance.now() - t0);
    }
    row.ms = { ours: median(times.ours), ort: median(times.ort) };
    row.runs = times.ours.length;
    row.ratioOursOverOrt = row.ms.ours / row.ms.ort;
    log(`real minilm WebGPU seq ${seq}: ours ${row.ms.ours.toFixed(1)} ms, ORT webgpu ${row.ms.ort.toFixed(1)} ms` +
      ` (first forward: ours ${firstOurs.toFixed(1)} ms, ORT ${firstOrt.toFixed(1)} ms)`);
    gpu.rows.push(row);
    if (Math.max(...times.ours, ...times.ort) > 5000) break;
  }
  await session.release();
  engine.free();
}

async function run() {
  const result = { userAgent: navigator.userAgent, seqs: SEQS, peak: {}, matmul: [], forward: {}, notes: [], crossOriginIsolated };
  result.ortVersion = ort.env.versions?.web || 'unknown';
  const relaxedOk = await relaxedSimdSupported();
  result.relaxedSimdSupported = relaxedOk;
  // The sections below measure the page's own builds (www/pkg*) through the npm package's API: no bench build.
  if (wants('size') || wants('first')) await firstClassification(result);
  if (!['kernels', 'forward', 'real', 'webgpu', 'webgpu-real'].some((s) => wants(s))) return result;
  const builds = { simd128: await loadBuild('pkg') };
  if (relaxedOk) {
    try {
      builds['relaxed-simd'] = await loadBuild('pkg-relaxed');
    } catch (e) {
      // `make bench` builds it; a partial run (BENCH_ONLY, bench/pkg only) goes on without it and says so.
      result.notes.push(`relaxed-SIMD build not loaded (${e.message || e}): its columns are empty`);
    }
  }
  for (const [name, mod] of Object.entries(builds)) {
    const k = mod.fastKernels();
    if (k !== name) throw new Error(`build ${name} runs ${k} kernels`);
  }

  // V8 compiles the optimised tier in the background: warm up, give it time to finish, warm up again.
  for (const mod of Object.values(builds)) warmUp(mod);
  await new Promise((r) => setTimeout(r, 1000));
  for (const mod of Object.values(builds)) warmUp(mod);

  if (wants('kernels')) await kernels(builds, result);
  if (wants('forward')) await forwards(builds, result);
  if (wants('real')) await realMinilm(builds, result);
  result.webgpu = await webgpuInfo();
  if (!result.webgpu.available) result.webgpu.forward = 'not measured: no WebGPU adapter';
  else {
    if (wants('webgpu')) await gpuForwards(builds.simd128, result);
    else result.webgpu.forward = 'not measured (not asked for)';
    if (wants('webgpu') || ONLY.has('webgpu-real')) await realMinilmGpu(builds, result);
  }
  return result;
}

async function kernels(builds, result) {
  // Peak (each build's matmul microkernel on L1-resident panels) measured in the same rounds as the matmuls,
  // so "% of peak" compares numbers taken under the same conditions.
  // The int8 product's tiles likewise: each int8 kernel's peak (GOP/s, 2 per multiply-add) in the same
  // rounds as its int8 linear (dynamic quantization + product + epilogue, per-tensor weights).
  const peaks = Object.fromEntries(Object.entries(builds).map(([name, mod]) => [name, peakCall(mod)]));
  const i8 = int8Kernels(builds);
  for (const [name, [build, kernel]] of Object.entries(i8)) peaks[`int8 ${name}`] = peakInt8Call(builds[build], kernel);
  for (const mod of Object.values(builds)) if (mod.setInt8Kernel) mod.setInt8Kernel(''); // (the defaults again)
  const peakSamples = Object.fromEntries(Object.keys(peaks).map((k) => [k, []]));
  for (const [m, k, n] of SHAPES) {
    const row = { m, k, n, gflops: {}, peakGflops: {} };
    const benches = [['scalar', builds.simd128, true], ['simd128', builds.simd128, false]];
    if (builds['relaxed-simd']) benches.push(['relaxed-simd', builds['relaxed-simd'], false]);
    const variants = {};
    const objs = [];
    let flops = 0;
    for (const [name, mod, reference] of benches) {
      const mb = new mod.MatmulBench(m, k, n);
      objs.push(mb);
      flops = mb.flops();
      variants[name] = () => mb.run(reference);
    }
    for (const [name, [build, kernel]] of Object.entries(i8)) {
      const mod = builds[build];
      const q = new mod.Int8MatmulBench(m, k, n);
      objs.push(q);
      benches.push([`int8 ${name}`]);
      variants[`int8 ${name}`] = () => { mod.setInt8Kernel(kernel); return q.run(false); };
    }
    for (const [name, p] of Object.entries(peaks)) variants[`peak:${name}`] = p.fn;
    const t = await timeRounds(variants, { minMs: 2000, maxRounds: 100 });
    for (const mod of Object.values(builds)) if (mod.setInt8Kernel) mod.setInt8Kernel('');
    // GFLOP/s from the fastest run of each (the machine is shared: the fastest run is the one least
    // disturbed); medians are kept in the JSON too.
    row.medianGflops = {};
    for (const [name] of benches) {
      row.gflops[name] = flops / (t[name].min * 1e6);
      row.medianGflops[name] = flops / (t[name].median * 1e6);
    }
    for (const [name, p] of Object.entries(peaks)) {
      row.peakGflops[name] = p.flops / (t[`peak:${name}`].min * 1e6);
      peakSamples[name].push(row.peakGflops[name]);
    }
    objs.forEach((o) => o.free());
    log(`matmul ${m}x${k}x${n}: ` + Object.entries(row.gflops).map(([k2, v]) => `${k2} ${v.toFixed(1)}`).join(', ') +
      ' GFLOP/s; peak ' + Object.entries(row.peakGflops).map(([k2, v]) => `${k2} ${v.toFixed(1)}`).join(', '));
    result.matmul.push(row);
  }
  for (const [name, xs] of Object.entries(peakSamples)) result.peak[name] = Math.max(...xs);
}

/**
 * A row's int8 ratios (same rounds): our fastest int8 build over onnxruntime-web's int8 model (1 thread),
 * and our int8 over our fp32 on the relaxed-SIMD build (simd128 where relaxed is absent).
 */
function int8Ratios(row) {
  const fast = row.ms['int8:relaxed-simd'] !== undefined ? 'relaxed-simd' : 'simd128';
  const best = Math.min(row.ms['int8:simd128'], row.ms['int8:relaxed-simd'] ?? Infinity);
  row.int8 = { build: fast, oursOverOrtInt8: best / row.ms['ort-int8-1t'], int8OverFp32: row.ms[`int8:${fast}`] / row.ms[fast] };
}

async function forwards(builds, result) {
  // Forward passes, ours and onnxruntime-web's, on the same weights.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('../bench/node_modules/onnxruntime-web/dist/', location.href).href;
  result.ortVersion = ort.env.versions?.web || 'unknown';
  for (const model of ['default', 'minilm']) {
    const base = `../bench/out/${model}`;
    const config = await (await fetch(`${base}/config.json`)).text();
    const weights = await fetchBytes(`${base}/model.safetensors`);
    const reference = await (await fetch(`${base}/reference.json`)).json();
    const fb = {};
    for (const [name, mod] of Object.entries(builds)) fb[name] = new mod.ForwardBench(config, weights);
    const session = await ort.InferenceSession.create(await fetchBytes(`${base}/model.onnx`), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const entry = { source: reference.source, config: JSON.parse(config), rows: [] };
    // The default model also in int8: ours (bench/out/default-int8, `classify quantize`) and
    // onnxruntime-web on quantize_dynamic(QInt8) of the same export (bench/out/default/model.int8.onnx).
    let int8 = null;
    if (model === 'default') {
      try {
        const [c8, w8, onnx8] = await Promise.all([fetch(`${base}-int8/config.json`).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`${base}-int8/config.json: ${r.status}`)))),
          fetchBytes(`${base}-int8/model.safetensors`), fetchBytes(`${base}/model.int8.onnx`)]);
        int8 = { fb: {}, session: await ort.InferenceSession.create(onnx8, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }) };
        for (const [name, mod] of Object.entries(builds)) int8.fb[name] = new mod.ForwardBench(c8, w8);
        entry.int8 = true;
      } catch (e) {
        result.notes.push(`default model int8 rows not measured: ${e.message || e} (make bench exports them)`);
      }
    }
    for (const seq of SEQS) {
      const row = { seq, ms: {}, maxAbsDiffVsPyTorch: {} };
      const want = reference.seqs[String(seq)];
      const benches = [['scalar', fb.simd128, true], ['simd128', fb.simd128, false]];
      if (fb['relaxed-simd']) benches.push(['relaxed-simd', fb['relaxed-simd'], false]);
      const variants = {};
      for (const [name, f, reference_] of benches) {
        row.maxAbsDiffVsPyTorch[name] = maxDiff(f.forward(seq, reference_), want);
        variants[name] = () => f.forward(seq, reference_);
      }
      const ids = fb.simd128.ids(seq);
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, seq]),
        lengths: new ort.Tensor('int64', BigInt64Array.from([BigInt(seq)]), [1]),
      };
      const ortOut = await session.run(feeds);
      row.maxAbsDiffVsPyTorch.ort = maxDiff(ortOut.logits.data, want);
      variants.ort = () => session.run(feeds);
      if (int8) {
        for (const [name, f] of Object.entries(int8.fb)) {
          row.maxAbsDiffVsPyTorch[`int8:${name}`] = maxDiff(f.forward(seq, false), want);
          variants[`int8:${name}`] = () => f.forward(seq, false);
        }
        row.maxAbsDiffVsPyTorch['ort-int8-1t'] = maxDiff((await int8.session.run(feeds)).logits.data, want);
        variants['ort-int8-1t'] = () => int8.session.run(feeds);
      }
      const t = await timeRounds(variants);
      for (const [name, v] of Object.entries(t)) row.ms[name] = v.median;
      row.runs = t.ort.runs;
      const best = Math.min(row.ms.simd128, row.ms['relaxed-simd'] ?? Infinity);
      row.ratioOursOverOrt = best / row.ms.ort;
      if (int8) int8Ratios(row);
      log(`forward ${model} seq ${seq}: ` + Object.entries(row.ms).map(([k2, v]) => `${k2} ${v.toFixed(2)} ms`).join(', ') +
        `, ours/ORT ${row.ratioOursOverOrt.toFixed(2)}`);
      entry.rows.push(row);
    }
    // Where the default model's forward goes, per op and build (the same stopwatch as MiniLM's profile):
    // with its FLOPs the run prints each op's GFLOP/s against the build's peak — what bounds the
    // SIMD128 build, which has no FMA, on a model this small.
    if (model === 'default') {
      const texts = { 'config.json': config, 'vocab.txt': await (await fetch(`${base}/vocab.txt`)).text() };
      entry.profile = {};
      for (const [name, mod] of Object.entries(builds)) {
        const pb = new mod.ProfileBench(texts, weights);
        entry.profile[name] = pb.profile(theText(PROFILE_SEQ), 40);
        pb.free();
      }
    }
    await session.release();
    for (const f of Object.values(fb)) f.free();
    if (int8) {
      await int8.session.release();
      for (const f of Object.values(int8.fb)) f.free();
    }
    result.forward[model] = entry;
  }
  result.delight = await delightRows(builds);
}

/**
 * DeLighT next to the standard default model (both trained sentiment models, our engine only: there is no
 * ONNX export of DeLighT): ms per batch-1 forward at seq 16 and 128 on this build's fastest CPU kernels,
 * MACs per token and encoder parameters as the engine counts them.
 */
async function delightRows(builds) {
  const out = { rows: [] };
  for (const [model, dir] of [['standard', 'sentiment-ln'], ['delight', 'sentiment-delight']]) {
    const config = await (await fetch(`../models/${dir}/config.json`)).text();
    const weights = await fetchBytes(`../models/${dir}/model.safetensors`);
    const fast = builds['relaxed-simd'] ? 'relaxed-simd' : 'simd128';
    const fb = new builds[fast].ForwardBench(config, weights);
    for (const seq of [16, 128]) {
      const t = await timeRounds({ [fast]: () => fb.forward(seq, false) });
      const row = { model, seq, kernels: fast, ms: t[fast].median, runs: t[fast].runs, macsPerToken: fb.macsPerToken(seq), encoderParams: fb.encoderParams() };
      log(`delight bench ${model} seq ${seq}: ${row.ms.toFixed(2)} ms (${fast}), ${(row.macsPerToken / 1e3).toFixed(1)} k MACs/token, encoder ${row.encoderParams} params`);
      out.rows.push(row);
    }
    fb.free();
  }
  return out;
}

/** The page's three wasm builds (www/pkg*, `make build`) as the package's `builds` option; `fresh` makes the
 * module URLs new, so that `loadWasm` fetches, compiles and instantiates the build again (a new page would). */
function pageBuilds(fresh) {
  const url = (d) => new URL(`../www/${d}/encoder_lens.js?fresh=${fresh}`, location.href).href;
  return { threads: url('pkg-threads'), relaxed: url('pkg-relaxed'), simd128: url('pkg') };
}

const FIRST_TEXT = 'a quietly moving film with two fine performances, though the last act drags on far too long';
const FIRST_RUNS = Number(params.get('firstRuns') || 5);
// firstBuilds=DIR,DIR (folders of wasm-bindgen --target web output, relative to the repository root): time
// each of these builds alone, round-robin per run (a paired before/after), instead of the page's three.
const FIRST_BUILDS = params.get('firstBuilds')?.split(',').filter(Boolean);
// firstVersions=DIR,DIR (relative to the repository root; `.` is this checkout): copies of the project, each
// with its npm package source (js/src) and page builds (www/pkg, www/pkg-relaxed, www/pkg-threads), timed
// round-robin per run: a paired before/after of a change to the JS loading code and the engine together.
const FIRST_VERSIONS = params.get('firstVersions')?.split(',').filter(Boolean);

/**
 * First classification with the weights already in the Cache API, per model and backend (cpu; gpu where
 * there is an adapter): what a returning visitor waits for between asking for a classifier and its first
 * answer. `total` = `TextClassifier.load(folder URL)` (a new worker: the wasm build fetched, compiled and
 * instantiated — the threads build where the page is cross-origin isolated —, the model read from the Cache
 * API, `Engine.load`: parsing, and for WebGPU the adapter, device, pipelines and weight upload) + its first
 * `classify` (MiniLM: `embed`). The same steps are then timed one by one in this thread (worker: false) for
 * the breakdown. One untimed load fills the Cache API first; medians of `firstRuns` (default 5) loads.
 */
async function firstClassification(result) {
  const lenses = { '': await import('../js/src/index.js') };
  for (const v of FIRST_VERSIONS || []) lenses[v] = await import(new URL(`../${v}/js/src/index.js`, location.href).href);
  const lens = lenses[''];
  const out = { runs: FIRST_RUNS, rows: [] };
  result.first = out;
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter().catch(() => null) : null;
  const backends = adapter ? ['cpu', 'gpu'] : ['cpu'];
  if (!adapter) out.note = 'no WebGPU adapter: cpu only';
  let fresh = 0;
  const models = [['sentiment-ln', '../models/sentiment-ln/', 'classify']];
  if (params.get('firstMinilm') !== '0' && (await fetch('../models/minilm/model.safetensors', { method: 'HEAD' })).ok) {
    models.push(['minilm', '../models/minilm/', 'embed']);
  }
  for (const [model, dir, call] of models) {
    const source = new URL(dir, location.href).href;
    for (const backend of backends) {
      const versionBuilds = (v) => (n) => {
        const url = (d) => new URL(`../${v}/www/${d}/encoder_lens.js?fresh=${n}`, location.href).href;
        return { threads: url('pkg-threads'), relaxed: url('pkg-relaxed'), simd128: url('pkg') };
      };
      const variants = FIRST_VERSIONS
        ? FIRST_VERSIONS.map((v) => [v, versionBuilds(v), lenses[v]])
        : FIRST_BUILDS
          ? FIRST_BUILDS.map((d) => [d, (n) => ({ simd128: new URL(`../${d}/encoder_lens.js?fresh=${n}`, location.href).href }), lens])
          : [['www/pkg*', pageBuilds, lens]];
      for (const [build, builds, lens] of variants) {
        const warm = await lens.TextClassifier.load(source, { backend, builds: builds(fresh++) });
        await warm[call](FIRST_TEXT);
        warm.dispose();
      }
      const samples = Object.fromEntries(variants.map(([b]) => [b, []]));
      const infos = {};
      for (let i = 0; i < FIRST_RUNS; i++) for (const [build, builds, lens] of variants) {
        let t0 = performance.now();
        const clf = await lens.TextClassifier.load(source, { backend, builds: builds(fresh++) });
        const load = performance.now() - t0;
        await clf[call](FIRST_TEXT);
        const total = performance.now() - t0;
        infos[build] = clf.info;
        clf.dispose();
        // The breakdown, in this thread.
        t0 = performance.now();
        const wasm = await lens.loadWasm(builds(fresh++));
        const t1 = performance.now();
        const files = await lens.readModel(wasm.wasm, source);
        const t2 = performance.now();
        const engine = await wasm.wasm.Engine.load(files.texts, files.weights, backend);
        const t3 = performance.now();
        if (call === 'classify') await engine.classify([FIRST_TEXT], null);
        else await engine.embed([FIRST_TEXT]);
        const t4 = performance.now();
        engine.free();
        samples[build].push({ total, load, first: total - load, wasm: t1 - t0, read: t2 - t1, engine: t3 - t2, forward: t4 - t3, sum: t4 - t0 });
      }
      for (const [build] of variants) {
        const ms = Object.fromEntries(Object.keys(samples[build][0]).map((k) => [k, median(samples[build].map((s) => s[k]))]));
        const info = infos[build];
        const row = { model, backend, build, ran: info.backend, wasm: info.wasm, threads: info.threads, ms };
        log(`first ${call} ${model} ${backend} [${build}] (${info.backend}, ${info.wasm}): ${ms.total.toFixed(0)} ms = load ${ms.load.toFixed(0)} + ${call} ${ms.first.toFixed(0)}; ` +
          `in this thread: wasm ${ms.wasm.toFixed(0)}, read ${ms.read.toFixed(0)}, Engine.load ${ms.engine.toFixed(0)}, first ${call} ${ms.forward.toFixed(0)}`);
        out.rows.push(row);
      }
    }
  }
}

window.benchResult = run().then(
  (r) => ({ ok: true, result: r }),
  (e) => { log('ERROR', e && e.stack || e); return { ok: false, error: String(e && e.stack || e) }; },
);

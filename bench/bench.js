// The benchmark page: our wasm engine (scalar reference, SIMD128, relaxed-SIMD builds) and
// onnxruntime-web (wasm backend, SIMD, 1 thread) on the same weights, in one page, one run.
// Results land in `window.benchResult` (bench/run.mjs reads it); progress goes to the console.
import * as ort from '../bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';
import { relaxedSimdSupported } from '../www/simd-detect.js';

const params = new URLSearchParams(location.search);
const SEQS = (params.get('seqs') || '16,64,128,512').split(',').map(Number);
const MIN_MS = Number(params.get('minMs') || 1500); // time budget per measurement
const MAX_RUNS = Number(params.get('maxRuns') || 30);
const SHAPES = [[128, 128, 512], [128, 384, 1536], [512, 384, 384]]; // (m, k, n): x (m,k) · Wᵀ (k→n)

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

/** Run `fn` once to warm up (JIT tier-up, scratch growth), then time it until MIN_MS is spent. */
async function timeIt(fn, { minRuns = 3, minMs = MIN_MS, maxRuns = MAX_RUNS } = {}) {
  await fn();
  await fn();
  const times = [];
  const start = performance.now();
  while (times.length < minRuns || (performance.now() - start < minMs && times.length < maxRuns)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), runs: times.length };
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadBuild(dir) {
  const mod = await import(`../www/${dir}/encoder_lens.js`);
  await mod.default({ module_or_path: `../www/${dir}/encoder_lens_bg.wasm` });
  return mod;
}

function peak(mod) {
  const per = mod.peakFlopsPerIter();
  let iters = 1 << 20;
  // Grow until one call takes >= 50 ms, then take the best of 7.
  for (;;) {
    const t0 = performance.now();
    mod.peakKernel(iters, 1.0);
    if (performance.now() - t0 > 50) break;
    iters *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    mod.peakKernel(iters, 1.0 + r);
    best = Math.min(best, performance.now() - t0);
  }
  return (iters * per) / (best * 1e6); // GFLOP/s
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

async function run() {
  const result = { userAgent: navigator.userAgent, seqs: SEQS, peak: {}, matmul: [], forward: {}, notes: [] };
  const relaxedOk = await relaxedSimdSupported();
  result.relaxedSimdSupported = relaxedOk;
  const builds = { simd128: await loadBuild('pkg') };
  if (relaxedOk) builds['relaxed-simd'] = await loadBuild('pkg-relaxed');
  for (const [name, mod] of Object.entries(builds)) {
    const k = mod.fastKernels();
    if (k !== name) throw new Error(`build ${name} runs ${k} kernels`);
  }

  // Peak: the register-only multiply-add loop of each build.
  for (const [name, mod] of Object.entries(builds)) {
    result.peak[name] = peak(mod);
    log(`peak ${name}: ${result.peak[name].toFixed(1)} GFLOP/s`);
  }

  // Matmul (nn.Linear: out = x · Wᵀ + b).
  for (const [m, k, n] of SHAPES) {
    const row = { m, k, n, gflops: {} };
    const variants = [['scalar', builds.simd128, true], ['simd128', builds.simd128, false]];
    if (builds['relaxed-simd']) variants.push(['relaxed-simd', builds['relaxed-simd'], false]);
    for (const [name, mod, reference] of variants) {
      const mb = new mod.MatmulBench(m, k, n);
      const t = await timeIt(() => mb.run(reference), { minMs: 600, maxRuns: 200 });
      row.gflops[name] = mb.flops() / (t.median * 1e6);
      mb.free();
    }
    log(`matmul ${m}x${k}x${n}: ` + Object.entries(row.gflops).map(([k2, v]) => `${k2} ${v.toFixed(1)}`).join(', ') + ' GFLOP/s');
    result.matmul.push(row);
  }

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
    for (const seq of SEQS) {
      const row = { seq, ms: {}, maxAbsDiffVsPyTorch: {} };
      const want = reference.seqs[String(seq)];
      const variants = [['scalar', fb.simd128, true], ['simd128', fb.simd128, false]];
      if (fb['relaxed-simd']) variants.push(['relaxed-simd', fb['relaxed-simd'], false]);
      for (const [name, f, reference_] of variants) {
        row.maxAbsDiffVsPyTorch[name] = maxDiff(f.forward(seq, reference_), want);
        row.ms[name] = (await timeIt(() => f.forward(seq, reference_))).median;
      }
      const ids = fb.simd128.ids(seq);
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, seq]),
        lengths: new ort.Tensor('int64', BigInt64Array.from([BigInt(seq)]), [1]),
      };
      const ortOut = await session.run(feeds);
      row.maxAbsDiffVsPyTorch.ort = maxDiff(ortOut.logits.data, want);
      row.ms.ort = (await timeIt(() => session.run(feeds))).median;
      const best = Math.min(row.ms.simd128, row.ms['relaxed-simd'] ?? Infinity);
      row.ratioOursOverOrt = best / row.ms.ort;
      log(`forward ${model} seq ${seq}: ` + Object.entries(row.ms).map(([k2, v]) => `${k2} ${v.toFixed(2)} ms`).join(', ') +
        `, ours/ORT ${row.ratioOursOverOrt.toFixed(2)}`);
      entry.rows.push(row);
    }
    await session.release();
    for (const f of Object.values(fb)) f.free();
    result.forward[model] = entry;
  }
  result.webgpu = await webgpuInfo();
  result.webgpu.forward = 'not measured: this build has no WebGPU forward (see BENCHMARKS.md)';
  return result;
}

window.benchResult = run().then(
  (r) => ({ ok: true, result: r }),
  (e) => { log('ERROR', e && e.stack || e); return { ok: false, error: String(e && e.stack || e) }; },
);

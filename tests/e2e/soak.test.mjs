// Memory over time in the browser (issue 15): classifications of varied lengths and batch sizes through the
// npm package's workers (the page's package, www/lens or dist's hashed lens/), alternating models (the LN
// and the BN sentiment models) and backends (CPU, and WebGPU where Chromium has an adapter: SwiftShader
// here), then models loaded and dropped over and over in one worker. Recorded at intervals, after a
// garbage collection: each worker's wasm memory (`memory.buffer.byteLength` of its wasm-bindgen module), its
// JS heap (CDP Runtime.getHeapUsage, used size), the page's JS heap, and the resident set of the whole
// browser (every Chromium process: the GPU process holds SwiftShader's buffers). Asserted: from the end of
// the warm-up (every classifier ran the largest shape, batch 32 × 512-word texts) to the end, wasm memory
// and JS heaps grow by at most 5 %.
//
// Calls go ln/CPU, bn/CPU, ln/WebGPU, bn/WebGPU, … CPU calls: batches of 1–32 texts of 1–512 words
// (log-uniform; the models' window is 128 tokens). WebGPU calls are capped at SOAK_GPU_BATCH (default 4)
// texts of at most SOAK_GPU_WORDS (default 64) words: SwiftShader emulates the GPU on the CPU and takes
// ~60 s for one batch of 32 × 128 tokens on this loaded 2-core machine (set 32 and 512 on a real GPU).
//
// SOAK_CALLS (default 64: the reduced soak of `make test`) classifications, SOAK_LOADS (default 6) loads
// and drops; `make soak-browser` runs 1,000 and 50 (RELIABILITY.md has its figures). SOAK_JSON=<file>
// writes every sample; SOAK_VERBOSE=1 prints progress.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { serve, launch, watch, hashedName } from './helpers.mjs';

const CALLS = Number(process.env.SOAK_CALLS || 64);
const LOADS = Number(process.env.SOAK_LOADS || 6);
const GPU_BATCH = Number(process.env.SOAK_GPU_BATCH || 4);
const GPU_WORDS = Number(process.env.SOAK_GPU_WORDS || 64);
const MODELS = ['sentiment-ln', 'sentiment-bn'];
const MAX_GROWTH = 0.05;

/** Resident set (kB) of every process below this one (Chromium and its renderer / GPU / utility processes). */
function browserRssKb() {
  const parent = new Map();
  const rss = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'));
      rss.set(Number(d), m ? Number(m[1]) : 0);
    } catch {
      // the process ended meanwhile
    }
  }
  const below = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let kb = 0;
  for (const [pid, r] of rss) if (below(pid)) kb += r;
  return kb;
}

/** A CDP channel to the worker targets (JS heap after a GC: Runtime.getHeapUsage over Target messages). */
async function workerHeaps(browser) {
  const cdp = await browser.newBrowserCDPSession();
  const sessions = new Map(); // worker url+targetId -> sessionId
  let next = 1;
  const waiting = new Map();
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message);
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const send = (sessionId, method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer from the worker`)), 60000);
      waiting.set(id, (m) => (clearTimeout(timer), m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  return {
    /** { targetId: usedBytes } for every worker whose URL matches `re`, after a GC in each. */
    async measure(re) {
      const { targetInfos } = await cdp.send('Target.getTargets');
      const out = {};
      for (const t of targetInfos.filter((x) => x.type === 'worker' && re.test(x.url))) {
        if (!sessions.has(t.targetId)) sessions.set(t.targetId, (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })).sessionId);
        const s = sessions.get(t.targetId);
        await send(s, 'HeapProfiler.collectGarbage');
        out[t.targetId] = (await send(s, 'Runtime.getHeapUsage')).usedSize;
      }
      return out;
    },
  };
}

/** The wasm memory (bytes) of the engine's build in `worker` (its module is loaded there already). */
function wasmBytes(worker, url) {
  return worker.evaluate(async (u) => (await (await import(u)).default()).memory.buffer.byteLength, url);
}

/** Progress on stderr (SOAK_VERBOSE=1). */
const say = (m) => process.env.SOAK_VERBOSE && process.stderr.write(`soak ${new Date().toISOString().slice(11, 19)} ${m}\n`);

const pct = (a, b) => `${(((b - a) / a) * 100).toFixed(2)} %`;
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;

describe(`browser soak: ${CALLS} classifications, ${LOADS} loads and drops`, { timeout: 60 * 60 * 1000 }, () => {
  let srv;
  let browser;
  let page;
  let errors;
  let heaps;
  let gpu = false;
  const urls = {};
  const record = { calls: CALLS, loads: LOADS, classify: [], loadDrop: [] };

  before(async () => {
    srv = await serve();
    browser = await launch({ extra: ['--js-flags=--expose-gc', '--enable-precise-memory-info'] });
    page = await browser.newPage();
    errors = watch(page);
    await page.goto(`${srv.url}models.json`); // the site's origin, without the page's own engine running
    heaps = await workerHeaps(browser);
    gpu = await page.evaluate(async () => Boolean(navigator.gpu && (await navigator.gpu.requestAdapter())));
    if (!gpu && process.env.REQUIRE_GPU === '1') throw new Error('REQUIRE_GPU=1 but Chromium offers no WebGPU adapter');
    if (!gpu) console.log('SKIPPED (WebGPU part): no WebGPU adapter in this Chromium; the soak runs on the CPU only');
    for (const [k, f] of [['lens', 'lens/index.js'], ['rpc', 'lens/rpc.js'], ['worker', 'lens/worker.js'], ['relaxed', 'pkg-relaxed/encoder_lens.js'], ['simd128', 'pkg/encoder_lens.js']]) {
      urls[k] = new URL(hashedName(f), srv.url).href;
    }
  });
  after(async () => {
    if (process.env.SOAK_JSON) writeFileSync(process.env.SOAK_JSON, JSON.stringify(record, null, 1));
    await browser?.close();
    await srv?.close();
  });

  it('classifications of 1–512-word texts in batches of 1–32, alternating models and backends: memory flat after warm-up', async () => {
    const backends = gpu ? ['cpu', 'webgpu'] : ['cpu'];
    // ln/cpu, bn/cpu, ln/webgpu, bn/webgpu: models alternate every call, backends every other call.
    const kinds = backends.flatMap((b) => MODELS.map((m) => ({ model: m, backend: b, batch: b === 'cpu' ? 32 : GPU_BATCH, words: b === 'cpu' ? 512 : GPU_WORDS })));
    say(`loading ${kinds.length} classifiers`);
    const flavours = await page.evaluate(
      async ({ urls, kinds }) => {
        const { TextClassifier } = await import(urls.lens);
        const builds = { relaxed: urls.relaxed, simd128: urls.simd128 };
        self.__clfs = [];
        for (const k of kinds) self.__clfs.push(await TextClassifier.load(`models/${k.model}/`, { backend: k.backend, builds }));
        // Deterministic texts: `n` words of a small vocabulary (a word is one or two word pieces; the models
        // truncate at their 128-token window).
        const WORDS = 'the film was surprisingly good but never boring awful plot and acting unbelievable naïve 東京 don\'t'.split(' ');
        let seed = 12345;
        self.__rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
        self.__text = (n) => Array.from({ length: n }, (_, k) => WORDS[(n * 7 + k * 31) % WORDS.length]).join(' ');
        return self.__clfs.map((c) => c.info.wasm);
      },
      { urls, kinds },
    );
    const workers = page.workers().filter((w) => /\/lens\/worker/.test(w.url()));
    assert.equal(workers.length, kinds.length, 'one package worker per classifier');
    const build = (f) => (f === 'relaxed SIMD' ? urls.relaxed : urls.simd128);
    const sample = async (call) => {
      await page.evaluate(() => gc());
      const wasm = [];
      for (const w of workers) wasm.push(await wasmBytes(w, build(flavours[0])));
      const js = Object.values(await heaps.measure(/\/lens\/worker/));
      const s = {
        call,
        wasm: wasm.reduce((a, b) => a + b, 0),
        wasmPer: wasm,
        workerHeap: js.reduce((a, b) => a + b, 0),
        pageHeap: await page.evaluate(() => performance.memory.usedJSHeapSize),
        browserRssKb: browserRssKb(),
        ms: Date.now() - t0,
      };
      record.classify.push(s);
      return s;
    };
    const t0 = Date.now();
    say('first sample');
    const first = await sample(0);
    say(`first sample: ${JSON.stringify(first)}`);
    // Warm-up: every classifier runs its largest shape once (CPU: batch 32 × 512 words), then mixed calls.
    let texts = 0;
    for (let i = 0; i < kinds.length; i++) {
      await page.evaluate(({ i, k }) => self.__clfs[i].classify(Array.from({ length: k.batch }, () => self.__text(k.words))), { i, k: kinds[i] });
      say(`warm-up ${kinds[i].model}/${kinds[i].backend}`);
      texts += 32;
    }
    // Warm-up: 10 % of the calls, at least 48 (V8's bytecode and feedback vectors live on the JS heap: the
    // workers' heap steps up by ~160 kB around call 35 of this deterministic sequence, as code paths run for
    // the first time, and is flat after).
    const warmCalls = Math.min(CALLS - 1, Math.max(48, Math.round(CALLS / 10)));
    const every = Math.max(kinds.length, Math.round(CALLS / 20));
    let warm = null;
    for (let call = kinds.length; call < CALLS; call++) {
      const n = await page.evaluate(async ({ i, k }) => {
        const r = self.__rand;
        const batch = 1 + Math.floor(r() * k.batch);
        // Lengths 1–512 words (GPU: the cap), log-uniform: most texts short, some far past the window.
        const t = Array.from({ length: batch }, () => self.__text(Math.max(1, Math.round(Math.exp(r() * Math.log(k.words))))));
        const out = await self.__clfs[i].classify(t);
        if (out.length !== t.length || out.some((o) => !Number.isFinite(o.score))) throw new Error('bad answer');
        return batch;
      }, { i: call % kinds.length, k: kinds[call % kinds.length] });
      texts += n;
      if (call + 1 === warmCalls) warm = await sample(call + 1);
      else if ((call + 1) % every === 0) await sample(call + 1);
      if ((call + 1) % every === 0) say(`call ${call + 1}: ${JSON.stringify(record.classify.at(-1))}`);
    }
    const end = await sample(CALLS);
    warm ||= record.classify[1];
    say('done');
    const infos = await page.evaluate(() => self.__clfs.map((c) => c.info.backend));
    assert.deepEqual(infos, kinds.map((k) => k.backend), 'every classifier stayed on its backend');
    const line = (k, f = (x) => x) => `${f(first[k])} → ${f(warm[k])} after warm-up → ${f(end[k])} (${pct(warm[k], end[k])})`;
    console.log(`soak (browser): ${CALLS} calls, ${texts} texts, ${kinds.map((k) => `${k.model}/${k.backend}`).join(', ')}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`  wasm memory (all workers): ${line('wasm', mb)}`);
    console.log(`  workers' JS heap: ${line('workerHeap', mb)}`);
    console.log(`  page JS heap: ${line('pageHeap', mb)}`);
    console.log(`  browser RSS (all processes): ${line('browserRssKb', (x) => mb(x * 1024))}`);
    record.summary = { texts, first, warm, end, seconds: (Date.now() - t0) / 1000 };
    for (const k of ['wasm', 'workerHeap', 'pageHeap']) {
      assert.ok(end[k] <= warm[k] * (1 + MAX_GROWTH), `${k} grew ${pct(warm[k], end[k])} after warm-up (${warm[k]} → ${end[k]})`);
    }
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await page.evaluate(() => self.__clfs.forEach((c) => c.dispose()));
  });

  it('loading and dropping models in one worker leaves its memory flat', async () => {
    const backends = gpu ? ['cpu', 'webgpu'] : ['cpu'];
    const before = new Set(page.workers());
    await page.evaluate(async (urls) => {
      const { connect } = await import(urls.rpc);
      self.__w = new Worker(urls.worker, { type: 'module' });
      self.__rpc = connect(self.__w);
    }, urls);
    let worker;
    for (let i = 0; i < 100 && !worker; i++) {
      worker = page.workers().find((w) => !before.has(w) && /\/lens\/worker/.test(w.url()));
      if (!worker) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(worker, 'the load/drop worker started');
    const t0 = Date.now();
    let flavour = null;
    for (let round = 0; round < LOADS; round++) {
      const args = { source: new URL(`models/${MODELS[round % 2]}/`, srv.url).href, backend: backends[Math.floor(round / 2) % backends.length], builds: { relaxed: urls.relaxed, simd128: urls.simd128 } };
      const info = await page.evaluate(async (args) => {
        const info = await self.__rpc.call('load', args);
        const [r] = await self.__rpc.call('classify', { texts: ['a good film'] });
        if (!Number.isFinite(r.score)) throw new Error('bad answer');
        await self.__rpc.call('dispose');
        return info;
      }, args);
      flavour = info.wasm;
      say(`load/drop ${round + 1} ${args.backend}`);
      assert.equal(info.backend, args.backend);
      await page.evaluate(() => gc());
      const heap = Object.values(await heaps.measure(/\/lens\/worker/))[0];
      record.loadDrop.push({ round: round + 1, backend: args.backend, wasm: await wasmBytes(worker, flavour === 'relaxed SIMD' ? urls.relaxed : urls.simd128), workerHeap: heap, browserRssKb: browserRssKb(), ms: Date.now() - t0 });
    }
    const at = (n) => record.loadDrop[Math.min(n, record.loadDrop.length) - 1];
    const [five, end] = [at(Math.min(5, LOADS)), at(LOADS)];
    console.log(`soak (browser): ${LOADS} loads + classify + drop in one worker (${backends.join(' / ')}, ${MODELS.join(' / ')}), ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const [k, f] of [['wasm', mb], ['workerHeap', mb], ['browserRssKb', (x) => mb(x * 1024)]]) {
      console.log(`  ${k}: after 1 ${f(at(1)[k])}, after 5 ${f(five[k])}, after ${LOADS} ${f(end[k])} (${pct(five[k], end[k])})`);
    }
    await page.evaluate(() => self.__w.terminate());
    for (const k of ['wasm', 'workerHeap']) assert.ok(end[k] <= five[k] * (1 + MAX_GROWTH), `${k}: ${five[k]} after 5 → ${end[k]} after ${LOADS}`);
    // The package asks for a folder's optional files (tokenizer_config.json, …): their 404s are expected.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

// Memory over time in the browser (issue 15): classifications of varied lengths and batch sizes through the
// npm package's workers (the page's package, www/lens or dist's hashed lens/), alternating models (the LN
// and the BN sentiment models) and backends (CPU, and WebGPU where Chromium has an adapter: SwiftShader
// here), then models loaded and dropped over and over in one worker. Recorded at intervals, after a
// garbage collection: each worker's wasm memory (`memory.buffer.byteLength` of its wasm-bindgen module), its
// JS heap (CDP Runtime.getHeapUsage, used size), the page's JS heap, and the resident set of the whole
// browser (every Chromium process: the GPU process holds SwiftShader's buffers). Asserted: from the end of
// the warm-up (every classifier ran the largest shape, batch 32 × 512-word texts, then 10 % of the calls, at
// least 16) to the end, wasm memory, the data on the workers' JS heaps (heap snapshots) and the page's JS heap
// grow by at most 5 %. Loading and dropping: after each model ran once on each backend (4 loads), later
// loads keep no more wasm memory, heap data (≤ 5 %) or JS closures (none), and every WebGPU load of the
// worker runs on its one GPU device.
//
// Calls go ln/CPU, bn/CPU, ln/WebGPU, bn/WebGPU, … CPU calls: batches of 1–32 texts of 1–512 words
// (log-uniform; the models' window is 128 tokens). WebGPU calls are capped at SOAK_GPU_BATCH (default 4)
// texts of at most SOAK_GPU_WORDS (default 64) words: SwiftShader emulates the GPU on the CPU and takes
// ~60 s for one batch of 32 × 128 tokens on this loaded 2-core machine (set 32 and 512 on a real GPU).
//
// SOAK_CALLS (default 40: the reduced soak of `make test`) classifications, SOAK_LOADS (default 8) loads
// and drops; `make soak-browser` runs 1,000 and 50 (RELIABILITY.md has its figures). SOAK_JSON=<file>
// writes every sample; SOAK_VERBOSE=1 prints progress; SOAK_JS_FLAGS adds V8 flags (e.g. `--no-opt --no-maglev
// --no-sparkplug --liftoff-only`: no optimising tiers, to tell compiled code from retained data).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { serve, launch, watch, hashedName, armDeviceLoss, lossHook } from './helpers.mjs';

const CALLS = Number(process.env.SOAK_CALLS || 40);
const LOADS = Number(process.env.SOAK_LOADS || 8);
// Loads before the baseline of the load/drop part: each model on each backend once.
const WARM_LOADS = 4;
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
  const chunks = new Map(); // sessionId -> heap snapshot chunks
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message);
    if (m.method === 'HeapProfiler.addHeapSnapshotChunk') return chunks.get(e.sessionId)?.push(m.params.chunk);
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
  const attached = async (re) => {
    const { targetInfos } = await cdp.send('Target.getTargets');
    const out = [];
    for (const t of targetInfos.filter((x) => x.type === 'worker' && re.test(x.url))) {
      if (!sessions.has(t.targetId)) sessions.set(t.targetId, (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })).sessionId);
      out.push([t.targetId, sessions.get(t.targetId)]);
    }
    return out;
  };
  return {
    /** { targetId: usedBytes } for every worker whose URL matches `re`, after a GC in each. */
    async measure(re) {
      const out = {};
      for (const [id, s] of await attached(re)) {
        await send(s, 'HeapProfiler.collectGarbage');
        out[id] = (await send(s, 'Runtime.getHeapUsage')).usedSize;
      }
      return out;
    },
    /**
     * { targetId: heap snapshot summary (see `heapSummary`) } for every worker whose URL matches `re` (V8
     * collects all the garbage it can before it takes a snapshot).
     */
    async snapshot(re) {
      const out = {};
      for (const [id, s] of await attached(re)) {
        chunks.set(s, []);
        await send(s, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
        out[id] = heapSummary(JSON.parse(chunks.get(s).join('')));
        chunks.delete(s);
      }
      return out;
    },
  };
}

/**
 * A V8 heap snapshot of the JS heap by what holds the bytes: `{ total, code, data, groups: { 'type:name':
 * [count, bytes] } }`. Left out (not on the JS heap, not in Runtime.getHeapUsage's used size): memory
 * outside it that the snapshot shows as native nodes — ArrayBuffer backing stores (the wasm memory),
 * external strings, the wasm module's native code, Blink's C++ objects. `code` is what V8 compiled rather
 * than what the program keeps: its `code` nodes (bytecode, optimised machine code, deoptimisation data,
 * feedback vectors, inline caches). `data` is everything else: the objects, closures, arrays, strings and
 * shapes the program holds.
 */
function heapSummary(snap) {
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [n, it, iname, isize] = [f.length, f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const groups = {};
  let total = 0;
  let code = 0;
  for (let i = 0; i < snap.nodes.length; i += n) {
    const type = types[snap.nodes[i + it]];
    const size = snap.nodes[i + isize];
    // Strings and numbers are grouped by type alone (their name is their value: user text).
    const name = /string|number/.test(type) ? '' : snap.strings[snap.nodes[i + iname]].slice(0, 60);
    if (type === 'synthetic' || (type === 'native' && !/^system \/ /.test(name)) || /^system \/ (JSArrayBufferData|ExternalStringData|CppGC)/.test(name)) continue;
    const g = (groups[`${type}:${name}`] ||= [0, 0]);
    g[0] += 1;
    g[1] += size;
    total += size;
    if (type === 'code') code += size;
  }
  return { total, code, data: total - code, groups };
}

/** Heap summaries `a` → `b`: the `k` groups that grew most (bytes), as text; `data`: code groups left out. */
function heapGrowth(a, b, k = 6, { data = false } = {}) {
  return Object.entries(b.groups)
    .filter(([g]) => !data || !g.startsWith('code:'))
    .map(([g, [c, s]]) => [g, c - (a.groups[g]?.[0] || 0), s - (a.groups[g]?.[1] || 0)])
    .filter(([, , ds]) => ds > 0)
    .sort((x, y) => y[2] - x[2])
    .slice(0, k)
    .map(([g, dc, ds]) => `${g} +${ds} B (${dc >= 0 ? '+' : ''}${dc})`)
    .join(', ');
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
    browser = await launch({ extra: [`--js-flags=--expose-gc ${process.env.SOAK_JS_FLAGS || ''}`.trim(), '--enable-precise-memory-info'] });
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
    // Where the wall time goes (ms), printed with the figures: loads, warm-up, calls, samples, heap snapshots.
    const spent = { load: 0, warmUp: 0, 'calls cpu': 0, 'calls webgpu': 0, samples: 0, snapshots: 0 };
    const timed = async (k, f) => {
      const t = Date.now();
      try {
        return await f();
      } finally {
        spent[k] += Date.now() - t;
      }
    };
    const flavours = await timed('load', () => page.evaluate(
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
    ));
    const workers = page.workers().filter((w) => /\/lens\/worker/.test(w.url()));
    assert.equal(workers.length, kinds.length, 'one package worker per classifier');
    const build = (f) => (f === 'relaxed SIMD' ? urls.relaxed : urls.simd128);
    // Heap snapshots of every worker at the end of the warm-up and at the end (after a GC): the data the
    // workers hold, apart from the code V8 compiles as functions get hot (see heapSummary).
    const snaps = {};
    const snapshot = () => timed('snapshots', async () => {
      const per = await heaps.snapshot(/\/lens\/worker/); // by target id
      const sum = (k) => Object.values(per).reduce((a, p) => a + p[k], 0);
      return { per, total: sum('total'), code: sum('code'), data: sum('data') };
    });
    const sample = (call) => timed('samples', async () => {
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
    });
    const t0 = Date.now();
    say('first sample');
    const first = await sample(0);
    say(`first sample: ${JSON.stringify(first)}`);
    // Warm-up: every classifier runs its largest shape once (CPU: batch 32 × 512 words), then mixed calls.
    let texts = 0;
    for (let i = 0; i < kinds.length; i++) {
      await timed('warmUp', () => page.evaluate(({ i, k }) => self.__clfs[i].classify(Array.from({ length: k.batch }, () => self.__text(k.words))), { i, k: kinds[i] }));
      say(`warm-up ${kinds[i].model}/${kinds[i].backend}`);
      texts += 32;
    }
    // Warm-up: 10 % of the calls, at least 16. What is asserted is flat from call 8 of this deterministic
    // sequence on (data on the workers' heaps within 0.2 %, wasm memory exactly, the page's heap within 2.2 % up
    // to call 128: RELIABILITY.md); the used size of the workers' heaps, not asserted, steps up by ~160 kB
    // around call 35 as V8 compiles code paths run for the first time.
    const warmCalls = Math.min(CALLS - 1, Math.max(16, Math.round(CALLS / 10)));
    const every = Math.max(kinds.length, Math.round(CALLS / 20));
    let warm = null;
    for (let call = kinds.length; call < CALLS; call++) {
      const n = await timed(`calls ${kinds[call % kinds.length].backend}`, () => page.evaluate(async ({ i, k }) => {
        const r = self.__rand;
        const batch = 1 + Math.floor(r() * k.batch);
        // Lengths 1–512 words (GPU: the cap), log-uniform: most texts short, some far past the window.
        const t = Array.from({ length: batch }, () => self.__text(Math.max(1, Math.round(Math.exp(r() * Math.log(k.words))))));
        const out = await self.__clfs[i].classify(t);
        if (out.length !== t.length || out.some((o) => !Number.isFinite(o.score))) throw new Error('bad answer');
        return batch;
      }, { i: call % kinds.length, k: kinds[call % kinds.length] }));
      texts += n;
      if (call + 1 === warmCalls) {
        warm = await sample(call + 1);
        snaps.warm = await snapshot();
      }
      else if ((call + 1) % every === 0) await sample(call + 1);
      if ((call + 1) % every === 0) say(`call ${call + 1}: ${JSON.stringify(record.classify.at(-1))}`);
    }
    const end = await sample(CALLS);
    snaps.end = await snapshot();
    warm ||= record.classify[1];
    snaps.warm ||= snaps.end;
    for (const k of ['data', 'code']) {
      warm[`workerHeap_${k}`] = snaps.warm[k];
      end[`workerHeap_${k}`] = snaps.end[k];
    }
    say('done');
    const infos = await page.evaluate(() => self.__clfs.map((c) => c.info.backend));
    assert.deepEqual(infos, kinds.map((k) => k.backend), 'every classifier stayed on its backend');
    const line = (k, f = (x) => x) => `${f(first[k])} → ${f(warm[k])} after warm-up → ${f(end[k])} (${pct(warm[k], end[k])})`;
    console.log(`soak (browser): ${CALLS} calls, ${texts} texts, ${kinds.map((k) => `${k.model}/${k.backend}`).join(', ')}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`  time: ${Object.entries(spent).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')} (${record.classify.length} samples, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    console.log(`  wasm memory (all workers): ${line('wasm', mb)}`);
    console.log(`  workers' JS heap: ${line('workerHeap', mb)}`);
    const snapLine = (k) => `${mb(snaps.warm[k])} after warm-up → ${mb(snaps.end[k])} (${pct(snaps.warm[k], snaps.end[k])})`;
    console.log(`  workers' JS heap by snapshot: ${snapLine('total')}: data (what the program holds) ${snapLine('data')}; compiled code ${snapLine('code')}`);
    Object.entries(snaps.end.per).forEach(([id, p], w) => {
      const a = snaps.warm.per[id];
      if (!a) return console.log(`    worker ${w + 1}: no snapshot after the warm-up`);
      console.log(`    worker ${w + 1} grew most: ${heapGrowth(a, p) || 'nothing'}; data: ${heapGrowth(a, p, 4, { data: true }) || 'nothing'}`);
    });
    console.log(`  page JS heap: ${line('pageHeap', mb)}`);
    console.log(`  browser RSS (all processes): ${line('browserRssKb', (x) => mb(x * 1024))}`);
    record.summary = { texts, first, warm, end, seconds: (Date.now() - t0) / 1000 };
    record.snapshots = Object.fromEntries(['warm', 'end'].map((w) => [w, Object.values(snaps[w].per).map(({ total, code, data }) => ({ total, code, data }))]));
    // The workers' JS heap is asserted on what the program holds (snapshot data): its used size also
    // counts the machine code V8 compiles as functions get hot, which goes on growing after this warm-up
    // (optimised code, re-optimisation after a deoptimisation, wasm tier-up) and is flat with the JIT's
    // optimising tiers off (RELIABILITY.md). Both are printed; the used size is in the record.
    for (const k of ['wasm', 'workerHeap_data', 'pageHeap']) {
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
    // Counts the GPU devices the worker asks for (the device-loss hook, not armed: helpers.mjs).
    if (gpu) await armDeviceLoss(worker, { afterSubmits: 0 });
    const t0 = Date.now();
    let flavour = null;
    const snaps = {};
    // Backends alternate every round, models every other round (ln/CPU, ln/WebGPU, bn/CPU, bn/WebGPU, …): the
    // first WARM_LOADS rounds load each kind once; every later round is measured against them.
    const warmLoads = Math.min(WARM_LOADS, LOADS);
    for (let round = 0; round < LOADS; round++) {
      const args = { source: new URL(`models/${MODELS[Math.floor(round / backends.length) % 2]}/`, srv.url).href, backend: backends[round % backends.length], builds: { relaxed: urls.relaxed, simd128: urls.simd128 } };
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
      const row = { round: round + 1, backend: args.backend, wasm: await wasmBytes(worker, flavour === 'relaxed SIMD' ? urls.relaxed : urls.simd128), workerHeap: heap, browserRssKb: browserRssKb(), ms: Date.now() - t0 };
      // Heap snapshots after the warm-up rounds and the last: the data the worker holds apart from compiled
      // code, and the JS closures wasm-bindgen made (`closure:real`) that something still holds.
      if (round + 1 === warmLoads || round + 1 === LOADS) {
        const snap = Object.values(await heaps.snapshot(/\/lens\/worker/))[0];
        Object.assign(row, { workerHeap_data: snap.data, workerHeap_code: snap.code, closures: snap.groups['closure:real']?.[0] || 0 });
        (snaps[round + 1 === LOADS ? 'end' : 'warm'] = snap);
      }
      record.loadDrop.push(row);
    }
    snaps.warm ||= snaps.end;
    const at = (n) => record.loadDrop[Math.min(n, record.loadDrop.length) - 1];
    const [warm, end] = [at(warmLoads), at(LOADS)];
    const gpuLoads = (n) => record.loadDrop.slice(0, n).filter((r) => r.backend === 'webgpu').length;
    const devices = gpu ? (await lossHook(worker)).devices : 0;
    console.log(`soak (browser): ${LOADS} loads + classify + drop in one worker (${backends.join(' / ')}, ${MODELS.join(' / ')}; ${gpuLoads(LOADS)} on WebGPU, ${devices} GPU devices asked for), ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const [k, f] of [['wasm', mb], ['workerHeap', mb], ['browserRssKb', (x) => mb(x * 1024)]]) {
      console.log(`  ${k}: after 1 ${f(at(1)[k])}, after ${warmLoads} ${f(warm[k])}, after ${LOADS} ${f(end[k])} (${pct(warm[k], end[k])})`);
    }
    for (const k of ['data', 'code']) console.log(`  workerHeap by snapshot, ${k}: after ${warmLoads} ${mb(snaps.warm[k])}, after ${LOADS} ${mb(snaps.end[k])} (${pct(snaps.warm[k], snaps.end[k])})`);
    console.log(`  wasm-bindgen closures held: after ${warmLoads} ${warm.closures}, after ${LOADS} ${end.closures} (${gpuLoads(LOADS) - gpuLoads(warmLoads)} WebGPU loads between)`);
    console.log(`  grew most: ${heapGrowth(snaps.warm, snaps.end) || 'nothing'}; data: ${heapGrowth(snaps.warm, snaps.end, 6, { data: true }) || 'nothing'}`);
    await page.evaluate(() => self.__w.terminate());
    // As above: the worker's heap is asserted on the data it holds (the used size also counts compiled code).
    for (const k of ['wasm', 'workerHeap_data']) assert.ok(end[k] <= warm[k] * (1 + MAX_GROWTH), `${k}: ${warm[k]} after ${warmLoads} → ${end[k]} after ${LOADS}`);
    // Nothing kept per load: not one more JS closure (wgpu forgets two per GPU device it opens), and one GPU
    // device for every WebGPU load of the worker (the engine's shared context).
    assert.ok(end.closures <= warm.closures, `wasm-bindgen closures held: ${warm.closures} after ${warmLoads} loads → ${end.closures} after ${LOADS}`);
    if (gpu) assert.equal(devices, 1, `GPU devices asked for by ${gpuLoads(LOADS)} WebGPU loads in one worker`);
    // The package asks for a folder's optional files (tokenizer_config.json, …): their 404s are expected.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

// The wasm threads build (make pkg-threads): the page loads it where it is cross-origin isolated and a
// single-thread build where it is not, says which in the footer; and the threaded CPU kernels give the same
// bits as the single-thread relaxed-SIMD build — probabilities, every layer's hidden states and attention
// maps (and so the logits they come from), embeddings — for the default model, its int8 twin and
// all-MiniLM-L6-v2 (real weights: embeddings), on short inputs (the
// matmuls split by columns), long ones (by rows) and batches (attention split by sequence × head).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve, launch, watch, classify, WWW } from './helpers.mjs';

const HAVE_THREADS = existsSync(join(WWW, 'pkg-threads', 'encoder_lens_bg.wasm'));
const NOT_FOUND = /Failed to load resource: the server responded with a status of 404/;
const HAVE_MINILM = existsSync(join(WWW, 'models', 'minilm', 'model.safetensors'));

let isolated;
let plain;
let browser;
before(async () => {
  if (!HAVE_THREADS) throw new Error('www/pkg-threads is missing: run `make pkg-threads` (make test-e2e builds it)');
  isolated = await serve(WWW, { isolate: true });
  plain = await serve(WWW);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
});

async function footer(page) {
  await page.waitForFunction(() => document.getElementById('foot-build').dataset.build, null, { timeout: 120000 });
  return page.evaluate(() => ({ ...document.getElementById('foot-build').dataset, text: document.getElementById('foot-build').textContent,
    threadsShown: !document.getElementById('threads-label').hidden }));
}

test('cross-origin isolated: the page runs the threads build on the threads asked for, and classifies', async () => {
  const page = await browser.newPage();
  const errors = watch(page);
  await page.goto(`${isolated.url}?threads=2`);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'the server sends COOP/COEP');
  await page.selectOption('#backend-select', 'cpu');
  const r = await classify(page, 'an absolute joy from start to finish');
  const f = await footer(page);
  assert.equal(f.build, 'relaxed SIMD + threads', f.text);
  assert.equal(f.threads, '2', f.text);
  assert.equal(f.isolated, 'true');
  assert.ok(f.threadsShown, 'the threads setting is shown');
  assert.match(f.text, /relaxed SIMD \+ threads, 2 threads/);
  assert.equal(r.label, 'positive');
  assert.ok(r.probabilities[1] > 0.5, JSON.stringify(r.probabilities));
  // The page's Threads setting: 1 thread now, the same probabilities to the bit.
  await page.selectOption('#threads-select', '1');
  await page.waitForFunction(() => document.getElementById('foot-build').dataset.threads === '1', null, { timeout: 60000 });
  const r1 = await classify(page, 'an absolute joy from start to finish!');
  await page.selectOption('#threads-select', '2');
  await page.waitForFunction(() => document.getElementById('foot-build').dataset.threads === '2', null, { timeout: 60000 });
  const r2 = await classify(page, 'an absolute joy from start to finish!');
  assert.deepEqual(r2.probabilities, r1.probabilities);
  assert.ok((isolated.requests.get('/pkg-threads/encoder_lens_bg.wasm') || 0) >= 1, 'the threads build was fetched');
  assert.ok((isolated.requests.get('/lens/pool-worker.js') || 0) >= 1, 'a pool worker was started');
  // Optional model files that are not there (404) are part of loading a folder; nothing else may fail.
  assert.deepEqual(errors.filter((e) => !NOT_FOUND.test(e)), []);
  await page.close();
});

test('not isolated: the page runs the single-thread relaxed-SIMD build and says why', async () => {
  const page = await browser.newPage();
  const errors = watch(page);
  await page.goto(plain.url);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
  await page.selectOption('#backend-select', 'cpu');
  const r = await classify(page, 'an absolute joy from start to finish');
  const f = await footer(page);
  assert.equal(f.build, 'relaxed SIMD', f.text);
  assert.equal(f.threads, '1');
  assert.equal(f.isolated, 'false');
  assert.ok(!f.threadsShown, 'no threads setting without the threads build');
  assert.match(f.text, /not cross-origin isolated/);
  assert.equal(r.label, 'positive');
  assert.equal(plain.requests.get('/pkg-threads/encoder_lens_bg.wasm'), undefined, 'the threads build is not even fetched');
  assert.deepEqual(errors.filter((e) => !NOT_FOUND.test(e)), []);
  await page.close();
});

// In an isolated page: the threads build (2 threads, and 1) against the single-thread relaxed build, through
// the engine's own API, value for value (as 32-bit patterns: +0 / -0 and NaN payloads count).
async function compareBuilds(page, model, texts, { classify = true, embed = false } = {}) {
  return page.evaluate(
    async ({ model, texts, classify, embed }) => {
      const { readModel } = await import('/lens/files.js');
      const { useThreads } = await import('/lens/threads.js');
      const url = new URL('/pkg-threads/encoder_lens.js', location.href).href;
      const T = await import(url);
      await T.default();
      const [module, memory] = T.poolShare();
      const threads = await useThreads({ wasm: T, url, module, memory }, 2);
      const R = await import('/pkg-relaxed/encoder_lens.js');
      await R.default();
      const source = new URL(`/models/${model}/`, location.href).href;
      const engineOf = async (m) => {
        const f = await readModel(m, source);
        return m.Engine.load(f.texts, f.weights, 'cpu');
      };
      const bits = (v) => {
        const out = [];
        const walk = (x) => {
          if (typeof x === 'number') out.push(x);
          else if (Array.isArray(x) || ArrayBuffer.isView(x)) for (const y of x) walk(y);
          else if (x && typeof x === 'object') for (const k of Object.keys(x).sort()) walk(x[k]);
        };
        walk(v);
        return new Uint32Array(Float32Array.from(out).buffer);
      };
      const run = async (engine) => {
        const r = [];
        for (const batch of texts) {
          if (classify) {
            const c = await engine.classify(batch, { trace: true });
            r.push(bits([c.predictions.map((p) => p.probabilities), c.trace.layers, c.trace.embeddings]));
          }
          if (embed) r.push(bits(await engine.embed(batch)));
        }
        return r;
      };
      const te = await engineOf(T);
      const re = await engineOf(R);
      const t0 = performance.now();
      const jobs0 = T.poolJobs();
      const two = await run(te);
      const tMs = performance.now() - t0;
      const jobs2 = T.poolJobs() - jobs0;
      T.setThreads(1);
      const one = await run(te);
      const jobs1 = T.poolJobs() - jobs0 - jobs2;
      T.setThreads(2);
      const ref = await run(re);
      const diff = (a, b) => {
        const out = [];
        a.forEach((x, i) => {
          if (x.length !== b[i].length) out.push(`part ${i}: ${x.length} vs ${b[i].length} values`);
          else {
            const j = x.findIndex((v, k) => v !== b[i][k]);
            if (j >= 0) {
              const f = (u) => new Float32Array(Uint32Array.of(u).buffer)[0];
              out.push(`part ${i} value ${j}: ${f(x[j])} vs ${f(b[i][j])}`);
            }
          }
        });
        return out;
      };
      return {
        threads,
        jobs2,
        jobs1,
        workers: T.poolWorkers(),
        kernels: [T.threadsBuild(), R.threadsBuild()],
        values: ref.reduce((n, x) => n + x.length, 0),
        twoVsRef: diff(two, ref),
        oneVsRef: diff(one, ref),
        tMs,
      };
    },
    { model, texts, classify, embed },
  );
}

const LONG = 'the film opens slowly, but by the middle it has become one of the most moving, funny and humane stories I have seen in years; the cast is superb and the ending earns every tear '.repeat(2);
const TEXTS = [
  ['fine'], // 3 tokens: column blocks
  ['an absolute joy from start to finish'],
  [LONG], // ≥ 64 tokens: row blocks (2 threads)
  ['a dull, lifeless waste of two hours', LONG, 'not bad at all'], // a padded batch: attention by sequence × head
];

test('threads build = single-thread build, bit for bit: default model', async () => {
  const page = await browser.newPage();
  const errors = watch(page);
  await page.goto(`${isolated.url}models.json`);
  const r = await compareBuilds(page, 'sentiment-ln', TEXTS);
  assert.equal(r.threads, 2, 'two threads in use');
  assert.equal(r.workers, 1, 'one pool worker joined');
  assert.ok(r.jobs2 >= 10, `the threaded paths ran: ${r.jobs2} parallel jobs with 2 threads`);
  assert.equal(r.jobs1, 0, 'none with 1 thread');
  assert.deepEqual(r.kernels, [true, false]);
  assert.ok(r.values > 10000, `${r.values} values compared`);
  assert.deepEqual(r.twoVsRef, [], 'threads build, 2 threads vs relaxed build');
  assert.deepEqual(r.oneVsRef, [], 'threads build, 1 thread vs relaxed build');
  assert.deepEqual(errors.filter((e) => !NOT_FOUND.test(e)), []);
  await page.close();
});

test('threads build = single-thread build, bit for bit: all-MiniLM-L6-v2 (real weights)', { skip: !HAVE_MINILM && 'models/minilm is not fetched (make setup)' }, async () => {
  const page = await browser.newPage();
  const errors = watch(page);
  await page.goto(`${isolated.url}models.json`);
  const r = await compareBuilds(page, 'minilm', [TEXTS[1], TEXTS[2], TEXTS[3]], { classify: false, embed: true });
  assert.equal(r.threads, 2);
  assert.ok(r.jobs2 >= 3 * 6 * 5, `${r.jobs2} parallel jobs (6 layers × 5 per input)`);
  assert.ok(r.values >= 5 * 384, `${r.values} values compared`);
  assert.deepEqual(r.twoVsRef, [], 'threads build, 2 threads vs relaxed build');
  assert.deepEqual(r.oneVsRef, [], 'threads build, 1 thread vs relaxed build');
  assert.deepEqual(errors.filter((e) => !NOT_FOUND.test(e)), []);
  await page.close();
});

test('threads build = single-thread build, bit for bit: the int8 default model (integer matmul split by rows)', async () => {
  const page = await browser.newPage();
  await page.goto(`${isolated.url}models.json`);
  const r = await compareBuilds(page, 'sentiment-ln-int8', TEXTS);
  assert.equal(r.threads, 2);
  assert.ok(r.jobs2 >= 10, `${r.jobs2} parallel jobs`);
  assert.deepEqual(r.twoVsRef, []);
  assert.deepEqual(r.oneVsRef, []);
  await page.close();
});

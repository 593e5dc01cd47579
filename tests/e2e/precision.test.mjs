// End-to-end test of panel 10, "Precision: fp32, f16, int8", in headless Chromium: on the default model the
// engine's precision lab (int8 downloaded: the committed twin; f16 converted in the page) runs the text in
// each precision; the table, the per-layer chart and the histogram show the engine's numbers — sizes of the
// weights as stored (the files' bytes), int8 agreeing with fp32 within 0.05 in p but not exactly, fp32 vs
// itself 0 at every layer, histogram counts summing to rows × cols of the chosen matrix, the grid step equal
// to PyTorch's scale for that matrix (the golden fixture). The switch and the matrix choice go into the URL.
// Screenshot: artifacts/screenshots/precision-default.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, existsSync, mkdtempSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, WWW, ROOT } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const DEFAULT = manifest.models.find((m) => m.id === manifest.default);
const TWIN = manifest.models.find((m) => m.of === DEFAULT.id && m.precision === 'int8');
const TEXT = 'A quiet, beautifully acted film that stays with you.';
const MINILM = manifest.models.find((m) => m.id === 'minilm-sentiment');
const bytesOf = (m) => statSync(join(WWW, m.path, 'model.safetensors')).size;

/** PyTorch's per-tensor int8 scale of `name` in model `id` (tests/fixtures/golden/quant-<id>-int8), or null. */
function torchScale(name, id = DEFAULT.id) {
  const file = join(ROOT, 'tests', 'fixtures', 'golden', `quant-${id.replace('-sentiment', '')}-int8.safetensors`);
  if (!existsSync(file)) return null;
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const t = header[`weights.${name}.scale`];
  if (!t) return null;
  return buf.readFloatLE(8 + n + t.data_offsets[0]);
}

let srv;
let first; // the default model's report in the first test (the single-thread build)
let browser;
let page;
let errors;

async function rows() {
  return page.$$eval('#prec-table tr[data-precision]', (els) =>
    els.map((e) => ({ ...e.dataset, bytes: Number(e.dataset.bytes), ms: Number(e.dataset.ms), p: Number(e.dataset.p), maxAbsDp: Number(e.dataset.maxAbsDp), on: e.classList.contains('on') })),
  );
}

async function layersChart() {
  return page.$eval('#prec-layers', (c) => ({ precision: c.dataset.precision, layers: JSON.parse(c.dataset.layers), max: JSON.parse(c.dataset.max), mean: JSON.parse(c.dataset.mean) }));
}

describe('panel 10: precision', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    await page.addInitScript(() => {
      window.__precision = [];
      window.__histograms = [];
      document.addEventListener('precision-drawn', (e) => window.__precision.push(e.detail));
      document.addEventListener('histogram-drawn', (e) => window.__histograms.push(e.detail));
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('the default model in fp32 / f16 / int8: sizes, ms, Δp and per-layer errors from the engine', async () => {
    await classify(page, TEXT);
    await page.locator('#precision').scrollIntoViewIfNeeded();
    await page.waitForFunction((t) => window.__precision.some((x) => x.text === t), TEXT, { timeout: 180000 }).catch(async (e) => {
      throw new Error(`panel 10 not drawn: ${e.message}; messages: ${await page.textContent('#messages')}`);
    });
    const x = await page.evaluate((t) => window.__precision.find((p) => p.text === t), TEXT);
    first = x;
    assert.equal(x.base, DEFAULT.id);
    const r = x.report;
    assert.deepEqual(r.rows.map((q) => q.precision), ['f32', 'f16', 'int8']);
    const [f32, f16, int8] = r.rows;
    // Where each came from: fp32 and the committed int8 twin downloaded (timed), f16 converted here.
    assert.equal(f32.source, 'downloaded');
    assert.equal(f16.source, 'converted');
    assert.equal(x.sources.f16.how, 'converted');
    if (TWIN) {
      assert.equal(int8.source, 'downloaded');
      assert.ok(['network', 'cache'].includes(x.sources.int8.how) && x.sources.int8.ms > 0, JSON.stringify(x.sources.int8));
      assert.equal(int8.bytes, bytesOf(TWIN));
    }
    assert.ok(['network', 'cache'].includes(x.sources.f32.how) && x.sources.f32.ms > 0, JSON.stringify(x.sources.f32));
    assert.equal(f32.bytes, bytesOf(DEFAULT));
    assert.ok(int8.sizeRatio < 0.27 && f16.sizeRatio < 0.51 && f16.sizeRatio > 0.45, `sizes ${int8.sizeRatio} ${f16.sizeRatio}`);
    // Agreement with fp32: close, not identical.
    assert.equal(f32.maxAbsDp, 0);
    assert.ok(int8.maxAbsDp > 0 && int8.maxAbsDp < 0.05, `int8 max |Δp| ${int8.maxAbsDp}`);
    assert.ok(f16.maxAbsDp > 0 && f16.maxAbsDp < int8.maxAbsDp, `f16 max |Δp| ${f16.maxAbsDp}`);
    assert.equal(int8.sameLabel, true);
    for (const q of r.rows) assert.ok(q.ms > 0 && q.runs >= 1, `${q.precision}: ${q.ms} ms`);
    // The page's own classification of the text is the fp32 row's.
    const shown = await page.evaluate(() => JSON.parse(document.getElementById('result').dataset.probabilities));
    shown.forEach((p, i) => assert.ok(Math.abs(p - f32.probabilities[i]) < 1e-6, `label ${i}: page ${p} vs lab fp32 ${f32.probabilities[i]}`));
    // The table is the engine's numbers.
    const t = await rows();
    assert.deepEqual(t.map((q) => [q.precision, q.source, q.bytes, q.ms, q.maxAbsDp]), r.rows.map((q) => [q.precision, q.source, q.bytes, q.ms, q.maxAbsDp]));
    assert.deepEqual(t.map((q) => q.on), [false, false, true]);
    // Per-layer error: int8 by default; every layer moved, fp32 against itself 0.
    let chart = await layersChart();
    assert.equal(chart.precision, 'int8');
    assert.deepEqual(chart.layers, r.layers);
    assert.deepEqual(chart.max, int8.layers.map((e) => e.maxAbs));
    assert.ok(chart.max.every((v) => v > 0) && chart.mean.every((v, i) => v > 0 && v <= chart.max[i]), JSON.stringify(chart));
    await page.click('#prec-switch button[data-precision="f32"]');
    chart = await layersChart();
    assert.equal(chart.precision, 'f32');
    assert.ok(chart.max.every((v) => v === 0) && chart.mean.every((v) => v === 0), JSON.stringify(chart));
    await page.click('#prec-switch button[data-precision="f16"]');
    chart = await layersChart();
    assert.equal(chart.precision, 'f16');
    assert.deepEqual(chart.max, f16.layers.map((e) => e.maxAbs));
    assert.ok(chart.mean.slice(1).every((v, i) => v < int8.layers[i + 1].meanAbs), 'f16 moves every layer less than int8');
    assert.deepEqual((await rows()).map((q) => q.on), [false, true, false]);
    assert.match(page.url(), /prec=f16/);
    console.log(`# sizes: f32 ${f32.bytes} B, f16 ${f16.bytes} B (${(100 * f16.sizeRatio).toFixed(1)} %), int8 ${int8.bytes} B (${(100 * int8.sizeRatio).toFixed(1)} %)`);
    console.log(`# ms/forward (CPU, ${r.tokens} tokens, busy machine): f32 ${f32.ms.toFixed(2)}, f16 ${f16.ms.toFixed(2)}, int8 ${int8.ms.toFixed(2)}`);
    console.log(`# max |Δp| vs f32: f16 ${f16.maxAbsDp.toExponential(2)}, int8 ${int8.maxAbsDp.toExponential(2)}; p(${f32.label}) f32 ${f32.p} f16 ${f16.p} int8 ${int8.p}`);
    console.log(`# per-layer max/mean |Δ| int8: ${r.layers.map((n, i) => `${n} ${int8.layers[i].maxAbs.toExponential(2)}/${int8.layers[i].meanAbs.toExponential(2)}`).join(', ')}`);
    console.log(`# per-layer max/mean |Δ| f16: ${r.layers.map((n, i) => `${n} ${f16.layers[i].maxAbs.toExponential(2)}/${f16.layers[i].meanAbs.toExponential(2)}`).join(', ')}`);
    console.log(`# download: f32 ${x.sources.f32.how} ${x.sources.f32.ms.toFixed(0)} ms, int8 ${x.sources.int8.how} ${x.sources.int8.ms?.toFixed(0)} ms; conversions ${x.convertMs.toFixed(0)} ms`);
  });

  it('a weight matrix binned by the engine under the int8 grid PyTorch uses', async () => {
    const x = await page.evaluate(() => window.__precision.at(-1));
    let h = x.histogram;
    const first = x.matrices[0];
    assert.equal(h.name, first.name);
    const canvas = () => page.$eval('#prec-hist', (c) => ({ ...c.dataset }));
    let c = await canvas();
    assert.equal(Number(c.total), first.shape[0] * first.shape[1]);
    assert.equal(Number(c.rows) * Number(c.cols), Number(c.total));
    // Pick layer 1's FFN input matrix through the selects: the engine bins it.
    const target = x.matrices.find((m) => m.layer === 1 && m.part === 'linear1.weight') || x.matrices.at(-1);
    await page.evaluate(() => (window.__histograms = []));
    await page.selectOption('#prec-layer', String(target.layer ?? 'other'));
    await page.waitForFunction(() => window.__histograms.length > 0, null, { timeout: 60000 });
    if ((await page.evaluate(() => window.__histograms.at(-1).name)) !== target.name) {
      await page.selectOption('#prec-matrix', target.name);
      await page.waitForFunction((n) => window.__histograms.some((q) => q.name === n), target.name, { timeout: 60000 });
    }
    h = await page.evaluate((n) => window.__histograms.find((q) => q.name === n), target.name);
    c = await canvas();
    assert.equal(c.name, target.name);
    assert.equal(Number(c.total), target.shape[0] * target.shape[1]);
    assert.equal(h.counts.reduce((a, b) => a + b, 0), h.count);
    assert.equal(h.zeroPoint, 0);
    assert.equal(Number(c.scale), h.scale);
    const torch = torchScale(target.name);
    // The engine's f32 scale (sent as its shortest decimal) is PyTorch's f32 scale exactly.
    if (torch != null) assert.equal(Math.fround(h.scale), torch, `grid step vs PyTorch's scale for ${target.name}`);
    assert.ok(h.maxError <= (h.scale / 2) * 1.0001 && h.maxError > 0, `rounding error ${h.maxError} vs half a step ${h.scale / 2}`);
    assert.ok(page.url().includes(`wm=${encodeURIComponent(target.name)}`), page.url());
    assert.match(await page.textContent('#prec-hist-caption'), /zero point = 0/);
    console.log(`# histogram ${h.name}: ${h.shape.join('×')} = ${h.count}, scale ${h.scale} (PyTorch ${torch}), q ${h.qLo}…${h.qHi}, ${h.levelsUsed} levels, max error ${h.maxError.toExponential(2)}`);
    await page.click('#prec-switch button[data-precision="int8"]');
    await page.locator('#precision').screenshot({ path: join(shotDir(), 'precision-default.png') });
  });

  it('a shared link restores the precision and the matrix', async () => {
    const url = page.url();
    assert.match(url, /wm=encoder\.layers\.1\.linear1\.weight/);
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const more = watch(other);
    await other.addInitScript(() => {
      window.__precision = [];
      document.addEventListener('precision-drawn', (e) => window.__precision.push(e.detail));
    });
    await other.goto(`${url.replace(/&prec=[a-z0-9]+/, '')}&prec=f32`);
    await other.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
    await other.locator('#precision').scrollIntoViewIfNeeded();
    await other.waitForFunction(() => window.__precision.length > 0, null, { timeout: 180000 });
    assert.equal(await other.getAttribute('#prec-switch button[data-precision="f32"]', 'aria-checked'), 'true');
    assert.equal(await other.getAttribute('#prec-layers', 'data-precision'), 'f32');
    assert.equal(await other.getAttribute('#prec-hist', 'data-name'), 'encoder.layers.1.linear1.weight');
    assert.equal(await other.inputValue('#prec-matrix'), 'encoder.layers.1.linear1.weight');
    await other.close();
    assert.deepEqual(more.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('MiniLM (a Hugging Face BERT folder): f16 and int8 both converted in the page', async (t) => {
    if (!MINILM || !existsSync(join(WWW, MINILM.path, 'config.json'))) {
      t.skip('MiniLM is not in www/models (make setup + make models)');
      return;
    }
    const text = 'a warm, clever, well-acted film';
    await page.selectOption('#model-select', MINILM.id);
    await page.waitForFunction(() => /Ready · MiniLM/.test(document.getElementById('status-text').textContent), null, { timeout: 300000 });
    await classify(page, text);
    await page.locator('#precision').scrollIntoViewIfNeeded();
    await page.waitForFunction((q) => window.__precision.some((x) => x.text === q), text, { timeout: 300000 }).catch(async (e) => {
      throw new Error(`panel 10 not drawn for MiniLM: ${e.message}; messages: ${await page.textContent('#messages')}`);
    });
    const x = await page.evaluate((q) => window.__precision.find((p) => p.text === q), text);
    const [f32, f16, int8] = x.report.rows;
    assert.equal(x.base, MINILM.id);
    assert.deepEqual([f32.source, f16.source, int8.source], ['downloaded', 'converted', 'converted']);
    assert.deepEqual(x.report.layers, ['embeddings', ...[0, 1, 2, 3, 4, 5].map((i) => `layer ${i}`)]);
    assert.ok(int8.sizeRatio < 0.27 && f16.sizeRatio < 0.51, `sizes ${int8.sizeRatio} ${f16.sizeRatio}`);
    assert.ok(f16.maxAbsDp > 0 && f16.maxAbsDp < 1e-3, `f16 max |Δp| ${f16.maxAbsDp}`);
    // int8 is far off here, as in PyTorch (its golden fixture of this model: max |Δlogit| ≈ 4 against f32): the
    // sentiment head's weights have outliers (|w| up to ~375, mean ~1.2), so one per-tensor scale rounds most
    // of them to 0. The histogram of that matrix shows it.
    assert.ok(int8.maxAbsDp > f16.maxAbsDp, `int8 max |Δp| ${int8.maxAbsDp}`);
    assert.ok(f32.layers.every((e) => e.maxAbs === 0));
    assert.ok(int8.layers.every((e) => e.maxAbs > 0));
    assert.ok(int8.layers.slice(1).every((e, i) => e.meanAbs > f16.layers[i + 1].meanAbs));
    let h = x.histogram;
    assert.equal(h.counts.reduce((a, b) => a + b, 0), h.shape[0] * h.shape[1]);
    await page.evaluate(() => (window.__histograms = []));
    await page.selectOption('#prec-layer', 'other');
    await page.waitForFunction(() => window.__histograms.length > 0, null, { timeout: 60000 });
    if ((await page.evaluate(() => window.__histograms.at(-1).name)) !== 'classifier.weight') {
      await page.selectOption('#prec-matrix', 'classifier.weight');
      await page.waitForFunction(() => window.__histograms.some((q) => q.name === 'classifier.weight'), null, { timeout: 60000 });
    }
    h = await page.evaluate(() => window.__histograms.find((q) => q.name === 'classifier.weight'));
    assert.deepEqual(h.shape, [2, 384]);
    assert.equal(h.counts.reduce((a, b) => a + b, 0), 768);
    const torch = torchScale('classifier.weight', MINILM.id);
    if (torch != null) assert.equal(Math.fround(h.scale), torch);
    assert.ok(h.scale > 1 && h.levelsUsed < 40, `scale ${h.scale}, ${h.levelsUsed} levels used`);
    console.log(`# MiniLM: f32 ${f32.bytes} B, f16 ${(100 * f16.sizeRatio).toFixed(1)} %, int8 ${(100 * int8.sizeRatio).toFixed(1)} %; ms f32 ${f32.ms.toFixed(1)} f16 ${f16.ms.toFixed(1)} int8 ${int8.ms.toFixed(1)}; max |Δp| f16 ${f16.maxAbsDp.toExponential(2)} int8 ${int8.maxAbsDp.toExponential(2)} (p f32 ${f32.probabilities} int8 ${int8.probabilities}); pooled cos int8 ${int8.pooledCosine}; conversions ${x.convertMs.toFixed(0)} ms`);
    console.log(`# MiniLM per-layer max/mean |Δ| int8: ${x.report.layers.map((n, i) => `${n} ${int8.layers[i].maxAbs.toExponential(2)}/${int8.layers[i].meanAbs.toExponential(2)}`).join(', ')}`);
    console.log(`# MiniLM classifier.weight: scale ${h.scale} (PyTorch ${torch}), ${h.levelsUsed} levels used, q ${h.qLo}…${h.qHi}, max ${h.max}`);
    await page.check('#prec-log');
    await page.locator('#precision').screenshot({ path: join(shotDir(), 'precision-minilm.png') });
  });

  it('a model of yours that is already int8: the panel says why it cannot compare, nothing else breaks', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'prec-')), 'mine-int8');
    mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) copyFileSync(join(ROOT, 'models', 'sentiment-ln-int8', f), join(dir, f));
    await page.locator('#classify').scrollIntoViewIfNeeded();
    await page.setInputFiles('#own-folder', dir);
    await page.waitForFunction(() => /^user-mine-int8-/.test(document.getElementById('model-select').value) && /Ready · .*\(yours\)/.test(document.getElementById('status-text').textContent), null, { timeout: 120000 });
    const text = 'an int8 model of my own';
    const r = await classify(page, text);
    assert.match(r.model, /^user-mine-int8-/);
    await page.locator('#precision').scrollIntoViewIfNeeded();
    await page.waitForFunction((m) => {
      const p = document.getElementById('precision');
      return p.dataset.model === m && p.dataset.state === 'error';
    }, r.model, { timeout: 120000 });
    assert.match(await page.textContent('#prec-summary'), /could not be compared: .*starts from an f32 model; this one is int8/);
    assert.equal(await page.$$eval('#prec-table tr', (t) => t.length), 0);
    assert.equal(await page.$$eval('#messages .msg.error', (m) => m.length), 0);
  });

  it('the threads build (cross-origin isolated) reports the same numbers, to the bit', async (t) => {
    if (!existsSync(join(WWW, 'pkg-threads', 'encoder_lens_bg.wasm'))) {
      t.skip('SKIPPED: www/pkg-threads is missing (make pkg-threads)');
      return;
    }
    const isolated = await serve(WWW, { isolate: true });
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const more = watch(other);
    await other.addInitScript(() => {
      window.__precision = [];
      document.addEventListener('precision-drawn', (e) => window.__precision.push(e.detail));
    });
    try {
      await other.goto(`${isolated.url}?threads=2`);
      await other.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
      assert.equal(await other.evaluate(() => document.getElementById('foot-build').dataset.build), 'relaxed SIMD + threads');
      await classify(other, TEXT);
      await other.locator('#precision').scrollIntoViewIfNeeded();
      await other.waitForFunction((q) => window.__precision.some((x) => x.text === q), TEXT, { timeout: 180000 });
      const x = await other.evaluate((q) => window.__precision.find((p) => p.text === q), TEXT);
      const strip = (r) => r.rows.map((q) => [q.precision, q.source, q.bytes, q.probabilities, q.maxAbsDp, q.layers]);
      // The single-thread build the first test ran is the relaxed one when the browser has relaxed SIMD.
      const flavour = await page.evaluate(() => document.getElementById('foot-build').dataset.build);
      if (flavour === 'relaxed SIMD') assert.deepEqual(strip(x.report), strip(first.report));
      else assert.equal(x.report.rows.length, 3);
      console.log(`# threads build: ${x.report.rows.length} precisions, compared bit for bit with the ${flavour} build: ${flavour === 'relaxed SIMD'}`);
      assert.deepEqual(more.filter((e) => !/Failed to load resource/.test(e)), []);
    } finally {
      await other.close();
      await isolated.close();
    }
  });

  it('logged no errors', () => {
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

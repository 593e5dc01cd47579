// End-to-end test of panel 9, "inside the forward pass, timed", in headless Chromium: the per-op timings the
// engine measured for one forward of the text (a bar per op kind with its time, GFLOP/s and share of the
// measured peak) on the CPU path for the default model and MiniLM, what the panel says on WebGPU, and the
// parity check button: the PyTorch golden case shipped beside the default model, run through the engine in
// the page, passes with max |Δ| within the golden tests' tolerances on the CPU and on WebGPU.
// Screenshots: artifacts/screenshots/timings-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, WWW } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const configOf = (id) => JSON.parse(readFileSync(join(WWW, manifest.models.find((m) => m.id === id).path, 'config.json'), 'utf8'));
const MINILM = manifest.models.find((m) => m.id === 'minilm-sentiment');

let srv;
let browser;
let page;
let errors;

async function backend(b, label) {
  await page.selectOption('#backend-select', b);
  await page.waitForFunction((l) => new RegExp(`Ready · .*${l}`).test(document.getElementById('status-text').textContent), label, { timeout: 300000 });
}

/** Classify `text` with panel 9 on screen; the timings the page drew for it. */
async function timed(text) {
  await page.evaluate(() => (window.__timings = []));
  await classify(page, text);
  await page.locator('#timings').scrollIntoViewIfNeeded();
  await page.waitForFunction((t) => window.__timings.some((d) => d.text === t), text, { timeout: 120000 }).catch(async (e) => {
    throw new Error(`no timings drawn for "${text}": ${e.message}; messages: ${await page.textContent('#messages')}`);
  });
  return page.evaluate((t) => window.__timings.find((x) => x.text === t), text);
}

/** Per-op checks on a CPU timing `t` of model `id`: the bars are the engine's numbers, FLOPs are counted right. */
async function checkCpuTimings(t, id) {
  const c = configOf(id);
  const [L, d] = [c.num_layers ?? c.num_hidden_layers, c.hidden_size];
  assert.equal(t.backend, 'cpu');
  assert.equal(t.note, null);
  assert.ok(t.runs >= 1 && t.runs <= 200, `${t.runs} forwards timed (≥ 50 ms of them, at most 200)`);
  // A 2-core x86 machine's wasm SIMD multiply-add peak is some tens of GFLOP/s, never thousands.
  assert.ok(t.peakGflops > 0.05 && t.peakGflops < 500, `measured peak ${t.peakGflops} GFLOP/s`);
  const attn = t.ops.find((o) => o.op.startsWith('attention'));
  assert.equal(attn.calls, L);
  assert.equal(attn.flops, 4 * t.seq * t.seq * d * L);
  const qkv = t.ops.find((o) => o.op === `matmul+bias ${d}→${3 * d}`);
  assert.ok(qkv, `QKV projection among ${t.ops.map((o) => o.op)}`);
  assert.equal(qkv.flops, 2 * t.seq * d * 3 * d * L);
  const sum = t.ops.reduce((s, o) => s + o.ms, 0);
  assert.ok(sum <= t.totalMs + 1e-6 && sum > 0, `ops ${sum} ms within the forward's ${t.totalMs} ms`);
  // One bar per op, drawn from those numbers.
  const rows = await page.$$eval('#tim-bars .tim-row', (els) => els.map((e) => ({ op: e.dataset.op, ms: Number(e.dataset.ms), gflops: Number(e.dataset.gflops), text: e.textContent })));
  assert.deepEqual(rows.map((r) => r.op), t.ops.map((o) => o.op));
  rows.forEach((r, i) => {
    assert.equal(r.ms, t.ops[i].ms);
    const g = t.ops[i].ms > 0 ? t.ops[i].flops / (t.ops[i].ms * 1e6) : 0;
    assert.ok(Math.abs(r.gflops - g) <= 1e-9 * Math.max(1, g), `${r.op}: GFLOP/s ${r.gflops} vs ${g}`);
    if (t.ops[i].flops > 0 && t.ops[i].ms > 0) assert.match(r.text, /GFLOP\/s · [\d.]+ % of peak/);
  });
  assert.match(await page.textContent('#tim-summary'), /% of the measured peak/);
  // The peak is the matmul's own microkernel without memory traffic: the whole forward stays below it.
  assert.ok(t.flops / (t.totalMs * 1e6) < t.peakGflops, `forward ${t.flops / (t.totalMs * 1e6)} GFLOP/s vs peak ${t.peakGflops}`);
}

/** Click the parity button; the answer drawn. */
async function parity() {
  await page.evaluate(() => (window.__parity = null));
  await page.click('#tim-parity-btn');
  await page.waitForFunction(() => window.__parity || document.getElementById('tim-parity').dataset.state === 'error', null, { timeout: 300000 });
  const p = await page.evaluate(() => window.__parity);
  assert.ok(p, `parity failed: ${await page.textContent('#tim-parity')}`);
  assert.equal(await page.getAttribute('#tim-parity', 'data-state'), p.ok ? 'pass' : 'fail');
  return p;
}

describe('panel 9: inside the forward pass, timed', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    await page.addInitScript(() => {
      window.__timings = [];
      document.addEventListener('timings-drawn', (e) => window.__timings.push(e.detail));
      document.addEventListener('parity-drawn', (e) => (window.__parity = e.detail));
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('default model on the CPU: a bar per op with GFLOP/s and share of the peak; parity vs PyTorch passes', async () => {
    await backend('cpu', 'CPU');
    const t = await timed('A quiet, beautifully acted film that stays with you.');
    await checkCpuTimings(t, manifest.default);
    console.log(`default model, CPU: ${t.seq} tokens, ${t.totalMs.toFixed(2)} ms, ${(t.flops / 1e6).toFixed(1)} MFLOP, peak ${t.peakGflops.toFixed(1)} GFLOP/s (${t.peakKernel}); ${t.ops.map((o) => `${o.op} ${o.ms.toFixed(3)}`).join(', ')}`);
    const p = await parity();
    assert.ok(p.ok && p.idsEqual, JSON.stringify(p));
    assert.equal(p.model, manifest.default);
    assert.equal(p.backend, 'cpu');
    assert.ok(p.maxAbsDiff > 0 && p.maxAbsDiff < 1e-4, `max |Δ| ${p.maxAbsDiff}`);
    assert.deepEqual(p.compared.map((c) => c.what).slice(-3), ['pooled', 'logits', 'probabilities']);
    const drawn = await page.$$eval('#tim-parity tr[data-what]', (els) => els.map((e) => [e.dataset.what, Number(e.dataset.maxAbsDiff)]));
    assert.deepEqual(drawn, p.compared.map((c) => [c.what, c.maxAbsDiff]));
    console.log(`parity on the CPU: ${p.texts} texts, max |Δ| ${p.maxAbsDiff.toExponential(2)}`);
    await page.locator('#timings').screenshot({ path: join(shotDir(), 'timings-default-cpu.png') });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('WebGPU: per-op GPU times from timestamp queries (or the panel says why not); parity passes on the GPU', async (t) => {
    if (!(await page.evaluate(() => Boolean(navigator.gpu)))) {
      t.skip('no WebGPU in this browser');
      return;
    }
    const adapterHasStamps = await page.evaluate(async () => Boolean((await navigator.gpu.requestAdapter())?.features.has('timestamp-query')));
    await backend('gpu', 'WebGPU');
    const tm = await timed('The plot was a mess and I was bored within ten minutes.');
    assert.notEqual(tm.backend, 'cpu');
    assert.equal(tm.peakGflops, 0);
    assert.equal(await page.isVisible('#tim-note'), true);
    if (adapterHasStamps) {
      // Every op kind the CPU path times, each with the device's time of its dispatches.
      assert.ok(tm.ops.length >= 5, JSON.stringify(tm.ops));
      assert.ok(tm.ops.every((o) => o.ms >= 0) && tm.ops.some((o) => o.ms > 0), JSON.stringify(tm.ops));
      assert.ok(tm.ops.some((o) => o.op.startsWith('attention')) && tm.ops.some((o) => o.op === 'layer norm'));
      assert.match(tm.note, /GPU timestamps/);
      const bars = await page.$$eval('#tim-bars .tim-row', (els) => els.map((e) => [e.dataset.op, Number(e.dataset.ms)]));
      assert.deepEqual(bars, tm.ops.map((o) => [o.op, o.ms]));
      assert.doesNotMatch(await page.textContent('#tim-bars'), /% of peak/);
    } else {
      assert.equal(tm.ops.length, 0);
      assert.match(tm.note, /timestamp queries/);
      assert.match(await page.textContent('#tim-note'), /timestamp queries/);
    }
    console.log(`WebGPU timings: adapter timestamp-query ${adapterHasStamps}; ${tm.ops.map((o) => `${o.op} ${o.ms.toFixed(3)}`).join(', ')}`);
    assert.ok(tm.totalMs > 0);
    const p = await parity();
    assert.ok(p.ok && p.idsEqual, JSON.stringify(p));
    assert.equal(p.backend, 'webgpu');
    assert.ok(p.maxAbsDiff < 1e-4, `max |Δ| ${p.maxAbsDiff}`);
    console.log(`parity on WebGPU: max |Δ| ${p.maxAbsDiff.toExponential(2)}; note: ${tm.note}`);
    await page.locator('#timings').screenshot({ path: join(shotDir(), 'timings-default-webgpu.png') });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('MiniLM on the CPU: every op of the 6 layers timed', async (t) => {
    if (!MINILM || !existsSync(join(WWW, MINILM.path, 'config.json'))) {
      t.skip('MiniLM is not in www/models (make setup + make models)');
      return;
    }
    await backend('cpu', 'CPU');
    await page.selectOption('#model-select', MINILM.id);
    await page.waitForFunction(() => /Ready · MiniLM/.test(document.getElementById('status-text').textContent), null, { timeout: 300000 });
    const tm = await timed('a warm, clever, well-acted film');
    await checkCpuTimings(tm, MINILM.id);
    const gelu = tm.ops.find((o) => /gelu/.test(o.op));
    assert.ok(gelu && gelu.calls === 6, `the FFN's first matmul with GELU: ${tm.ops.map((o) => o.op)}`);
    console.log(`MiniLM, CPU: ${tm.seq} tokens, ${tm.totalMs.toFixed(2)} ms, ${(tm.flops / 1e6).toFixed(1)} MFLOP = ${(tm.flops / tm.totalMs / 1e6).toFixed(1)} GFLOP/s`);
    await page.locator('#timings').screenshot({ path: join(shotDir(), 'timings-minilm-cpu.png') });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

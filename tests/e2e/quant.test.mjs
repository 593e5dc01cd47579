// End-to-end: the int8 default model in the page (www/models.json `precision: "int8"` entries, the folders
// `classify quantize` wrote). Pick it, classify on the CPU and — where the browser has WebGPU — on the GPU,
// and check the numbers: the int8 model agrees with the f32 one on the label and within 0.05 in probability
// (its own numbers, not a copy), and the GPU's int8 probabilities equal the CPU's within 1e-2 (the logits
// are exact up to one-step flips of the activation quantization, ≤ 1.5e-2 — see tests/common/gpu_quant_checks.rs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve, launch, watch, classify, WWW } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const int8 = manifest.models.find((m) => m.id === 'sentiment-ln-int8');
const TEXT = 'A quiet, beautifully acted film that stays with you.';
// May be missing: the relaxed-SIMD build, models whose folders are absent (as in tests/e2e/delight.test.mjs).
const absent = manifest.models.filter((m) => !existsSync(join(WWW, m.path, 'config.json')));
const OPTIONAL = new RegExp(`/(simd-detect\\.js|pkg-relaxed/.*${absent.map((m) => `|${m.path}.*`).join('')})$`);
const missing = [];

let srv;
let browser;
let page;
let errors;

let runs = 0;

/** `model` on `backend`, then TEXT classified by it (a different text first: the worker answers requests in
 * order, so that answer comes after both loads, and TEXT's result is a fresh run, not the one on screen). */
async function use(model, backend) {
  await page.selectOption('#backend-select', backend);
  await page.selectOption('#model-select', model);
  await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, model, { timeout: 90000 });
  await classify(page, `warm-up ${++runs}`);
  return classify(page, TEXT);
}

describe('the int8 model in the page', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    page.on('response', (r) => {
      if (r.status() >= 400) missing.push(r.url());
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 90000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('is listed with its precision and classifies on the CPU like the f32 model, with its own numbers', async () => {
    assert.equal(int8.precision, 'int8');
    assert.equal(JSON.parse(readFileSync(join(WWW, int8.path, 'config.json'), 'utf8')).precision, 'int8');
    const f32 = await use(int8.of, 'cpu');
    const q = await use(int8.id, 'cpu');
    assert.equal(q.model, int8.id);
    assert.equal(q.backend, 'cpu');
    assert.equal(q.label, f32.label);
    for (const [i, p] of q.probabilities.entries()) {
      assert.ok(Math.abs(p - f32.probabilities[i]) < 0.05, `label ${i}: int8 ${p} vs f32 ${f32.probabilities[i]}`);
    }
    assert.notDeepEqual(q.probabilities, f32.probabilities);
    console.log(`# int8 ${q.probabilities.join(', ')} vs f32 ${f32.probabilities.join(', ')} (CPU)`);
  });

  it('runs on WebGPU where the browser has it, equal to the CPU int8 model', async (t) => {
    const cpu = await use(int8.id, 'cpu');
    const gpu = await use(int8.id, 'gpu');
    if (gpu.backend !== 'gpu') {
      t.skip(`SKIPPED: no WebGPU in this browser (${gpu.backend})`);
      return;
    }
    console.log(`# int8 on WebGPU ${gpu.probabilities.join(', ')} vs CPU ${cpu.probabilities.join(', ')}`);
    assert.equal(gpu.label, cpu.label);
    for (const [i, p] of gpu.probabilities.entries()) {
      assert.ok(Math.abs(p - cpu.probabilities[i]) < 1e-2, `label ${i}: GPU ${p} vs CPU ${cpu.probabilities[i]}`);
    }
  });

  it('logged no errors', () => {
    assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)), []);
    assert.deepEqual(missing.filter((u) => !OPTIONAL.test(new URL(u).pathname)), []);
  });
});

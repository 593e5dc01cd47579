// End-to-end tests of panel 8 (teach it your labels) and of bringing your own model, in headless Chromium:
// the engine trains a head in the worker and the page classifies with the new labels; a saved head loads back to
// the same numbers; bad teaching sets and bad model folders are clear messages and the page keeps working.
// Screenshots: artifacts/screenshots/teach-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, ROOT, OPTIONAL_404 } from './helpers.mjs';

let srv;
let browser;
let page;
let errors;

const TEACH = `urgent: call me back right now, the server is down
urgent: the client is waiting, we need this today
urgent: emergency in the lab, come immediately
not urgent: whenever you have time, have a look at this
not urgent: no rush, next month is fine
not urgent: just sharing an article I liked`;

async function message() {
  await page.waitForSelector('#messages .msg', { timeout: 60000 });
  return page.textContent('#messages');
}

describe('teach and bring your own model', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    errors = watch(page);
    // The relaxed-SIMD build, its detector and models not on this site are optional (helpers.mjs
    // OPTIONAL_404): their 404s are not errors; any other failed request is.
    const optional = OPTIONAL_404;
    page.on('response', (r) => {
      if (r.status() >= 400 && !optional.test(new URL(r.url()).pathname)) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('bad teaching sets are clear messages; the page keeps classifying', async () => {
    for (const [text, want] of [
      ['urgent: call me now\nUrgent: asap', /given twice/],
      ['urgent: call me now', /at least two labels/],
      ['urgent: call me now\nnot urgent: call me now', /both `urgent` and `not urgent`/],
      ['just a line without a label', /no "label:"/],
    ]) {
      await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((m) => m.remove()));
      await page.fill('#teach-text', text);
      await page.click('#teach-btn');
      assert.match(await message(), want);
    }
    const r = await classify(page, 'a wonderful film');
    assert.ok(['positive', 'negative'].includes(r.label));
  });

  it('teaches two labels, classifies with them, saves the head and loads it back to the same numbers', async () => {
    await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((m) => m.remove()));
    await page.fill('#teach-text', TEACH);
    await page.click('#teach-btn');
    await page.waitForFunction(() => document.getElementById('teach').dataset.accuracy, null, { timeout: 60000 });
    assert.equal(Number(await page.getAttribute('#teach', 'data-accuracy')), 1);
    assert.deepEqual(JSON.parse(await page.getAttribute('#teach', 'data-labels')), ['urgent', 'not urgent']);
    console.log(`taught in the page: features ${await page.getAttribute('#teach', 'data-features-ms')} ms, training ${await page.getAttribute('#teach', 'data-train-ms')} ms`);
    const text = 'please come right now, it is an emergency';
    const taught = await classify(page, text);
    assert.ok(['urgent', 'not urgent'].includes(taught.label), taught.label);
    assert.equal(taught.probabilities.length, 2);
    await page.locator('#teach').screenshot({ path: join(shotDir(), 'teach-panel.png') });
    await page.locator('#classify').screenshot({ path: join(shotDir(), 'teach-classify.png') });
    // Save: two downloads; reload the page (a fresh engine with the sentiment head) and load them back.
    const dir = mkdtempSync(join(tmpdir(), 'head-'));
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await page.click('#teach-save');
    for (let i = 0; i < 100 && downloads.length < 2; i++) await page.waitForTimeout(100);
    assert.deepEqual(downloads.map((d) => d.suggestedFilename()).sort(), ['head.json', 'head.safetensors']);
    for (const d of downloads) await d.saveAs(join(dir, d.suggestedFilename()));
    await page.reload();
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
    await page.setInputFiles('#teach-load', [join(dir, 'head.json'), join(dir, 'head.safetensors')]);
    await page.waitForFunction(() => /Loaded a head/.test(document.getElementById('teach-report').textContent), null, { timeout: 60000 });
    const again = await classify(page, `${text} `.trim());
    assert.equal(again.label, taught.label);
    assert.deepEqual(again.probabilities, taught.probabilities);
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('a model folder without config.json or with a 4 GB header claim is refused; the current model keeps running', async () => {
    await page.reload();
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
    const dir = mkdtempSync(join(tmpdir(), 'own-'));
    const m = join(ROOT, 'tests/fixtures/models/prenorm-gelu');
    writeFileSync(join(dir, 'vocab.txt'), readFileSync(join(m, 'vocab.txt')));
    await page.setInputFiles('#own-files', [join(dir, 'vocab.txt')]);
    assert.match(await message(), /no config\.json/);
    await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((x) => x.remove()));
    const claim = Buffer.alloc(1024, 32);
    claim.writeBigUInt64LE(4_000_000_000n, 0);
    writeFileSync(join(dir, 'config.json'), readFileSync(join(m, 'config.json')));
    writeFileSync(join(dir, 'model.safetensors'), claim);
    await page.setInputFiles('#own-files', ['config.json', 'vocab.txt', 'model.safetensors'].map((f) => join(dir, f)));
    assert.match(await message(), /claims a 4000000000-byte header/);
    const still = await classify(page, 'a wonderful film');
    assert.ok(['positive', 'negative'].includes(still.label), 'the current model still runs');
  });

  it('loads one of our model folders from picked files and every panel draws it', async () => {
    await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((x) => x.remove()));
    const m = join(ROOT, 'tests/fixtures/models/prenorm-gelu');
    await page.setInputFiles('#own-files', ['config.json', 'vocab.txt', 'model.safetensors'].map((f) => join(m, f)));
    await page.waitForFunction(() => /yours/.test(document.getElementById('status-text').textContent), null, { timeout: 120000 });
    const r = await classify(page, 'a strange little film');
    assert.equal(r.model.startsWith('user-'), true, r.model);
    const cfg = JSON.parse(readFileSync(join(m, 'config.json'), 'utf8'));
    assert.equal(Number(await page.getAttribute('#attention', 'data-layers')), cfg.num_layers);
    await page.locator('#classify').screenshot({ path: join(shotDir(), 'own-model-classify.png') });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

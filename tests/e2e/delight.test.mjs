// End-to-end: the DeLighT sentiment model in the page. Pick it, classify, and check that the architecture
// panel draws its blocks from the engine (depth, width, DExTra layers and groups, params and MACs per block
// next to the standard layer) and that the attention panel shows one head per block; screenshots of both
// panels go to artifacts/screenshots/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, WWW } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const entry = manifest.models.find((m) => m.id === 'sentiment-delight');
const config = JSON.parse(readFileSync(join(WWW, entry.path, 'config.json'), 'utf8'));
const absent = manifest.models.filter((m) => !existsSync(join(WWW, m.path, 'config.json')));
const OPTIONAL = new RegExp(`/(simd-detect\\.js|pkg-relaxed/.*${absent.map((m) => `|${m.path}.*`).join('')})$`);

let srv;
let browser;
let page;
let errors;
const missing = [];

describe('the DeLighT model in the page', () => {
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

  it('loads the DeLighT model, classifies, and draws its blocks and single-head attention', async () => {
    await page.selectOption('#model-select', entry.id);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, entry.id, { timeout: 90000 });
    const r = await classify(page, 'A quiet, beautifully acted film that stays with you.');
    assert.equal(r.model, entry.id);
    assert.equal(r.probabilities.length, config.labels.length);
    assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);

    const arch = await page.evaluate(() => {
      const s = document.getElementById('architecture');
      const rows = [...document.querySelectorAll('#arch-table tr')].map((tr) => [...tr.children].map((c) => c.textContent));
      const c = document.getElementById('arch-blocks');
      return { hidden: s.hidden, kind: s.dataset.kind, blocks: Number(s.dataset.blocks), params: Number(s.dataset.encoderParams), rows, h: c.height, w: c.width };
    });
    assert.equal(arch.hidden, false);
    assert.equal(arch.kind, 'delight');
    assert.equal(arch.blocks, config.delight.blocks);
    // Header + one row per block + the encoder total; block rows name depth and width.
    assert.equal(arch.rows.length, config.delight.blocks + 2);
    assert.match(arch.rows[1][1], new RegExp(`^${config.delight.min_depth} GLT, w ${config.delight.width_mult}`));
    assert.match(arch.rows[config.delight.blocks][1], new RegExp(`^${config.delight.max_depth} GLT`));
    const total = arch.rows[arch.rows.length - 1];
    assert.equal(Number(total[2].replace(/,/g, '')), arch.params);
    // The encoder is at most half of the standard encoder with as many layers.
    assert.ok(arch.params <= 0.5 * Number(total[4].replace(/,/g, '')), `${total}`);
    assert.ok(arch.h > 100 && arch.w > 300);
    // A hover read-out names a GLT layer's groups.
    await page.locator('#arch-blocks').scrollIntoViewIfNeeded();
    const box = await page.locator('#arch-blocks').boundingBox();
    let tip = '';
    for (let x = 70; x < 400 && !/GLT layer/.test(tip); x += 6) {
      await page.mouse.move(box.x + x, box.y + 18 + 51);
      tip = (await page.textContent('#tooltip').catch(() => '')) || '';
    }
    assert.match(tip, /GLT layer \d+[\s\S]*groups/);

    const att = await page.evaluate(() => {
      const a = document.getElementById('attention');
      return { layers: Number(a.dataset.layers), heads: Number(a.dataset.heads), dk: document.getElementById('att-dk').textContent };
    });
    assert.equal(att.layers, config.delight.blocks);
    assert.equal(att.heads, 1);
    assert.match(att.dk, new RegExp(`= ${config.delight.d_o} here`));
    await page.locator('#architecture').screenshot({ path: join(shotDir(), 'delight-architecture.png') });
    await page.locator('#attention').screenshot({ path: join(shotDir(), 'delight-attention.png') });
  });

  it('shows the standard model as two standard blocks', async () => {
    await page.selectOption('#model-select', manifest.default);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, manifest.default, { timeout: 90000 });
    await classify(page, 'one of the best films of the year');
    const kind = await page.evaluate(() => document.getElementById('architecture').dataset.kind);
    assert.equal(kind, 'transformer');
  });

  it('logged no errors', () => {
    // 404s are checked by URL below (the relaxed-SIMD build and absent models may be missing).
    assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)), []);
    assert.deepEqual(missing.filter((u) => !OPTIONAL.test(new URL(u).pathname)), []);
  });
});

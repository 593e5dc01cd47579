// End-to-end tests in headless Chromium of (1) shareable state: the text, the model, the backend and the
// panels' choices live in the URL's hash, and opening or reloading that URL restores them; (2) bringing your
// own Hugging Face folder through the folder picker: all-MiniLM-L6-v2 (models/minilm: config.json,
// vocab.txt, model.safetensors, 1_Pooling/, sentence-transformers files) loads, is taught labels, classifies,
// and the panels draw it; a folder without config.json is a clear message and the current model keeps
// working. Screenshots: artifacts/screenshots/share-*.png, own-folder-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, copyFileSync, existsSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, ROOT, WWW } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const OTHER = manifest.models.find((m) => m.id !== manifest.default && m.id.startsWith('sentiment-')).id;

let srv;
let browser;
let page;
let errors;

const ready = (p, re) => p.waitForFunction((s) => new RegExp(s).test(document.getElementById('status-text').textContent), re, { timeout: 300000 });

/** What the page shows that the URL should restore. */
function shown(p) {
  return p.evaluate(() => ({
    text: document.getElementById('text').value,
    drawnText: document.getElementById('result').dataset.text,
    model: document.getElementById('model-select').value,
    drawnModel: document.getElementById('result').dataset.model,
    backend: document.getElementById('backend-select').value,
    ablate: document.getElementById('abl-mode').value,
    padded: document.getElementById('att-padded').checked,
    attTitle: document.getElementById('att-title').textContent,
    normLayer: document.getElementById('norm-layer').value,
    normWhich: document.getElementById('norm-which').value,
  }));
}

describe('shareable state and your own folder', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('text, model, backend and panel choices live in the URL; opening it (and reloading) restores them', async () => {
    await page.selectOption('#backend-select', 'cpu');
    await ready(page, 'Ready · .*CPU');
    await page.selectOption('#model-select', OTHER);
    await ready(page, `Ready · ${manifest.models.find((m) => m.id === OTHER).name.replace(/[·()]/g, '.')}`);
    const text = 'A haunting & slow film: 100% worth it? <b>yes</b> #2';
    await classify(page, text);
    await page.selectOption('#abl-mode', 'mean');
    await page.click('#att-grid button[aria-label="Layer 2, head 3"]');
    await page.selectOption('#norm-layer', { value: '1' });
    await page.selectOption('#norm-which', { value: '1' });
    const want = await shown(page);
    assert.equal(want.attTitle.replace(/\s+/g, ' '), 'Layer 2 · head 3');
    const url = page.url();
    const hash = new URLSearchParams(new URL(url).hash.slice(1));
    assert.equal(hash.get('text'), text);
    assert.equal(hash.get('model'), OTHER);
    assert.equal(hash.get('backend'), 'cpu');
    assert.equal(hash.get('ablate'), 'mean');
    assert.equal(hash.get('att'), '1.2');
    assert.equal(hash.get('norm'), '1.1');
    // The link in a fresh tab: everything restored, the text classified by the model the link names.
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const otherErrors = watch(other);
    await other.goto(url);
    await other.waitForFunction((t) => document.getElementById('result').dataset.text === t && document.getElementById('result').dataset.state === 'live', text, { timeout: 120000 });
    const got = await shown(other);
    assert.deepEqual({ ...got, attTitle: got.attTitle.replace(/\s+/g, ' ') }, { ...want, attTitle: 'Layer 2 · head 3' });
    assert.equal(got.drawnModel, OTHER);
    assert.match(await other.textContent('#foot-build'), /CPU/);
    await other.locator('#classify').screenshot({ path: join(shotDir(), 'share-restored-classify.png') });
    await other.locator('#attention').screenshot({ path: join(shotDir(), 'share-restored-attention.png') });
    // Reloading the same tab gives the same state.
    await other.reload();
    await other.waitForFunction((t) => document.getElementById('result').dataset.text === t && document.getElementById('result').dataset.state === 'live', text, { timeout: 120000 });
    assert.deepEqual((await shown(other)).model, OTHER);
    assert.equal((await shown(other)).normLayer, '1');
    // A link naming a model this page does not have: said so, the default model runs, the text is kept.
    await other.goto(`${srv.url}#model=no-such-model&text=${encodeURIComponent('fine film')}`);
    await other.waitForFunction(() => document.getElementById('result').dataset.text === 'fine film', null, { timeout: 120000 });
    assert.match(await other.textContent('#messages'), /does not have \(no-such-model\)/);
    assert.equal(await other.inputValue('#model-select'), OTHER, 'an edited hash in the same tab keeps the model that runs');
    assert.equal(new URLSearchParams(new URL(other.url()).hash.slice(1)).get('model'), OTHER, 'and the URL says so again');
    await other.close();
    // The same link opened fresh: the default model.
    const third = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await third.goto(`${srv.url}#model=no-such-model&text=${encodeURIComponent('fine film')}`);
    await third.waitForFunction(() => document.getElementById('result').dataset.text === 'fine film' && document.getElementById('result').dataset.state === 'live', null, { timeout: 120000 });
    assert.match(await third.textContent('#messages'), /does not have \(no-such-model\); showing /);
    assert.equal(await third.inputValue('#model-select'), manifest.default, 'a fresh load runs the default model');
    await third.close();
    assert.deepEqual(otherErrors.filter((e) => !/Failed to load resource/.test(e)), []);
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('a folder without config.json through the folder picker: a clear message, the current model keeps working', async () => {
    await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((x) => x.remove()));
    const dir = join(mkdtempSync(join(tmpdir(), 'own-')), 'not-a-model');
    mkdirSync(dir);
    copyFileSync(join(ROOT, 'models/sentiment-ln/vocab.txt'), join(dir, 'vocab.txt'));
    const before = await page.inputValue('#model-select');
    await page.setInputFiles('#own-folder', dir);
    await page.waitForSelector('#messages .msg.error', { timeout: 60000 });
    assert.match(await page.textContent('#messages'), /could not be loaded: .*no config\.json.*Still using/);
    assert.equal(await page.inputValue('#model-select'), before);
    const still = await classify(page, 'a wonderful film');
    assert.ok(['positive', 'negative'].includes(still.label), 'the current model still runs');
    await page.locator('#messages').screenshot({ path: join(shotDir(), 'own-folder-bad.png') });
  });

  it('a Hugging Face folder (all-MiniLM-L6-v2) through the folder picker: loads, is taught labels, classifies, panels draw', async (t) => {
    const minilm = join(ROOT, 'models/minilm');
    if (!existsSync(join(minilm, 'model.safetensors'))) {
      t.skip('models/minilm is missing (make setup)');
      return;
    }
    await page.evaluate(() => document.querySelectorAll('#messages .msg').forEach((x) => x.remove()));
    // The real folder: playwright reads a symlinked directory (models/minilm in a worktree) as empty.
    await page.setInputFiles('#own-folder', realpathSync(minilm));
    const picked = await page.evaluate(() => [...document.getElementById('own-folder').files].map((f) => f.webkitRelativePath));
    assert.ok(picked.includes('minilm/1_Pooling/config.json') && picked.includes('minilm/model.safetensors'), `picked ${picked}`);
    await ready(page, 'minilm \\(yours\\).*no labels yet');
    assert.match(await page.textContent('#messages'), /has no labels: it is a sentence-embedding model/);
    assert.match(await page.inputValue('#model-select'), /^user-minilm-/);
    // Teach it the example labels (panel 8): the engine embeds the examples and trains a head on them.
    await page.locator('#teach').scrollIntoViewIfNeeded();
    await page.click('#teach-btn');
    await page.waitForFunction(() => /Trained/i.test(document.getElementById('teach-report').textContent), null, { timeout: 300000 }).catch(async (e) => {
      throw new Error(`no head trained: ${e.message}; report: ${await page.textContent('#teach-report')}; messages: ${await page.textContent('#messages')}`);
    });
    const r = await classify(page, 'the server is down, call me now');
    assert.equal(r.label, 'urgent');
    assert.ok(r.model.startsWith('user-minilm-'), r.model);
    assert.equal(Number(await page.getAttribute('#attention', 'data-layers')), 6);
    await page.locator('#classify').screenshot({ path: join(shotDir(), 'own-folder-minilm-classify.png') });
    await page.locator('#attention').screenshot({ path: join(shotDir(), 'own-folder-minilm-attention.png') });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

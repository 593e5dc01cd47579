// The page against a hostile model folder: markup in the label names (config.json), in the model's name
// and description (models.json) and in the text is shown as text and never runs; the CSP holds (no
// violation is even attempted); no request leaves the page's origin, from the page or its worker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, symlinkSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch, watch, classify, WWW } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const model = manifest.models.find((m) => m.id === manifest.default);
const HOSTILE_LABELS = [
  '<img src="http://evil.invalid/l.png" onerror="window.__pwned = 6">negative',
  '<script>window.__pwned = 7</script>positive',
];
const HOSTILE_NAME = '<img src=x onerror="window.__pwned = 4">Sentiment<script>window.__pwned = 5</script>';
const HOSTILE_TEXT = '<svg onload="window.__pwned = 8"></svg><a href="javascript:window.__pwned = 9">a great film</a>';

/** A copy of www/ (symlinks) whose default model has hostile labels, name and description. */
function hostileRoot() {
  const root = mkdtempSync(join(tmpdir(), 'hostile-www-'));
  for (const f of readdirSync(WWW)) {
    if (f !== 'models.json' && f !== 'models') symlinkSync(join(WWW, f), join(root, f));
  }
  const dir = join(root, model.path);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(WWW, model.path))) {
    if (f !== 'config.json') symlinkSync(join(WWW, model.path, f), join(dir, f));
  }
  const config = JSON.parse(readFileSync(join(WWW, model.path, 'config.json'), 'utf8'));
  assert.equal(config.labels.length, 2);
  config.labels = HOSTILE_LABELS;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const m = { ...model, name: HOSTILE_NAME, description: `<b onmouseover="window.__pwned = 10">${model.description}</b>` };
  writeFileSync(join(root, 'models.json'), JSON.stringify({ default: model.id, models: [m] }));
  return root;
}

describe('the page with a hostile model folder', () => {
  let root, srv, browser, page, errors;
  const requests = [];
  before(async () => {
    root = hostileRoot();
    srv = await serve(root);
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Every request of the page and of its worker (context-level events include dedicated workers).
    context.on('request', (r) => requests.push(r.url()));
    page = await context.newPage();
    errors = watch(page);
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows hostile labels, model name, description and text as text; nothing runs', async () => {
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 90000 });
    const r = await classify(page, HOSTILE_TEXT);
    assert.ok(HOSTILE_LABELS.includes(r.label), `label ${r.label}`);
    assert.equal(await page.textContent('#label'), r.label, 'the label is shown verbatim, as text');
    assert.equal(r.probabilities.length, 2);
    const option = await page.$eval(`#model-select option[value="${model.id}"]`, (o) => ({ text: o.textContent, title: o.title }));
    assert.equal(option.text, HOSTILE_NAME);
    assert.match(option.title, /^<b onmouseover=/);
    assert.match(await page.textContent('#status-text'), /<img src=x onerror=/, 'the status line names the model as text');
    await page.hover('#model-select');
    const dom = await page.evaluate(() => ({
      pwned: window.__pwned,
      handlers: document.querySelectorAll('[onerror], [onload], [onmouseover], a[href^="javascript:"], svg').length,
      inlineScripts: document.querySelectorAll('script:not([src])').length,
      violations: window.__violations,
    }));
    assert.deepEqual(dom, { pwned: undefined, handlers: 0, inlineScripts: 0, violations: [] });
    assert.equal(await page.inputValue('#text'), HOSTILE_TEXT);
  });

  it('sent no request outside its origin (page and worker)', async () => {
    const origin = new URL(srv.url).origin;
    assert.ok(requests.some((u) => /model\.safetensors$/.test(u)), `the worker's weight download is seen: ${requests.length} requests`);
    const foreign = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
    assert.deepEqual(foreign, []);
    const real = errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e));
    assert.deepEqual(real, []);
  });
});

// End-to-end tests of the page in real headless Chromium: load it from a local server, classify, check every
// panel renders from the engine's data, switch backends, try hostile and broken input, and save screenshots
// of each panel to artifacts/screenshots/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, ROOT, WWW, namePattern } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const modelConfig = (id) => JSON.parse(readFileSync(join(WWW, manifest.models.find((m) => m.id === id).path, 'config.json'), 'utf8'));
const config = modelConfig(manifest.default);

// Files the page may ask for that need not exist: the relaxed-SIMD build and its detector, a Hugging Face
// folder's weight index (single-file folders such as minilm-teacher have none), and the files of models
// listed in models.json but not on this server (large checkpoints are not in the repository).
const absent = manifest.models.filter((m) => !existsSync(join(WWW, m.path, 'config.json')));
const OPTIONAL = new RegExp(`/(simd-detect\\.js|pkg-relaxed/.*|models/[^/]+/model\\.safetensors\\.index\\.json${absent.map((m) => `|${m.path}.*`).join('')})$`);

// Clear-cut reviews, with the label both trained sentiment models give them.
const SENTENCES = [
  ['A quiet, beautifully acted film that stays with you.', 'positive'],
  ['The plot was a mess and I was bored within ten minutes.', 'negative'],
  ['one of the best films of the year', 'positive'],
];

let srv;
let browser;
let page;
let errors;
const missing = [];

async function shoot(name) {
  for (const id of ['classify', 'attention', 'positional', 'norms']) {
    await page.locator(`#${id}`).screenshot({ path: join(shotDir(), `${name}-${id}.png`) });
  }
}

describe('the page', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    page.on('response', (r) => {
      if (r.status() >= 400) missing.push(r.url());
    });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('paints the pre-computed example before the weights arrive, then the live model', async () => {
    let release;
    const gate = new Promise((r) => (release = r));
    await page.route('**/model.safetensors', async (route) => {
      await gate;
      await route.continue();
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="example"]', { timeout: 30000 });
    const example = await page.evaluate(() => ({
      label: document.getElementById('label').textContent,
      layers: document.getElementById('attention').dataset.layers,
    }));
    assert.ok(example.label.length > 0, 'example shows a label');
    assert.equal(Number(example.layers), config.num_layers);
    // The progress bar is showing while the download waits.
    assert.match(await page.textContent('#status-text'), /Download|Loading|example/i);
    release();
    await page.waitForSelector('#result[data-state="live"]', { timeout: 60000 });
    await page.unroute('**/model.safetensors');
    assert.match(await page.textContent('#status-text'), /Ready/);
  });

  it('classifies three sentences: a label per text, probabilities summing to 1', async () => {
    for (const [text, expected] of SENTENCES) {
      const r = await classify(page, text);
      assert.equal(r.label, expected, `"${text}" → ${r.label} (${r.probabilities})`);
      assert.equal(r.probabilities.length, config.labels.length);
      const sum = r.probabilities.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities sum to ${sum}`);
      const best = r.probabilities.indexOf(Math.max(...r.probabilities));
      assert.equal(r.label, config.labels[best], 'label is the most probable class');
      const bars = await page.$$eval('#probs .prob', (els) => els.map((e) => Number(e.dataset.prob)));
      assert.deepEqual(bars, r.probabilities);
      const meta = await page.textContent('#meta');
      // One inspect: 2 forwards on a LayerNorm model (its eval forward is also "alone"), 3 on a BatchNorm one.
      const forwards = config.norm === 'batch' ? 3 : 2;
      assert.match(meta, new RegExp(`Analysis [\\d.]+ ms · ${forwards} forwards`));
      assert.match(meta, /CPU|WebGPU/);
    }
    await shoot('cpu');
  });

  it('the example on disk is what the engine computes for its text', async () => {
    const ex = JSON.parse(readFileSync(join(WWW, 'example.json'), 'utf8'));
    const r = await classify(page, ex.analysis.text);
    const expected = ex.analysis.inspection.result.predictions[0];
    expected.probabilities.forEach((p, i) =>
      assert.ok(Math.abs(p - r.probabilities[i]) <= 1e-4 + 1e-3 * Math.abs(p), `example p[${i}] ${p} vs live ${r.probabilities[i]}`),
    );
    assert.equal(expected.label, r.label);
  });

  it('shows layers × heads attention maps of the right token count', async () => {
    await classify(page, SENTENCES[0][0]);
    const tokens = await page.$$eval('#tokens .tok', (els) => els.length);
    const a = await page.$eval('#attention', (e) => ({ ...e.dataset }));
    assert.equal(Number(a.layers), config.num_layers);
    assert.equal(Number(a.heads), config.num_heads);
    assert.equal(Number(a.tokens), tokens);
    const cells = await page.$$eval('#att-grid canvas', (cs) => cs.map((c) => ({ l: c.dataset.layer, h: c.dataset.head, s: c.dataset.size })));
    // One map per layer × head, plus the head average per layer.
    assert.equal(cells.length, config.num_layers * (config.num_heads + 1));
    for (const c of cells) assert.equal(Number(c.s), tokens);
    assert.equal(Number(await page.getAttribute('#att-map', 'data-size')), tokens);
    // Selecting another map and padding to the batch change what the large map shows.
    await page.click(`#att-grid canvas[data-layer="${config.num_layers - 1}"][data-head="1"]`);
    assert.match(await page.textContent('#att-title'), new RegExp(`Layer ${config.num_layers} · head 2`));
    await page.check('#att-padded');
    const padded = await page.$eval('#attention', (e) => Number(e.dataset.tokens));
    assert.ok(padded > tokens, `padded to the longer text: ${padded} > ${tokens}`);
    await page.locator('#attention').screenshot({ path: join(shotDir(), 'attention-padded.png') });
    await page.uncheck('#att-padded');
    // Hovering the large map names the query and key tokens and the weight.
    const box = await page.locator('#att-map').boundingBox();
    await page.locator('#att-map').hover({ position: { x: box.width * 0.6, y: box.height * 0.75 } });
    assert.match(await page.textContent('#tooltip'), /query .*key .*weight 0\.\d{4}/s);
  });

  it('draws the positional table, curves and similarity from real data', async () => {
    const p = await page.$eval('#positional', (e) => ({ ...e.dataset }));
    assert.equal(Number(p.rows), config.max_len);
    assert.equal(Number(p.dims), config.hidden_size);
    assert.equal(p.kind, config.positional_encoding);
    for (const id of ['pe-table', 'pe-curves', 'pe-sim']) {
      const colours = await page.$eval(`#${id}`, (c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size;
      });
      assert.ok(colours > 20, `${id} has ${colours} colours: drawn from data`);
    }
  });

  it('LayerNorm vs BatchNorm: LN output stays put in a batch, BN output shifts', async () => {
    // The panel runs its comparison models once it is on screen.
    await page.locator('#norms').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const n = document.getElementById('norms').dataset;
      return n.stale === 'false' && n.text === document.getElementById('result').dataset.text;
    }, null, { timeout: 60000 });
    const n = await page.$eval('#norms', (e) => ({ ...e.dataset }));
    assert.equal(n.ready, 'true');
    assert.ok(Number(n.lnMaxShift) < 1e-5, `LN output moved by ${n.lnMaxShift}`);
    assert.ok(Number(n.bnMaxShift) > 1e-3, `BN output moved by only ${n.bnMaxShift}`);
    assert.equal(await page.getAttribute('#ln-mean', 'data-kind'), 'layer');
    assert.equal(await page.getAttribute('#bn-mean', 'data-kind'), 'batch');
    const lnPred = await page.$$eval('#ln-pred .prob', (els) => els.map((e) => Number(e.dataset.prob)));
    const bnPred = await page.$$eval('#bn-pred .prob', (els) => els.map((e) => Number(e.dataset.prob)));
    assert.equal(lnPred.length, config.labels.length);
    assert.equal(bnPred.length, config.labels.length);
    // Another layer and norm re-render from the trace.
    await page.selectOption('#norm-layer', { value: String(config.num_layers - 1) });
    await page.selectOption('#norm-which', { value: '1' });
    assert.equal(await page.$eval('#norms', (e) => e.dataset.layer), String(config.num_layers - 1));
    assert.ok(Number(await page.$eval('#norms', (e) => e.dataset.lnMaxShift)) < 1e-5);
    assert.equal(Number(await page.getAttribute('#ln-out', 'data-cols')), config.hidden_size);
  });

  it('gives the same label and probabilities on WebGPU and on the CPU', async (t) => {
    await page.selectOption('#backend-select', 'cpu');
    const cpu = await classify(page, SENTENCES[1][0]);
    assert.equal(cpu.backend, 'cpu');
    await page.selectOption('#backend-select', 'gpu');
    await page.waitForFunction(() => !document.querySelector('#backend-select').disabled);
    const gpu = await classify(page, `${SENTENCES[1][0]} `); // a new text so the page reclassifies
    if (gpu.backend !== 'gpu') {
      const why = await page.textContent('#messages');
      await page.selectOption('#backend-select', 'auto');
      assert.match(why, /WebGPU is not available/, 'the page says why it fell back');
      // A missing adapter fails under REQUIRE_GPU=1 (CI); an engine built without a GPU path only skips.
      if (process.env.REQUIRE_GPU === '1' && !/no WebGPU path/.test(why)) assert.fail(`REQUIRE_GPU=1 but the page ran on ${gpu.backend}: ${why}`);
      console.log(`SKIPPED: WebGPU comparison: ${why.trim()}`);
      t.skip(`WebGPU unavailable: ${why.trim()}`);
      return;
    }
    await shoot('webgpu');
    assert.equal(gpu.label, cpu.label);
    gpu.probabilities.forEach((p, i) => assert.ok(Math.abs(p - cpu.probabilities[i]) <= 1e-4, `p[${i}] gpu ${p} cpu ${cpu.probabilities[i]}`));
    await page.selectOption('#backend-select', 'cpu');
    const back = await classify(page, SENTENCES[1][0]);
    assert.deepEqual(back.probabilities, cpu.probabilities);
  });

  it('shows a <script> in the input as text and never runs it', async () => {
    await page.selectOption('#backend-select', 'auto');
    const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> great movie';
    const r = await classify(page, evil);
    assert.ok(config.labels.includes(r.label));
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.$$eval('main script, main img, #messages script', (e) => e.length), 0);
    const toks = await page.$$eval('#tokens .tok', (els) => els.map((e) => e.firstChild.textContent));
    assert.ok(toks.includes('<'), `tokens shown as text: ${toks.join(' ')}`);
    assert.equal(await page.inputValue('#text'), evil);
  });

  it('says when the text is truncated to the model window, and keeps working', async () => {
    const long = Array.from({ length: config.max_len + 20 }, (_, i) => (i % 2 ? 'good' : 'film')).join(' ');
    await classify(page, long);
    assert.match(await page.textContent('#messages'), /longer than this model's window of \d+ tokens/);
    assert.ok((await page.$$eval('#tokens .tok', (e) => e.length)) >= config.max_len);
    const r = await classify(page, SENTENCES[2][0]);
    assert.ok(config.labels.includes(r.label));
    assert.doesNotMatch(await page.textContent('#messages'), /longer than/);
  });

  it('switches to the BatchNorm model and back', async () => {
    const bn = manifest.models.find((m) => m.compare === 'batch');
    await page.selectOption('#model-select', bn.id);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, bn.id, { timeout: 60000 });
    const r = await classify(page, SENTENCES[0][0]);
    assert.equal(r.model, bn.id);
    await page.selectOption('#model-select', manifest.default);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, manifest.default, { timeout: 60000 });
  });

  it('runs the f16 MiniLM teacher (an HF folder) with PyTorch\'s probabilities', async (t) => {
    const teacher = manifest.models.find((m) => m.id === 'minilm-teacher');
    if (!teacher || absent.includes(teacher)) {
      t.skip('minilm-teacher is not on this site');
      return;
    }
    // tests/fixtures/golden/minilm-teacher.json: transformers.BertModel + mean pooling + the folder's classifier.
    const golden = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'golden', 'minilm-teacher.json'), 'utf8'));
    const [text, want] = [golden.batches[0].texts[1], golden.batches[0].probs[1]];
    await page.selectOption('#model-select', teacher.id);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, teacher.id, { timeout: 120000 });
    const r = await classify(page, text);
    assert.equal(r.model, teacher.id);
    assert.equal(r.label, golden.batches[0].labels[1]);
    r.probabilities.forEach((p, i) => assert.ok(Math.abs(p - want[i]) <= 1e-5, `p[${i}] ${p} vs PyTorch ${want[i]}`));
    await page.selectOption('#model-select', manifest.default);
    await page.waitForFunction((id) => document.getElementById('result').dataset.model === id, manifest.default, { timeout: 60000 });
  });

  it('does not download the weights again on reload (Cache API)', async () => {
    const before = srv.requests.get(`/${manifest.models[0].path}model.safetensors`) || 0;
    assert.ok(before >= 1);
    await page.reload();
    await page.waitForSelector('#result[data-state="live"]', { timeout: 60000 });
    assert.equal(srv.requests.get(`/${manifest.models[0].path}model.safetensors`), before, 'weights came from the cache');
  });

  it('lists models whose files are absent as unavailable', async () => {
    const options = await page.$$eval('#model-select option', (os) => os.map((o) => ({ id: o.value, disabled: o.disabled })));
    assert.deepEqual(options.map((o) => o.id), manifest.models.map((m) => m.id));
    for (const o of options) assert.equal(o.disabled, absent.some((m) => m.id === o.id), `${o.id} disabled iff absent`);
  });

  it('has a strict CSP and raised no errors besides optional files', async () => {
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/);
    assert.equal(await page.$$eval('script:not([src])', (s) => s.length), 0, 'no inline script');
    const unexpected = missing.filter((u) => !OPTIONAL.test(new URL(u).pathname));
    assert.deepEqual(unexpected, []);
    const real = errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e));
    assert.deepEqual(real, []);
  });
});

describe('the page on a narrow screen', () => {
  it('fits a phone width and renders every panel', async () => {
    const s = await serve();
    const b = await launch();
    try {
      const p = await b.newPage({ viewport: { width: 390, height: 800 }, deviceScaleFactor: 2 });
      await p.goto(s.url);
      await p.waitForSelector('#result[data-state="live"]', { timeout: 60000 });
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
      // Canvases are backed at devicePixelRatio.
      const ratio = await p.$eval('#att-map', (c) => c.width / c.getBoundingClientRect().width);
      assert.ok(Math.abs(ratio - 2) < 0.05, `backing ratio ${ratio}`);
      await p.screenshot({ path: join(shotDir(), 'narrow-full.png'), fullPage: true });
    } finally {
      await b.close();
      await s.close();
    }
  });
});

describe('the page with corrupt weights', () => {
  it('shows a clear error and keeps working with the other model', async () => {
    const bn = manifest.models.find((m) => m.compare === 'batch');
    const s = await serve(WWW, { corrupt: (path) => path === `/${bn.path}model.safetensors` });
    const b = await launch();
    try {
      const p = await b.newPage({ viewport: { width: 1280, height: 900 } });
      await p.goto(s.url);
      await p.waitForSelector('#result[data-state="live"]', { timeout: 60000 });
      await p.selectOption('#model-select', bn.id);
      await p.waitForSelector('.msg.error', { timeout: 60000 });
      assert.match(await p.textContent('#messages'), new RegExp(`model "${bn.id}" could not be loaded: .*(safetensors|weights)`, 'i'));
      const r = await classify(p, 'still works after the error');
      assert.equal(r.model, manifest.default);
      await p.screenshot({ path: join(shotDir(), 'corrupt-weights.png') });
    } finally {
      await b.close();
      await s.close();
    }
  });
});

describe('the page without WebGPU', () => {
  it('says WebGPU is unavailable when asked for it, and classifies on the CPU', async () => {
    const s = await serve();
    const b = await launch({ webgpu: false });
    try {
      const p = await b.newPage({ viewport: { width: 1280, height: 900 } });
      await p.goto(s.url);
      await p.waitForSelector('#result[data-state="live"]', { timeout: 60000 });
      await p.selectOption('#backend-select', 'gpu');
      await p.waitForSelector('.msg[data-key="gpu"]', { timeout: 60000 });
      assert.match(await p.textContent('.msg[data-key="gpu"]'), /WebGPU is not available \(.+\); running on the CPU instead/);
      const r = await classify(p, SENTENCES[1][0]);
      assert.equal(r.backend, 'cpu');
      assert.equal(r.label, SENTENCES[1][1]);
    } finally {
      await b.close();
      await s.close();
    }
  });
});

describe('the page when the engine cannot start', () => {
  it('keeps showing the pre-computed example and says why', async () => {
    const wasmFile = new RegExp(`/pkg(-relaxed)?/${namePattern('encoder_lens_bg.wasm')}$`); // hashed in a dist
    const s = await serve(WWW, { corrupt: (path) => wasmFile.test(path) });
    const b = await launch();
    try {
      const p = await b.newPage({ viewport: { width: 1280, height: 900 } });
      await p.goto(s.url);
      await p.waitForSelector('.msg.error', { timeout: 60000 });
      assert.match(await p.textContent('#messages'), /engine could not start/i);
      assert.equal(await p.getAttribute('#result', 'data-state'), 'example');
      assert.match(await p.textContent('#status-text'), /pre-computed example/);
      const ex = JSON.parse(readFileSync(join(WWW, 'example.json'), 'utf8'));
      assert.equal(await p.getAttribute('#result', 'data-label'), ex.analysis.inspection.result.predictions[0].label);
      assert.equal(Number(await p.getAttribute('#attention', 'data-layers')), ex.info.config.num_layers);
    } finally {
      await b.close();
      await s.close();
    }
  });
});

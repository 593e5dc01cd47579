// End-to-end tests of panels 5–7 (head ablation, token attribution, logit lens) in headless Chromium, on the
// default model (backend auto: WebGPU on SwiftShader where the browser has it) and on MiniLM (CPU): the numbers
// the page draws are the engine's explanation, consistent with its own classification, equal to what the CLI
// `classify --explain` prints for the same text, and a click on heads re-runs the model with them ablated.
// Screenshots of each panel go to artifacts/screenshots/explain-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { serve, launch, watch, classify, shotDir, WWW, ROOT, OPTIONAL_404 } from './helpers.mjs';

const manifest = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
const configOf = (id) => JSON.parse(readFileSync(join(WWW, manifest.models.find((m) => m.id === id).path, 'config.json'), 'utf8'));
const MINILM = manifest.models.find((m) => m.id === 'minilm-sentiment');

/** The native CLI (release build preferred), for the page-vs-CLI check. */
function cli() {
  const dirs = [process.env.CARGO_TARGET_DIR, join(ROOT, 'target')].filter(Boolean);
  for (const d of dirs) for (const p of ['release', 'debug']) if (existsSync(join(d, p, 'classify'))) return join(d, p, 'classify');
  throw new Error('no classify binary: build it with `cargo build --release --bin classify` (CARGO_TARGET_DIR is honoured)');
}

function close(what, a, b, tol = 1e-4) {
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((x, i) => {
    if (x == null || b[i] == null) return assert.equal(x, b[i], `${what}[${i}]`);
    assert.ok(Math.abs(x - b[i]) <= tol, `${what}[${i}]: page ${x} vs ${b[i]} (|Δ| ${Math.abs(x - b[i])})`);
  });
}

let srv;
let browser;
let page;
let errors;

/** Classify `text` with the explanation panels on screen; the explanation the page drew for it. */
async function explained(text) {
  await page.evaluate(() => (window.__explanations = []));
  const r = await classify(page, text);
  // Typing scrolls the text box into view; the explanation is asked for once panels 5–7 are on screen.
  await page.locator('#ablation').scrollIntoViewIfNeeded();
  await page.waitForFunction((t) => window.__explanations.some((d) => d.text === t), text, { timeout: 600000 }).catch(async (e) => {
    throw new Error(`no explanation drawn for "${text}": ${e.message}; messages: ${await page.textContent('#messages')}; status: ${await page.textContent('#status-text')}`);
  });
  const d = await page.evaluate((t) => window.__explanations.find((x) => x.text === t), text);
  return { r, d, x: d.explanation };
}

async function shoot(name) {
  for (const id of ['ablation', 'attribution', 'lens']) await page.locator(`#${id}`).screenshot({ path: join(shotDir(), `explain-${name}-${id}.png`) });
}

/** The checks both models get: the explanation agrees with the classification, the CLI and itself. */
async function checkExplanation(model, text, cliArgs) {
  const config = configOf(model);
  const { r, d, x } = await explained(text);
  const [L, H] = [config.num_layers ?? config.num_hidden_layers, config.num_heads ?? config.num_attention_heads];
  assert.equal(x.model, model);
  assert.equal(x.ablation.delta.length, L * H);
  assert.equal(Number(await page.getAttribute('#ablation', 'data-layers')), L);
  assert.equal(Number(await page.getAttribute('#ablation', 'data-heads')), H);
  const li = x.labelIndex;
  assert.equal(x.labels[li], r.label, 'explains the predicted label');
  close('probabilities vs the classify panel', x.probabilities, r.probabilities, 1e-5);
  close('sweep base vs p(label)', [x.ablation.base], [r.probabilities[li]], 1e-5);
  close('logit lens last layer vs the output', x.lens.probs[L - 1], r.probabilities, 1e-5);
  assert.equal(x.lens.probs.length, L);
  // Attribution strips: one chip per token, [CLS]/[SEP] not occluded, rollout sums to 1.
  const tokens = await page.$$eval('#attr-occ .tok', (els) => els.map((e) => e.textContent));
  assert.deepEqual(tokens, x.tokens);
  assert.equal(await page.$$eval('#attr-occ .tok.none', (els) => els.length), 2);
  assert.ok(Math.abs(x.rollout.values.reduce((s, v) => s + v, 0) - 1) < 1e-4);
  const drawn = await page.$$eval('#attr-roll .tok', (els) => els.map((e) => Number(e.dataset.value)));
  close('rollout strip values', drawn, x.rollout.values, 1e-6);
  // The CLI prints the same numbers for the same text.
  const out = JSON.parse(execFileSync(cli(), [...cliArgs, '--explain', text], { cwd: ROOT, encoding: 'utf8' }));
  assert.deepEqual(out.tokens, x.tokens);
  close('CLI vs page: probabilities', out.probabilities, x.probabilities);
  close('CLI vs page: ablation Δp', out.ablation.delta, x.ablation.delta);
  close('CLI vs page: occlusion', out.occlusion.values, x.occlusion.values);
  close('CLI vs page: rollout', out.rollout.values, x.rollout.values);
  close('CLI vs page: logit lens', out.lens.probs.flat(), x.lens.probs.flat());
  return { r, d, x, L, H };
}

describe('explanation panels', () => {
  before(async () => {
    srv = await serve();
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watch(page);
    // The relaxed-SIMD build, its detector and models not on this site are optional (helpers.mjs
    // OPTIONAL_404): their 404s are not errors; any other failed request is.
    const optional = OPTIONAL_404;
    page.on('response', (r) => {
      if (r.status() >= 400 && !optional.test(new URL(r.url()).pathname)) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.addInitScript(() => {
      window.__explanations = [];
      document.addEventListener('explanation-drawn', (e) => window.__explanations.push(e.detail));
    });
    await page.goto(srv.url);
    await page.waitForSelector('#result[data-state="live"]', { timeout: 120000 });
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('default model: sweep, attributions and lens agree with the classification and the CLI', async () => {
    const text = 'A quiet, beautifully acted film that stays with you.';
    // 'auto' may pick the CPU (its speed probe finds SwiftShader slower): where the browser has WebGPU, ask
    // for it, so the sweep and the clicked re-run below run on the GPU path.
    if (await page.evaluate(() => Boolean(navigator.gpu))) {
      await page.selectOption('#backend-select', 'gpu');
      await page.waitForFunction(() => /Ready · .*WebGPU/.test(document.getElementById('status-text').textContent), null, { timeout: 300000 }).catch(async (e) => {
        throw new Error(`WebGPU did not come up: ${e.message}; messages: ${await page.textContent('#messages')}; status: ${await page.textContent('#status-text')}`);
      });
    }
    const { x, d, H } = await checkExplanation(manifest.default, text, []);
    console.log(`default model on ${x.backend}: explain ${d.workMs.toFixed(0)} ms in the worker (sweep ${x.ablation.millis.toFixed(0)} ms), render ${JSON.stringify(d.renderMs)}`);
    await shoot(manifest.default);
    // Clicking the head that matters most ablates it: the engine's re-run equals that head's sweep row.
    const k = x.ablation.delta.reduce((b, v, i, a) => (Math.abs(v) > Math.abs(a[b]) ? i : b), 0);
    await page.locator('#abl-grid').scrollIntoViewIfNeeded();
    // The centre of the cell: its first pixel (top-left edge) can fall outside the canvas once the browser
    // rounds the click to whole pixels at a fractional offset (the grid sat at y = 374.94 on WebGPU), and
    // then the click hit no cell, picked nothing and asked for no re-run.
    const hit = await page.evaluate(([l, h]) => {
      const c = document.getElementById('abl-grid');
      let [sx, sy, n] = [0, 0, 0];
      for (let y = 0; y < c.clientHeight; y += 2) for (let xx = 0; xx < c.clientWidth; xx += 2) {
        const r = c._hit.hit(xx, y);
        if (r && r.row === l && r.col === h) [sx, sy, n] = [sx + xx, sy + y, n + 1];
      }
      return n ? [sx / n, sy / n] : null;
    }, [Math.floor(k / H), k % H]);
    assert.ok(hit, 'the grid has a cell for the head');
    // Clicked relative to the grid where it is at the moment of the click (not at screen coordinates taken
    // earlier: panels above may still grow when late answers arrive).
    await page.locator('#abl-grid').click({ position: { x: hit[0], y: hit[1] } });
    const want = `L${Math.floor(k / H)}·H${k % H}`;
    await page.waitForFunction((w) => document.getElementById('abl-picked').textContent.includes(w), want, { timeout: 10000 }).catch(async (e) => {
      throw new Error(`the click did not pick ${want}: ${e.message}; picked: ${await page.textContent('#abl-picked')}`);
    });
    await page.waitForFunction(() => document.getElementById('abl-result').dataset.probs, null, { timeout: 120000 }).catch(async (e) => {
      throw new Error(`no re-run drawn after clicking L${Math.floor(k / H)}·H${k % H}: ${e.message}; picked: ${await page.textContent('#abl-picked')}; messages: ${await page.textContent('#messages')}; status: ${await page.textContent('#status-text')}`);
    });
    const probs = JSON.parse(await page.getAttribute('#abl-result', 'data-probs'));
    const n = x.labels.length;
    close('clicked head re-run vs its sweep row', probs, x.ablation.probs.slice(k * n, (k + 1) * n), 1e-5);
    assert.match(await page.textContent('#abl-picked'), new RegExp(want));
    // Mean-replacement: a new sweep, different numbers, same shape.
    await page.locator('#ablation').scrollIntoViewIfNeeded();
    await page.selectOption('#abl-mode', 'mean');
    await page.waitForFunction((t) => window.__explanations.some((e) => e.text === t && e.explanation.ablation.mode === 'mean'), text, { timeout: 60000 });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });

  it('MiniLM (6 × 12 heads) on the CPU: the 72-head sweep and the other panels', async (t) => {
    if (!MINILM || !existsSync(join(WWW, MINILM.path, 'config.json'))) {
      t.skip('MiniLM is not in www/models (make setup + make models)');
      return;
    }
    await page.selectOption('#abl-mode', 'zero');
    await page.selectOption('#backend-select', 'cpu');
    await page.selectOption('#model-select', MINILM.id);
    await page.waitForFunction(() => /Ready · MiniLM/.test(document.getElementById('status-text').textContent), null, { timeout: 300000 });
    const { x, d } = await checkExplanation(MINILM.id, 'a warm, clever, well-acted film', ['--model', 'models/minilm-sentiment']);
    assert.equal(x.ablation.delta.length, 72);
    console.log(`MiniLM on ${x.backend}: explain ${d.workMs.toFixed(0)} ms in the worker, 72-head sweep ${x.ablation.millis.toFixed(0)} ms, render ${JSON.stringify(d.renderMs)}`);
    await shoot('minilm');
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});

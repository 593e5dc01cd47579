// The page's backend choice in real headless Chromium. With --enable-unsafe-webgpu the only adapter here is
// SwiftShader, a fallback (software) adapter: 'auto' must run on the CPU and say why in the footer; forcing
// WebGPU still runs there. Without the flag there is no adapter: 'auto' runs on the CPU because WebGPU is
// unavailable. (On a machine with a hardware adapter the footer names the timed probe instead.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, watch, classify } from './helpers.mjs';

const TEXT = 'A quiet, beautifully acted film that stays with you.';

async function footer(page) {
  await page.waitForFunction(() => document.getElementById('foot-build').dataset.backend, null, { timeout: 120000 });
  return page.evaluate(() => {
    const f = document.getElementById('foot-build');
    return { backend: f.dataset.backend, why: f.dataset.why, text: f.textContent };
  });
}

/** What the browser itself says of its adapter: null without one. */
async function adapterInfo(page) {
  return page.evaluate(async () => {
    const a = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
    if (!a) return null;
    return { fallback: Boolean(a.isFallbackAdapter ?? a.info?.isFallbackAdapter), vendor: a.info?.vendor ?? '' };
  });
}

for (const webgpu of [true, false]) {
  describe(`backend choice, ${webgpu ? 'with WebGPU (SwiftShader)' : 'without WebGPU'}`, () => {
    let srv;
    let browser;
    let page;
    let errors;
    before(async () => {
      srv = await serve();
      browser = await launch({ webgpu });
      page = await browser.newPage();
      errors = watch(page);
      await page.goto(srv.url);
    });
    after(async () => {
      await browser?.close();
      await srv?.close();
    });

    it("'auto' runs where it is measured to be faster and the page says why", async (t) => {
      const adapter = await adapterInfo(page);
      const r = await classify(page, TEXT);
      const f = await footer(page);
      assert.equal(r.backend, f.backend);
      if (!webgpu) {
        assert.equal(adapter, null);
        assert.equal(f.backend, 'cpu');
        assert.equal(f.why, 'unavailable');
        return;
      }
      if (!adapter) {
        if (process.env.REQUIRE_GPU === '1') assert.fail('REQUIRE_GPU=1 but Chromium offers no WebGPU adapter');
        t.skip('no WebGPU adapter');
        return;
      }
      if (adapter.fallback) {
        assert.equal(f.backend, 'cpu', `auto picked a fallback adapter: ${f.text}`);
        assert.equal(f.why, 'fallback-adapter');
        assert.match(f.text, /Auto chose it: the GPU adapter .* is a software \(fallback\) adapter/);
      } else {
        assert.equal(f.why, 'probe');
        const m = f.text.match(/webgpu ([\d.]+) ms, CPU ([\d.]+) ms/);
        assert.ok(m, f.text);
        assert.equal(f.backend === 'gpu', Number(m[1]) < Number(m[2]), f.text);
      }
      assert.equal(await page.$$eval('#messages .msg', (els) => els.filter((e) => /WebGPU is not available/.test(e.textContent)).length), 0);
      // Optional files (the relaxed build, models not in the repository) may 404; page.test.mjs checks which.
      assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
    });

    it('the user can still force either backend', async (t) => {
      await page.selectOption('#backend-select', 'cpu');
      const cpu = await classify(page, `${TEXT} `);
      assert.equal(cpu.backend, 'cpu');
      assert.equal((await footer(page)).why, 'forced');
      await page.selectOption('#backend-select', 'gpu');
      await page.waitForFunction(() => !document.querySelector('#backend-select').disabled);
      const gpu = await classify(page, TEXT);
      if (!webgpu || !(await adapterInfo(page))) {
        assert.equal(gpu.backend, 'cpu');
        assert.match(await page.textContent('#messages'), /WebGPU is not available/);
        if (webgpu) t.skip('no WebGPU adapter');
        return;
      }
      assert.equal(gpu.backend, 'gpu', 'forcing WebGPU runs there, fallback adapter or not');
      cpu.probabilities.forEach((p, i) => assert.ok(Math.abs(p - gpu.probabilities[i]) <= 1e-4, `p[${i}] cpu ${p} gpu ${gpu.probabilities[i]}`));
      await page.selectOption('#backend-select', 'auto');
    });
  });
}

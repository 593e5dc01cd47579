// Device loss in the browser (issue 15): the GPU device is destroyed (GPUDevice.destroy(), from a test hook
// installed into the worker from outside: helpers.mjs armDeviceLoss) in the middle of a forward pass —
// after a submit, before its readback — during the page's inspection (the analyse request: 3 forwards) and
// during a classify of the npm package's TextClassifier (its own worker). Each call completes on the CPU
// with the numbers a CPU engine gives (≤ 1e-4), the page / `info` says why, later calls stay on the CPU
// (no submit reaches a GPU queue again, no new device is asked for), and nothing hangs (every wait has a
// deadline). A new WebGPU load in the package's worker after the loss opens a new device (the worker's shared
// GPU context was marked lost) and runs there. Needs WebGPU (SwiftShader here): skipped loudly without an
// adapter, failed with REQUIRE_GPU=1.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, watch, classify, pageWorker, armDeviceLoss, lossHook, hashedName } from './helpers.mjs';

const TEXTS = [
  'A quiet, beautifully acted film that stays with you.',
  'The plot was a mess and I was bored within ten minutes.',
  'Not bad at all, though the ending felt rushed.',
];

function close(actual, expected, what) {
  assert.equal(actual.length, expected.length, what);
  let worst = 0;
  actual.forEach((a, i) => {
    const d = Math.abs(a - expected[i]);
    worst = Math.max(worst, d);
    assert.ok(d <= 1e-4, `${what}[${i}]: expected (CPU) ${expected[i]}, actual ${a}, |diff| ${d}`);
  });
  return worst;
}

async function hasAdapter(page) {
  return page.evaluate(async () => Boolean(navigator.gpu && (await navigator.gpu.requestAdapter())));
}

function skipOrFail(t) {
  if (process.env.REQUIRE_GPU === '1') assert.fail('REQUIRE_GPU=1 but Chromium offers no WebGPU adapter');
  t.skip('SKIPPED: no WebGPU adapter in this Chromium');
}

describe('device loss in the browser', () => {
  let srv;
  let browser;
  before(async () => {
    srv = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('the page: an inspection that loses its device mid-run finishes on the CPU, says why, and stays there', async (t) => {
    const page = await browser.newPage();
    const errors = watch(page);
    await page.goto(srv.url);
    await classify(page, TEXTS[0]); // the default ('auto') engine is up
    if (!(await hasAdapter(page))) return skipOrFail(t);
    const worker = await pageWorker(page);
    assert.ok(worker, 'the page has its engine worker');
    await armDeviceLoss(worker, { afterSubmits: 0 }); // installed, not armed: counts devices and submits

    await page.selectOption('#backend-select', 'gpu');
    const onGpu = await classify(page, `${TEXTS[0]} `);
    assert.equal(onGpu.backend, 'gpu', 'forcing WebGPU runs there');
    const h0 = await lossHook(worker);
    assert.equal(h0.devices, 1, 'one GPU device for the WebGPU engine');
    assert.ok(h0.submits >= 1, `the GPU forward submitted work (${h0.submits} submits)`);

    // The analyse request of the next text is one inspection: a traced forward, then the batch-statistics
    // forwards. The device goes after the 2nd submit: the traced forward ran on the GPU, the next one loses it.
    await armDeviceLoss(worker, { afterSubmits: 2 });
    const t0 = Date.now();
    const lost = await classify(page, TEXTS[1]);
    const lostMs = Date.now() - t0;
    const h1 = await lossHook(worker);
    assert.equal(h1.destroyed, 1, 'the hook destroyed the device');
    assert.equal(lost.backend, 'cpu', 'the call finished on the CPU');
    const msg = await page.textContent('#messages');
    // In plain words: what happened, the reason the engine got (here the failed readback of the lost
    // device), and that the page goes on on the CPU.
    assert.match(msg, /The GPU device was lost \(reason: (?!GPU failed).+\); continuing on the CPU\./, msg);
    assert.match(msg, /mapping the readback buffer|device lost|readback cancelled/i, msg);
    assert.match(msg, /finished there with the same numbers/, msg);
    const foot = await page.evaluate(() => ({ ...document.getElementById('foot-build').dataset, text: document.getElementById('foot-build').textContent }));
    assert.equal(foot.backend, 'cpu');
    assert.equal(foot.why, 'gpu-lost');
    assert.match(foot.text, /The GPU device was lost mid-run \(reason: (?!GPU failed).+\)/, foot.text);
    assert.match(await page.textContent('#status-text'), /CPU/);

    // Later calls stay on the CPU: no submit reaches a GPU queue, no new device is asked for.
    const later = await classify(page, TEXTS[2]);
    assert.equal(later.backend, 'cpu');
    await page.selectOption('#backend-select', 'cpu');
    await classify(page, `${TEXTS[2]} `);
    await page.selectOption('#backend-select', 'gpu');
    const again = await classify(page, TEXTS[2]);
    assert.equal(again.backend, 'cpu', 'choosing WebGPU again reuses the engine that lost its GPU');
    const h2 = await lossHook(worker);
    assert.equal(h2.submitsAfterLoss, h1.submitsAfterLoss, `no GPU submit after the loss's own forward (${h2.submitsAfterLoss})`);
    assert.equal(h2.devices, 1, 'no new device');

    // The same numbers as a page that never touched the GPU.
    const ref = await browser.newPage();
    await ref.goto(srv.url);
    await ref.selectOption('#backend-select', 'cpu');
    const refLost = await classify(ref, TEXTS[1]);
    const refLater = await classify(ref, TEXTS[2]);
    assert.equal(refLost.backend, 'cpu');
    const worst = Math.max(close(lost.probabilities, refLost.probabilities, 'lost'), close(later.probabilities, refLater.probabilities, 'later'));
    console.log(`device loss (page inspection): finished on the CPU in ${lostMs} ms, max |Δp| vs CPU ${worst.toExponential(2)}, ${h1.submits} submits before, ${h2.submitsAfterLoss} after the loss`);
    await ref.close();
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await page.close();
  });

  it('the npm package: a classify that loses its device mid-run returns the CPU numbers; info says why', async (t) => {
    const page = await browser.newPage();
    const errors = watch(page);
    await page.goto(srv.url);
    if (!(await hasAdapter(page))) return skipOrFail(t);
    const lens = `/${hashedName('lens/index.js')}`;
    const builds = { relaxed: `/${hashedName('pkg-relaxed/encoder_lens.js')}`, simd128: `/${hashedName('pkg/encoder_lens.js')}` };
    const batch = [...TEXTS, 'an absolute joy from start to finish', 'a dull, lifeless waste of two hours', 'ok'];
    await page.evaluate(async ({ lens, builds, workerUrl }) => {
      const { TextClassifier } = await import(lens);
      const abs = (u) => new URL(u, location.href).href;
      const b = { relaxed: abs(builds.relaxed), simd128: abs(builds.simd128) };
      self.__load = (backend) => TextClassifier.load('models/sentiment-ln/', { backend, builds: b, worker: self.__gpuWorker });
      // The WebGPU classifier's worker, made here so that a second load can go into it after the loss.
      self.__gpuWorker = new Worker(abs(workerUrl), { type: 'module' });
      self.__gpu = await self.__load('webgpu');
      self.__cpu = await TextClassifier.load('models/sentiment-ln/', { backend: 'cpu', builds: b });
    }, { lens, builds, workerUrl: `/${hashedName('lens/worker.js')}` });
    const info0 = await page.evaluate(() => ({ ...self.__gpu.info }));
    assert.equal(info0.backend, 'webgpu');
    assert.equal(info0.gpuLost, false);
    const worker = page.workers().find((w) => /\/lens\/worker(\.[0-9a-f]{10})?\.js$/.test(new URL(w.url()).pathname));
    assert.ok(worker, page.workers().map((w) => w.url()).join(' '));
    // Two package workers run (the GPU one was made first); the hook goes into every package worker, only
    // the one with a GPU device submits.
    const workers = page.workers().filter((w) => /\/lens\/worker/.test(w.url()));
    for (const w of workers) await armDeviceLoss(w, { afterSubmits: 1 });

    const t0 = Date.now();
    const out = await page.evaluate(async (batch) => {
      const gpu = await self.__gpu.classify(batch);
      const info = { ...self.__gpu.info };
      const later = await self.__gpu.classify(batch.slice(0, 2));
      const cpu = await self.__cpu.classify(batch);
      return { gpu, info, later, infoLater: { ...self.__gpu.info }, cpu };
    }, batch);
    const ms = Date.now() - t0;
    const hooks = await Promise.all(workers.map(lossHook));
    assert.equal(hooks.reduce((n, h) => n + h.destroyed, 0), 1, JSON.stringify(hooks));
    assert.equal(hooks.reduce((n, h) => n + h.submitsAfterLoss, 0), 0, 'the classify after the loss did not submit to a GPU');
    assert.equal(out.info.backend, 'cpu', 'info follows the engine to the CPU');
    assert.equal(out.info.gpuLost, true);
    assert.match(out.info.fallbackReason, /GPU failed, running on the CPU from now on: .+/);
    assert.equal(out.infoLater.backend, 'cpu');
    let worst = 0;
    out.gpu.forEach((r, i) => {
      assert.equal(r.label, out.cpu[i].label, batch[i]);
      worst = Math.max(worst, close(Object.values(r.scores), Object.values(out.cpu[i].scores), `text ${i}`));
    });
    out.later.forEach((r, i) => close(Object.values(r.scores), Object.values(out.cpu[i].scores), `later ${i}`));
    console.log(`device loss (package classify, batch ${batch.length}): ${ms} ms for the three calls, max |Δp| vs CPU ${worst.toExponential(2)}; ${out.info.fallbackReason}`);

    // A new WebGPU load in the same worker after the loss: the engine's shared GPU context was marked lost,
    // so this load opens a new device (the one before it served every load of the worker) and runs there.
    const gpuHook = async () => (await Promise.all(workers.map(lossHook))).find((h) => h.destroyed);
    const devicesBefore = (await gpuHook()).devices;
    const reload = await page.evaluate(async (batch) => {
      const clf = await self.__load('webgpu');
      return { info: { ...clf.info }, out: await clf.classify(batch) };
    }, batch);
    const hook = await gpuHook();
    assert.equal(reload.info.backend, 'webgpu', 'a load after the loss runs on WebGPU again');
    assert.equal(hook.devices, devicesBefore + 1, `one new device for the load after the loss (${JSON.stringify(hook)})`);
    assert.ok(hook.submitsAfterLoss > 0, 'the new device ran the forward');
    reload.out.forEach((r, i) => close(Object.values(r.scores), Object.values(out.cpu[i].scores), `after reload ${i}`));
    await page.evaluate(() => (self.__gpu.dispose(), self.__cpu.dispose()));
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await page.close();
  });
});

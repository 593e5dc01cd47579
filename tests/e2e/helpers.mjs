// Shared by the end-to-end tests: a static file server for the site on a free localhost port, and headless
// Debian Chromium driven by playwright-core (with WebGPU enabled: SwiftShader).
//
// The site is www/ (the development page), or the folder E2E_SITE names — `E2E_SITE=dist` runs the whole
// suite against `make dist`'s static site (hashed file names, only the shipped models), served by the same
// plain static server (`make test-e2e-dist`).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, extname, resolve } from 'node:path';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The site under test: www/, or E2E_SITE (a folder, relative to the repository root). */
export const WWW = resolve(ROOT, process.env.E2E_SITE || 'www');
/** True when the site is a `make dist` build (content-hashed names: see `hashedName`). */
export const DIST = existsSync(join(WWW, 'manifest.json'));
const MANIFEST = DIST ? JSON.parse(readFileSync(join(WWW, 'manifest.json'), 'utf8')) : {};
/** A file's path on the site: `lens/index.js` itself in www/, its content-hashed name in a dist. */
export const hashedName = (path) => MANIFEST[path] || path;
/** A pattern for `path`'s name on either kind of site (e.g. `encoder_lens_bg.wasm` or `encoder_lens_bg.<hash>.wasm`). */
export const namePattern = (file) => {
  const dot = file.lastIndexOf('.');
  const esc = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `${esc(file.slice(0, dot))}(?:\\.[0-9a-f]{10})?${esc(file.slice(dot))}`;
};
export const SHOTS = join(ROOT, 'artifacts', 'screenshots');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

/**
 * Serve `root` on 127.0.0.1 at a free port. Returns { url, requests (path → count), close() }. With
 * `isolate` the responses carry COOP + COEP (as `make serve` and dist's serve.mjs send): the page is
 * cross-origin isolated and loads the wasm threads build.
 */
export async function serve(root = WWW, { corrupt, isolate = false } = {}) {
  const requests = new Map();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const st = await stat(file);
      let body = await readFile(file);
      if (corrupt && corrupt(path)) body = Buffer.from(body.subarray(0, 64));
      if (req.method === 'GET') requests.set(path, (requests.get(path) || 0) + 1);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] || 'application/octet-stream',
        'content-length': body.length,
        'last-modified': st.mtime.toUTCString(),
        ...(isolate
          ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' }
          : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Headless Chromium; `webgpu: false` leaves out --enable-unsafe-webgpu (no adapter, as on many browsers);
 * `extra`: more command-line flags.
 */
export async function launch({ webgpu = true, extra = [] } = {}) {
  const args = [...extra, '--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
  if (webgpu) args.splice(2, 0, '--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
}

export function shotDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}

/** Page errors and console errors, collected for assertions. */
export function watch(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Type `text` into the box, click Classify, and wait until the live result shows that text. */
export async function classify(page, text) {
  await page.fill('#text', text);
  await page.click('#classify-btn');
  await page.waitForFunction(
    (t) => {
      const r = document.getElementById('result');
      return r.dataset.state === 'live' && r.dataset.text === t;
    },
    text,
    { timeout: 60000 },
  );
  return page.evaluate(() => {
    const r = document.getElementById('result');
    return { label: r.dataset.label, probabilities: JSON.parse(r.dataset.probabilities), backend: r.dataset.backend, model: r.dataset.model };
  });
}

/**
 * Paths whose 404 is no error of the page: the relaxed-SIMD build and its detector (optional: the page falls
 * back to pkg/), and the folders of models listed in models.json but not on this site (MiniLM outside
 * `make setup`, or in a dist, which ships only the sentiment models): the page asks (HEAD) and marks them
 * unavailable.
 */
export const OPTIONAL_404 = (() => {
  const { models } = JSON.parse(readFileSync(join(WWW, 'models.json'), 'utf8'));
  const absent = models.filter((m) => !existsSync(join(WWW, m.path, 'config.json'))).map((m) => `|${m.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*`);
  return new RegExp(`/(simd-detect(\\.[0-9a-f]{10})?\\.js|pkg-relaxed/.*${absent.join('')})$`);
})();

/** The page's engine worker (www/worker.js, hashed in a dist): not the npm package's lens/worker.js. */
export async function pageWorker(page) {
  const find = () => page.workers().find((w) => /\/worker(\.[0-9a-f]{10})?\.js$/.test(new URL(w.url()).pathname) && !/\/lens\//.test(w.url()));
  for (let i = 0; i < 600 && !find(); i++) await new Promise((r) => setTimeout(r, 100));
  return find();
}

/**
 * Test hook for device loss, installed from outside into `worker`'s global scope (nothing in the page or
 * the package can reach it): counts the GPU devices requested and the queue submits, and once armed calls
 * `GPUDevice.destroy()` on the submitting queue's device right after its `afterSubmits`-th submit from
 * now — in the middle of a forward pass, between the submit and the readback (`mapAsync`) of its results,
 * as a driver reset or a GPU process crash would. Returns nothing; `lossHook(worker)` reads the counters.
 */
export async function armDeviceLoss(worker, { afterSubmits = 1 } = {}) {
  await worker.evaluate((n) => {
    if (!self.__lossHook) {
      const h = { armed: 0, destroyed: 0, devices: 0, submits: 0, submitsAfterLoss: 0, queues: new WeakMap() };
      self.__lossHook = h;
      const encoder = GPUDevice.prototype.createCommandEncoder;
      GPUDevice.prototype.createCommandEncoder = function (...a) {
        h.queues.set(this.queue, this);
        return encoder.apply(this, a);
      };
      const submit = GPUQueue.prototype.submit;
      GPUQueue.prototype.submit = function (...a) {
        const r = submit.apply(this, a);
        h.submits++;
        if (h.destroyed) h.submitsAfterLoss++;
        if (h.armed > 0 && --h.armed === 0) {
          h.queues.get(this)?.destroy();
          h.destroyed++;
        }
        return r;
      };
      const request = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = function (...a) {
        h.devices++;
        return request.apply(this, a);
      };
    }
    self.__lossHook.armed = n;
  }, afterSubmits);
}

/** The device-loss hook's counters: { armed, destroyed, devices, submits, submitsAfterLoss }. */
export function lossHook(worker) {
  return worker.evaluate(() => {
    const { armed, destroyed, devices, submits, submitsAfterLoss } = self.__lossHook || {};
    return { armed, destroyed, devices, submits, submitsAfterLoss };
  });
}

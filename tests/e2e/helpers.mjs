// Shared by the end-to-end tests: a static file server for www/ on a free localhost port, and headless
// Debian Chromium driven by playwright-core (with WebGPU enabled: SwiftShader).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, extname, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const WWW = join(ROOT, 'www');
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

/** Headless Chromium; `webgpu: false` leaves out --enable-unsafe-webgpu (no adapter, as on many browsers). */
export async function launch({ webgpu = true } = {}) {
  const args = ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--no-first-run',
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

// dist/ (make dist) served by its own static server (dist/serve.mjs: plain files + the COOP/COEP headers of
// _headers; each .wasm brotli-compressed): the page classifies with hashed file names, cross-origin isolated,
// nothing missing; and the npm package's TextClassifier runs in its Web Worker in the same page. Skipped when
// dist/ was not built.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { launch, watch, classify, ROOT } from './helpers.mjs';

const DIST = join(ROOT, 'dist');
const built = existsSync(join(DIST, 'manifest.json'));

describe('dist/ served statically', { skip: built ? false : 'SKIPPED: no dist/ (run make dist)' }, () => {
  let server;
  let url;
  let browser;
  let page;
  let errors;
  const missing = [];
  const served = [];
  const wasmEncodings = []; // per .wasm response: the request's accept-encoding -> the response's content-encoding

  before(async () => {
    server = spawn(process.execPath, [join(DIST, 'serve.mjs'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise((resolve, reject) => {
      server.stdout.on('data', (d) => {
        const m = /http:\/\/[\d.]+:\d+\//.exec(String(d));
        if (m) resolve(m[0]);
      });
      server.on('exit', (c) => reject(new Error(`dist/serve.mjs exited with ${c}`)));
    });
    browser = await launch();
    page = await browser.newPage();
    errors = watch(page);
    page.on('response', async (r) => {
      served.push(new URL(r.url()).pathname);
      if (/\.wasm$/.test(new URL(r.url()).pathname)) wasmEncodings.push(`${(await r.request().allHeaders())['accept-encoding']} -> ${(await r.allHeaders())['content-encoding']}`);
      if (r.status() >= 400) missing.push(r.url());
    });
  });
  after(async () => {
    await browser?.close();
    server?.kill();
  });

  it('the page classifies from hashed files, cross-origin isolated; the package runs in its worker', async () => {
    await page.goto(url);
    const r = await classify(page, 'one of the best films of the year');
    assert.equal(r.label, 'positive');
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'COOP + COEP from serve.mjs');
    const names = JSON.parse(readFileSync(join(DIST, 'manifest.json'), 'utf8'));
    assert.ok(served.includes(`/${names['main.js']}`) && served.includes(`/${names['worker.js']}`), served.join(' '));
    assert.ok(served.some((p) => /^\/pkg(-relaxed|-threads)?\/encoder_lens_bg\.[0-9a-f]{10}\.wasm$/.test(p)), served.join(' '));
    // serve.mjs sends each .wasm as its precompressed .wasm.br (Chromium accepts br here), and the page runs it.
    assert.ok(wasmEncodings.length > 0 && wasmEncodings.every((e) => /\bbr\b.* -> br$/.test(e)), wasmEncodings.join('; '));
    // Cross-origin isolated: the page runs the threads build, its pool worker from a hashed file too.
    if (names['pkg-threads/encoder_lens.js']) {
      assert.ok(served.some((p) => /^\/pkg-threads\/encoder_lens_bg\.[0-9a-f]{10}\.wasm$/.test(p)), served.join(' '));
      assert.ok(served.includes(`/${names['lens/pool-worker.js']}`), served.join(' '));
      assert.equal(await page.evaluate(() => document.getElementById('foot-build').dataset.build), 'relaxed SIMD + threads');
    }
    // The models listed in models.json but not shipped (MiniLM) are only asked about (HEAD) and marked
    // unavailable; a dist built without the relaxed-SIMD build falls back to SIMD128.
    const optional = names['pkg-relaxed/encoder_lens.js'] ? /\/models\/minilm/ : /\/models\/minilm|\/pkg-relaxed\//;
    assert.deepEqual(missing.filter((u) => !optional.test(u)), []);

    // The npm package's TextClassifier, in its module worker, on the dist's own wasm builds and model.
    const out = await page.evaluate(async (names) => {
      const { TextClassifier } = await import(`/${names['lens/index.js']}`);
      const at = (f) => (names[f] ? `${location.origin}/${names[f]}` : undefined);
      const builds = { threads: at('pkg-threads/encoder_lens.js'), relaxed: at('pkg-relaxed/encoder_lens.js'), simd128: at('pkg/encoder_lens.js') };
      const events = [];
      const clf = await TextClassifier.load('models/sentiment-ln/', { backend: 'cpu', builds, threads: 2, onProgress: (e) => events.push(e) });
      const res = await clf.classify(['an absolute joy from start to finish', 'a dull, lifeless waste of two hours']);
      const [emb] = await clf.embed('a film');
      const info = clf.info;
      clf.dispose();
      return { res, dim: emb.length, isF32: emb instanceof Float32Array, info, files: events.map((e) => e.file) };
    }, names);
    assert.deepEqual(out.res.map((r) => r.label), ['positive', 'negative']);
    assert.equal(out.dim, 128);
    assert.ok(out.isF32);
    assert.equal(out.info.backend, 'cpu');
    if (names['pkg-threads/encoder_lens.js']) {
      // The package's worker starts the pool (nested workers) for the threads asked for.
      assert.equal(out.info.wasm, 'relaxed SIMD + threads');
      assert.equal(out.info.threads, 2);
    }
    assert.ok(out.files.includes('model.safetensors'), out.files.join(' '));
    // 404s are checked above (`missing`); the console's own line for each is not an error of the page.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource: .*404/.test(e)), []);
  });
});

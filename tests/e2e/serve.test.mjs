// The two static servers the project ships — `make serve`'s (scripts/serve.mjs over www/) and dist's
// (dist/serve.mjs, written by scripts/make_dist.py) — send a .wasm brotli-compressed (`Content-Encoding: br`)
// exactly when the request accepts br, with the same bytes once decoded, and answer HEAD with the length the
// GET sends (js/src/files.js keys its cache on HEAD's content-length). No browser: plain HTTP, a few seconds.
// A server whose folder was not built is skipped.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { ROOT } from './helpers.mjs';

/** Start `args` (a server printing its http://host:port/ URL); resolves to the URL. */
function start(args, servers) {
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /http:\/\/[\d.]+:\d+\//.exec(String(d));
      if (m) resolve(m[0]);
    });
    server.on('exit', (c) => reject(new Error(`${args.join(' ')} exited with ${c}`)));
  });
}

/** { status, headers, body } of one request, the body as sent (not decoded). */
function fetchRaw(url, method, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding ? { 'accept-encoding': acceptEncoding } : {};
    request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

async function checkWasm(url, file) {
  const bytes = readFileSync(file);
  const br = await fetchRaw(url, 'GET', 'gzip, deflate, br, zstd');
  assert.equal(br.status, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['content-type'], 'application/wasm');
  assert.match(br.headers.vary || '', /accept-encoding/i);
  assert.ok(br.body.length < bytes.length * 0.4, `brotli body ${br.body.length} bytes of ${bytes.length}`);
  assert.ok(brotliDecompressSync(br.body).equals(bytes), 'the decoded body is the .wasm');
  assert.equal(Number(br.headers['content-length']), br.body.length);
  const head = await fetchRaw(url, 'HEAD', 'gzip, deflate, br, zstd');
  assert.equal(head.headers['content-length'], br.headers['content-length'], 'HEAD and GET agree (files.js revalidation)');
  assert.equal(head.headers['content-encoding'], 'br');
  for (const accept of [undefined, 'gzip, deflate']) {
    const plain = await fetchRaw(url, 'GET', accept);
    assert.equal(plain.headers['content-encoding'], undefined, `accept-encoding ${accept}`);
    assert.ok(plain.body.equals(bytes), `accept-encoding ${accept}: the .wasm as it is`);
  }
  // Other files are sent as they are, whatever the request accepts.
  const page = await fetchRaw(new URL('/', url), 'GET', 'br');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-encoding'], undefined);
}

describe('static servers send .wasm as brotli where accepted', () => {
  const servers = [];
  after(() => servers.forEach((s) => s.kill()));

  const www = join(ROOT, 'www', 'pkg', 'encoder_lens_bg.wasm');
  it('make serve (scripts/serve.mjs www)', { skip: existsSync(www) ? false : 'SKIPPED: no www/pkg (make pkg)' }, async () => {
    const url = await start([join(ROOT, 'scripts', 'serve.mjs'), join(ROOT, 'www'), '0'], servers);
    await checkWasm(new URL('pkg/encoder_lens_bg.wasm', url), www);
  });

  const dist = join(ROOT, 'dist', 'manifest.json');
  it('dist/serve.mjs', { skip: existsSync(dist) ? false : 'SKIPPED: no dist/ (make dist)' }, async () => {
    const names = JSON.parse(readFileSync(dist, 'utf8'));
    const url = await start([join(ROOT, 'dist', 'serve.mjs'), '0'], servers);
    const wasm = names['pkg/encoder_lens_bg.wasm'];
    await checkWasm(new URL(wasm, url), join(ROOT, 'dist', wasm));
  });
});

#!/usr/bin/env node
// The dev server of `make serve`: a static server for a folder (default www/) that sends COOP + COEP, so the
// page is cross-origin isolated and runs the wasm threads build (python's http.server sends neither header;
// the page then runs a single-thread build). dist/ ships its own copy (scripts/make_dist.py's serve.mjs).
// A .wasm goes out brotli-compressed (`Content-Encoding: br`, quality 11, compressed once per build and kept
// in memory) to a client that accepts br: what a static host serves (BENCHMARKS.md "Download size, session 9").
// usage: node scripts/serve.mjs [folder] [port]   (port default 8080, PORT works too; 0 picks a free one)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, extname, resolve, sep } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

const root = resolve(process.argv[2] ?? 'www');
const port = Number(process.argv[3] ?? process.env.PORT ?? 8080);
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml' };

const brotli = new Map(); // file → { key: size-mtime, body }
/** `body` of `file` brotli-compressed, compressed again only when the file changed. */
function compressed(file, st, body) {
  const key = `${st.size}-${st.mtimeMs}`;
  const hit = brotli.get(file);
  if (hit?.key === key) return hit.body;
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
  brotli.set(file, { key, body: br });
  return br;
}

const server = createServer(async (req, res) => {
  let file;
  try {
    file = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  } catch {
    return res.writeHead(400).end();
  }
  if (file !== root && !file.startsWith(root + sep)) return res.writeHead(403).end();
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    let body = await readFile(file);
    const br = extname(file) === '.wasm' && /\bbr\b/.test(req.headers['accept-encoding'] || '');
    if (br) body = compressed(file, await stat(file), body);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-length': body.length,
      ...(extname(file) === '.wasm' ? { vary: 'accept-encoding' } : {}),
      ...(br ? { 'content-encoding': 'br' } : {}),
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
});
server.listen(port, '127.0.0.1', () => console.log(`serving ${root} on http://127.0.0.1:${server.address().port}/ (cross-origin isolated)`));

// The page's wasm builds as a visitor downloads them: bytes of each www/pkg*/encoder_lens_bg.wasm raw,
// gzip -9 and brotli (quality 11). bench/run.mjs prints them as the size rows; `make size` runs this file
// and fails when a build is over the budget (WASM_MAX_GZ_KB, KB = 1000 bytes, on the gzip -9 size).
//
//   node bench/size.mjs [--max-gz-kb N]
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUILDS = ['pkg', 'pkg-relaxed', 'pkg-threads'];

/** { build: { raw, gzip, brotli } } in bytes, for the builds that exist under www/. */
export function wasmSizes(root = ROOT) {
  const out = {};
  for (const b of BUILDS) {
    const f = path.join(root, 'www', b, 'encoder_lens_bg.wasm');
    if (!existsSync(f)) continue;
    const bytes = readFileSync(f);
    out[b] = {
      raw: bytes.length,
      gzip: gzipSync(bytes, { level: 9 }).length,
      brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  }
  return out;
}

/** The table's lines. */
export function sizeLines(sizes) {
  const kb = (n) => (n / 1000).toFixed(1).padStart(8);
  const lines = ['  build          raw KB   gzip -9 KB   brotli KB'];
  for (const [b, s] of Object.entries(sizes)) lines.push(`  ${b.padEnd(12)} ${kb(s.raw)}   ${kb(s.gzip)}     ${kb(s.brotli)}`);
  return lines;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--max-gz-kb');
  const max = i > 0 ? Number(process.argv[i + 1]) : Infinity;
  const sizes = wasmSizes();
  if (!Object.keys(sizes).length) throw new Error('no www/pkg*/encoder_lens_bg.wasm: make build first');
  console.log(sizeLines(sizes).join('\n'));
  const over = Object.entries(sizes).filter(([, s]) => s.gzip > max * 1000);
  if (over.length) {
    console.error(`over the budget of ${max} KB gzipped: ${over.map(([b, s]) => `${b} ${(s.gzip / 1000).toFixed(1)} KB`).join(', ')}`);
    process.exit(1);
  }
}

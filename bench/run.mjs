// Runs the CPU benchmark page (bench/index.html) in headless Chromium and prints the table.
// Expects the `bench`-feature wasm builds in bench/pkg and bench/pkg-relaxed and the exports in bench/out
// (`make bench` does all of it). Writes bench/results.json.
// Options (env): CHROMIUM=/usr/bin/chromium, BENCH_SEQS=16,64,128,512, BENCH_MIN_MS=1500.
import { createServer } from 'node:http';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

function serve() {
  const server = createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(ROOT, rel.endsWith('/') ? rel + 'index.html' : rel);
    if (!file.startsWith(ROOT + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function cpuModel() {
  try {
    const m = execFileSync('lscpu', { encoding: 'utf8' }).match(/^Model name:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model || 'unknown';
}

const server = await serve();
const port = server.address().port;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});
let out;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  const q = new URLSearchParams();
  if (process.env.BENCH_SEQS) q.set('seqs', process.env.BENCH_SEQS);
  if (process.env.BENCH_MIN_MS) q.set('minMs', process.env.BENCH_MIN_MS);
  await page.goto(`http://127.0.0.1:${port}/bench/?${q}`);
  await page.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 60_000 });
  out = await page.evaluate(() => window.benchResult, null);
  if (!out.ok) throw new Error(out.error);
  out = out.result;
  out.browser = `Chromium ${browser.version()}`;
} finally {
  await browser.close();
  server.close();
}
out.date = new Date().toISOString();
out.machine = { cpu: cpuModel(), cores: os.cpus().length, os: `${os.type()} ${os.release()} ${os.arch()}`, loadavgAtEnd: os.loadavg() };
await writeFile(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');

// ---- table ----
const f = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(d));
const lines = [];
lines.push(`${out.date.slice(0, 16).replace('T', ' ')} UTC · ${out.machine.cpu} (${out.machine.cores} cores, load average ${out.machine.loadavgAtEnd.map((x) => x.toFixed(1)).join(' ')}) · ${out.browser} · onnxruntime-web ${out.ortVersion}`);
lines.push('');
lines.push('Peak (the matmul microkernel on L1-resident panels, 1 thread; fastest of the runs interleaved with the matmuls):');
for (const [k, v] of Object.entries(out.peak)) lines.push(`  ${k.padEnd(13)} ${f(v)} GFLOP/s`);
lines.push('');
lines.push('Matmul x(m,k)·Wᵀ(k→n)+b, GFLOP/s of the fastest run (% of the same build\'s peak in the same rounds):');
lines.push('  shape (m×k×n)      scalar        simd128         relaxed-simd');
for (const r of out.matmul) {
  const pct = (name) => (r.peakGflops[name] ? ` (${f((100 * r.gflops[name]) / r.peakGflops[name], 0)}%)` : '');
  lines.push(`  ${`${r.m}×${r.k}×${r.n}`.padEnd(17)}  ${f(r.gflops.scalar).padStart(6)}        ${(f(r.gflops.simd128) + pct('simd128')).padEnd(14)}  ${f(r.gflops['relaxed-simd']) + pct('relaxed-simd')}`);
}
for (const [model, e] of Object.entries(out.forward)) {
  const c = e.config;
  lines.push('');
  lines.push(`Forward, batch 1, median ms — ${model}: d ${c.hidden_size}, ${c.num_layers} layers, ${c.num_heads} heads, FFN ${c.ffn_size}, ${c.activation} (${e.source})`);
  lines.push('  seq   scalar    simd128   relaxed   ORT-web   ours/ORT   max|Δlogit| vs PyTorch (ours / ORT)');
  for (const r of e.rows) {
    const ours = Math.max(r.maxAbsDiffVsPyTorch.simd128, r.maxAbsDiffVsPyTorch['relaxed-simd'] ?? 0, r.maxAbsDiffVsPyTorch.scalar);
    lines.push(`  ${String(r.seq).padEnd(4)} ${f(r.ms.scalar, 2).padStart(8)} ${f(r.ms.simd128, 2).padStart(9)} ${f(r.ms['relaxed-simd'], 2).padStart(9)} ${f(r.ms.ort, 2).padStart(9)}   ${f(r.ratioOursOverOrt, 2).padStart(8)}   ${ours.toExponential(1)} / ${r.maxAbsDiffVsPyTorch.ort.toExponential(1)}`);
  }
}
lines.push('');
const adapter = out.webgpu.available
  ? `adapter ${out.webgpu.vendor || ''} ${out.webgpu.architecture || ''}${out.webgpu.fallback ? ' (fallback/software)' : ''}`
  : `no adapter (${out.webgpu.why})`;
if (typeof out.webgpu.forward === 'string') {
  lines.push(`WebGPU: ${adapter}; ${out.webgpu.forward}`);
} else {
  lines.push(`WebGPU forward, batch 1, median ms (${adapter}):`);
  for (const [model, rows] of Object.entries(out.webgpu.forward.rows)) {
    lines.push(`  ${model.padEnd(8)} ` + rows.map((r) => `seq ${r.seq}: ${f(r.ms, 1)}`).join(', '));
  }
}
console.log('\n' + lines.join('\n'));
console.log('\nwrote bench/results.json');

// Runs the CPU benchmark page (bench/index.html) in headless Chromium and prints the table.
// Expects the `bench`-feature wasm builds in bench/pkg and bench/pkg-relaxed and the exports in bench/out
// (`make bench` does all of it). Writes bench/results.json.
// Options (env): CHROMIUM=/usr/bin/chromium, BENCH_SEQS=16,64,128,512, BENCH_MIN_MS=1500,
// BENCH_REAL_SEQS=16,128,256 (all-MiniLM-L6-v2 through the JS API), BENCH_REAL_GPU_SEQS=16,64,128,
// BENCH_ONLY=kernels,forward,real,webgpu,webgpu-real,first (default all; first: the first-classification rows,
// BENCH_FIRST_RUNS=5, BENCH_FIRST_MINILM=0 to leave MiniLM out, BENCH_FIRST_BUILDS=DIR,DIR to compare builds,
// BENCH_FIRST_VERSIONS=DIR,DIR to compare copies of the project: js/src + www/pkg*, e.g. `bench/before,.`). The server sends COOP/COEP so the page is
// cross-origin isolated (SharedArrayBuffer: onnxruntime-web's 2-thread row).
import { createServer } from 'node:http';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { wasmSizes, sizeLines } from './size.mjs';

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
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'content-length': st.size,
        'last-modified': st.mtime.toUTCString(),
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      // HEAD (the Cache API reader's version check) as a static server answers it: without reading the file.
      res.end(req.method === 'HEAD' ? undefined : await readFile(file));
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
let loadAtStart = os.loadavg();
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`  [page] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  const q = new URLSearchParams();
  if (process.env.BENCH_SEQS) q.set('seqs', process.env.BENCH_SEQS);
  if (process.env.BENCH_MIN_MS) q.set('minMs', process.env.BENCH_MIN_MS);
  if (process.env.BENCH_REAL_SEQS) q.set('realSeqs', process.env.BENCH_REAL_SEQS);
  if (process.env.BENCH_REAL_GPU_SEQS) q.set('realGpuSeqs', process.env.BENCH_REAL_GPU_SEQS);
  if (process.env.BENCH_ONLY) q.set('only', process.env.BENCH_ONLY);
  if (process.env.BENCH_FIRST_RUNS) q.set('firstRuns', process.env.BENCH_FIRST_RUNS);
  if (process.env.BENCH_FIRST_MINILM) q.set('firstMinilm', process.env.BENCH_FIRST_MINILM);
  if (process.env.BENCH_FIRST_BUILDS) q.set('firstBuilds', process.env.BENCH_FIRST_BUILDS);
  if (process.env.BENCH_FIRST_VERSIONS) q.set('firstVersions', process.env.BENCH_FIRST_VERSIONS);
  await page.goto(`http://127.0.0.1:${port}/bench/?${q}`);
  await page.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 60_000 });
  loadAtStart = os.loadavg();
  out = await page.evaluate(() => window.benchResult, null);
  if (!out.ok) throw new Error(out.error);
  out = out.result;
  out.browser = `Chromium ${browser.version()}`;
} finally {
  await browser.close();
  server.close();
}
out.date = new Date().toISOString();
out.wasmSize = wasmSizes(ROOT);
out.machine = { cpu: cpuModel(), cores: os.cpus().length, os: `${os.type()} ${os.release()} ${os.arch()}`, loadavgAtStart: loadAtStart, loadavgAtEnd: os.loadavg() };
await writeFile(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');

// ---- table ----
/** int8 rows measured in the same rounds as the fp32 ones above them. */
function int8Table(lines, rows, what) {
  const d = (v) => (v === undefined ? '–' : v.toExponential(1));
  lines.push(`  int8 (ours: PyTorch dynamic quantization; ORT: quantize_dynamic QInt8, 1 thread), same rounds, median ms:`);
  lines.push(`  seq   int8 simd128  int8 relaxed  ORT int8   ours/ORT int8   int8/fp32 (build)   max|Δ${what}| vs PyTorch fp32 (int8 relaxed / ORT int8)`);
  for (const r of rows) {
    if (!r.int8) continue;
    const m = r.maxAbsDiffVsPyTorch;
    lines.push(`  ${String(r.seq).padEnd(4)} ${f(r.ms['int8:simd128'], 2).padStart(12)} ${f(r.ms['int8:relaxed-simd'], 2).padStart(13)} ${f(r.ms['ort-int8-1t'], 2).padStart(10)}   ${f(r.int8.oursOverOrtInt8, 2).padStart(13)}   ${f(r.int8.int8OverFp32, 2).padStart(9)} (${r.int8.build})   ${d(m['int8:relaxed-simd'] ?? m['int8:simd128'])} / ${d(m['ort-int8-1t'])}`);
  }
}

const f = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(d));
const lines = [];
const la = (l) => l.map((x) => x.toFixed(1)).join(' ');
lines.push(`${out.date.slice(0, 16).replace('T', ' ')} UTC · ${out.machine.cpu} (${out.machine.cores} cores, load average ${la(out.machine.loadavgAtStart)} at start, ${la(out.machine.loadavgAtEnd)} at end) · ${out.browser} · onnxruntime-web ${out.ortVersion}`);
if (out.matmul.length) {
lines.push('');
lines.push('Peak (the matmul microkernel on L1-resident panels, 1 thread; fastest of the runs interleaved with the matmuls):');
const int8Names = Object.keys(out.peak).filter((k) => k.startsWith('int8 '));
for (const [k, v] of Object.entries(out.peak)) {
  if (k.startsWith('int8 ')) continue;
  lines.push(`  ${k.padEnd(13)} ${f(v)} GFLOP/s`);
}
for (const k of int8Names) {
  const fp = out.peak[k.split(' ')[1]];
  lines.push(`  ${k.padEnd(13)} ${f(out.peak[k])} GOP/s (2 per int8 multiply-add; ${f(out.peak[k] / fp, 2)}× the build's fp32 peak)`);
}
lines.push('');
lines.push('Matmul x(m,k)·Wᵀ(k→n)+b, GFLOP/s of the fastest run (% of the same build\'s peak in the same rounds):');
lines.push('  shape (m×k×n)      scalar        simd128         relaxed-simd');
for (const r of out.matmul) {
  const pct = (name) => (r.peakGflops[name] ? ` (${f((100 * r.gflops[name]) / r.peakGflops[name], 0)}%)` : '');
  lines.push(`  ${`${r.m}×${r.k}×${r.n}`.padEnd(17)}  ${f(r.gflops.scalar).padStart(6)}        ${(f(r.gflops.simd128) + pct('simd128')).padEnd(14)}  ${f(r.gflops['relaxed-simd']) + pct('relaxed-simd')}`);
}
if (int8Names.length) {
  lines.push('');
  lines.push('int8 linear (per-tensor weights; activations quantized each run, integer product, f32 epilogue), GOP/s of the');
  lines.push('fastest run (% of its kernel\'s peak in the same rounds; int8/fp32 time against the same build\'s fp32 row):');
  lines.push(`  shape (m×k×n)      ${int8Names.map((k) => k.slice(5).padEnd(44)).join('')}`);
  for (const r of out.matmul) {
    const cell = (k) => {
      const b = k.split(' ')[1];
      return `${f(r.gflops[k])} (${f((100 * r.gflops[k]) / r.peakGflops[k], 0)}%, ${f(r.gflops[b] / r.gflops[k], 2)})`.padEnd(44);
    };
    lines.push(`  ${`${r.m}×${r.k}×${r.n}`.padEnd(17)}  ${int8Names.map(cell).join('')}`);
  }
}
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
  if (e.int8) int8Table(lines, e.rows, 'logit');
  if (e.profile) profileTable(lines, e.profile, c);
}
if (out.real) {
  const r2 = out.real.threads.includes(2);
  lines.push('');
  lines.push(`all-MiniLM-L6-v2, real weights, public JS API (Engine.createHf + embed: tokenizer, forward, mean pool, L2 norm), batch 1, median ms`);
  lines.push(`vs onnxruntime-web on the ONNX export of the same weights (pooling + norm in the graph)${r2 ? '' : ' — page not cross-origin isolated: no 2-thread row'}:`);
  lines.push(`  seq   simd128   relaxed   ORT 1t   ${r2 ? 'ORT 2t   ' : ''}ours/ORT1t ${r2 ? 'ours/ORT2t ' : ''}rounds  max|Δemb| vs PyTorch (simd128 / relaxed / ORT)`);
  for (const r of out.real.rows) {
    const d = r.maxAbsDiffVsPyTorch;
    lines.push(`  ${String(r.seq).padEnd(4)} ${f(r.ms.simd128, 2).padStart(8)} ${f(r.ms['relaxed-simd'], 2).padStart(9)} ${f(r.ms['ort-1t'], 2).padStart(8)} ${r2 ? `${f(r.ms['ort-2t'], 2).padStart(8)} ` : ''}  ${f(r.ratioOursOverOrt1, 2).padStart(8)} ${r2 ? `${f(r.ratioOursOverOrt2, 2).padStart(10)} ` : ''}  ${String(r.runs).padStart(6)}  ${[d.simd128, d['relaxed-simd'], d['ort-1t']].map((x) => (x === undefined ? '–' : x.toExponential(1))).join(' / ')}`);
  }
}
if (out.real?.int8) int8Table(lines, out.real.rows, 'emb');
if (out.real?.rows.some((r) => r.ms['threads-2t'])) {
  lines.push('');
  lines.push('all-MiniLM-L6-v2 real weights, ours with wasm threads (www/pkg-threads: relaxed SIMD + shared memory) vs onnxruntime-web 2 threads, median ms:');
  lines.push('  seq   ours 1t (relaxed)  ours threads 1t  ours threads 2t   ORT 2t   ours 2t/ORT 2t   speed-up 2 vs 1 thread (vs relaxed / vs threads 1t)  max|Δemb| vs PyTorch (ours 2t)');
  for (const r of out.real.rows) {
    lines.push(`  ${String(r.seq).padEnd(4)} ${f(r.ms['relaxed-simd'], 2).padStart(17)} ${f(r.ms['threads-1t'], 2).padStart(16)} ${f(r.ms['threads-2t'], 2).padStart(16)} ${f(r.ms['ort-2t'], 2).padStart(8)}   ${f(r.ratioOurs2tOverOrt2, 2).padStart(14)}   ${f(r.speedup2v1, 2).padStart(10)}× / ${f(r.speedup2v1Same, 2)}×${' '.repeat(30)}${r.maxAbsDiffVsPyTorch['threads-2t']?.toExponential(1) ?? '–'}`);
  }
}
if (out.real?.profile) {
  for (const [build, bySeq] of Object.entries(out.real.profile)) {
    const seqs = Object.keys(bySeq);
    lines.push('');
    lines.push(`Per-op profile of that embed (${build} build, ms per call of embed, 5 profiled runs; stopwatch around each op):`);
    lines.push(`  ${'op'.padEnd(34)}${seqs.map((q) => `seq ${q}`.padStart(10)).join('')}   calls`);
    const ops = Object.keys(bySeq[seqs[0]].ms).sort((a, b) => bySeq[seqs[0]].ms[b] - bySeq[seqs[0]].ms[a]);
    for (const op of ops) {
      lines.push(`  ${op.padEnd(34)}${seqs.map((q) => f(bySeq[q].ms[op] / bySeq[q].runs, 2).padStart(10)).join('')}   ${bySeq[seqs[0]].calls[op]}`);
    }
    const matmul = (q) => Object.entries(bySeq[q].ms).filter(([k]) => k.startsWith('matmul')).reduce((a, [, v]) => a + v, 0) / bySeq[q].runs;
    lines.push(`  ${'= matmul ops'.padEnd(34)}${seqs.map((q) => f(matmul(q), 2).padStart(10)).join('')}`);
    lines.push(`  ${'= everything else'.padEnd(34)}${seqs.map((q) => f(bySeq[q].totalMs / bySeq[q].runs - matmul(q), 2).padStart(10)).join('')}`);
    lines.push(`  ${'= total'.padEnd(34)}${seqs.map((q) => f(bySeq[q].totalMs / bySeq[q].runs, 2).padStart(10)).join('')}`);
  }
}
if (Object.keys(out.wasmSize).length) {
  lines.push('');
  lines.push('The page\'s wasm builds (www/pkg*/encoder_lens_bg.wasm) as downloaded (target: ≤ 300 KB gzipped per build):');
  lines.push(...sizeLines(out.wasmSize));
}
if (out.first?.rows.length) {
  lines.push('');
  lines.push(`First classification, weights already in the Cache API (TextClassifier.load + first classify/embed, median of ${out.first.runs}; target ≤ 500 ms),`);
  lines.push('and the same steps one by one in the page\'s thread, median ms:');
  lines.push('  model          backend  runs on  build                                   total   load  first call │ wasm  read  Engine.load  first call');
  for (const r of out.first.rows) {
    const m = r.ms;
    lines.push(`  ${r.model.padEnd(14)} ${r.backend.padEnd(8)} ${r.ran.padEnd(8)} ${`${r.build}: ${r.wasm}`.padEnd(37)} ${f(m.total, 0).padStart(7)} ${f(m.load, 0).padStart(6)} ${f(m.first, 0).padStart(11)} │ ${f(m.wasm, 0).padStart(4)} ${f(m.read, 0).padStart(5)} ${f(m.engine, 0).padStart(12)} ${f(m.forward, 0).padStart(11)}`);
  }
  if (out.first.note) lines.push(`  ${out.first.note}`);
}
lines.push('');
const adapter = out.webgpu?.available
  ? `adapter ${out.webgpu.vendor || ''} ${out.webgpu.architecture || ''}${out.webgpu.fallback ? ' (fallback/software)' : ''}`
  : `no adapter (${out.webgpu?.why})`;
if (!out.webgpu) {
  lines.push('WebGPU: not measured (not asked for)');
} else if (typeof out.webgpu.forward === 'string') {
  lines.push(`WebGPU: ${adapter}; ${out.webgpu.forward}`);
} else {
  lines.push(`WebGPU forward, batch 1, median ms (${adapter}):`);
  for (const [model, rows] of Object.entries(out.webgpu.forward.rows)) {
    lines.push(`  ${model.padEnd(8)} ` + rows.map((r) => `seq ${r.seq}: ${f(r.ms, 1)}`).join(', '));
  }
}
const real = out.webgpu?.real;
if (real) {
  lines.push(`WebGPU, all-MiniLM-L6-v2 real weights, ours (createHf 'gpu' + embed) vs onnxruntime-web webgpu EP, same adapter, median ms:`);
  if (real.skipped) lines.push(`  not measured: ${real.skipped}`);
  for (const r of real.rows) {
    lines.push(`  seq ${String(r.seq).padEnd(4)} ours ${f(r.ms.ours, 1).padStart(8)}   ORT ${f(r.ms.ort, 1).padStart(8)}   ours/ORT ${f(r.ratioOursOverOrt, 2)}   (${r.runs} rounds, max|Δemb| ours vs ORT ${r.maxAbsDiff.oursVsOrt.toExponential(1)}` +
      (r.firstMs ? `; first forward ours ${f(r.firstMs.ours, 1)}, ORT ${f(r.firstMs.ort, 1)})` : ')'));
  }
}
for (const n of out.notes || []) lines.push(`note: ${n}`);
console.log('\n' + lines.join('\n'));
console.log('\nwrote bench/results.json');

/**
 * The default model's per-op profile (bench.js `forwards`): ms per forward, and for the matmuls and
 * attention GFLOP/s and their share of the build's peak, measured in the same run.
 */
function profileTable(lines, profile, c) {
  const builds = Object.keys(profile);
  const first = profile[builds[0]];
  const t = first.tokens;
  // FLOPs per call: 'matmul… k→n' is 2·t·k·n; attention (QKᵀ and P·V over all heads) 4·t²·d.
  const flops = (op) => {
    const m = /(\d+)→(\d+)/.exec(op);
    if (op.startsWith('matmul') && m) return 2 * t * Number(m[1]) * Number(m[2]);
    if (op.startsWith('attention')) return 4 * t * t * c.hidden_size;
    return 0;
  };
  lines.push('');
  lines.push(`Per-op profile of the default model's forward at seq ${t} (tokenize, forward, pool; 40 profiled runs; ms per forward, GFLOP/s and % of the build's peak):`);
  lines.push(`  ${'op'.padEnd(34)}${builds.map((b) => b.padStart(26)).join('')}   calls`);
  const ops = Object.keys(first.ms).sort((a, b) => first.ms[b] - first.ms[a]);
  for (const op of ops) {
    const cells = builds.map((b) => {
      const p = profile[b];
      const ms = p.ms[op] / p.runs;
      const gf = (flops(op) * p.calls[op]) / (ms * 1e6);
      const peak = out.peak[b];
      return (flops(op) ? `${f(ms, 3)} (${f(gf)}, ${f((100 * gf) / peak, 0)}%)` : f(ms, 3)).padStart(26);
    });
    lines.push(`  ${op.padEnd(34)}${cells.join('')}   ${first.calls[op]}`);
  }
  const total = (b) => profile[b].totalMs / profile[b].runs;
  const all = ops.reduce((a, op) => a + flops(op) * first.calls[op], 0);
  lines.push(`  ${'= total'.padEnd(34)}${builds.map((b) => `${f(total(b), 3)} (${f(all / (total(b) * 1e6))}, ${f((100 * all) / (total(b) * 1e6) / out.peak[b], 0)}%)`.padStart(26)).join('')}`);
  lines.push(`  ${'= at 100 % of the peak'.padEnd(34)}${builds.map((b) => f(all / (out.peak[b] * 1e6), 3).padStart(26)).join('')}`);
}

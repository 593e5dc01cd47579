// int8 against fp32 in one build, same run: the linear kernels at MiniLM's shapes (seq 128: 128×384×384,
// 128×384×1536, 128×1536×384), each int8 microkernel the build has, and the MiniLM forward (`embed` of a
// seq-128 text, models/minilm vs models/minilm-int8), interleaved round by round so that load from other
// processes hits both alike. Prints medians, the int8/fp32 ratios and the load average before and after.
// A relative measurement for a busy machine; BENCHMARKS.md's numbers come from `make bench` on an idle one.
//
//   node --experimental-wasm-relaxed-simd bench/int8_kernels.mjs [--chromium] [BUILD_DIR]
//
// BUILD_DIR: a `wasm-pack build --target web . --features bench` output (default bench/pkg-relaxed), inside
// the repository. --chromium: run in headless Chromium (playwright-core from tests/e2e) instead of node.
// ROUNDS (default 15), REPS (kernel calls per timed sample, default 5), SKIP_MODEL=1 (kernels only),
// ROW_BLOCK (int8 activation bytes per row block), INT8_KERNEL (the microkernel of the model rows; default: the build's),
// MINILM_INT8 (comma-separated int8 MiniLM folders for the model rows, inside the repository in Chromium;
// default models/minilm-int8), e.g. today's per-tensor folder beside the split one.
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve, relative, extname } from 'node:path';
import { loadavg } from 'node:os';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const chromium = args.includes('--chromium');
const dir = resolve(args.find((a) => !a.startsWith('--')) || join(root, 'bench/pkg-relaxed'));
const opts = { rowBlock: Number(process.env.ROW_BLOCK || 0), rounds: Number(process.env.ROUNDS || 15), reps: Number(process.env.REPS || 5), skipModel: !!process.env.SKIP_MODEL, int8Kernel: process.env.INT8_KERNEL || '', int8Dirs: (process.env.MINILM_INT8 || 'models/minilm-int8').split(',') };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

// The measurement, run in node or in the page: `get(path)` → bytes of a repository file (null if absent).
async function measure(modUrl, opts, get, clock) {
  const lines = [];
  const log = (s) => lines.push(s);
  const mod = await import(modUrl);
  mod.initSync({ module: await get(modUrl.replace(/encoder_lens\.js$/, 'encoder_lens_bg.wasm'), true) });
  const text = async (p) => { const b = await get(p); return b && new TextDecoder().decode(b); };
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  // Round-robin over `fns` (name → thunk), alternating the order each round; median ms per call.
  const interleaved = async (fns, reps) => {
    const names = Object.keys(fns);
    const t = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < opts.rounds; r++) {
      for (const n of r % 2 ? [...names].reverse() : names) {
        const t0 = clock();
        for (let i = 0; i < reps; i++) await fns[n]();
        t[n].push((clock() - t0) / reps);
      }
    }
    return Object.fromEntries(names.map((n) => [n, median(t[n])]));
  };
  const defaultInt8 = mod.setInt8Kernel ? mod.setInt8Kernel('') : 'int8';
  const kernels = mod.int8Kernels ? mod.int8Kernels() : ['int8']; // older builds: the one they have
  if (opts.rowBlock && mod.setInt8RowBlockBytes) mod.setInt8RowBlockBytes(opts.rowBlock);
  log(`kernels: ${mod.fastKernels()}, int8 default: ${defaultInt8}${opts.rowBlock ? `, row block ${opts.rowBlock} B` : ''}`);
  if (mod.peakInt8) {
    // The ceilings: each kernel's register tile on L1-resident data, fp32's and int8's, interleaved.
    const iters = 20000;
    const fns = { fp32: () => mod.peakKernel(iters, 1.0) };
    for (const name of kernels) fns[name] = () => { mod.setInt8Kernel(name); return mod.peakInt8(iters); };
    for (const g of Object.values(fns)) g();
    const ms = await interleaved(fns, 1);
    const rate = (name) => { if (name !== 'fp32') mod.setInt8Kernel(name); return (name === 'fp32' ? mod.peakFlopsPerIter() : mod.peakInt8OpsPerIter()) * iters / ms[name] / 1e6; };
    const f = rate('fp32');
    log(`peak (register tile, L1): fp32 ${f.toFixed(1)} GFLOP/s; ` + kernels.map((n) => `int8 ${n} ${rate(n).toFixed(1)} GOP/s (${(rate(n) / f).toFixed(2)}x)`).join('; '));
  }
  for (const [m, k, n] of [[128, 384, 384], [128, 384, 1536], [128, 1536, 384]]) {
    const f = new mod.MatmulBench(m, k, n);
    const q = new mod.Int8MatmulBench(m, k, n);
    const fns = { fp32: () => f.run(false) };
    for (const name of kernels) fns[name] = () => { if (mod.setInt8Kernel) mod.setInt8Kernel(name); return q.run(false); };
    for (let i = 0; i < 5; i++) for (const g of Object.values(fns)) g();
    const ms = await interleaved(fns, opts.reps);
    const gf = (t) => (f.flops() / t / 1e6).toFixed(1);
    log(`${m}x${k}x${n}: fp32 ${ms.fp32.toFixed(3)} ms (${gf(ms.fp32)} GFLOP/s)`);
    const ran = (name) => { const r = mod.setInt8Kernel ? mod.setInt8Kernel(name) : name; return r === name ? name : `${name} (runs ${r})`; };
    for (const name of kernels) log(`  int8 ${ran(name)}: ${ms[name].toFixed(3)} ms (${gf(ms[name])} GOP/s), int8/fp32 ${(ms[name] / ms.fp32).toFixed(2)}`);
    f.free();
    q.free();
  }
  if (mod.setInt8Kernel) mod.setInt8Kernel(opts.int8Kernel || defaultInt8);
  if (!opts.skipModel) {
    const engine = async (d) => {
      const weights = await get(`${d}/model.safetensors`);
      if (!weights) return null;
      const files = { config: await text(`${d}/config.json`), vocab: await text(`${d}/vocab.txt`), tokenizerConfig: await text(`${d}/tokenizer_config.json`), sentenceBertConfig: await text(`${d}/sentence_bert_config.json`), poolingConfig: await text(`${d}/1_Pooling/config.json`) };
      for (const key of Object.keys(files)) if (files[key] == null) delete files[key];
      return mod.Engine.createHf(files, [weights], 'cpu');
    };
    const e32 = await engine('models/minilm');
    const e8s = [];
    for (const d of opts.int8Dirs) e8s.push([d, await engine(d)]);
    if (!e32 || e8s.some(([, e]) => !e)) log(`MiniLM rows skipped: models/minilm and ${opts.int8Dirs.join(', ')} are needed (make setup)`);
    else {
      const seq = 128;
      const words = 'film '.repeat(seq - 2).trim(); // one word piece each, plus [CLS] and [SEP]
      for (let i = 0; i < 3; i++) for (const e of [e32, ...e8s.map(([, e]) => e)]) await e.embed([words]);
      const fns = { fp32: () => e32.embed([words]) };
      for (const [d, e] of e8s) fns[d] = () => e.embed([words]);
      const ms = await interleaved(fns, 1);
      const rows = e8s.map(([d]) => `${d} ${ms[d].toFixed(1)} ms (int8/fp32 ${(ms[d] / ms.fp32).toFixed(2)})`);
      log(`MiniLM embed seq ${seq} (int8: ${mod.setInt8Kernel ? mod.setInt8Kernel('') : 'int8'}): fp32 ${ms.fp32.toFixed(1)} ms, ${rows.join(', ')}`);
    }
  }
  return lines;
}

console.log(`build ${dir} in ${chromium ? 'Chromium' : `node ${process.version}`}\nload average before: ${load()}`);
let lines;
if (!chromium) {
  const get = async (p) => { const f = p.startsWith('file:') ? new URL(p) : resolve(root, p); return existsSync(f) ? readFileSync(f) : null; };
  // CPU time of this process (user + system), not wall time: on a machine shared with other jobs, time
  // spent waiting for a core does not count (cache and memory contention still do).
  const clock = process.env.WALL ? () => performance.now() : () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  console.log(`clock: ${process.env.WALL ? 'wall' : 'process CPU time (WALL=1 for wall time)'}`);
  lines = await measure(new URL(`file://${join(dir, 'encoder_lens.js')}`).href, opts, get, clock);
} else {
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createServer((req, res) => {
    const p = join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!p.startsWith(root) || !existsSync(p) || req.url === '/') {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html' });
      return res.end('<!doctype html><title>int8</title>');
    }
    res.writeHead(200, { 'content-type': types[extname(p)] || 'application/octet-stream' });
    res.end(readFileSync(p));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  const { chromium: browser } = createRequire(join(root, 'tests/e2e/package.json'))('playwright-core');
  const b = await browser.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  console.log('clock: wall (performance.now)');
  const page = await b.newPage();
  await page.goto(base + '/');
  const modUrl = `${base}/${relative(root, dir)}/encoder_lens.js`;
  lines = await page.evaluate(async ([src, modUrl, opts]) => {
    const get = async (p) => { const r = await fetch(new URL(p, location.href)); return r.ok ? new Uint8Array(await r.arrayBuffer()) : null; };
    return (0, eval)(`(${src})`)(modUrl, opts, get, () => performance.now());
  }, [measure.toString(), modUrl, opts]);
  await b.close();
  server.close();
}
console.log(lines.join('\n'));
console.log(`load average after: ${load()}`);

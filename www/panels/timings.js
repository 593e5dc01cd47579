// Panel 9, Inside the forward pass, timed: the engine's per-op timings of one forward of the text (measured
// in Rust, src/profile.rs: performance.now() around every op on the CPU path; on WebGPU the device's
// timestamps of every dispatch, where the adapter offers timestamp queries, else only the whole forward and
// the panel says why), drawn as a bar per op kind with its time, GFLOP/s and, on the CPU, share of the
// build's measured multiply-add peak. And the parity check: a committed PyTorch golden case run through the
// engine in this page, with the max |Δ| against PyTorch's numbers. Every number comes from the engine.
import { $, el } from './dom.js';

const fmt = (v, d = 2) => (v >= 100 ? v.toFixed(0) : v.toFixed(d));

/** Draw timings `t` (the worker's answer: engine timings + model + text). */
export function render(root, t) {
  if (!t) return;
  root.dataset.backend = t.backend;
  root.dataset.ops = String(t.ops.length);
  root.dataset.totalMs = String(t.totalMs);
  root.dataset.peakGflops = String(t.peakGflops);
  const gflops = (flops, ms) => (ms > 0 ? flops / (ms * 1e6) : 0);
  const all = gflops(t.flops, t.totalMs);
  const peak = t.peakGflops > 0; // the CPU's measured peak; the GPU has none to compare with
  const share = (g) => (peak ? ` · ${fmt((100 * g) / t.peakGflops, 1)} % of peak` : '');
  const cpuRuns = t.runs === 1 ? 'one run' : `mean of ${t.runs} runs without the slowest fifth`;
  const runs = peak ? cpuRuns : t.runs === 1 ? 'one run' : `fastest of ${t.runs} runs`;
  $('tim-summary').textContent = !t.ops.length
    ? `${t.seq} tokens · ${fmt(t.totalMs)} ms per whole forward on ${t.backend} (${runs})`
    : peak
      ? `${t.seq} tokens · ${fmt(t.totalMs, 3)} ms per forward on the ${t.backend.toUpperCase()} (${runs}) · ${fmt(t.flops / 1e6)} MFLOP counted · ${fmt(all)} GFLOP/s = ${fmt((100 * all) / t.peakGflops, 1)} % of the measured peak (${fmt(t.peakGflops)} GFLOP/s, ${t.peakKernel})`
      : `${t.seq} tokens · ${fmt(t.totalMs, 3)} ms per whole forward on ${t.backend} (${runs}) · ${fmt(t.flops / 1e6)} MFLOP counted · ${fmt(all)} GFLOP/s`;
  $('tim-note').textContent = t.note || '';
  $('tim-note').hidden = !t.note;
  const max = Math.max(1e-9, ...t.ops.map((o) => o.ms));
  const rows = t.ops.map((o) => {
    const row = el('div', 'tim-row');
    const g = gflops(o.flops, o.ms);
    Object.assign(row.dataset, { op: o.op, ms: String(o.ms), calls: String(o.calls), flops: String(o.flops), gflops: String(g) });
    const bar = el('div', 'bar');
    const fill = el('div');
    fill.style.width = `${((100 * o.ms) / max).toFixed(2)}%`;
    bar.append(fill);
    const perf = !(o.flops > 0) ? 'memory-bound (no FLOPs counted)' : o.ms > 0 ? `${fmt(g)} GFLOP/s${share(g)}` : 'under the timer’s resolution';
    row.append(el('span', 'name', `${o.op} ×${o.calls}`), bar, el('span', 'val', `${fmt(o.ms, 3)} ms`), el('span', 'perf', perf));
    return row;
  });
  $('tim-bars').replaceChildren(...rows);
}

/** Draw the parity check's answer `p` (or its error). */
export function renderParity(p, error) {
  const out = $('tim-parity');
  out.replaceChildren();
  if (error) {
    out.dataset.state = 'error';
    out.append(el('p', 'bad', `The parity check could not run: ${error}`));
    return;
  }
  Object.assign(out.dataset, { state: p.ok ? 'pass' : 'fail', maxAbsDiff: String(p.maxAbsDiff), model: p.model, backend: p.backend });
  out.append(
    el(
      'p',
      p.ok ? 'ok' : 'bad',
      `${p.ok ? 'Pass' : 'FAIL'}: ${p.texts} texts of PyTorch's golden case for ${p.modelName} run on the ${p.backend.toUpperCase()} here; max |Δ| against PyTorch = ${p.maxAbsDiff.toExponential(2)}${p.idsEqual ? '; token ids identical' : '; token ids DIFFER'}.`,
    ),
  );
  const table = el('table', 'arch-table');
  const head = el('tr');
  for (const h of ['compared', 'values', 'max |Δ|', 'tolerance', '']) head.append(el('th', null, h));
  table.append(head);
  for (const c of p.compared) {
    const tr = el('tr');
    tr.dataset.what = c.what;
    tr.dataset.maxAbsDiff = String(c.maxAbsDiff);
    for (const v of [c.what, String(c.values), c.maxAbsDiff.toExponential(2), `${c.tol[0]} + ${c.tol[1]}·|ref|`, c.ok ? '✓' : '✗']) tr.append(el('td', null, v));
    table.append(tr);
  }
  out.append(table);
}

export function wire(root, ui) {
  $('tim-run').addEventListener('click', () => ui.timeForward());
  $('tim-parity-btn').addEventListener('click', async () => {
    const b = $('tim-parity-btn');
    b.disabled = true;
    $('tim-parity').dataset.state = 'running';
    try {
      const r = await ui.parity();
      if (r) renderParity(r.value, r.error);
    } finally {
      b.disabled = false;
    }
  });
}

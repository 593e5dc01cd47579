// Panel 10, Precision: the model in fp32, f16 and int8 (the engine's PrecisionLab: a quantized twin the server
// has is downloaded, the other precisions are converted in the engine from the f32 weights) and the text run
// through each on the CPU — weights' size as stored, how they came (download time, browser cache, or converted
// here), ms per forward timed by the engine, the top label and its probability, and agreement with fp32
// (max |Δp|, same label). The switch picks the precision the per-layer chart compares with fp32 (max and
// mean |hidden − hidden_fp32| of every layer's output, from the engine's traces of both forwards). Below, one
// weight matrix's values binned by the engine with the int8 grid (scale, zero point) PyTorch puts over it.
// Every number comes from the engine; this module only draws.
import * as bars from '../views/bars.js';
import * as hist from '../views/histogram.js';
import { fmt } from '../views/canvas.js';
import { $, el, canvasWidth, hoverTips } from './dom.js';

const NAMES = { f32: 'fp32', f16: 'f16', int8: 'int8' };
const view = { precision: 'int8', matrix: null };
let current = null; // the worker's last answer: { report, histogram, matrices, sources, … }

/** The panel's choices (for the URL): { precision, matrix }. */
export function getView() {
  return { ...view };
}

/** Restore choices (from the URL) before anything is drawn. */
export function setView(v) {
  if (NAMES[v.precision]) view.precision = v.precision;
  if (v.matrix) view.matrix = v.matrix;
  for (const b of document.querySelectorAll('#prec-switch button')) b.setAttribute('aria-checked', String(b.dataset.precision === view.precision));
}

const size = (b) => (b >= 1048576 ? `${(b / 1048576).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} KB`);

function how(src, convertMs) {
  if (!src) return '';
  if (src.how === 'network') return `downloaded · ${src.ms.toFixed(0)} ms`;
  if (src.how === 'cache') return `browser cache · ${src.ms.toFixed(0)} ms`;
  if (src.how === 'local') return 'your files';
  return `converted here · ${convertMs.toFixed(0)} ms`;
}

function drawTable(x) {
  const r = x.report;
  const table = el('table', 'arch-table');
  const head = el('tr');
  for (const h of ['precision', 'weights', 'size', 'how they came', 'ms / forward', 'top label', 'max |Δp|', 'same label', 'cos(pooled)']) head.append(el('th', null, h));
  table.append(head);
  for (const row of r.rows) {
    const tr = el('tr', row.precision === view.precision ? 'on' : null);
    const src = x.sources[row.precision];
    Object.assign(tr.dataset, {
      precision: row.precision,
      source: row.source,
      how: src?.how || '',
      bytes: String(row.bytes),
      ms: String(row.ms),
      runs: String(row.runs),
      p: String(row.p),
      label: row.label ?? '',
      maxAbsDp: String(row.maxAbsDp),
      sameLabel: String(row.sameLabel),
    });
    const same = row.sameLabel == null ? '—' : row.sameLabel ? 'yes' : 'NO';
    const cells = [
      NAMES[row.precision],
      row.source,
      `${size(row.bytes)} · ${(100 * row.sizeRatio).toFixed(1)} %`,
      how(src, x.convertMs),
      `${fmt(row.ms, 3)} ms · ${row.runs} run${row.runs === 1 ? '' : 's'}`,
      row.label == null ? '—' : `${row.label} ${(100 * row.p).toFixed(2)} %`,
      row.maxAbsDp == null ? '—' : row.maxAbsDp.toExponential(2),
      same,
      row.pooledCosine.toFixed(6),
    ];
    cells.forEach((c, i) => tr.append(el('td', i === 7 && same === 'NO' ? 'bad' : null, c)));
    table.append(tr);
  }
  $('prec-table').replaceChildren(table);
}

function drawLayers(x) {
  const r = x.report;
  const row = r.rows.find((q) => q.precision === view.precision) || r.rows[0];
  const c = $('prec-layers');
  const max = row.layers.map((e) => e.maxAbs);
  const mean = row.layers.map((e) => e.meanAbs);
  Object.assign(c.dataset, { precision: row.precision, layers: JSON.stringify(r.layers), max: JSON.stringify(max), mean: JSON.stringify(mean) });
  $('prec-layers-title').textContent =
    row.precision === 'f32'
      ? 'Per-layer output error: fp32 against itself is 0 at every layer (the same forward); pick f16 or int8'
      : `Per-layer output error: |hidden(${NAMES[row.precision]}) − hidden(fp32)| on your text, ${r.tokens} tokens`;
  c._tip = (h) => [
    ['output of', r.layers[h.index]],
    ['max |Δ|', row.layers[h.index].maxAbs.toExponential(3)],
    ['mean |Δ|', row.layers[h.index].meanAbs.toExponential(3)],
    ['max |fp32 value|', row.layers[h.index].refMaxAbs.toFixed(3)],
  ];
  const top = Math.max(...r.rows.flatMap((q) => q.layers.map((e) => e.maxAbs)));
  c._hit = bars.draw(c, {
    categories: r.layers,
    series: [
      { name: 'max |Δ|', values: max, color: '#e0662b' },
      { name: 'mean |Δ|', values: mean, color: '#2d3a9a' },
    ],
    width: canvasWidth(c),
    height: 190,
    // One y range for every precision, so switching shows f16's error against int8's on the same scale.
    yRange: [0, top > 0 ? top * 1.06 : 1],
  });
}

function fillSelects(x) {
  const ms = x.matrices;
  const layerKey = (m) => (m.layer == null ? 'other' : String(m.layer));
  const cur = ms.find((m) => m.name === x.histogram?.name) || ms[0];
  const layers = [...new Set(ms.map(layerKey))];
  const ls = $('prec-layer');
  ls.replaceChildren(...layers.map((k) => Object.assign(el('option', null, k === 'other' ? 'other' : `layer ${k}`), { value: k })));
  ls.value = layerKey(cur);
  const mm = $('prec-matrix');
  mm.replaceChildren(...ms.filter((m) => layerKey(m) === ls.value).map((m) => Object.assign(el('option', null, `${m.part} (${m.shape[0]}×${m.shape[1]})`), { value: m.name })));
  mm.value = cur.name;
}

/** Draw histogram `h` (the engine's binning of one matrix and its int8 grid). */
export function renderHistogram(h) {
  const c = $('prec-hist');
  if (!h) return;
  view.matrix = h.name;
  const total = h.counts.reduce((a, b) => a + b, 0);
  Object.assign(c.dataset, { name: h.name, rows: String(h.shape[0]), cols: String(h.shape[1]), count: String(h.count), total: String(total), scale: String(h.scale), zeroPoint: String(h.zeroPoint), levelsUsed: String(h.levelsUsed) });
  c._tip = (t) => [
    ['values in', `${fmt(t.from, 4)} … ${fmt(t.to, 4)}`],
    ['count', String(t.count)],
    ['nearest int8 level', t.q == null ? '—' : `q = ${t.q} → ${fmt(t.q * h.scale, 5)}`],
  ];
  c._hit = hist.draw(c, { edges: h.edges, counts: h.counts, grid: { scale: h.scale, lo: h.qLo, hi: h.qHi, major: 16 }, width: canvasWidth(c), height: 200, log: $('prec-log').checked });
  c.dataset.log = String($('prec-log').checked);
  $('prec-hist-caption').textContent =
    `${h.name}: ${h.shape[0]} × ${h.shape[1]} = ${h.count} weights in ${h.counts.length} bins, from ${fmt(h.min, 4)} to ${fmt(h.max, 4)}. ` +
    `int8 grid (PyTorch's per-tensor MinMaxObserver, symmetric): scale = ${h.scale.toExponential(4)}, zero point = ${h.zeroPoint}, ` +
    `levels q·scale for q in [${h.qmin}, ${h.qmax}]; this matrix uses q ${h.qLo} … ${h.qHi} (${h.levelsUsed} distinct levels). ` +
    `Rounding to the grid moves a weight by at most ${h.maxError.toExponential(2)} (half a step), ${h.meanError.toExponential(2)} on average.`;
}

/** Draw the worker's answer `x` for the current text. */
export function render(root, x) {
  if (!x) return;
  current = x;
  const r = x.report;
  root.dataset.model = x.model;
  root.dataset.base = x.base;
  root.dataset.text = r.text;
  const rows = Object.fromEntries(r.rows.map((q) => [q.precision, q]));
  $('prec-summary').textContent =
    `${x.baseName}, ${r.tokens} tokens, every precision on the ${r.backend.toUpperCase()}. int8 is ${(100 * rows.int8.sizeRatio).toFixed(1)} % of the fp32 weights and moves p(${rows.f32.label ?? '—'}) by at most ${rows.int8.maxAbsDp?.toExponential(2) ?? '—'}; ` +
    `f16 is ${(100 * rows.f16.sizeRatio).toFixed(1)} % and moves it by ${rows.f16.maxAbsDp?.toExponential(2) ?? '—'}. ` +
    `Δp and cos(pooled) against fp32. Download times were measured when the page fetched the files; "converted here" is the engine converting the f32 weights in this page, the time covering all the conversions this model needed. ` +
    `ms per forward: the mean of the runs without the slowest fifth, timed in the engine.`;
  drawTable(x);
  drawLayers(x);
  fillSelects(x);
  renderHistogram(x.histogram);
  root.dataset.matrix = x.histogram?.name || '';
  root.dataset.state = 'drawn';
}

export function wire(root, ui) {
  hoverTips($('prec-layers'), ui);
  hoverTips($('prec-hist'), ui);
  for (const b of root.querySelectorAll('#prec-switch button')) {
    b.addEventListener('click', () => {
      setView({ precision: b.dataset.precision });
      root.dataset.precision = view.precision;
      if (current) {
        drawTable(current);
        drawLayers(current);
      }
      ui.stateChanged();
    });
  }
  $('prec-layer').addEventListener('change', () => {
    if (!current) return;
    const part = current.matrices.find((m) => m.name === $('prec-matrix').value)?.part;
    const inLayer = current.matrices.filter((m) => String(m.layer ?? 'other') === $('prec-layer').value);
    const pick = inLayer.find((m) => m.part === part) || inLayer[0];
    if (pick) ui.precisionMatrix(pick.name);
  });
  $('prec-matrix').addEventListener('change', () => ui.precisionMatrix($('prec-matrix').value));
  $('prec-log').addEventListener('change', () => current?.histogram && renderHistogram(current.histogram));
  root.dataset.precision = view.precision;
}

/** The engine could not build the precisions of `model` (e.g. a model of yours that is already int8): say why. */
export function renderError(root, model, message) {
  current = null;
  root.dataset.state = 'error';
  root.dataset.model = model;
  $('prec-summary').textContent = `This model's precisions could not be compared: ${message}`;
  $('prec-table').replaceChildren();
  for (const id of ['prec-layers', 'prec-hist']) {
    const c = $(id);
    c.getContext('2d').clearRect(0, 0, c.width, c.height);
    c._hit = null;
  }
  $('prec-hist-caption').textContent = '';
  $('prec-layer').replaceChildren();
  $('prec-matrix').replaceChildren();
}

/** After `ui.precisionMatrix` got the engine's histogram of another matrix: draw it, selects included. */
export function showMatrix(h) {
  if (!current || !h) return;
  current = { ...current, histogram: h };
  fillSelects(current);
  renderHistogram(h);
  document.getElementById('precision').dataset.matrix = h.name;
}

// The page's main thread: it owns the DOM and the canvases and renders what the worker's engine computed.
// It paints a pre-computed example (example.json, a real engine trace) at once, then the live model's.
// No model math happens here. User text only ever reaches the DOM through textContent.

import * as heatmap from './views/heatmap.js';
import * as tokenlinks from './views/tokenlinks.js';
import * as curves from './views/curves.js';
import * as bars from './views/bars.js';
import { scale, legend, extent, fmt, quantileAbs } from './views/canvas.js';

const $ = (id) => document.getElementById(id);

const SAMPLES = [
  'A quiet, beautifully acted film that stays with you.',
  'The plot was a mess and I was bored within ten minutes.',
  'one of the best films of the year',
  'Not bad at all, though the ending felt rushed.',
  'An absolute triumph of style over substance.',
];

const state = {
  manifest: null,
  model: null,
  backend: 'auto',
  info: null, // { model, backend, backendLabel, fallbackReason, config }
  positional: null, // { table, similarity }
  analysis: null,
  live: false,
  sel: { layer: 0, head: 0 }, // head === -1: average over heads
  focus: null, // focused query token in the link view
  normLayer: 0,
  normWhich: 0,
  padded: false,
  seq: 0,
};

// ---------------------------------------------------------------- worker RPC

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 1;
worker.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === 'progress') return onProgress(m);
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  m.ok ? p.resolve(m.value) : p.reject(new Error(m.error));
};
worker.onerror = (ev) => {
  showMessage('error', `The engine's worker failed: ${ev.message || 'unknown error'}.`, 'worker');
  setStatus('error', 'Engine unavailable — showing the pre-computed example.');
};
function call(type, args = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, type, ...args });
  });
}

// ---------------------------------------------------------------- status, progress, messages

function setStatus(kind, text) {
  $('status-dot').className = `dot ${kind}`;
  $('status-text').textContent = text;
}

const downloads = new Map();
function onProgress(m) {
  downloads.set(`${m.model}/${m.file}`, m);
  let loaded = 0;
  let total = 0;
  let cached = true;
  for (const d of downloads.values()) {
    loaded += d.loaded;
    total += d.total || d.loaded;
    cached = cached && d.cached;
  }
  $('progress').hidden = false;
  $('progress-bar').style.width = `${total ? Math.min(100, (100 * loaded) / total) : 0}%`;
  const mb = (b) => (b / 1048576).toFixed(b < 1048576 ? 2 : 1);
  setStatus('', cached ? `Loading ${m.model} from the browser cache…` : `Downloading ${m.model}: ${mb(loaded)} / ${mb(total)} MB`);
}

/** Show a message; `key` replaces an earlier message with the same key. Text is set with textContent. */
function showMessage(kind, text, key) {
  const box = $('messages');
  const old = key && box.querySelector(`[data-key="${key}"]`);
  if (old) old.remove();
  const div = document.createElement('div');
  div.className = `msg ${kind}`;
  div.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (key) div.dataset.key = key;
  const p = document.createElement('p');
  p.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss');
  close.textContent = '×';
  close.onclick = () => div.remove();
  div.append(p, close);
  box.append(div);
}
function clearMessage(key) {
  $('messages').querySelector(`[data-key="${key}"]`)?.remove();
}

// ---------------------------------------------------------------- small DOM helpers

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function probRows(container, labels, probs, { top = -1, names } = {}) {
  container.replaceChildren();
  labels.forEach((l, i) => {
    const row = el('div', `prob${i === top ? ' top' : ''}`);
    row.dataset.label = l;
    row.dataset.prob = String(probs[i]);
    const bar = el('div', 'bar');
    const fill = el('div');
    fill.style.width = `${(100 * probs[i]).toFixed(2)}%`;
    bar.append(fill);
    row.append(el('span', 'name', names ? names[i] : l), bar, el('span', 'val', `${(100 * probs[i]).toFixed(1)}%`));
    container.append(row);
  });
}

const SPECIAL = /^\[(CLS|SEP|PAD|UNK|MASK)\]$/;
const tensorRow = (t, offset, n) => t.data.slice(offset, offset + n);
const canvasWidth = (c) => Math.max(120, c.parentElement.clientWidth);

// ---------------------------------------------------------------- rendering

function current() {
  const a = state.analysis;
  const insp = a.inspection;
  const trace = insp.result.trace;
  const pred = insp.result.predictions[0];
  return { a, insp, trace, tokens: pred.tokens, n: trace.lengths[0], config: state.info?.config || a.config };
}

function renderClassify() {
  const { a, tokens } = current();
  const p = a.prediction;
  const res = $('result');
  res.dataset.state = state.live ? 'live' : 'example';
  res.dataset.label = p.label;
  res.dataset.probabilities = JSON.stringify(p.probabilities);
  res.dataset.model = a.model;
  res.dataset.backend = state.info?.backend || 'example';
  res.dataset.text = a.text;
  res.dataset.seq = String(state.seq);
  const lab = $('label');
  lab.textContent = p.label;
  lab.className = `label ${/pos/i.test(p.label) ? 'positive' : /neg/i.test(p.label) ? 'negative' : ''}`;
  $('confidence').textContent = `${(100 * p.probabilities[p.labelIndex]).toFixed(1)}% confident`;
  probRows($('probs'), a.labels, p.probabilities, { top: p.labelIndex });

  const meta = $('meta');
  meta.replaceChildren();
  const item = (k, v, cls) => {
    const s = el('span');
    s.append(el('b', null, `${k} `), cls ? el('span', cls, v) : document.createTextNode(v));
    meta.append(s);
  };
  if (state.live) {
    item('Backend', state.info.backendLabel, 'badge');
    item('Forward', `${a.ms < 10 ? a.ms.toFixed(2) : a.ms.toFixed(1)} ms`);
  } else {
    item('Backend', 'pre-computed example', 'badge warn');
  }
  item('Model', modelName(a.model));
  item('Tokens', String(tokens.length));
  if (p.truncated > 0) item('Truncated', `${p.truncated} word pieces`, 'badge warn');

  renderPipeline(current().config, tokens.length);
  const box = $('tokens');
  box.replaceChildren();
  tokens.forEach((t, i) => {
    const s = el('span', `tok${SPECIAL.test(t) ? ' special' : t.startsWith('##') ? ' piece' : ''}`, t);
    s.append(el('sub', null, String(i)));
    box.append(s);
  });
  if (p.truncated > 0) box.append(el('span', 'tok cut', `+${p.truncated} cut`));
}

/** The forward pass as steps, from the model's config (words only; the numbers are the config's). */
function renderPipeline(config, n) {
  const c = config;
  const norm = c.norm === 'batch' ? 'BatchNorm' : 'LayerNorm';
  const act = { relu: 'ReLU', gelu: 'GELU', gelu_tanh: 'GELU (tanh)' }[c.activation] || c.activation;
  const layer = c.norm_first
    ? `${norm} → attention (${c.num_heads} heads) → add → ${norm} → FFN ${c.ffn_size} ${act} → add`
    : `attention (${c.num_heads} heads) → add & ${norm} → FFN ${c.ffn_size} ${act} → add & ${norm}`;
  const steps = [
    ['', `${n} tokens`],
    ['', `embed${c.embedding_scale ? ` × √${c.hidden_size}` : ''} + ${c.positional_encoding} positions${c.embedding_norm ? ' → LayerNorm' : ''}`],
    ['layers', `${c.num_layers} × [ ${layer} ]`],
    ...(c.final_norm ? [['', `final ${norm}`]] : []),
    ['', c.pooling === 'cls' ? 'take [CLS]' : 'mean over tokens'],
    ['', `linear → softmax over ${c.labels.length} labels`],
  ];
  $('pipeline').replaceChildren(...steps.map(([cls, text]) => el('li', cls, text)));
}

function modelName(id) {
  return state.manifest?.models.find((m) => m.id === id)?.name || id;
}

/** The attention data currently shown: per layer a (heads, s, s) tensor, its tokens and padding marks. */
function attentionData() {
  const { insp, trace, tokens, n } = current();
  if (state.padded) {
    const bt = insp.batchTest;
    const s = bt.togetherSeq;
    const toks = tokens.concat(Array(s - n).fill('[PAD]'));
    const muted = toks.map((_, i) => i >= n);
    return { s, tokens: toks, muted, layers: bt.togetherAttention.map((t) => ({ heads: t.shape[0], data: t.data })), mean: null };
  }
  return {
    s: trace.seq,
    tokens,
    muted: null,
    layers: trace.layers.map((l) => ({ heads: l.attention.shape[1], data: l.attention.data })),
    mean: insp.attentionMean,
  };
}

function selectedMap(att) {
  const { layer, head } = state.sel;
  const s = att.s;
  if (head < 0 && att.mean) return att.mean[layer].data;
  const h = Math.max(0, head);
  return tensorRow({ data: att.layers[layer].data }, h * s * s, s * s);
}

/** One colour scale for every attention map on screen: 0 to the largest weight shown (the legend says which). */
function attentionScale(att) {
  let hi = 0;
  for (const l of att.layers) for (const v of l.data) if (v > hi) hi = v;
  return scale('seq', 0, Math.max(hi, 1e-6));
}
let ATT_SCALE = scale('seq', 0, 1);

function renderAttention() {
  const att = attentionData();
  const L = att.layers.length;
  const H = att.layers[0]?.heads || 0;
  if (state.sel.layer >= L) state.sel.layer = 0;
  if (state.sel.head >= H) state.sel.head = 0;
  if (state.sel.head < 0 && !att.mean) state.sel.head = 0;
  const sec = $('attention');
  sec.dataset.layers = String(L);
  sec.dataset.heads = String(H);
  sec.dataset.tokens = String(att.s);
  sec.dataset.padded = String(state.padded);
  const dk = (current().config.hidden_size / current().config.num_heads) | 0;
  $('att-dk').textContent = `dₖ = ${dk} here (√dₖ = ${Number(Math.sqrt(dk).toFixed(2))})`;
  ATT_SCALE = attentionScale(att);

  // Small multiples: one row per layer, one column per head, plus the head average.
  const grid = $('att-grid');
  grid.closest('.att-grid-wrap').classList.toggle('many', H > 6);
  grid.replaceChildren();
  grid.style.gridTemplateColumns = `auto repeat(${H + 1}, auto)`;
  grid.append(el('span'));
  for (let h = 0; h < H; h++) grid.append(el('span', 'collab', `head ${h + 1}`));
  grid.append(el('span', 'collab', 'average'));
  const wrapW = grid.closest('.att-grid-wrap').clientWidth || 360;
  const avail = (H > 6 ? wrapW : Math.min(wrapW >= 880 ? wrapW * 0.3 : wrapW, 420)) - 56;
  const cellPx = Math.max(22, Math.min(64, Math.floor(avail / (H + 1)) - 10));
  for (let l = 0; l < L; l++) {
    grid.append(el('span', 'rowlab', `layer ${l + 1}`));
    for (let h = -1; h < H; h++) {
      // Column order: heads first, the average last.
      const head = h === H - 1 ? -1 : h + 1;
      const btn = el('button', 'cell');
      btn.type = 'button';
      const pressed = state.sel.layer === l && state.sel.head === head;
      btn.setAttribute('aria-pressed', String(pressed));
      btn.setAttribute('aria-label', head < 0 ? `Layer ${l + 1}, average over heads` : `Layer ${l + 1}, head ${head + 1}`);
      const c = el('canvas');
      c.dataset.layer = String(l);
      c.dataset.head = String(head);
      c.dataset.size = String(att.s);
      btn.append(c);
      if (head < 0 && !att.mean) {
        btn.disabled = true;
        btn.title = 'The average is shown for the text on its own';
      }
      const values = head < 0 ? att.mean?.[l].data : tensorRow({ data: att.layers[l].data }, head * att.s * att.s, att.s * att.s);
      if (values) {
        heatmap.draw(c, { rows: att.s, cols: att.s, values, scale: ATT_SCALE, width: cellPx, mutedCols: att.muted });
      } else {
        heatmap.draw(c, { rows: 1, cols: 1, values: [0], scale: ATT_SCALE, width: cellPx });
      }
      btn.onclick = () => {
        state.sel = { layer: l, head };
        state.focus = null;
        renderAttention();
      };
      grid.append(btn);
    }
  }
  renderAttentionMain(att);
}

let attHit = null;
let linksHit = null;

function renderAttentionMain(att = attentionData()) {
  const { layer, head } = state.sel;
  $('att-title').textContent = `Layer ${layer + 1} · ${head < 0 ? 'average over heads' : `head ${head + 1}`}`;
  const values = selectedMap(att);
  const c = $('att-map');
  const w = Math.min(canvasWidth(c), 560);
  attHit = heatmap.draw(c, {
    rows: att.s,
    cols: att.s,
    values,
    scale: ATT_SCALE,
    width: w,
    rowLabels: att.tokens,
    colLabels: att.tokens,
    mutedCols: att.muted,
    mutedRows: att.muted,
    selected: state.focus != null ? { row: state.focus } : null,
    grid: true,
  });
  c.dataset.size = String(att.s);
  legend($('att-legend'), ATT_SCALE, 200, 'attention weight');
  const lc = $('att-links');
  linksHit = tokenlinks.draw(lc, { tokens: att.tokens, weights: values, width: canvasWidth(lc), focus: state.focus, muted: att.muted, max: ATT_SCALE.hi });
}

function renderPositional() {
  const pv = state.positional;
  if (!pv) return;
  const { n, config } = current();
  const [L, D] = pv.table.shape;
  const sec = $('positional');
  sec.dataset.rows = String(L);
  sec.dataset.dims = String(D);
  sec.dataset.tokens = String(n);
  sec.dataset.kind = config.positional_encoding;
  const learned = config.positional_encoding === 'learned';
  $('pe-caption-sin').hidden = learned;
  $('pe-caption-learned').hidden = !learned;
  $('pe-foot').textContent = `The encoder adds the first ${n} rows of this table to the ${n} token embeddings of your text${
    config.embedding_scale ? ` (which are first multiplied by √d = ${Number(Math.sqrt(D).toFixed(2))}, so the positions do not drown them)` : ''
  }. The outlined band and square mark those rows.${learned ? ' Colours are clipped at the 99th percentile of |value|; a few outliers are larger.' : ''}`;
  $('pe-sim-caption').textContent = learned
    ? 'A learned table has no built-in structure; what it learned shows as the dot products between positions — nearby positions usually end up similar.'
    : 'For the sinusoidal table the dot product depends only on the distance p − q (a sum of cosines of it), so nearby positions look alike and the map is constant along diagonals: that is what lets attention learn relative position.';
  // A learned table has a few large outliers: clip the colours at the 99th percentile of |value|.
  const lim = learned ? quantileAbs(pv.table.data, 0.99) : Math.max(...extent(pv.table.data).map(Math.abs));
  const s = scale('div', -lim, lim);
  const tc = $('pe-table');
  const step = (k) => (k <= 16 ? 4 : k <= 64 ? 8 : k <= 256 ? 32 : 64);
  tc._tip = (h) => [['position', String(h.row)], ['dimension', String(h.col)], ['value', h.value.toFixed(4)]];
  tc._hit = heatmap.draw(tc, { rows: L, cols: D, values: pv.table.data, scale: s, width: canvasWidth(tc), height: Math.min(440, Math.max(260, L * 3.2 + 30)), highlightRows: [0, n], ticks: { rows: step(L), cols: step(D) }, axis: { rows: 'position', cols: 'dimension' } });
  legend($('pe-legend'), s, 200, 'value');

  // A sin/cos pair of a fast dimension, then slower and slower ones (even = sin, odd = cos).
  const even = (f) => 2 * Math.round((D / 2) * f);
  const dims = [even(0.06), even(0.06) + 1, even(0.16), even(0.3), even(0.5)].filter((d, i, a) => d < D && a.indexOf(d) === i);
  const colors = ['#2d3a9a', '#7f8fd4', '#e0662b', '#f2a36b', '#2f8f5b', '#86c79f'];
  const series = dims.map((d, i) => ({ name: `dim ${d}`, color: colors[i], values: Array.from({ length: L }, (_, p) => pv.table.data[p * D + d]) }));
  const cc = $('pe-curves');
  curves.draw(cc, { series, width: canvasWidth(cc), height: 190, xLabel: 'position', band: [0, n], yRange: learned ? undefined : [-1, 1] });
  const keys = $('pe-curve-keys');
  keys.replaceChildren(...series.map((sr, i) => el('span', `k${i}`, `${sr.name} (${dims[i] % 2 ? 'cos' : 'sin'})`)));
  if (learned) keys.replaceChildren(...series.map((sr, i) => el('span', `k${i}`, sr.name)));

  const [slo, shi] = extent(pv.similarity.data);
  const slim = learned ? quantileAbs(pv.similarity.data, 0.99) : Math.max(Math.abs(slo), Math.abs(shi));
  const ss = slo < 0 ? scale('div', -slim, slim) : scale('seq', slo, shi);
  const sc = $('pe-sim');
  sc._tip = (h) => [['positions', `${h.row} · ${h.col}`], ['PE·PE', h.value.toFixed(3)]];
  sc._hit = heatmap.draw(sc, { rows: L, cols: L, values: pv.similarity.data, scale: ss, width: Math.min(canvasWidth(sc), 300), highlightBlock: [0, n], ticks: { rows: step(L), cols: step(L) }, axis: { rows: 'position p', cols: 'position q' } });
  legend($('pe-sim-legend'), ss, 200, 'dot product');
}

function roleInspection(role) {
  const a = state.analysis;
  const c = a.compare?.[role];
  if (!c) return null;
  return c.same ? a.inspection : c;
}

function renderNorms() {
  const ln = roleInspection('ln');
  const bn = roleInspection('bn');
  const sec = $('norms');
  const any = ln || bn;
  if (!any) {
    sec.dataset.ready = 'false';
    return;
  }
  const L = any.result.trace.layers.length;
  const sel = $('norm-layer');
  if (sel.options.length !== L) {
    sel.replaceChildren(...Array.from({ length: L }, (_, i) => el('option', null, `${i + 1}`)));
    [...sel.options].forEach((o, i) => (o.value = String(i)));
  }
  state.normLayer = Math.min(state.normLayer, L - 1);
  const preNorm = (state.info?.config || any.result.trace).norm_first ?? true;
  const which = $('norm-which');
  which.options[0].textContent = preNorm ? 'norm1 (before attention)' : 'norm1 (after attention + residual)';
  which.options[1].textContent = preNorm ? 'norm2 (before the feed-forward)' : 'norm2 (after feed-forward + residual)';
  sel.value = String(state.normLayer);
  const l = state.normLayer;
  const w = state.normWhich;
  const key = w ? 'norm2' : 'norm1';
  const comp = $('companion');
  if (document.activeElement !== comp && comp.value !== state.analysis.companion) comp.value = state.analysis.companion;

  // Shared colour scale for both normalised outputs.
  const outs = [ln, bn].filter(Boolean).map((x) => {
    const n = x.result.trace.lengths[0];
    const o = x.result.trace.layers[Math.min(l, x.result.trace.layers.length - 1)][key].output;
    return { n, d: o.shape[2], data: o.data.slice(0, n * o.shape[2]) };
  });
  const lim = Math.max(...outs.map((o) => Math.max(...extent(o.data).map(Math.abs))));
  const outScale = scale('div', -lim, lim);
  legend($('norm-out-legend'), outScale, 220, 'normalised output');

  const shifts = [ln, bn].filter(Boolean).map((x) => x.batchTest.layers[Math.min(l, x.batchTest.layers.length - 1)][w].maxShift);
  const diffScale = scale('heat', 0, Math.max(1e-6, ...shifts));
  legend($('diff-legend'), diffScale, 220, '|Δ| of the output');

  for (const [role, x] of [['ln', ln], ['bn', bn]]) {
    const col = $(`norm-${role}`);
    col.classList.toggle('unavailable', !x);
    if (!x) {
      col.dataset.ready = 'false';
      col.querySelector('h3').textContent = `${role === 'ln' ? 'LayerNorm' : 'BatchNorm'} model — could not be loaded`;
      continue;
    }
    col.dataset.ready = 'true';
    const tr = x.result.trace;
    const li = Math.min(l, tr.layers.length - 1);
    const nt = tr.layers[li][key];
    const n = tr.lengths[0];
    const tokens = x.result.predictions[0].tokens;
    const p = x.result.predictions[0];
    probRows($(`${role}-pred`), x.result.labels, p.probabilities, { top: p.labelIndex });
    col.querySelector('h3').textContent = `${role === 'ln' ? 'LayerNorm' : 'BatchNorm'} model — ${modelName(x.id || state.analysis.model)}`;
    const D = nt.output.shape[2];
    const mc = $(`${role}-mean`);
    const vc = $(`${role}-var`);
    if (nt.kind === 'layer') {
      const out = x.outputTokenStats[li][w];
      const cats = tokens.slice(0, n);
      // μ in and out share one axis (the output's is ~0: the point); σ² has its own (input ~100s, output ~1).
      const muIn = nt.mean.data.slice(0, n);
      const muRange = extent([...muIn, ...out.mean, 0]);
      const chart = (id, title, values, color, yRange) => {
        const c = $(id);
        c._hit = bars.draw(c, { categories: cats, width: canvasWidth(c), height: 120, rotate: true, title, yRange, series: [{ name: title, values, color }] });
        c._tip = (h) => [['token', cats[h.index]], [title, h.values[0].toFixed(4)]];
      };
      chart(`${role}-mean`, 'input μ', muIn, '#b4b9c9', muRange);
      chart(`${role}-omean`, 'output μ', out.mean, '#2d3a9a', muRange);
      chart(`${role}-var`, 'input σ²', nt.var.data.slice(0, n), '#b4b9c9');
      chart(`${role}-ovar`, 'output σ²', out.var, '#2d3a9a');
    } else {
      const cats = Array.from({ length: D }, (_, i) => String(i));
      const every = Math.ceil(D / 16);
      mc._tip = (h) => [['feature', String(h.index)], ['running μ', h.values[0].toFixed(4)], ['this input μ', h.values[1].toFixed(4)]];
      vc._tip = (h) => [['feature', String(h.index)], ['running σ²', h.values[0].toFixed(4)], ['this input σ²', h.values[1].toFixed(4)]];
      mc._hit = bars.draw(mc, { categories: cats, width: canvasWidth(mc), height: 120, labelEvery: every, title: 'μ per feature', series: [
        { name: 'running μ', values: nt.running_mean.data, color: '#b4b9c9' },
        { name: 'this input μ', values: nt.mean.data, color: '#e0662b' }] });
      vc._hit = bars.draw(vc, { categories: cats, width: canvasWidth(vc), height: 120, labelEvery: every, title: 'σ² per feature', series: [
        { name: 'running σ²', values: nt.running_var.data, color: '#b4b9c9' },
        { name: 'this input σ²', values: nt.var.data, color: '#e0662b' }] });
    }
    mc.dataset.kind = nt.kind;
    const oc = $(`${role}-out`);
    oc._tip = (h) => [['token', tokens[h.row]], ['feature', String(h.col)], ['normalised', h.value.toFixed(4)]];
    oc._hit = heatmap.draw(oc, { rows: n, cols: D, values: nt.output.data.slice(0, n * D), scale: outScale, width: canvasWidth(oc), height: Math.max(60, n * 12), rowLabels: tokens.slice(0, n), labelSize: 10 });
    oc.dataset.rows = String(n);
    oc.dataset.cols = String(D);

    // The batch experiment.
    const bt = x.batchTest;
    const sh = bt.layers[Math.min(l, bt.layers.length - 1)][w];
    const dc = $(`${role}-diff`);
    dc._tip = (h) => [['token', tokens[h.row]], ['feature', String(h.col)], ['|Δ|', h.value.toExponential(2)]];
    dc._hit = heatmap.draw(dc, { rows: n, cols: D, values: sh.diff.data.map(Math.abs), scale: diffScale, width: canvasWidth(dc), height: Math.max(60, n * 12), rowLabels: tokens.slice(0, n), labelSize: 10 });
    const num = $(`${role}-shift`);
    num.textContent = `max |Δ| = ${sh.maxShift === 0 ? '0' : fmt(sh.maxShift, 3)}`;
    num.className = `shift-num ${sh.maxShift < 1e-4 ? 'zero' : 'moved'}`;
    sec.dataset[`${role}MaxShift`] = String(sh.maxShift);
    const avs = $(`${role}-alone-vs`);
    avs.replaceChildren();
    const top = p.labelIndex;
    const row = (name, pr) => {
      const r = el('div', `prob top${pr.labelIndex !== top ? ' flip' : ''}`);
      if (pr.labelIndex !== top) r.title = `the label flips to ${pr.label}`;
      const bar = el('div', 'bar');
      const f = el('div');
      f.style.width = `${(100 * pr.probabilities[top]).toFixed(2)}%`;
      bar.append(f);
      r.append(el('span', 'name', name), bar, el('span', 'val', `${(100 * pr.probabilities[top]).toFixed(1)}%${pr.labelIndex !== top ? ` → ${pr.label}` : ''}`));
      return r;
    };
    avs.append(el('div', 'sub', `P(${p.label}) for your text`));
    const isBn = nt.kind === 'batch';
    avs.append(
      row(isBn ? 'inference (running μ, σ²)' : 'inference', p),
      row(isBn ? 'batch statistics, alone' : 'alone', bt.alone),
      row(isBn ? `batch stats, with the long text` : 'with the long text', bt.together),
    );
    avs.dataset.alone = String(bt.alone.probabilities[top]);
    avs.dataset.together = String(bt.together.probabilities[top]);
  }
  sec.dataset.layer = String(l);
  sec.dataset.ready = 'true';
}

function renderAll() {
  if (!state.analysis) return;
  const t0 = performance.now();
  renderClassify();
  renderAttention();
  renderPositional();
  renderNorms();
  $('result').dataset.renderMs = (performance.now() - t0).toFixed(1);
}

// ---------------------------------------------------------------- hover tooltips

const tip = $('tooltip');
function showTip(ev, parts) {
  tip.replaceChildren();
  parts.forEach(([k, v], i) => {
    if (i) tip.append(el('br'));
    tip.append(el('span', 'k', `${k} `), document.createTextNode(v));
  });
  tip.hidden = false;
  const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}
const hideTip = () => (tip.hidden = true);
const local = (ev) => {
  const r = ev.currentTarget.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
};

$('att-map').addEventListener('mousemove', (ev) => {
  const h = attHit?.hit(...local(ev));
  if (!h) return hideTip();
  const att = attentionData();
  showTip(ev, [['query', att.tokens[h.row]], ['key', att.tokens[h.col]], ['weight', h.value.toFixed(4)]]);
});
$('att-map').addEventListener('mouseleave', hideTip);
$('att-map').addEventListener('click', (ev) => {
  const h = attHit?.hit(...local(ev));
  state.focus = h ? (state.focus === h.row ? null : h.row) : null;
  renderAttentionMain();
});
$('att-links').addEventListener('mousemove', (ev) => {
  const h = linksHit?.hit(...local(ev));
  const f = h && h.side === 'query' ? h.index : null;
  if (f !== state.focus && (f != null || ev.type === 'mouseleave')) {
    state.focus = f;
    renderAttentionMain();
  }
});
$('att-links').addEventListener('mouseleave', () => {
  state.focus = null;
  renderAttentionMain();
});
// Keyboard: arrow keys move the focused query row in the large map / link view.
for (const id of ['att-map', 'att-links']) {
  $(id).addEventListener('keydown', (ev) => {
    const s = attentionData().s;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      const d = ev.key === 'ArrowDown' ? 1 : -1;
      state.focus = state.focus == null ? 0 : (state.focus + d + s) % s;
      renderAttentionMain();
      ev.preventDefault();
    } else if (ev.key === 'Escape') {
      state.focus = null;
      renderAttentionMain();
    }
  });
}
// Every other chart: its draw() returned a hit test, and the renderer set how to describe a hit.
for (const id of ['pe-table', 'pe-sim', 'ln-mean', 'ln-omean', 'ln-var', 'ln-ovar', 'bn-mean', 'bn-var', 'ln-out', 'bn-out', 'ln-diff', 'bn-diff']) {
  const c = $(id);
  c.addEventListener('mousemove', (ev) => {
    const h = c._hit?.hit(...local(ev));
    if (!h || !c._tip) return hideTip();
    showTip(ev, c._tip(h));
  });
  c.addEventListener('mouseleave', hideTip);
}

// ---------------------------------------------------------------- running the model

let inflight = false;
let queued = null;

async function runAnalysis(text) {
  if (!state.model) return;
  if (inflight) {
    queued = text;
    return;
  }
  inflight = true;
  try {
    const trimmed = text.trim() ? text : '';
    if (!trimmed) {
      showMessage('info', 'Type some text to classify.', 'empty');
      return;
    }
    clearMessage('empty');
    const t0 = performance.now();
    const a = await call('analyse', { model: state.model, text, companion: $('companion').value || undefined });
    $('result').dataset.analyseMs = (performance.now() - t0).toFixed(1);
    $('result').dataset.inspectMs = a.inspectMs.toFixed(1);
    state.analysis = a;
    state.info = a.info;
    state.live = true;
    state.seq++;
    const p = a.prediction;
    if (p.truncated > 0) {
      showMessage('warn', `Your text is longer than this model's window of ${a.info.config.max_len} tokens: the last ${p.truncated} word pieces were cut off (the model only sees the first ${a.info.config.max_len}).`, 'truncated');
    } else clearMessage('truncated');
    clearMessage('analyse');
    $('progress').hidden = true;
    renderAll();
    setStatus('ready', `Ready · ${modelName(state.model)} · ${a.info.backendLabel}`);
  } catch (e) {
    showMessage('error', `Could not classify: ${e.message}`, 'analyse');
  } finally {
    inflight = false;
    if (queued != null) {
      const t = queued;
      queued = null;
      runAnalysis(t);
    }
  }
}

async function loadModel(model, backend) {
  const prevModel = state.model;
  downloads.clear();
  setStatus('', `Loading ${modelName(model)}…`);
  try {
    const info = await call('load', { model, backend });
    state.model = model;
    state.info = info;
    state.positional = info.positional;
    $('progress').hidden = true;
    clearMessage('load');
    if (backend !== 'cpu' && info.backend !== 'gpu' && (backend === 'gpu' || info.fallbackReason)) {
      showMessage(backend === 'gpu' ? 'warn' : 'info', `WebGPU is not available (${info.fallbackReason || 'no adapter'}); running on the CPU instead.`, 'gpu');
    } else clearMessage('gpu');
    $('foot-build').textContent = `Engine: ${info.backendLabel}.`;
    return true;
  } catch (e) {
    $('progress').hidden = true;
    showMessage('error', `${e.message}. ${prevModel ? `Still using ${modelName(prevModel)}.` : 'Showing the pre-computed example.'}`, 'load');
    setStatus(prevModel ? 'ready' : 'error', prevModel ? `Ready · ${modelName(prevModel)}` : 'Model failed to load');
    $('model-select').value = prevModel || model;
    return false;
  }
}

// ---------------------------------------------------------------- wiring

let debounce = 0;
$('text').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => runAnalysis($('text').value), 300);
});
$('text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) runAnalysis($('text').value);
});
$('classify-btn').addEventListener('click', () => {
  clearTimeout(debounce);
  runAnalysis($('text').value);
});
let companionDebounce = 0;
$('companion').addEventListener('input', () => {
  clearTimeout(companionDebounce);
  companionDebounce = setTimeout(() => runAnalysis($('text').value), 400);
});
$('model-select').addEventListener('change', async (ev) => {
  if (await loadModel(ev.target.value, state.backend)) runAnalysis($('text').value);
});
$('backend-select').addEventListener('change', async (ev) => {
  state.backend = ev.target.value;
  if (await loadModel(state.model, state.backend)) runAnalysis($('text').value);
});
$('att-padded').addEventListener('change', (ev) => {
  state.padded = ev.target.checked;
  if (state.padded && state.sel.head < 0) state.sel.head = 0;
  state.focus = null;
  renderAttention();
});
$('norm-layer').addEventListener('change', (ev) => {
  state.normLayer = Number(ev.target.value);
  renderNorms();
});
$('norm-which').addEventListener('change', (ev) => {
  state.normWhich = Number(ev.target.value);
  renderNorms();
});
for (const s of SAMPLES) {
  const b = el('button', 'chip', s.length > 34 ? `${s.slice(0, 32)}…` : s);
  b.type = 'button';
  b.title = s;
  b.onclick = () => {
    $('text').value = s;
    runAnalysis(s);
  };
  $('samples').append(b);
}
let resizeTimer = 0;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderAll, 120);
}).observe(document.querySelector('main'));
matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener?.('change', renderAll);

async function paintExample() {
  try {
    const r = await fetch('example.json');
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const ex = await r.json();
    if (state.live) return;
    state.analysis = ex.analysis;
    state.info = { ...ex.info };
    state.positional = ex.positional;
    if (!$('text').value) $('text').value = ex.analysis.text;
    $('companion').value = ex.analysis.companion;
    renderAll();
  } catch (e) {
    showMessage('warn', `The pre-computed example could not be shown (${e.message}); the live model will fill the page.`, 'example');
  }
}

async function start() {
  setStatus('', 'Showing a pre-computed example while the model loads…');
  const example = paintExample();
  let init;
  try {
    init = await call('init');
  } catch (e) {
    await example;
    showMessage('error', `The engine could not start: ${e.message}`, 'init');
    setStatus('error', 'Engine unavailable — showing the pre-computed example.');
    return;
  }
  state.manifest = init.manifest;
  const ms = $('model-select');
  ms.replaceChildren(...init.manifest.models.map((m) => {
    const o = el('option', null, m.available === false ? `${m.name} — not on this server` : m.name);
    o.value = m.id;
    o.title = m.description || '';
    o.disabled = m.available === false;
    return o;
  }));
  ms.value = init.manifest.default;
  ms.disabled = false;
  $('backend-select').disabled = false;
  if (!init.webgpu) $('backend-select').querySelector('option[value="gpu"]').textContent = 'WebGPU (not in this browser)';
  await example;
  if (!state.live && state.analysis) renderClassify(); // model names from the manifest
  if (!$('companion').value) $('companion').value = init.companion;
  if (await loadModel(init.manifest.default, state.backend)) await runAnalysis($('text').value);
}

start();

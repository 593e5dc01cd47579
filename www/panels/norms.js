// Panel 4, LayerNorm vs BatchNorm, live: LN's per-token statistics before and after, BN's running statistics
// against this input's own, both normalised outputs, and the batch experiment (the same text alone and in a
// batch with the companion, normalised with batch statistics). The comparison models' inspections arrive
// separately from the primary's (`analysis.compare`), only while this panel is on screen.
import * as heatmap from '../views/heatmap.js';
import * as bars from '../views/bars.js';
import { scale, legend, extent, fmt } from '../views/canvas.js';
import { $, el, probRows, canvasWidth, changed, hoverTips } from './dom.js';

const view = { layer: 0, which: 0 };
const memo = {};
let current = null;
let root = null;
let ui = null;

/** The inspection drawn for `role` ('ln' | 'bn'): the comparison model's, or the primary's when it plays it. */
function roleInspection(a, role) {
  const c = a.compare?.[role];
  if (!c) return null;
  return c.same ? a.inspection : c;
}

/** Whether the comparison models' inspections for this analysis are here (else the panel waits for them). */
export const ready = (a) => Boolean(a.compare);

export function render(r, a, { force = false } = {}) {
  current = a;
  root = r;
  if (!a.compare) {
    r.dataset.stale = 'true';
    return;
  }
  if (!changed(memo, r, a, a.compare, view.layer, view.which) && !force) return;
  draw(r, a);
}

function draw(sec, a) {
  const ln = roleInspection(a, 'ln');
  const bn = roleInspection(a, 'bn');
  const any = ln || bn;
  sec.dataset.stale = 'false';
  sec.dataset.text = a.text;
  sec.dataset.seq = String(a.seq);
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
  view.layer = Math.min(view.layer, L - 1);
  const preNorm = (a.info?.config || a.config || any.result.trace).norm_first ?? true;
  const which = $('norm-which');
  which.options[0].textContent = preNorm ? 'norm1 (before attention)' : 'norm1 (after attention + residual)';
  which.options[1].textContent = preNorm ? 'norm2 (before the feed-forward)' : 'norm2 (after feed-forward + residual)';
  sel.value = String(view.layer);
  const l = view.layer;
  const w = view.which;
  const key = w ? 'norm2' : 'norm1';
  const comp = $('companion');
  if (document.activeElement !== comp && comp.value !== a.companion) comp.value = a.companion;

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
    const p = x.result.predictions[0];
    const tokens = p.tokens;
    probRows($(`${role}-pred`), x.result.labels, p.probabilities, { top: p.labelIndex });
    col.querySelector('h3').textContent = `${role === 'ln' ? 'LayerNorm' : 'BatchNorm'} model — ${ui.modelName(a.compare[role].id || a.model)}`;
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
      const rr = el('div', `prob top${pr.labelIndex !== top ? ' flip' : ''}`);
      if (pr.labelIndex !== top) rr.title = `the label flips to ${pr.label}`;
      const bar = el('div', 'bar');
      const f = el('div');
      f.style.width = `${(100 * pr.probabilities[top]).toFixed(2)}%`;
      bar.append(f);
      rr.append(el('span', 'name', name), bar, el('span', 'val', `${(100 * pr.probabilities[top]).toFixed(1)}%${pr.labelIndex !== top ? ` → ${pr.label}` : ''}`));
      return rr;
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

export function wire(r, u) {
  root = r;
  ui = u;
  $('norm-layer').addEventListener('change', (ev) => {
    view.layer = Number(ev.target.value);
    ui?.stateChanged?.();
    if (current) render(root, current);
  });
  $('norm-which').addEventListener('change', (ev) => {
    view.which = Number(ev.target.value);
    ui?.stateChanged?.();
    if (current) render(root, current);
  });
  for (const id of ['ln-mean', 'ln-omean', 'ln-var', 'ln-ovar', 'bn-mean', 'bn-var', 'ln-out', 'bn-out', 'ln-diff', 'bn-diff']) hoverTips($(id), ui);
}

/** The panel's choices, for the page's URL: which layer's norm, norm1 or norm2. */
export function getView() {
  return { layer: view.layer, which: view.which };
}

/** Restore choices from the URL (an out-of-range layer is clamped when drawn). */
export function setView({ layer, which }) {
  if (Number.isInteger(layer) && layer >= 0) view.layer = layer;
  if (which === 0 || which === 1) {
    view.which = which;
    $('norm-which').value = String(which);
  }
}

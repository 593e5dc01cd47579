// Panel 2, Attention: every layer × head (and the head average) as small multiples, one large map with the
// tokens on both axes and a hover read-out, a token-link view, and the padded batch view (padding keys get 0).
// All maps come from the traced forward of the classify panel's prediction.
import * as heatmap from '../views/heatmap.js';
import * as tokenlinks from '../views/tokenlinks.js';
import { scale, legend } from '../views/canvas.js';
import { $, el, canvasWidth, changed, widthOf } from './dom.js';

const view = {
  sel: { layer: 0, head: 0 }, // head === -1: average over heads
  focus: null, // focused query token in the large map and the link view
  padded: false,
  scale: scale('seq', 0, 1),
  att: null, // what is drawn: attentionData() of the current analysis
  cells: [], // the grid's buttons, reused while layers × heads stay the same
  gridShape: '',
  attHit: null,
  linksHit: null,
};
const memo = {};
let current = null; // the analysis drawn
let root = null;
let panelUi = null; // the page's ui (wire), told when a choice that lives in the URL changes

/** The attention data shown: per layer a (heads, s, s) tensor, its tokens and padding marks. */
function attentionData(a) {
  const insp = a.inspection;
  const trace = insp.result.trace;
  const tokens = insp.result.predictions[0].tokens;
  const n = trace.lengths[0];
  if (view.padded && insp.batchTest) {
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

/** Head `head` of layer `l` (the average for -1): an (s, s) view into the trace, not a copy. */
function mapOf(att, l, head) {
  if (head < 0) return att.mean?.[l].data;
  const ss = att.s * att.s;
  const d = att.layers[l].data;
  return d.subarray ? d.subarray(head * ss, (head + 1) * ss) : d.slice(head * ss, (head + 1) * ss);
}

/** One colour scale for every attention map on screen: 0 to the largest weight shown (the legend says which). */
function attentionScale(att) {
  let hi = 0;
  for (const l of att.layers) for (const v of l.data) if (v > hi) hi = v;
  return scale('seq', 0, Math.max(hi, 1e-6));
}

export function render(r, a, { force = false } = {}) {
  current = a;
  if (!changed(memo, r, a, view.padded) && !force) return;
  const att = (view.att = attentionData(a));
  const L = att.layers.length;
  const H = att.layers[0]?.heads || 0;
  if (view.sel.layer >= L) view.sel.layer = 0;
  if (view.sel.head >= H) view.sel.head = 0;
  if (view.sel.head < 0 && !att.mean) view.sel.head = 0;
  r.dataset.layers = String(L);
  r.dataset.heads = String(H);
  r.dataset.tokens = String(att.s);
  r.dataset.padded = String(view.padded);
  r.dataset.seq = String(a.seq);
  const config = a.info?.config || a.config;
  // DeLighT: one head on DExTra's d_o = d_m / 2 outputs.
  const dk = config.delight ? config.delight.d_o : (config.hidden_size / config.num_heads) | 0;
  $('att-dk').textContent = `dₖ = ${dk} here (√dₖ = ${Number(Math.sqrt(dk).toFixed(2))})`;
  view.scale = attentionScale(att);
  renderGrid(att, L, H);
  renderMain();
}

/** Small multiples: one row per layer, one column per head, plus the head average (last). */
function renderGrid(att, L, H) {
  const grid = $('att-grid');
  const wrap = grid.closest('.att-grid-wrap');
  wrap.classList.toggle('many', H > 6);
  const shape = `${L}x${H}`;
  if (view.gridShape !== shape) {
    view.gridShape = shape;
    view.cells = [];
    grid.replaceChildren();
    grid.style.gridTemplateColumns = `auto repeat(${H + 1}, auto)`;
    grid.append(el('span'));
    for (let h = 0; h < H; h++) grid.append(el('span', 'collab', `head ${h + 1}`));
    grid.append(el('span', 'collab', 'average'));
    for (let l = 0; l < L; l++) {
      grid.append(el('span', 'rowlab', `layer ${l + 1}`));
      for (let h = -1; h < H; h++) {
        const head = h === H - 1 ? -1 : h + 1;
        const btn = el('button', 'cell');
        btn.type = 'button';
        btn.setAttribute('aria-label', head < 0 ? `Layer ${l + 1}, average over heads` : `Layer ${l + 1}, head ${head + 1}`);
        const c = el('canvas');
        c.dataset.layer = String(l);
        c.dataset.head = String(head);
        btn.append(c);
        btn.onclick = () => {
          view.sel = { layer: l, head };
          view.focus = null;
          markSelected();
          renderMain();
          panelUi?.stateChanged?.();
        };
        grid.append(btn);
        view.cells.push({ btn, canvas: c, layer: l, head });
      }
    }
  }
  const wrapW = widthOf(wrap) || 360;
  const avail = (H > 6 ? wrapW : Math.min(wrapW >= 880 ? wrapW * 0.3 : wrapW, 420)) - 56;
  const cellPx = Math.max(22, Math.min(64, Math.floor(avail / (H + 1)) - 10));
  for (const { btn, canvas: c, layer: l, head } of view.cells) {
    c.dataset.size = String(att.s);
    const noMean = head < 0 && !att.mean;
    btn.disabled = noMean;
    btn.title = noMean ? 'The average is shown for the text on its own' : '';
    const values = mapOf(att, l, head);
    if (values) heatmap.draw(c, { rows: att.s, cols: att.s, values, scale: view.scale, width: cellPx, mutedCols: att.muted });
    else heatmap.draw(c, { rows: 1, cols: 1, values: [0], scale: view.scale, width: cellPx });
  }
  markSelected();
}

function markSelected() {
  for (const { btn, layer, head } of view.cells) btn.setAttribute('aria-pressed', String(view.sel.layer === layer && view.sel.head === head));
}

/** The large map, its legend and the link view: what changes when a map or a query token is picked. */
function renderMain() {
  const att = view.att;
  if (!att) return;
  const { layer, head } = view.sel;
  $('att-title').textContent = `Layer ${layer + 1} · ${head < 0 ? 'average over heads' : `head ${head + 1}`}`;
  const values = mapOf(att, layer, head < 0 && !att.mean ? 0 : head);
  const c = $('att-map');
  view.attHit = heatmap.draw(c, {
    rows: att.s,
    cols: att.s,
    values,
    scale: view.scale,
    width: Math.min(canvasWidth(c), 560),
    rowLabels: att.tokens,
    colLabels: att.tokens,
    mutedCols: att.muted,
    mutedRows: att.muted,
    selected: view.focus != null ? { row: view.focus } : null,
    grid: true,
  });
  c.dataset.size = String(att.s);
  legend($('att-legend'), view.scale, 200, 'attention weight');
  const lc = $('att-links');
  view.linksHit = tokenlinks.draw(lc, { tokens: att.tokens, weights: values, width: canvasWidth(lc), focus: view.focus, muted: att.muted, max: view.scale.hi });
}

function setFocus(f) {
  view.focus = f;
  renderMain();
}

/** Whether the padded batch view is on (it needs the batch experiment in the analysis). */
export const padded = () => view.padded;

export function wire(r, ui) {
  root = r;
  panelUi = ui;
  const map = $('att-map');
  map.addEventListener('mousemove', (ev) => {
    const h = view.attHit?.hit(...ui.local(ev));
    if (!h) return ui.hideTip();
    ui.showTip(ev, [['query', view.att.tokens[h.row]], ['key', view.att.tokens[h.col]], ['weight', h.value.toFixed(4)]]);
  });
  map.addEventListener('mouseleave', ui.hideTip);
  map.addEventListener('click', (ev) => {
    const h = view.attHit?.hit(...ui.local(ev));
    setFocus(h ? (view.focus === h.row ? null : h.row) : null);
  });
  const links = $('att-links');
  links.addEventListener('mousemove', (ev) => {
    const h = view.linksHit?.hit(...ui.local(ev));
    const f = h && h.side === 'query' ? h.index : null;
    if (f !== view.focus && f != null) setFocus(f);
  });
  links.addEventListener('mouseleave', () => setFocus(null));
  // Keyboard: arrow keys move the focused query row in the large map / link view.
  for (const c of [map, links]) {
    c.addEventListener('keydown', (ev) => {
      const s = view.att?.s;
      if (!s) return;
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        const d = ev.key === 'ArrowDown' ? 1 : -1;
        setFocus(view.focus == null ? 0 : (view.focus + d + s) % s);
        ev.preventDefault();
      } else if (ev.key === 'Escape') setFocus(null);
    });
  }
  $('att-padded').addEventListener('change', (ev) => {
    view.padded = ev.target.checked;
    panelUi?.stateChanged?.();
    if (view.padded && view.sel.head < 0) view.sel.head = 0;
    view.focus = null;
    // The padded view draws the batch experiment, which an analysis leaves out while nothing shows it.
    if (view.padded && current?.live && !current.inspection.batchTest) ui.reanalyse();
    else if (current) render(root, current);
  });
}

/** The panel's choices, for the page's URL: the selected map and the padded view. */
export function getView() {
  return { layer: view.sel.layer, head: view.sel.head, padded: Boolean(view.padded) };
}

/** Restore choices from the URL (before the first draw; out-of-range picks fall back when drawn). */
export function setView({ layer, head, padded }) {
  if (Number.isInteger(layer) && layer >= 0 && Number.isInteger(head) && head >= -1) view.sel = { layer, head };
  if (typeof padded === 'boolean') {
    view.padded = padded;
    $('att-padded').checked = padded;
  }
}

// Panel 3, Positional encodings: the model's table, a few dimensions as curves, the position-position dot
// products, with the rows the text occupies outlined. The table does not change with the text: a keystroke
// that keeps the token count redraws nothing here, and one that changes it redraws from cached rasters.
import * as heatmap from '../views/heatmap.js';
import * as curves from '../views/curves.js';
import { scale, legend, extent, quantileAbs } from '../views/canvas.js';
import { $, el, canvasWidth, changed, hoverTips } from './dom.js';

const memo = {};
const limits = new WeakMap(); // positional view -> its colour limits (a quantile sorts the whole table)

function colourLimits(pv, learned) {
  let l = limits.get(pv);
  if (!l || l.learned !== learned) {
    const [slo, shi] = extent(pv.similarity.data);
    l = {
      learned,
      // A learned table has a few large outliers: clip the colours at the 99th percentile of |value|.
      table: learned ? quantileAbs(pv.table.data, 0.99) : Math.max(...extent(pv.table.data).map(Math.abs)),
      slo,
      shi,
      sim: learned ? quantileAbs(pv.similarity.data, 0.99) : Math.max(Math.abs(slo), Math.abs(shi)),
    };
    limits.set(pv, l);
  }
  return l;
}

export function render(root, a) {
  const pv = a.positional;
  if (!pv) return;
  const config = a.info?.config || a.config;
  const n = a.inspection.result.trace.lengths[0];
  if (!changed(memo, root, pv, n)) return;
  const [L, D] = pv.table.shape;
  root.dataset.rows = String(L);
  root.dataset.dims = String(D);
  root.dataset.tokens = String(n);
  root.dataset.kind = config.positional_encoding;
  const learned = config.positional_encoding === 'learned';
  $('pe-caption-sin').hidden = learned;
  $('pe-caption-learned').hidden = !learned;
  $('pe-foot').textContent = `The encoder adds the first ${n} rows of this table to the ${n} token embeddings of your text${
    config.embedding_scale ? ` (which are first multiplied by √d = ${Number(Math.sqrt(D).toFixed(2))}, so the positions do not drown them)` : ''
  }. The outlined band and square mark those rows.${learned ? ' Colours are clipped at the 99th percentile of |value|; a few outliers are larger.' : ''}`;
  $('pe-sim-caption').textContent = learned
    ? 'A learned table has no built-in structure; what it learned shows as the dot products between positions — nearby positions usually end up similar.'
    : 'For the sinusoidal table the dot product depends only on the distance p − q (a sum of cosines of it), so nearby positions look alike and the map is constant along diagonals: that is what lets attention learn relative position.';
  const lim = colourLimits(pv, learned);
  const s = scale('div', -lim.table, lim.table);
  const tc = $('pe-table');
  const step = (k) => (k <= 16 ? 4 : k <= 64 ? 8 : k <= 256 ? 32 : 64);
  tc._tip = (h) => [['position', String(h.row)], ['dimension', String(h.col)], ['value', h.value.toFixed(4)]];
  tc._hit = heatmap.draw(tc, { rows: L, cols: D, values: pv.table.data, scale: s, width: canvasWidth(tc), height: Math.min(440, Math.max(260, L * 3.2 + 30)), highlightRows: [0, n], ticks: { rows: step(L), cols: step(D) }, axis: { rows: 'position', cols: 'dimension' } });
  legend($('pe-legend'), s, 200, 'value');

  // A sin/cos pair of a fast dimension, then slower and slower ones (even = sin, odd = cos).
  const even = (f) => 2 * Math.round((D / 2) * f);
  const dims = [even(0.06), even(0.06) + 1, even(0.16), even(0.3), even(0.5)].filter((d, i, arr) => d < D && arr.indexOf(d) === i);
  const colors = ['#2d3a9a', '#7f8fd4', '#e0662b', '#f2a36b', '#2f8f5b', '#86c79f'];
  const series = dims.map((d, i) => ({ name: `dim ${d}`, color: colors[i], values: Array.from({ length: L }, (_, p) => pv.table.data[p * D + d]) }));
  const cc = $('pe-curves');
  curves.draw(cc, { series, width: canvasWidth(cc), height: 190, xLabel: 'position', band: [0, n], yRange: learned ? undefined : [-1, 1] });
  const keys = $('pe-curve-keys');
  keys.replaceChildren(...series.map((sr, i) => el('span', `k${i}`, learned ? sr.name : `${sr.name} (${dims[i] % 2 ? 'cos' : 'sin'})`)));

  const ss = lim.slo < 0 ? scale('div', -lim.sim, lim.sim) : scale('seq', lim.slo, lim.shi);
  const sc = $('pe-sim');
  sc._tip = (h) => [['positions', `${h.row} · ${h.col}`], ['PE·PE', h.value.toFixed(3)]];
  sc._hit = heatmap.draw(sc, { rows: L, cols: L, values: pv.similarity.data, scale: ss, width: Math.min(canvasWidth(sc), 300), highlightBlock: [0, n], ticks: { rows: step(L), cols: step(L) }, axis: { rows: 'position p', cols: 'position q' } });
  legend($('pe-sim-legend'), ss, 200, 'dot product');
}

export function wire(root, ui) {
  for (const id of ['pe-table', 'pe-sim']) hoverTips($(id), ui);
}

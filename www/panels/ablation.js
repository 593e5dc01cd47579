// Panel 5, Head ablation: Δp(label) when each attention head alone is ablated (its output zeroed, or replaced
// by its mean over the text, before the output projection), as a layers × heads grid — the engine's sweep,
// one batched forward of every head's copy of the text. Clicking heads ablates them together and re-classifies
// (the engine runs that forward too). Every number comes from the engine; this module only draws.
import * as heatmap from '../views/heatmap.js';
import { scale, legend } from '../views/canvas.js';
import { $, el, canvasWidth, changed, hoverTips, probRows } from './dom.js';

const memo = {};
let picked = new Set(); // 'layer,head' the user ablates together
let current = null; // the explanation drawn

function caption(x) {
  const s = x.ablation;
  const label = x.labels[s.labelIndex];
  return `Each cell: how much p(${label}) changes when that one head is ${s.mode === 'mean' ? 'replaced by its mean output over the text' : 'silenced (its output set to 0)'} and the model runs again. ` +
    `All ${s.layers * s.heads} heads plus the untouched text ran as one batched forward of ${s.layers * s.heads + 1} copies: ${s.millis.toFixed(0)} ms on ${x.backendLabel || x.backend}. ` +
    `Unablated p(${label}) = ${s.base.toFixed(4)}. Blue: the head supports the label (removing it lowers p); red: it works against it.`;
}

function drawGrid(x) {
  const s = x.ablation;
  const lim = Math.max(1e-6, ...s.delta.map(Math.abs));
  const sc = scale('div', -lim, lim);
  const c = $('abl-grid');
  const label = x.labels[s.labelIndex];
  c._tip = (h) => [
    ['layer · head', `${h.row} · ${h.col}`],
    [`Δp(${label})`, h.value.toFixed(5)],
    ['p with it ablated', (s.base + h.value).toFixed(4)],
  ];
  const width = Math.min(canvasWidth(c), 60 + 34 * s.heads);
  c._hit = heatmap.draw(c, { rows: s.layers, cols: s.heads, values: Float32Array.from(s.delta), scale: sc, width, height: 30 + 26 * s.layers, grid: true, ticks: { rows: 1, cols: 1 }, axis: { rows: 'layer', cols: 'head' } });
  legend($('abl-legend'), sc, 200, `Δp(${label})`);
}

export function render(root, x) {
  if (!x || !changed(memo, root, x)) return;
  if (current?.text !== x.text || current?.model !== x.model) picked = new Set();
  current = x;
  const s = x.ablation;
  root.dataset.layers = String(s.layers);
  root.dataset.heads = String(s.heads);
  root.dataset.sweepMs = s.millis.toFixed(1);
  $('abl-caption').textContent = caption(x);
  drawGrid(x);
  // The heads that move p(label) most, strongest first.
  const order = s.delta.map((d, i) => [d, i]).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0])).slice(0, 5);
  $('abl-top').replaceChildren(...order.map(([d, i]) => el('li', null, `layer ${Math.floor(i / s.heads)} · head ${i % s.heads}: Δp ${d >= 0 ? '+' : ''}${d.toFixed(4)}`)));
  showPicked(null);
}

function showPicked(result) {
  const list = [...picked].map((k) => k.split(',').map(Number));
  $('abl-picked').textContent = list.length ? `Ablated together: ${list.map(([l, h]) => `L${l}·H${h}`).join(', ')}` : 'Click heads in the grid to ablate them together.';
  const box = $('abl-result');
  if (!result || !current) return box.replaceChildren();
  box.dataset.probs = JSON.stringify(result.probabilities);
  probRows(box, current.labels, result.probabilities, { top: result.probabilities.indexOf(Math.max(...result.probabilities)) });
}

export function wire(root, ui) {
  const c = $('abl-grid');
  hoverTips(c, ui);
  c.addEventListener('click', async (ev) => {
    const h = c._hit?.hit(...ui.local(ev));
    if (!h || !current) return;
    const k = `${h.row},${h.col}`;
    if (picked.has(k)) picked.delete(k);
    else picked.add(k);
    showPicked(null);
    if (!picked.size) return;
    const r = await ui.ablate([...picked].map((p) => p.split(',').map(Number)));
    if (r && current && r.text === current.text) showPicked(r);
  });
}

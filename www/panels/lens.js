// Panel 7, Logit lens: the model's own head (final norm if any, pooling, pooler, classifier, softmax) applied
// by the engine to each layer's hidden states — how the prediction forms layer by layer; one line per label.
import * as curves from '../views/curves.js';
import { $, el, canvasWidth, changed } from './dom.js';

const memo = {};
const COLORS = ['#2d3a9a', '#7f8fd4', '#e0662b', '#f2a36b', '#2f8f5b', '#86c79f']; // the .keys .kN colours of style.css

export function render(root, x) {
  if (!x || !changed(memo, root, x)) return;
  const lens = x.lens;
  const L = lens.probs.length;
  root.dataset.layers = String(L);
  const series = lens.labels.map((name, j) => ({ name, color: COLORS[j % COLORS.length], values: lens.probs.map((p) => p[j]) }));
  const c = $('lens-chart');
  curves.draw(c, { series, width: Math.min(canvasWidth(c), 520), height: 200, xLabel: 'layer (output of)', yRange: [0, 1] });
  $('lens-keys').replaceChildren(...series.map((s, i) => el('span', `k${i}`, `${s.name}: ${s.values.map((v) => v.toFixed(2)).join(' → ')}`)));
}

export function wire() {}

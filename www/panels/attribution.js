// Panel 6, Token attribution: which tokens drove the label, by two methods the engine computes — occlusion
// (Δp(label) with that one word piece left out — negative, blue: the piece supported the label, as in the head
// ablation grid; all pieces in one batched forward) and attention
// rollout (Abnar & Zuidema 2020: head-averaged attention plus the residual, multiplied through the layers) —
// each drawn as a heat strip over the tokens, the method named. Tokens reach the DOM through textContent only.
import { scale, legend } from '../views/canvas.js';
import { $, el, changed, SPECIAL } from './dom.js';

const memo = {};

function strip(container, tokens, values, sc, fmt) {
  container.replaceChildren(
    ...tokens.map((t, i) => {
      const v = values[i];
      const s = el('span', `tok${SPECIAL.test(t) ? ' special' : ''}`, t);
      if (v == null) {
        s.classList.add('none');
        s.title = `${t}: not occluded`;
      } else {
        s.style.background = sc(v);
        const [r, g, b] = sc.rgb(v);
        if (0.299 * r + 0.587 * g + 0.114 * b < 140) s.style.color = '#fff';
        s.title = `${t}: ${fmt(v)}`;
        s.dataset.value = String(v);
      }
      return s;
    }),
  );
}

export function render(root, x) {
  if (!x || !changed(memo, root, x)) return;
  const label = x.labels[x.labelIndex];
  root.dataset.tokens = String(x.tokens.length);
  $('attr-occ-name').textContent = `${x.occlusion.method}: Δp(${label}) when the token is left out`;
  const occ = x.occlusion.values;
  const lim = Math.max(1e-6, ...occ.filter((v) => v != null).map(Math.abs));
  const so = scale('div', -lim, lim);
  strip($('attr-occ'), x.tokens, occ, so, (v) => `Δp ${v >= 0 ? '+' : ''}${v.toFixed(4)} without it (${v < 0 ? 'it supports' : 'it works against'} ${label})`);
  legend($('attr-occ-legend'), so, 200, `Δp(${label})`);
  $('attr-roll-name').textContent = `${x.rollout.method}: share of the pooled output's attention`;
  const roll = x.rollout.values;
  const sr = scale('seq', 0, Math.max(1e-6, ...roll));
  strip($('attr-roll'), x.tokens, roll, sr, (v) => `${(100 * v).toFixed(1)}% of the rolled-out attention`);
  legend($('attr-roll-legend'), sr, 200, 'rollout share');
}

export function wire() {}

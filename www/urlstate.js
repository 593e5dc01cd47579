// The page's shareable state: the text, the model, the backend and the panels' choices live in the URL's hash
// (#text=…&model=…), so reloading or sharing the URL restores them. Written with history.replaceState (no
// history entry per keystroke). Values only ever reach the page as form values and through textContent.

import { $ } from './panels/dom.js';
import * as attention from './panels/attention.js';
import * as norms from './panels/norms.js';
import * as precision from './panels/precision.js';

const URL_KEYS = ['text', 'model', 'backend', 'ablate', 'companion', 'att', 'norm', 'prec', 'wm'];

/** What the hash asks for: { text?, model?, backend?, ablate?, companion?, att?, norm?, prec?, wm? } (strings). */
export function readUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  const out = {};
  for (const k of URL_KEYS) if (p.has(k)) out[k] = p.get(k);
  return out;
}

/** Write the page's current state (the main thread's `state` and the form) into the hash. */
export function writeUrl(state) {
  const p = new URLSearchParams();
  const text = state.analysis?.live ? state.analysis.text : $('text').value;
  if (text) p.set('text', text);
  if (state.model && !state.model.startsWith('user-')) p.set('model', state.model);
  if (state.backend !== 'auto') p.set('backend', state.backend);
  if ($('abl-mode').value !== 'zero') p.set('ablate', $('abl-mode').value);
  if (state.companion0 != null && $('companion').value !== state.companion0) p.set('companion', $('companion').value);
  const a = attention.getView();
  p.set('att', `${a.layer}.${a.head}${a.padded ? '.padded' : ''}`);
  const n = norms.getView();
  p.set('norm', `${n.layer}.${n.which}`);
  const q = precision.getView();
  if (q.precision !== 'int8') p.set('prec', q.precision);
  if (q.matrix) p.set('wm', q.matrix);
  const hash = `#${p.toString()}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

/** Apply what the URL asks for that needs no model: the text, the choices of the panels, the backend. */
export function applyUrl(u, state) {
  if (u.text != null) $('text').value = u.text;
  if (u.companion != null) $('companion').value = u.companion;
  if (['zero', 'mean'].includes(u.ablate)) $('abl-mode').value = u.ablate;
  if (['auto', 'gpu', 'cpu'].includes(u.backend)) {
    state.backend = u.backend;
    $('backend-select').value = u.backend;
  }
  if (u.att) {
    const [layer, head, padded] = u.att.split('.');
    attention.setView({ layer: Number(layer), head: Number(head), padded: padded === 'padded' });
  }
  if (u.prec || u.wm) precision.setView({ precision: u.prec, matrix: u.wm });
  if (u.norm) {
    const [layer, which] = u.norm.split('.').map(Number);
    norms.setView({ layer, which });
  }
}

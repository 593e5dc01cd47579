// Which wasm build the page runs (SIMD128, relaxed SIMD, or relaxed SIMD + threads where the page is
// cross-origin isolated) and the threads setting: the footer's note and the panel header's select.

import { $, el } from './panels/dom.js';

/** Threads asked for in the address (`?threads=N`) or chosen before on this page (0: one per core). */
export function threadsAsked() {
  const q = Number(new URLSearchParams(location.search).get('threads'));
  if (Number.isInteger(q) && q > 0) return q;
  const saved = Number(localStorage.getItem('encoder-lens.threads'));
  return Number.isInteger(saved) && saved > 0 ? saved : 0;
}

/** Which wasm build runs, said in the footer (and as data-build / data-threads for the tests). */
export function buildNote(b) {
  if (!b) return '';
  const foot = $('foot-build');
  foot.dataset.build = b.flavour;
  foot.dataset.threads = String(b.threads);
  foot.dataset.isolated = String(b.isolated);
  if (/threads/.test(b.flavour)) return `Wasm build: ${b.flavour}, ${b.threads} thread${b.threads === 1 ? '' : 's'} (the page is cross-origin isolated).`;
  return `Wasm build: ${b.flavour}, 1 thread${b.isolated ? '' : ' (the page is not cross-origin isolated, so the threads build cannot run)'}.`;
}

/** The threads setting: shown where the threads build runs; 1 … cores (at most 8). */
export function wireThreads(b, onChoose) {
  if (!b || !/threads/.test(b.flavour)) return;
  const sel = $('threads-select');
  const max = Math.max(b.cores, b.threads, 2);
  sel.replaceChildren(...Array.from({ length: Math.min(max, 8) }, (_, i) => {
    const o = el('option', null, String(i + 1));
    o.value = String(i + 1);
    return o;
  }));
  sel.value = String(b.threads);
  $('threads-label').hidden = false;
  sel.addEventListener('change', () => {
    const n = Number(sel.value);
    localStorage.setItem('encoder-lens.threads', String(n));
    onChoose(n);
  });
}

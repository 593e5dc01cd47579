// Small DOM helpers the panels share. User text only ever reaches the DOM through textContent.

export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** One row per label: name, a bar of its probability, the percentage; `top` is marked. */
export function probRows(container, labels, probs, { top = -1, names } = {}) {
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

export const SPECIAL = /^\[(CLS|SEP|PAD|UNK|MASK)\]$/;
/**
 * An element's clientWidth, remembered and kept current by a ResizeObserver: reading it while a panel draws
 * forces no layout (each read after a DOM write would otherwise lay out the whole page again). The first read
 * of an element measures it.
 */
const widths = new WeakMap();
const watcher = new ResizeObserver((entries) => {
  for (const e of entries) widths.set(e.target, e.target.clientWidth);
});
export function widthOf(e) {
  let w = widths.get(e);
  if (w === undefined) {
    w = e.clientWidth;
    widths.set(e, w);
    watcher.observe(e);
  }
  return w;
}

export const canvasWidth = (c) => Math.max(120, widthOf(c.parentElement));

/**
 * Hover read-outs for `canvas`: its draw() returned a hit test (stored as canvas._hit by the renderer), and
 * the renderer set canvas._tip(hit) → [[key, value], ...].
 */
export function hoverTips(canvas, ui) {
  canvas.addEventListener('mousemove', (ev) => {
    const h = canvas._hit?.hit(...ui.local(ev));
    if (!h || !canvas._tip) return ui.hideTip();
    ui.showTip(ev, canvas._tip(h));
  });
  canvas.addEventListener('mouseleave', ui.hideTip);
}

/**
 * Whether a panel must redraw: true unless it last drew exactly these inputs (compared by identity) at this
 * width and device pixel ratio. `memo` is the panel's own record.
 */
export function changed(memo, root, ...inputs) {
  const key = [widthOf(root), globalThis.devicePixelRatio, ...inputs];
  const same = memo.key && memo.key.length === key.length && memo.key.every((v, i) => v === key[i]);
  memo.key = key;
  return !same;
}

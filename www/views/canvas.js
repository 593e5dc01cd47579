// Shared drawing helpers: a devicePixelRatio-aware canvas setup, the page's colour scales, and a legend.
// Nothing here computes model numbers; it only maps given values to pixels and colours.

/** Size `canvas` to `width` × `height` CSS pixels, backed by width·dpr × height·dpr device pixels. */
export function setup(canvas, width, height) {
  const dpr = Math.max(1, globalThis.devicePixelRatio || 1);
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round(height));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

const STOPS = {
  // Attention weights and other 0..1 quantities: white to deep indigo.
  seq: ['#fbfbfd', '#dfe3f3', '#b3bde6', '#7f8fd4', '#4f5fbf', '#2d3a9a', '#1a2366'],
  // Signed values: blue below zero, white at zero, red above.
  div: ['#1f4e96', '#4d86c2', '#9cc2e0', '#f4f4f2', '#f0a98b', '#cf5a43', '#8e1b22'],
  // Shifts (|Δ|): white to deep orange.
  heat: ['#fcfbf8', '#fde3c0', '#fbbf7c', '#f28f3b', '#d4602a', '#9c3b14', '#5e220a'],
};

function hexToRgb(h) {
  const n = parseInt(h.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
const RGB = Object.fromEntries(Object.entries(STOPS).map(([k, v]) => [k, v.map(hexToRgb)]));

/** A colour scale: `kind` 'seq' | 'heat' (min..max) or 'div' (symmetric around 0, ±max). */
export function scale(kind, min, max) {
  const stops = RGB[kind];
  const lo = kind === 'div' ? -Math.max(Math.abs(min), Math.abs(max)) : min;
  const hi = kind === 'div' ? -lo : max;
  const span = hi - lo || 1;
  const rgb = (v) => {
    let t = (v - lo) / span;
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    const x = t * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const u = x - i;
    const a = stops[i];
    const b = stops[i + 1];
    return [Math.round(a[0] + (b[0] - a[0]) * u), Math.round(a[1] + (b[1] - a[1]) * u), Math.round(a[2] + (b[2] - a[2]) * u)];
  };
  const f = (v) => {
    const c = rgb(v);
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  };
  f.rgb = rgb;
  // The scale sampled at 256 levels, for painting many cells: paint(values, rgba, n) fills an RGBA byte array
  // with the colours of the first n values.
  let lut = null;
  f.paint = (values, rgba, n = values.length) => {
    if (!lut) {
      lut = new Uint8ClampedArray(256 * 3);
      for (let i = 0; i < 256; i++) lut.set(rgb(lo + (span * i) / 255), 3 * i);
    }
    const k = 255 / span;
    for (let i = 0, o = 0; i < n; i++, o += 4) {
      let t = (values[i] - lo) * k;
      t = t >= 0 ? (t < 255 ? Math.round(t) : 255) : 0; // NaN → 0, like rgb()
      const j = 3 * t;
      rgba[o] = lut[j];
      rgba[o + 1] = lut[j + 1];
      rgba[o + 2] = lut[j + 2];
      rgba[o + 3] = 255;
    }
  };
  f.kind = kind;
  f.lo = lo;
  f.hi = hi;
  return f;
}

/** Min and max of an array-like (ignoring non-finite values). */
export function extent(data) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** The q-quantile of |value| (for clipping a colour scale past a few outliers); at least 1e-6. */
export function quantileAbs(data, q) {
  const a = Float64Array.from(data, Math.abs).sort();
  return Math.max(1e-6, a[Math.min(a.length - 1, Math.floor(q * (a.length - 1)))] || 0);
}

export function fmt(v, digits = 3) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 1e-3) return v.toExponential(1);
  return v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : digits > 2 && a < 1 ? digits : 2);
}

/** Draw a horizontal colour legend for scale `s` into `canvas`, `width` CSS pixels wide, with a caption. */
export function legend(canvas, s, width = 180, caption = '') {
  const h = 30;
  const ctx = setup(canvas, width, h);
  const barX = 4;
  const barW = width - 8;
  // The scale is linear between evenly spaced colour stops from lo to hi: a canvas gradient through the
  // same stops paints the same colours.
  const g = ctx.createLinearGradient(barX, 0, barX + barW, 0);
  STOPS[s.kind].forEach((c, i, all) => g.addColorStop(i / (all.length - 1), c));
  ctx.fillStyle = g;
  ctx.fillRect(barX, 4, barW, 9);
  ctx.strokeStyle = '#c9ccd6';
  ctx.lineWidth = 0.5;
  ctx.strokeRect(barX + 0.25, 4.25, barW - 0.5, 8.5);
  ctx.fillStyle = '#555b6e';
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(fmt(s.lo), barX, 16);
  ctx.textAlign = 'right';
  ctx.fillText(fmt(s.hi), barX + barW, 16);
  if (s.kind === 'div') {
    ctx.textAlign = 'center';
    ctx.fillText('0', barX + barW / 2, 16);
  } else if (caption) {
    ctx.textAlign = 'center';
    ctx.fillText(caption, barX + barW / 2, 16);
  }
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `colour scale from ${fmt(s.lo)} to ${fmt(s.hi)} ${caption}`);
}

/** Fit `text` into `maxWidth` pixels, eliding the end (remembered per font, width and text). */
const clipped = new Map();
export function clip(ctx, text, maxWidth) {
  const key = `${ctx.font}|${maxWidth}|${text}`;
  let out = clipped.get(key);
  if (out !== undefined) return out;
  if (ctx.measureText(text).width <= maxWidth) out = text;
  else {
    let t = text;
    while (t.length > 1 && ctx.measureText(`${t}…`).width > maxWidth) t = t.slice(0, -1);
    out = `${t}…`;
  }
  if (clipped.size > 5000) clipped.clear();
  clipped.set(key, out);
  return out;
}

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
export const MONO = 'ui-monospace, "SF Mono", Menlo, Consolas, monospace';

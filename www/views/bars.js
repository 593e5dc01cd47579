// Grouped bars: one group per category (a token or a feature), one bar per series, around a zero line.
// Used for LayerNorm's per-token and BatchNorm's per-feature statistics, and the per-token output shift.
import { setup, fmt, clip, FONT } from './canvas.js';

/**
 * data: { categories: labels, series: [{ name, values, color }], width, height, yLabel?, yRange?: [lo, hi],
 *         labelEvery?: n (label every n-th category), rotate?: bool, title?: text drawn top-left }
 * Returns { hit(x, y) → { index, values } | null }.
 */
export function draw(canvas, data) {
  const { categories, series, width, height } = data;
  const ctx = setup(canvas, width, height);
  ctx.font = `10px ${FONT}`;
  const m = { l: 40, r: 6, t: data.title ? 18 : 8, b: data.rotate ? 46 : 22 };
  const n = categories.length;
  let [lo, hi] = data.yRange || [0, 0];
  if (!data.yRange) for (const s of series) for (const v of s.values) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  if (!(hi > lo)) hi = lo + 1;
  const pad = (hi - lo) * 0.06;
  if (!data.yRange) (hi += pad), (lo = lo < 0 ? lo - pad : lo);
  const plotW = width - m.l - m.r;
  const gw = plotW / n;
  const bw = Math.max(0.8, (gw * 0.8) / series.length);
  const Y = (v) => m.t + ((height - m.t - m.b) * (hi - v)) / (hi - lo);
  ctx.strokeStyle = '#e3e5ec';
  ctx.fillStyle = '#6b7185';
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of [lo, (lo + hi) / 2, hi]) {
    ctx.beginPath();
    ctx.moveTo(m.l, Y(v));
    ctx.lineTo(width - m.r, Y(v));
    ctx.stroke();
    ctx.fillText(fmt(v, 2), m.l - 4, Y(v));
  }
  if (lo < 0 && hi > 0) {
    ctx.strokeStyle = '#9aa0b2';
    ctx.beginPath();
    ctx.moveTo(m.l, Y(0));
    ctx.lineTo(width - m.r, Y(0));
    ctx.stroke();
  }
  if (data.title) {
    ctx.fillStyle = '#2b2f3a';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.font = `600 11px ${FONT}`;
    ctx.fillText(data.title, m.l, 1);
    ctx.font = `10px ${FONT}`;
  }
  const base = Y(Math.max(lo, Math.min(0, hi)));
  // One path per series, filled once (setting a fill colour per bar is what costs).
  series.forEach((s, k) => {
    const path = new Path2D();
    for (let i = 0; i < n; i++) {
      const x = m.l + i * gw + gw * 0.1 + k * bw;
      const y = Y(s.values[i]);
      path.rect(x, Math.min(y, base), Math.max(0.8, bw - (bw > 3 ? 1 : 0)), Math.max(0.5, Math.abs(base - y)));
    }
    ctx.fillStyle = s.color;
    ctx.fill(path);
  });
  ctx.fillStyle = '#4a5064';
  const every = data.labelEvery || 1;
  categories.forEach((c, i) => {
    if (i % every) return;
    const x = m.l + (i + 0.5) * gw;
    ctx.save();
    if (data.rotate) {
      ctx.translate(x, height - m.b + 4);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(clip(ctx, c, 60), 0, 0);
    } else {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      ctx.fillText(c, x, height - m.b + 4);
    }
    ctx.restore();
  });
  return {
    hit(x, y) {
      const i = Math.floor((x - m.l) / gw);
      if (i < 0 || i >= n || y < m.t || y > height - 4) return null;
      return { index: i, values: series.map((s) => s.values[i]) };
    },
  };
}

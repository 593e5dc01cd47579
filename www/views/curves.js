// Line chart: a few series over a shared x axis (e.g. positional-encoding dimensions over positions), with
// a shaded band over a range of x (the positions the current text occupies).
import { setup, fmt, FONT } from './canvas.js';

/**
 * data: { series: [{ name, values, color }], width, height, xLabel, yRange?: [lo, hi], band?: [from, to) }
 */
export function draw(canvas, data) {
  const { series, width, height } = data;
  const ctx = setup(canvas, width, height);
  const m = { l: 34, r: 8, t: 8, b: 30 };
  const n = Math.max(...series.map((s) => s.values.length));
  let [lo, hi] = data.yRange || [Infinity, -Infinity];
  if (!data.yRange) for (const s of series) for (const v of s.values) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  if (!(hi > lo)) (lo -= 1), (hi += 1);
  const X = (i) => m.l + ((width - m.l - m.r) * i) / Math.max(1, n - 1);
  const Y = (v) => m.t + ((height - m.t - m.b) * (hi - v)) / (hi - lo);
  if (data.band) {
    ctx.fillStyle = 'rgba(224,102,43,0.12)';
    ctx.fillRect(X(data.band[0]), m.t, X(Math.max(data.band[0], data.band[1] - 1)) - X(data.band[0]) + 1, height - m.t - m.b);
  }
  ctx.strokeStyle = '#e3e5ec';
  ctx.lineWidth = 1;
  ctx.font = `10px ${FONT}`;
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
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const step = Math.max(1, Math.ceil(n / 8 / 8) * 8);
  for (let i = 0; i < n; i += step) ctx.fillText(String(i), X(i), height - m.b + 4);
  if (data.xLabel) ctx.fillText(data.xLabel, (m.l + width - m.r) / 2, height - 12);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    s.values.forEach((v, i) => (i ? ctx.lineTo(X(i), Y(v)) : ctx.moveTo(X(i), Y(v))));
    ctx.stroke();
  }
}

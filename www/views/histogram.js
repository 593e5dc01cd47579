// A histogram with a quantization grid drawn over it: bars for the given bin counts (edges from the engine),
// and a vertical line at every grid value q · scale (q from `grid.lo` to `grid.hi`), darker every `grid.major`
// steps and at 0. Nothing here computes model numbers; it maps given values to pixels.
import { setup, fmt, FONT } from './canvas.js';

/**
 * data: { edges: number[bins + 1], counts: number[bins], grid: { scale, lo, hi, major? } | null, width, height,
 *         log?: bool (counts on a log scale) }
 * Returns { hit(x, y) → { index, from, to, count, q? } | null }.
 */
export function draw(canvas, data) {
  const { edges, counts, grid, width, height } = data;
  const ctx = setup(canvas, width, height);
  const m = { l: 44, r: 8, t: 8, b: 34 };
  const lo = edges[0];
  const hi = edges[edges.length - 1] > lo ? edges[edges.length - 1] : lo + 1;
  const X = (v) => m.l + ((width - m.l - m.r) * (v - lo)) / (hi - lo);
  const tr = data.log ? (c) => Math.log10(1 + c) : (c) => c;
  const top = Math.max(1e-9, ...counts.map(tr));
  const Y = (c) => height - m.b - ((height - m.t - m.b) * tr(c)) / top;
  ctx.font = `10px ${FONT}`;
  // Bars.
  const bars = new Path2D();
  counts.forEach((c, i) => {
    if (!c) return;
    const x0 = X(edges[i]);
    const x1 = X(edges[i + 1]);
    bars.rect(x0, Y(c), Math.max(0.8, x1 - x0 - 0.4), height - m.b - Y(c));
  });
  ctx.fillStyle = '#7f8fd4';
  ctx.fill(bars);
  // The grid: every level thin, every `major`-th and 0 stronger.
  if (grid && grid.scale > 0) {
    const major = grid.major || 16;
    const thin = new Path2D();
    const strong = new Path2D();
    for (let q = grid.lo; q <= grid.hi; q++) {
      const x = Math.round(X(q * grid.scale)) + 0.5;
      const p = q % major === 0 ? strong : thin;
      p.moveTo(x, m.t);
      p.lineTo(x, height - m.b);
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = 'rgba(224,102,43,0.35)';
    ctx.stroke(thin);
    ctx.strokeStyle = 'rgba(156,59,20,0.9)';
    ctx.stroke(strong);
    ctx.fillStyle = '#9c3b14';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let q = Math.ceil(grid.lo / major) * major; q <= grid.hi; q += major) ctx.fillText(`q=${q}`, X(q * grid.scale), height - m.b + 15);
  }
  // Axes.
  ctx.strokeStyle = '#9aa0b2';
  ctx.beginPath();
  ctx.moveTo(m.l, height - m.b + 0.5);
  ctx.lineTo(width - m.r, height - m.b + 0.5);
  ctx.stroke();
  ctx.fillStyle = '#6b7185';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(fmt(v, 3), Math.min(width - m.r - 14, Math.max(m.l + 14, X(v))), height - m.b + 3);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const peak = Math.max(0, ...counts);
  for (const c of [0, peak]) ctx.fillText(String(c), m.l - 4, Y(c));
  return {
    hit(x, y) {
      if (x < m.l || x > width - m.r || y < m.t || y > height - m.b) return null;
      const v = lo + ((x - m.l) / (width - m.l - m.r)) * (hi - lo);
      let i = edges.findIndex((e, k) => k > 0 && v <= e) - 1;
      if (i < 0) i = counts.length - 1;
      const q = grid && grid.scale > 0 ? Math.round(v / grid.scale) : undefined;
      return { index: i, from: edges[i], to: edges[i + 1], count: counts[i], q };
    },
  };
}

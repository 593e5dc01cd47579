// Token links: the text's tokens in two columns (queries left, keys right) and a line from each query to each
// key it attends to, its opacity the attention weight. A focused query draws only its own lines, stronger.
// Lines from padding queries are left out (their outputs are never used) unless that query is focused.
import { setup, clip, FONT } from './canvas.js';

const SPECIAL = /^\[(CLS|SEP|PAD|UNK|MASK)\]$/;

/**
 * data: { tokens, weights (n × n, row = query), width, focus?: query index, muted?: index → true,
 *         max?: the weight drawn fully opaque (default 1) }
 * Returns { hit(x, y) → { side: 'query' | 'key', index } | null }.
 */
export function draw(canvas, data) {
  const { tokens, weights, width } = data;
  const n = tokens.length;
  const rowH = Math.max(13, Math.min(22, 360 / Math.max(1, n)));
  const height = n * rowH + 16;
  const ctx = setup(canvas, width, height);
  const fs = Math.min(12, rowH - 2);
  ctx.font = `${fs}px ${FONT}`;
  const colW = Math.min(120, width * 0.3);
  const xl = colW;
  const xr = width - colW;
  const y = (i) => 8 + (i + 0.5) * rowH;
  const focus = data.focus;
  const max = data.max || 1;

  ctx.lineCap = 'round';
  for (let q = 0; q < n; q++) {
    if (focus != null && q !== focus) continue;
    if (data.muted?.[q] && focus !== q) continue; // padding queries: their rows are never used
    for (let k = 0; k < n; k++) {
      const w = Math.min(1, weights[q * n + k] / max);
      if (!(w > 0.01)) continue;
      ctx.strokeStyle = focus != null ? `rgba(45,58,154,${Math.min(1, 0.12 + w)})` : `rgba(45,58,154,${Math.min(1, w * 0.9)})`;
      ctx.lineWidth = focus != null ? 1 + 5 * w : 0.6 + 3 * w;
      ctx.beginPath();
      ctx.moveTo(xl + 6, y(q));
      ctx.bezierCurveTo((xl + xr) / 2, y(q), (xl + xr) / 2, y(k), xr - 6, y(k));
      ctx.stroke();
    }
  }
  ctx.textBaseline = 'middle';
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    const strong = focus === i;
    ctx.fillStyle = data.muted?.[i] ? '#a0a4b2' : SPECIAL.test(t) ? '#8a90a3' : strong ? '#1a2366' : '#2b2f3a';
    ctx.font = `${strong ? '600 ' : ''}${fs}px ${FONT}`;
    ctx.textAlign = 'right';
    ctx.fillText(clip(ctx, t, colW - 10), xl, y(i));
    ctx.textAlign = 'left';
    ctx.fillStyle = data.muted?.[i] ? '#a0a4b2' : SPECIAL.test(t) ? '#8a90a3' : '#2b2f3a';
    ctx.font = `${fs}px ${FONT}`;
    ctx.fillText(clip(ctx, t, colW - 10), xr, y(i));
  }
  ctx.fillStyle = '#7a8094';
  ctx.font = `10px ${FONT}`;
  return {
    hit(x, yy) {
      const i = Math.floor((yy - 8) / rowH);
      if (i < 0 || i >= n) return null;
      if (x <= xl + 8) return { side: 'query', index: i };
      if (x >= xr - 8) return { side: 'key', index: i };
      return null;
    },
  };
}

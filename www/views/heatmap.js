// A labelled heatmap: rows × cols values through a colour scale, optional token labels on both axes,
// muted (padding) rows/columns hatched, special tokens greyed, a band of highlighted rows, one selected cell.
// Used for the large attention map, the positional table and similarity, and the norm outputs.
import { setup, clip, FONT } from './canvas.js';

const SPECIAL = /^\[(CLS|SEP|PAD|UNK|MASK)\]$/;

function hatch(ctx, x, y, w, h) {
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.fillStyle = 'rgba(246,246,248,0.85)';
  ctx.fillRect(x, y, w, h);
  ctx.strokeStyle = 'rgba(140,146,165,0.55)';
  ctx.lineWidth = 1;
  for (let k = -h; k < w; k += 5) {
    ctx.beginPath();
    ctx.moveTo(x + k, y + h);
    ctx.lineTo(x + k + h, y);
    ctx.stroke();
  }
  ctx.restore();
}

/**
 * The cells: one pixel per value in an offscreen canvas (scaled up without smoothing when drawn). Kept on the
 * canvas and reused while the same values go through the same scale (a panel redrawn for a new highlight).
 */
function raster(canvas, values, rows, cols, scale) {
  const r = canvas._raster;
  if (r && r.values === values && r.rows === rows && r.cols === cols && r.kind === scale.kind && r.lo === scale.lo && r.hi === scale.hi) return r.off;
  const img = new ImageData(cols, rows);
  scale.paint(values, img.data, rows * cols);
  let off = r?.off;
  if (off && off.width === cols && off.height === rows) off.ctx.putImageData(img, 0, 0);
  else {
    off = new OffscreenCanvas(cols, rows);
    off.ctx = off.getContext('2d');
    off.ctx.putImageData(img, 0, 0);
  }
  canvas._raster = { values, rows, cols, kind: scale.kind, lo: scale.lo, hi: scale.hi, off };
  return off;
}

/**
 * data: { rows, cols, values (row-major), scale, width, height?, rowLabels?, colLabels?, mutedRows?, mutedCols?
 *         (index → true), highlightRows?: [from, to), highlightCols?: [from, to), selected?: {row, col},
 *         highlightBlock?: [from, to) on both axes, labelSize?, grid?, ticks?: { rows?: step, cols?: step },
 *         axis?: { rows?: title, cols?: title } }
 * Returns { hit(x, y) → { row, col, value } | null } in CSS pixels.
 */
export function draw(canvas, data) {
  const { rows, cols, values, scale } = data;
  const fs = data.labelSize || 11;
  const measure = canvas.getContext('2d');
  measure.font = `${fs}px ${FONT}`;
  const maxLabel = (labels) => Math.min(96, Math.max(0, ...labels.map((l) => measure.measureText(l).width)));
  const ticks = data.ticks || {};
  const axis = data.axis || {};
  const left = data.rowLabels ? maxLabel(data.rowLabels) + 8 : ticks.rows ? 26 + (axis.rows ? 14 : 0) : 0;
  const top = data.colLabels ? Math.min(90, maxLabel(data.colLabels) * 0.72 + 12) : 0;
  const right = data.colLabels ? Math.min(60, maxLabel(data.colLabels) * 0.72) : 2;
  const bottom = ticks.cols ? 16 + (axis.cols ? 14 : 0) : 0;
  const width = data.width;
  const cw = Math.max(0.5, (width - left - right) / cols);
  const ch = data.height ? Math.max(0.5, (data.height - top - bottom - 2) / rows) : cw;
  const height = data.height || top + ch * rows + bottom + 2;
  const ctx = setup(canvas, width, height);
  ctx.font = `${fs}px ${FONT}`;

  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(raster(canvas, values, rows, cols, scale), left, top, cw * cols, ch * rows);

  if (data.grid && cw >= 6 && ch >= 6) {
    ctx.strokeStyle = 'rgba(255,255,255,0.7)';
    ctx.lineWidth = 1;
    for (let c = 1; c < cols; c++) {
      ctx.beginPath();
      ctx.moveTo(left + c * cw, top);
      ctx.lineTo(left + c * cw, top + rows * ch);
      ctx.stroke();
    }
    for (let r = 1; r < rows; r++) {
      ctx.beginPath();
      ctx.moveTo(left, top + r * ch);
      ctx.lineTo(left + cols * cw, top + r * ch);
      ctx.stroke();
    }
  }
  for (let c = 0; c < cols; c++) if (data.mutedCols?.[c]) hatch(ctx, left + c * cw, top, cw, rows * ch);
  for (let r = 0; r < rows; r++) if (data.mutedRows?.[r]) hatch(ctx, left, top + r * ch, cols * cw, ch);

  const band = (range, vertical) => {
    if (!range) return;
    const [a, b] = range;
    ctx.strokeStyle = '#e0662b';
    ctx.lineWidth = 2;
    if (vertical) ctx.strokeRect(left + a * cw + 1, top + 1, (b - a) * cw - 2, rows * ch - 2);
    else ctx.strokeRect(left + 1, top + a * ch + 1, cols * cw - 2, (b - a) * ch - 2);
  };
  band(data.highlightRows, false);
  band(data.highlightCols, true);
  if (data.highlightBlock) {
    const [a, b] = data.highlightBlock;
    ctx.strokeStyle = '#e0662b';
    ctx.lineWidth = 2;
    ctx.strokeRect(left + a * cw + 1, top + a * ch + 1, (b - a) * cw - 2, (b - a) * ch - 2);
  }
  ctx.fillStyle = '#6b7185';
  ctx.font = `10px ${FONT}`;
  if (ticks.rows) {
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let r = 0; r < rows; r += ticks.rows) ctx.fillText(String(r), left - 4, Math.max(top + 6, top + (r + 0.5) * ch));
    if (axis.rows) {
      ctx.save();
      ctx.translate(8, top + (rows * ch) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'center';
      ctx.fillText(axis.rows, 0, 0);
      ctx.restore();
    }
  }
  if (ticks.cols) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let c = 0; c < cols; c += ticks.cols) ctx.fillText(String(c), left + (c + 0.5) * cw, top + rows * ch + 4);
    if (axis.cols) ctx.fillText(axis.cols, left + (cols * cw) / 2, top + rows * ch + 17);
  }
  ctx.font = `${fs}px ${FONT}`;

  if (data.selected) {
    const { row, col } = data.selected;
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 2;
    if (col == null) ctx.strokeRect(left + 1, top + row * ch + 1, cols * cw - 2, ch - 2);
    else ctx.strokeRect(left + col * cw + 1, top + row * ch + 1, cw - 2, ch - 2);
  }

  ctx.fillStyle = '#2b2f3a';
  ctx.textBaseline = 'middle';
  if (data.rowLabels && ch >= fs - 2) {
    ctx.textAlign = 'right';
    data.rowLabels.forEach((l, r) => {
      ctx.fillStyle = SPECIAL.test(l) ? '#8a90a3' : data.mutedRows?.[r] ? '#a0a4b2' : '#2b2f3a';
      ctx.fillText(clip(ctx, l, left - 8), left - 6, top + (r + 0.5) * ch);
    });
  }
  if (data.colLabels && cw >= fs - 2) {
    ctx.textAlign = 'left';
    data.colLabels.forEach((l, c) => {
      ctx.save();
      ctx.translate(left + (c + 0.5) * cw, top - 5);
      ctx.rotate(-Math.PI / 4);
      ctx.fillStyle = SPECIAL.test(l) ? '#8a90a3' : data.mutedCols?.[c] ? '#a0a4b2' : '#2b2f3a';
      ctx.fillText(clip(ctx, l, 110), 0, 0);
      ctx.restore();
    });
  }
  return {
    hit(x, y) {
      const col = Math.floor((x - left) / cw);
      const row = Math.floor((y - top) / ch);
      if (row < 0 || col < 0 || row >= rows || col >= cols) return null;
      return { row, col, value: values[row * cols + col] };
    },
  };
}

// The encoder's blocks as they are: one row per block. A DeLighT block shows DExTra's layers left to right
// as bars whose height is the layer's output width (the expand–reduce shape) split into its groups, then
// the single-head attention (on d_o) and the light FFN (d_m → d_m/r → d_m); a standard block its attention
// and FFN. Widths are drawn on one scale across all blocks, so deeper and wider blocks look it.
import { setup, clip, FONT } from './canvas.js';

const COLORS = { dextra: '#4f5fbf', proj: '#9aa6dd', attn: '#e0662b', ffn: '#2f8f5b', group: 'rgba(255,255,255,0.85)' };

/**
 * data: { blocks: [{ kind, depth, widthMult, dextra: [{ in_dim, out_dim, groups }], attentionHeads, attentionDim,
 *         ffnDim }], hidden, width }
 * Returns { height, hit(x, y) → { block, part, index, layer } | null }.
 */
export function draw(canvas, data) {
  const { blocks, hidden, width } = data;
  const rowH = 116;
  const m = { l: 66, r: 8, t: 18, b: 8 };
  const height = m.t + m.b + rowH * blocks.length;
  const ctx = setup(canvas, width, height);
  ctx.font = `10px ${FONT}`;
  const maxW = Math.max(hidden, ...blocks.flatMap((b) => [...b.dextra.map((l) => l.out_dim), b.ffnDim, b.attentionDim]));
  const H = (w) => Math.max(2, ((rowH - 26) * w) / maxW);
  const cols = Math.max(...blocks.map((b) => b.dextra.length + 4));
  const step = Math.min(58, (width - m.l - m.r) / cols);
  const bw = Math.max(4, step * 0.62);
  const boxes = [];
  ctx.textBaseline = 'middle';
  blocks.forEach((b, bi) => {
    const y0 = m.t + bi * rowH;
    const mid = y0 + (rowH - 14) / 2;
    ctx.fillStyle = '#2b3040';
    ctx.textAlign = 'left';
    ctx.fillText(`block ${bi + 1}`, 4, mid - 8);
    ctx.fillStyle = '#6b7185';
    ctx.fillText(b.kind === 'delight' ? `N=${b.depth} w=${b.widthMult}` : `${b.attentionHeads} heads`, 4, mid + 6);
    let x = m.l;
    const bar = (w, color, groups, part, index, label) => {
      const h = H(w);
      ctx.fillStyle = color;
      ctx.fillRect(x, mid - h / 2, bw, h);
      if (groups > 1) {
        ctx.strokeStyle = COLORS.group;
        ctx.lineWidth = 1;
        for (let g = 1; g < groups; g++) {
          const gy = mid - h / 2 + (h * g) / groups;
          ctx.beginPath();
          ctx.moveTo(x, gy);
          ctx.lineTo(x + bw, gy);
          ctx.stroke();
        }
      }
      ctx.fillStyle = '#6b7185';
      ctx.textAlign = 'center';
      if (label) ctx.fillText(clip(ctx, label, step + 4), x + bw / 2, y0 + rowH - 10);
      boxes.push({ x, y: mid - h / 2, w: bw, h, hit: { block: bi, part, index } });
      x += step;
    };
    if (b.kind === 'delight') {
      b.dextra.forEach((l, i) => {
        const last = i === b.dextra.length - 1;
        const color = i === 0 || last ? COLORS.proj : COLORS.dextra;
        bar(l.out_dim, color, l.groups, 'dextra', i, i === 0 ? 'in' : last ? 'out' : `g${l.groups}`);
      });
    }
    bar(b.attentionDim, COLORS.attn, b.attentionHeads, 'attention', 0, b.attentionHeads === 1 ? 'attn' : `${b.attentionHeads}h`);
    bar(b.ffnDim, COLORS.ffn, 1, 'ffn', 0, 'ffn');
    bar(hidden, '#b8bdca', 1, 'output', 0, 'd');
    if (bi < blocks.length - 1) {
      ctx.strokeStyle = '#e3e5ec';
      ctx.beginPath();
      ctx.moveTo(0, y0 + rowH - 2);
      ctx.lineTo(width, y0 + rowH - 2);
      ctx.stroke();
    }
  });
  ctx.fillStyle = '#6b7185';
  ctx.textAlign = 'left';
  ctx.fillText('bar height = width of the layer’s output · white lines = groups', m.l, 8);
  return {
    height,
    hit(x, y) {
      const b = boxes.find((r) => x >= r.x && x <= r.x + r.w && y >= r.y - 3 && y <= r.y + r.h + 3);
      return b ? b.hit : null;
    },
  };
}

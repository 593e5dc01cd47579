// Panel: Architecture. The encoder's blocks as the engine built them (Engine.architecture via the worker's
// `load`): for DeLighT each block's depth N and width multiplier, DExTra's expand–reduce layers with their
// groups, single-head attention and the light FFN; params and MACs per block beside a standard Transformer
// layer of the same width. Numbers come from the engine; nothing is computed here but sums for display.
import * as blocksView from '../views/blocks.js';
import { $, el, canvasWidth, changed, hoverTips } from './dom.js';

const memo = {};

const fmtInt = (v) => Math.round(v).toLocaleString('en-US');
const fmtM = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(1)} k`);

export function render(root, a) {
  const arch = a.info?.architecture;
  root.hidden = !arch;
  if (!arch || !changed(memo, root, arch)) return;
  const delight = arch.blocks.some((b) => b.kind === 'delight');
  root.dataset.kind = delight ? 'delight' : 'transformer';
  root.dataset.blocks = String(arch.blocks.length);
  root.dataset.encoderParams = String(arch.encoderParams);
  const std = arch.standardLayer;
  const stdParams = std.params * arch.blocks.length;
  const stdMacs = std.macs * arch.blocks.length;
  $('arch-caption').textContent = delight
    ? `DeLighT (Mehta et al., 2021): each block first runs DExTra — a projection to d/2, then N group linear layers that expand to w·d and reduce back, with more groups in the middle layers, shuffled and mixed with the input — then one attention head on d/2 = ${arch.blocks[0].attentionDim} dimensions and a light FFN that reduces (d → ${arch.blocks[0].ffnDim} → d). Block-wise scaling makes later blocks deeper and wider.`
    : `A standard Transformer encoder: every layer is ${arch.blocks[0]?.attentionHeads} attention heads on d = ${arch.hidden} and an FFN d → ${arch.blocks[0]?.ffnDim} → d.`;
  const c = $('arch-blocks');
  const hit = blocksView.draw(c, { blocks: arch.blocks, hidden: arch.hidden, width: canvasWidth(c) });
  c._hit = hit;
  c._tip = (h) => {
    const b = arch.blocks[h.block];
    if (h.part === 'dextra') {
      const l = b.dextra[h.index];
      const name = h.index === 0 ? 'input projection' : h.index === b.dextra.length - 1 ? 'output linear' : `GLT layer ${h.index}`;
      return [['block', String(h.block + 1)], ['layer', name], ['in → out', `${l.in_dim} → ${l.out_dim}`], ['groups', String(l.groups)]];
    }
    if (h.part === 'attention') return [['block', String(h.block + 1)], ['attention', `${b.attentionHeads} head(s) on ${b.attentionDim}`]];
    if (h.part === 'ffn') return [['block', String(h.block + 1)], ['FFN', `${arch.hidden} → ${b.ffnDim} → ${arch.hidden}`]];
    return [['block', String(h.block + 1)], ['output', `d = ${arch.hidden}`]];
  };
  const rows = arch.blocks.map((b, i) =>
    [`block ${i + 1}`, b.kind === 'delight' ? `${b.depth} GLT, w ${b.widthMult}` : `${b.attentionHeads} heads`, fmtInt(b.cost.params), fmtM(b.cost.macs), fmtInt(std.params), fmtM(std.macs)]);
  rows.push(['encoder', `${arch.blocks.length} blocks`, fmtInt(arch.encoderParams), fmtM(arch.encoderMacs), fmtInt(stdParams), fmtM(stdMacs)]);
  const table = $('arch-table');
  const head = el('tr');
  for (const h of ['', 'shape', 'params', `MACs @ ${arch.seq}`, 'standard params', 'standard MACs']) head.append(el('th', '', h));
  table.replaceChildren(head, ...rows.map((r, i) => {
    const tr = el('tr', i === rows.length - 1 ? 'total' : '');
    r.forEach((v) => tr.append(el('td', '', v)));
    return tr;
  }));
  $('arch-foot').textContent = `Standard = a Transformer layer of the same width (d = ${arch.hidden}: multi-head attention on d, FFN ${4 * arch.hidden}), as in the default models; ${arch.blocks.length} of them: ${fmtInt(stdParams)} params. This encoder: ${fmtInt(arch.encoderParams)} params (${((100 * arch.encoderParams) / stdParams).toFixed(1)} %), embeddings ${fmtInt(arch.embeddingParams)} more. MACs as the DeLighT reference counts them (compute_macs_params): a linear layer's weights + biases per token, attention 2·S²·d.`;
}

export function wire(root, ui) {
  hoverTips($('arch-blocks'), ui);
}

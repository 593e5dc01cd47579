// The requests panels make on demand, while they are on screen: the engine's explanation (panels 5–7), the
// per-op timings of one forward (panel 9) and the precision lab (panel 10). Each asks the worker in its own
// lane, drops an answer a newer request superseded, and draws it. main.js owns the state and the worker.

import { $ } from './panels/dom.js';
import * as ablation from './panels/ablation.js';
import * as attribution from './panels/attribution.js';
import * as lens from './panels/lens.js';
import * as timings from './panels/timings.js';
import * as precision from './panels/precision.js';

// Panels 5–7 draw the engine's explanation of the text (`explain`: 4 forwards, one the batched head sweep),
// asked for only while one of them is on screen.
export const EXPLAIN_PANELS = [
  ['ablation', ablation],
  ['attribution', attribution],
  ['lens', lens],
];

/**
 * The three on-demand runs over main.js's `state` and `rpc`; `showMessage`/`clearMessage` report on the page,
 * `noteGpuLoss` notes a device lost in the worker, `saveUrl` writes the shareable state.
 */
export function onDemandRequests({ state, rpc, showMessage, clearMessage, noteGpuLoss, saveUrl }) {
  /** Ask the engine why it labels `text` as it does and draw panels 5–7 (superseded by a newer text). */
  async function runExplain(text) {
    if (!state.model || !text.trim()) return;
    const args = { model: state.model, text, ablate: $('abl-mode').value };
    const same = (x) => x && ['model', 'text', 'ablate'].every((k) => x[k] === args[k]);
    // Drawn already, or being computed: nothing to ask.
    if (same(state.explanation) || same(state.explaining)) return;
    state.explaining = args;
    let x;
    try {
      x = await rpc.call('explain', args, { lane: 'explain' });
    } catch (e) {
      if (!e.stale) showMessage('error', `Could not explain: ${e.message}`, 'explain');
      return;
    } finally {
      if (state.explaining === args) state.explaining = null;
    }
    clearMessage('explain');
    noteGpuLoss(x.info);
    x.ablate = args.ablate;
    state.explanation = x;
    const ms = {};
    for (const [id, panel] of EXPLAIN_PANELS) {
      const t0 = performance.now();
      panel.render($(id), x);
      ms[id] = performance.now() - t0;
    }
    document.dispatchEvent(new CustomEvent('explanation-drawn', { detail: { model: x.model, text: x.text, workMs: x.workMs, renderMs: ms, explanation: x } }));
  }

  /** Panel 9: time one forward of the text (per op, in the engine) and draw it. */
  async function runTimings(text) {
    if (!state.model || !text?.trim()) return;
    const args = { model: state.model, text };
    state.timing = args;
    let t;
    try {
      t = await rpc.call('timings', args, { lane: 'timings' });
    } catch (e) {
      if (!e.stale) showMessage('error', `Could not time the forward: ${e.message}`, 'timings');
      return;
    }
    if (state.timing !== args) return;
    clearMessage('timings');
    state.timings = t;
    timings.render($('timings'), t);
    document.dispatchEvent(new CustomEvent('timings-drawn', { detail: t }));
  }
  /** Panel 10: the text through the model in fp32, f16 and int8 (the engine's precision lab) and draw it. */
  async function runPrecision(text) {
    if (!state.model || !text?.trim()) return;
    const args = { model: state.model, text, matrix: precision.getView().matrix, minMs: 50 };
    state.precisionAsked = args;
    const root = $('precision');
    root.dataset.state = 'running';
    let x;
    try {
      x = await rpc.call('precision', args, { lane: 'precision' });
    } catch (e) {
      if (!e.stale && state.precisionAsked === args) precision.renderError(root, args.model, e.message);
      return;
    }
    if (state.precisionAsked !== args) return;
    clearMessage('precision');
    state.precision = x;
    precision.render(root, x);
    saveUrl();
    document.dispatchEvent(new CustomEvent('precision-drawn', { detail: x }));
  }

  return { runExplain, runTimings, runPrecision };
}

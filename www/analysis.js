// What one analysis of a text is: the engine calls the page needs, composed. Shared by worker.js and by
// scripts/make_example.mjs (which writes www/example.json), so the pre-computed example has exactly the shape
// the live page draws. No model math here: every number comes from the engine.
//
// One keystroke runs one `inspect` per model drawn: the traced eval-mode forward, whose prediction is the label
// and whose trace is the heatmaps, plus the batch experiment — with the companion, and (BatchNorm models only)
// alone with batch statistics; a LayerNorm model's eval forward is its "alone". 2 forwards (LN) or 3 (BN). The LN-vs-BN panel's comparison models are inspected separately (`compare`), without attention
// maps, only when that panel is drawn.

/** The longer text of the LayerNorm-vs-BatchNorm batch experiment (editable on the page). */
export const COMPANION =
  'the plot wanders for two hours, the dialogue is stiff and every scene drags on long after its point has been made';

/** The sentence the page opens with (and the pre-computed example). */
export const DEFAULT_TEXT = 'A quiet, beautifully acted film that stays with you.';

/** Drop what the page never draws, so less crosses the worker boundary. */
export function slim(inspection) {
  delete inspection.outputFeatureStats;
  delete inspection.text;
  delete inspection.companion;
  const tr = inspection.result.trace;
  if (tr) {
    delete tr.embeddings;
    delete tr.positional; // the page draws the whole table from positionalView()
    delete tr.pooled;
    delete tr.final_norm;
    for (const l of tr.layers) {
      delete l.hidden;
      for (const nt of [l.norm1, l.norm2]) if (nt) delete nt.input;
    }
  }
  for (const p of inspection.result.predictions) delete p.ids;
  const bt = inspection.batchTest;
  if (!bt) return inspection;
  delete bt.togetherLengths;
  for (const pair of bt.layers) {
    for (const sh of pair) {
      delete sh.alone;
      delete sh.together;
      delete sh.statsAlone;
      delete sh.statsTogether;
      delete sh.tokenShift;
    }
  }
  return inspection;
}

/** Drop the norm traces and the batch experiment's norm shifts: what only the LN-vs-BN panel draws. */
function withoutNorms(inspection) {
  delete inspection.outputTokenStats;
  if (inspection.batchTest) inspection.batchTest.layers = [];
  return inspection;
}

/**
 * Everything the page shows for `text` with the model `primary` ({ id, engine }): one `inspect`.
 * The label, probabilities and tokens are those of `inspection.result.predictions[0]`, the traced forward
 * that also gives the heatmaps. `inspectMs`: wall time of the inspect call (its forwards and serialisation).
 * `norms: false` (a model the LN-vs-BN panel does not show): the engine leaves out what only that panel draws.
 * `batchTest: false` (no norms, and the attention panel's padded view is off): no batch experiment, so the
 * inspect is the one traced forward.
 */
export async function analyse(primary, text, companion = COMPANION, { norms = true, batchTest = true } = {}) {
  const t0 = performance.now();
  const raw = await primary.engine.inspect(text, companion, { attention: true, norms, batchTest: norms || batchTest });
  const inspectMs = performance.now() - t0;
  const inspection = slim(raw);
  return { text, companion, model: primary.id, inspectMs, inspection: norms ? inspection : withoutNorms(inspection) };
}

/**
 * The LN-vs-BN panel's two models for `text`: engines { ln?: {id, engine}, bn?: {id, engine} }. A role played
 * by the primary model (`primaryId`) is `{ id, same: true }` (the panel uses the primary's inspection); a role
 * without a model is left out.
 */
export async function compare(engines, primaryId, text, companion = COMPANION) {
  const out = {};
  for (const role of ['ln', 'bn']) {
    const e = engines[role];
    if (!e) continue;
    out[role] = e.id === primaryId ? { id: e.id, same: true } : { id: e.id, ...slim(await e.engine.inspect(text, companion, { attention: false })) };
  }
  return out;
}

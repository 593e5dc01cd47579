// What one analysis of a text is: the engine calls the page needs, composed. Shared by worker.js and by
// scripts/make_example.mjs (which writes www/example.json), so the pre-computed example has exactly the shape
// the live page draws. No model math here: every number comes from the engine.

/** The longer text of the LayerNorm-vs-BatchNorm batch experiment (editable on the page). */
export const COMPANION =
  'the plot wanders for two hours, the dialogue is stiff and every scene drags on long after its point has been made';

/** The sentence the page opens with (and the pre-computed example). */
export const DEFAULT_TEXT = 'A quiet, beautifully acted film that stays with you.';

/** Drop what the page never draws (layer inputs, hidden states) so less crosses the worker boundary. */
function slim(inspection) {
  const tr = inspection.result.trace;
  if (tr) {
    delete tr.embeddings;
    delete tr.positional; // the page draws the whole table from positionalView()
    delete tr.pooled;
    for (const l of tr.layers) {
      delete l.hidden;
      delete l.norm1.input;
      delete l.norm2.input;
    }
    for (const pair of inspection.batchTest.layers) {
      for (const sh of pair) {
        delete sh.alone;
        delete sh.together;
      }
    }
    if (tr.final_norm) {
      delete tr.final_norm.input;
      delete tr.final_norm.output;
    }
  }
  return inspection;
}

/** Run `engine.classify` `runs` times (within a small time budget) and report the median ms. */
async function timedClassify(engine, text, runs = 3) {
  const times = [];
  let result;
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await engine.classify([text], { trace: false });
    times.push(performance.now() - t0);
    if (performance.now() - start > 150) break;
  }
  times.sort((a, b) => a - b);
  return { result, ms: times[Math.floor(times.length / 2)], runs: times.length };
}

/**
 * Everything the page shows for `text`.
 * engines: { primary: {id, engine}, ln?: {id, engine}, bn?: {id, engine} }.
 */
export async function analyse(engines, text, companion = COMPANION) {
  const { primary } = engines;
  const timed = await timedClassify(primary.engine, text);
  const t0 = performance.now();
  const inspection = slim(await primary.engine.inspect(text, companion, true));
  const compare = {};
  for (const role of ['ln', 'bn']) {
    const e = engines[role];
    if (!e) continue;
    compare[role] =
      e.id === primary.id ? { id: e.id, same: true } : { id: e.id, ...slim(await e.engine.inspect(text, companion, false)) };
  }
  const inspectMs = performance.now() - t0;
  return {
    text,
    companion,
    inspectMs,
    model: primary.id,
    prediction: timed.result.predictions[0],
    labels: timed.result.labels,
    ms: timed.ms,
    runs: timed.runs,
    inspection,
    compare,
  };
}

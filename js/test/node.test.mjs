// The package in node 20, on the CPU path, in this thread ({ worker: false }): the bundled model, a folder
// on disk, the folder's contents, embeddings, explain, dispose — numbers checked against the native engine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TextClassifier, DEFAULT_MODEL } from '../src/index.js';

const REFERENCE = [
  ['an absolute joy from start to finish', 'positive'],
  ['a dull, lifeless waste of two hours', 'negative'],
];

test('the bundled model classifies the two reference sentences', async () => {
  const events = [];
  const clf = await TextClassifier.load(undefined, { worker: false, onProgress: (e) => events.push(e) });
  assert.equal(clf.info.backend, 'cpu');
  assert.match(clf.info.fallbackReason, /no WebGPU/);
  assert.deepEqual(clf.info.labels, ['negative', 'positive']);
  assert.ok(events.some((e) => e.type === 'progress' && e.file === 'model.safetensors' && e.loaded === e.total && e.total > 5e6), JSON.stringify(events));
  const out = await clf.classify(REFERENCE.map(([t]) => t));
  assert.equal(out.length, 2);
  for (const [i, [text, want]] of REFERENCE.entries()) {
    assert.equal(out[i].label, want, text);
    assert.ok(out[i].score > 0.5);
    assert.equal(out[i].score, out[i].scores[want]);
    assert.ok(Math.abs(out[i].scores.negative + out[i].scores.positive - 1) < 1e-5);
  }
  // One text gives an array of one, with the same numbers as in the batch.
  const [one] = await clf.classify(REFERENCE[0][0]);
  assert.ok(Math.abs(one.score - out[0].score) <= 1e-6, `${one.score} vs ${out[0].score}`);
  clf.dispose();
  await assert.rejects(clf.classify('x'), /disposed/);
});

test('the CLI (native engine) and the package agree', async (t) => {
  // The value the native CLI prints for the first reference sentence (tests/cli.rs checks the CLI itself);
  // here the wasm CPU path must give it to 1e-5.
  const { execFileSync } = await import('node:child_process');
  const bin = process.env.CLASSIFY_BIN;
  if (!bin) return t.skip('SKIPPED: CLASSIFY_BIN not set (make test-npm sets it)');
  const native = JSON.parse(execFileSync(bin, ['--json', REFERENCE[0][0]], { encoding: 'utf8' }));
  const clf = await TextClassifier.load(DEFAULT_MODEL, { worker: false });
  const [r] = await clf.classify(REFERENCE[0][0]);
  for (const l of ['negative', 'positive']) {
    const [a, b] = [r.scores[l], native.probabilities[l]];
    assert.ok(Math.abs(a - b) <= 1e-6 + 1e-5 * Math.abs(b), `${l}: wasm ${a} native ${b}`);
  }
  clf.dispose();
});

test('a folder path, its contents, embeddings and explain', async () => {
  const dir = fileURLToPath(DEFAULT_MODEL);
  const fromPath = await TextClassifier.load(dir, { worker: false, backend: 'cpu' });
  const contents = {};
  for (const f of ['config.json', 'vocab.txt', 'model.safetensors']) contents[f] = await readFile(dir + f);
  contents['config.json'] = contents['config.json'].toString('utf8');
  const fromContents = await TextClassifier.load(contents, { worker: false });
  const texts = REFERENCE.map(([t]) => t);
  const [a, b] = [await fromPath.embed(texts), await fromContents.embed(texts)];
  assert.equal(a.length, 2);
  assert.ok(a[0] instanceof Float32Array);
  assert.equal(a[0].length, 128);
  assert.deepEqual(a, b);
  const norm = Math.hypot(...a[1]);
  assert.ok(Math.abs(norm - 1) < 1e-5, `L2-normalised: ${norm}`);

  const ex = await fromPath.explain(texts[0], { attention: true, ablation: true });
  assert.equal(ex.label, 'positive');
  assert.deepEqual(ex.tokens.slice(0, 1), ['[CLS]']);
  assert.equal(ex.attention.seq, ex.tokens.length);
  assert.equal(ex.attention.mean.length, 2, 'two layers');
  const seq = ex.attention.seq;
  for (let r = 0; r < seq; r++) {
    const row = ex.attention.mean[0].subarray(r * seq, (r + 1) * seq).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(row - 1) < 1e-5, `attention row ${r} sums to ${row}`);
  }
  assert.equal(ex.attention.heads[0].length, 4 * seq * seq);
  assert.deepEqual(ex.ablation.map((w) => w.word), texts[0].split(' '));
  // Each ablation is the classification of the text without that word.
  const [without] = await fromPath.classify(texts[0].replace('joy ', ''));
  const joy = ex.ablation.find((w) => w.word === 'joy');
  assert.ok(Math.abs(joy.delta - (ex.score - without.scores.positive)) < 1e-6);
  await assert.rejects(fromPath.explain(texts[0], { attribution: true }), /not in this build/);
  await assert.rejects(fromPath.classify([1, 2]), /array of strings/);
  await assert.rejects(TextClassifier.load('/nonexistent/model', { worker: false }), /no config\.json/);
  await assert.rejects(TextClassifier.load(undefined, { worker: false, precision: 'int4' }), /use 'auto', 'f32', 'int8' or 'f16'/);
  fromPath.dispose();
  fromContents.dispose();
});

test('precision picks the int8 sibling folder, and back', async () => {
  const f32 = await TextClassifier.load(undefined, { worker: false });
  assert.equal(f32.info.precision, 'f32');
  const int8 = await TextClassifier.load(undefined, { worker: false, precision: 'int8' });
  assert.equal(int8.info.precision, 'int8');
  assert.match(int8.info.source, /models\/sentiment-ln-int8\/$/);
  const texts = REFERENCE.map(([t]) => t);
  const [a, b] = [await f32.classify(texts), await int8.classify(texts)];
  for (const [i, [text, want]] of REFERENCE.entries()) {
    assert.equal(b[i].label, want, text);
    // int8 vs f32 on the same text: `classify quantize` reports the logit differences on its check set
    // (≤ 0.1 for this model); the probabilities stay within 0.05.
    assert.ok(Math.abs(b[i].score - a[i].scores[want]) < 0.05, `${text}: int8 ${b[i].score} vs f32 ${a[i].scores[want]}`);
    assert.notEqual(b[i].score, a[i].scores[want], 'the int8 model computes its own numbers');
  }
  // The int8 folder itself: 'auto' keeps it, 'f32' goes back to the original.
  const back = await TextClassifier.load(int8.info.source, { worker: false, precision: 'f32' });
  assert.equal(back.info.precision, 'f32');
  assert.equal((await back.classify(texts[0]))[0].score, a[0].score);
  await assert.rejects(TextClassifier.load(undefined, { worker: false, precision: 'f16' }), /no f16 version at .*sentiment-ln-f16\/.*classify quantize/s);
  for (const c of [f32, int8, back]) c.dispose();
});

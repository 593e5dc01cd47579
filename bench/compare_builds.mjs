// Two builds of the engine, same run: per model and sequence length, the median ms of one classify (our
// format) or embed (Hugging Face folder) call through the public JS API, round-robin between the builds so
// that load from other processes hits both alike. For checking that a change does not slow the CPU path.
//
//   node --experimental-wasm-relaxed-simd bench/compare_builds.mjs BUILD_A_DIR BUILD_B_DIR
//
// Each BUILD dir is a `wasm-pack build --target web` output (encoder_lens.js + encoder_lens_bg.wasm), e.g.
// www/pkg-relaxed and the same built from an older commit. Models: models/sentiment-ln, models/minilm, and
// with INT8=1 also models/sentiment-ln-int8 and models/minilm-int8 (when present).
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';

const root = resolve(import.meta.dirname, '..');
const [dirA, dirB] = process.argv.slice(2).map((d) => resolve(d));
if (!dirA || !dirB) throw new Error('usage: compare_builds.mjs BUILD_A_DIR BUILD_B_DIR');
const ROUNDS = Number(process.env.ROUNDS || 15);

async function load(dir) {
  const mod = await import(join(dir, 'encoder_lens.js'));
  mod.initSync({ module: readFileSync(join(dir, 'encoder_lens_bg.wasm')) });
  return mod;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const ours = (name) => async (mod) => {
  const dir = join(root, 'models', name);
  const e = await mod.Engine.create(readFileSync(join(dir, 'config.json'), 'utf8'), readFileSync(join(dir, 'model.safetensors')), readFileSync(join(dir, 'vocab.txt'), 'utf8'), 'cpu');
  return (text) => e.classify([text], { trace: false });
};

const minilm = (name) => async (mod) => {
  const dir = join(root, 'models', name);
  const opt = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  const files = { config: opt('config.json'), vocab: opt('vocab.txt'), tokenizerConfig: opt('tokenizer_config.json'), sentenceBertConfig: opt('sentence_bert_config.json'), poolingConfig: opt('1_Pooling/config.json') };
  const e = await mod.Engine.createHf(files, [readFileSync(join(dir, 'model.safetensors'))], 'cpu');
  return async (text) => e.embed([text]);
};

// "word " repeated: one word piece each, plus [CLS] and [SEP].
const textOf = (tokens) => 'film '.repeat(tokens - 2).trim();

const [a, b] = [await load(dirA), await load(dirB)];
console.log(`A = ${dirA}\nB = ${dirB}\nload average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const rows = [];
const minilmSeqs = (process.env.MINILM_SEQS || '16,128,256').split(',').map(Number);
const runs = [['sentiment-ln', 'classify', ours, [16, 128]], ['minilm', 'embed', minilm, minilmSeqs]];
if (process.env.INT8) runs.push(['sentiment-ln-int8', 'classify', ours, [16, 128]], ['minilm-int8', 'embed', minilm, [16, 128, 256]]);
for (const [model, what, kind, seqs] of runs) {
  const name = `${model} ${what}`;
  const make = kind(model);
  if (!existsSync(join(root, 'models', model, 'model.safetensors'))) continue;
  const [fa, fb] = [await make(a), await make(b)];
  for (const seq of seqs) {
    const text = textOf(seq);
    for (let i = 0; i < 3; i++) { await fa(text); await fb(text); } // warm-up: tier-up, buffer pools
    const ta = [], tb = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which build goes first in each round.
      const order = r % 2 ? [[fb, tb], [fa, ta]] : [[fa, ta], [fb, tb]];
      for (const [f, t] of order) {
        const t0 = performance.now();
        await f(text);
        t.push(performance.now() - t0);
      }
    }
    const [ma, mb] = [median(ta), median(tb)];
    rows.push({ model: name, seq, a: ma, b: mb, ratio: mb / ma });
    console.log(`${name.padEnd(22)} seq ${String(seq).padStart(3)}: A ${ma.toFixed(2)} ms  B ${mb.toFixed(2)} ms  B/A ${(mb / ma).toFixed(3)}  (${ROUNDS} paired rounds)`);
  }
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

// Writes www/example.json: a real engine trace of the default sentence, which the page paints before the
// model has downloaded. It runs the same wasm build and the same analysis code (www/analysis.js) as the
// page's worker, under node, on the models in www/models (run `make build` first).
//
//   node scripts/make_example.mjs [www-dir]
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const www = resolve(process.argv[2] || join(import.meta.dirname, '..', 'www'));
const wasm = await import(join(www, 'pkg', 'encoder_lens.js'));
wasm.initSync({ module: readFileSync(join(www, 'pkg', 'encoder_lens_bg.wasm')) });
const { analyse, compare, DEFAULT_TEXT, COMPANION } = await import(join(www, 'analysis.js'));

const manifest = JSON.parse(readFileSync(join(www, 'models.json'), 'utf8'));
const load = async (id) => {
  const m = manifest.models.find((x) => x.id === id);
  const dir = join(www, m.path);
  const engine = await wasm.Engine.create(
    readFileSync(join(dir, 'config.json'), 'utf8'),
    readFileSync(join(dir, 'model.safetensors')),
    readFileSync(join(dir, 'vocab.txt'), 'utf8'),
    'cpu',
  );
  return { id, engine };
};
const primary = await load(manifest.default);
const role = async (norm) => {
  const m = manifest.models.find((x) => x.compare === norm);
  if (!m) return undefined;
  return m.id === primary.id ? primary : load(m.id);
};
const analysis = await analyse(primary, DEFAULT_TEXT, COMPANION);
analysis.compare = await compare({ ln: await role('layer'), bn: await role('batch') }, primary.id, DEFAULT_TEXT, COMPANION);
analysis.inspectMs = null; // not measured here: the page labels the example as pre-computed
const example = {
  note: 'Pre-computed by scripts/make_example.mjs from the engine; the page shows it until the model has loaded.',
  info: { model: primary.id, backend: 'example', backendLabel: 'pre-computed example', config: primary.engine.config() },
  positional: primary.engine.positionalView(),
  analysis,
};
// Four significant digits are plenty for drawing and keep the file small.
const json = JSON.stringify(example, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v));
writeFileSync(join(www, 'example.json'), json);
console.log(`wrote ${join(www, 'example.json')} (${(json.length / 1024).toFixed(0)} KB): "${DEFAULT_TEXT}" → ${analysis.inspection.result.predictions[0].label}`);

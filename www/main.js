// Minimal page: loads the wasm engine and the default model, classifies the text box.
import init, { Engine } from './pkg/encoder_lens.js';

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  const base = 'models/sentiment-ln/';
  const [config, weights, vocab] = await Promise.all([
    fetch(base + 'config.json').then((r) => r.text()),
    fetch(base + 'model.safetensors').then((r) => r.arrayBuffer()),
    fetch(base + 'vocab.txt').then((r) => r.text()),
  ]);
  const engine = await Engine.create(config, new Uint8Array(weights), vocab, 'auto');
  $('status').textContent = `Model ready (${engine.backend()}${engine.fallbackReason() ? ': ' + engine.fallbackReason() : ''}).`;
  const go = $('go');
  go.disabled = false;
  go.addEventListener('click', async () => {
    try {
      const t0 = performance.now();
      const r = await engine.classify([$('text').value]);
      const p = r.predictions[0];
      const probs = r.labels.map((l, i) => `${l}: ${p.probabilities[i].toFixed(4)}`).join('  ');
      $('out').textContent = `${p.label}  (${probs})  ${(performance.now() - t0).toFixed(1)} ms`;
    } catch (e) {
      $('out').textContent = `Error: ${e.message ?? e}`;
    }
  });
}

main().catch((e) => { $('status').textContent = `Failed to load: ${e.message ?? e}`; });

// Panel 8, Teach it your labels: a few examples per label of your own ("urgent: call me back now"), and the
// engine trains a softmax head on the model's pooled features in the worker (in Rust, deterministic) and
// classifies with it from then on. The head can be saved (head.json + head.safetensors, which the CLI's
// --head reads too) and loaded back. This module parses the form and draws the engine's report.
import { $, el } from './dom.js';

/** `label: text` lines → { labels, examples } in order of first appearance (blank lines skipped). */
export function parse(text) {
  const labels = [];
  const examples = [];
  const bad = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const k = line.indexOf(':');
    if (k < 0) return bad.push(i + 1);
    const label = line.slice(0, k).trim();
    let j = labels.indexOf(label);
    if (j < 0) {
      j = labels.push(label) - 1;
      examples.push([]);
    }
    examples[j].push(line.slice(k + 1).trim());
  });
  return { labels, examples, bad };
}

let saved = null; // the last head's files

function download(name, data, type) {
  const a = el('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function render(root, r) {
  if (!r) return;
  const rep = r.report;
  root.dataset.accuracy = String(rep.trainAccuracy);
  root.dataset.labels = JSON.stringify(r.labels);
  root.dataset.trainMs = rep.trainMs.toFixed(2);
  root.dataset.featuresMs = rep.featuresMs.toFixed(1);
  $('teach-report').textContent =
    `Trained a head for ${rep.labels.length} labels (${rep.labels.join(', ')}) on ${rep.examples} examples: ` +
    `features ${rep.featuresMs.toFixed(0)} ms (the encoder's forward), training ${rep.trainMs.toFixed(1)} ms, ` +
    `${(100 * rep.trainAccuracy).toFixed(0)} % right on its own examples. The model now classifies with your labels — type above.`;
  saved = r.config && r.weights ? { config: r.config, weights: r.weights } : saved;
  $('teach-save').disabled = !saved;
}

export function wire(root, ui) {
  $('teach-btn').addEventListener('click', async () => {
    const { labels, examples, bad } = parse($('teach-text').value);
    if (bad.length) return ui.say('error', `Lines ${bad.join(', ')} have no "label:" in front.`, 'teach');
    const r = await ui.teach(labels, examples);
    if (r) render(root, r);
  });
  $('teach-save').addEventListener('click', () => {
    if (!saved) return;
    download('head.json', saved.config, 'application/json');
    download('head.safetensors', saved.weights, 'application/octet-stream');
  });
  $('teach-load').addEventListener('change', async (ev) => {
    const fs = [...ev.target.files];
    const config = fs.find((f) => f.name.endsWith('.json'));
    const weights = fs.find((f) => f.name.endsWith('.safetensors'));
    ev.target.value = '';
    if (!config || !weights) return ui.say('error', 'Pick both head.json and head.safetensors.', 'teach');
    const r = await ui.setHead(await config.text(), weights);
    if (r) $('teach-report').textContent = `Loaded a head with labels ${r.labels.join(', ')}. The model now classifies with them.`;
  });
}

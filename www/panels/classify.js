// Panel 1, Classify: the label and a probability per class, what ran (backend, time), the tokens the model
// sees and the forward pass as steps. Every number is the traced forward's: `inspection.result.predictions[0]`
// is the same pass whose trace the attention and norm panels draw.
import { $, el, probRows, SPECIAL } from './dom.js';

let ui = null;

export function wire(root, u) {
  ui = u;
}

/** The text the analysis drew, its prediction and its tokens (from the one traced forward). */
export function prediction(a) {
  const r = a.inspection.result;
  return { p: r.predictions[0], labels: r.labels };
}

/**
 * The time read-out: the analysis call (its forwards and the trace's serialisation), and whether this
 * keystroke reused it (the same text and companion asked again: no forward ran).
 */
function timing(a) {
  const ms = a.inspectMs;
  const n = a.inspectForwards;
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms${n ? ` · ${n} forwards` : ''}${a.forwards?.[a.model] === 0 ? ', reused' : ''}`;
}

export function render(root, a) {
  const { p, labels } = prediction(a);
  const tokens = p.tokens;
  const res = $('result');
  res.dataset.state = a.live ? 'live' : 'example';
  res.dataset.label = p.label;
  res.dataset.probabilities = JSON.stringify(Array.from(p.probabilities));
  res.dataset.model = a.model;
  res.dataset.backend = a.info?.backend || 'example';
  res.dataset.text = a.text;
  res.dataset.seq = String(a.seq);
  res.dataset.forwards = JSON.stringify(a.forwards || {});
  const lab = $('label');
  lab.textContent = p.label;
  lab.className = `label ${/pos/i.test(p.label) ? 'positive' : /neg/i.test(p.label) ? 'negative' : ''}`;
  $('confidence').textContent = `${(100 * p.probabilities[p.labelIndex]).toFixed(1)}% confident`;
  probRows($('probs'), labels, p.probabilities, { top: p.labelIndex });

  const meta = $('meta');
  meta.replaceChildren();
  const item = (k, v, cls) => {
    const s = el('span');
    s.append(el('b', null, `${k} `), cls ? el('span', cls, v) : document.createTextNode(v));
    meta.append(s);
  };
  if (a.live) {
    item('Backend', a.info.backendLabel, 'badge');
    item('Analysis', timing(a));
  } else {
    item('Backend', 'pre-computed example', 'badge warn');
  }
  item('Model', ui.modelName(a.model));
  item('Tokens', String(tokens.length));
  if (p.truncated > 0) item('Truncated', `${p.truncated} word pieces`, 'badge warn');

  renderPipeline(a.info?.config || a.config, tokens.length);
  const box = $('tokens');
  box.replaceChildren();
  tokens.forEach((t, i) => {
    const s = el('span', `tok${SPECIAL.test(t) ? ' special' : t.startsWith('##') ? ' piece' : ''}`, t);
    s.append(el('sub', null, String(i)));
    box.append(s);
  });
  if (p.truncated > 0) box.append(el('span', 'tok cut', `+${p.truncated} cut`));
}

/** The forward pass as steps, from the model's config (words only; the numbers are the config's). */
function renderPipeline(config, n) {
  const c = config;
  const norm = c.norm === 'batch' ? 'BatchNorm' : 'LayerNorm';
  const act = { relu: 'ReLU', gelu: 'GELU', gelu_tanh: 'GELU (tanh)' }[c.activation] || c.activation;
  const layer = c.norm_first
    ? `${norm} → attention (${c.num_heads} heads) → add → ${norm} → FFN ${c.ffn_size} ${act} → add`
    : `attention (${c.num_heads} heads) → add & ${norm} → FFN ${c.ffn_size} ${act} → add & ${norm}`;
  const steps = [
    ['', `${n} tokens`],
    ['', `embed${c.embedding_scale ? ` × √${c.hidden_size}` : ''} + ${c.positional_encoding} positions${c.embedding_norm ? ' → LayerNorm' : ''}`],
    ['layers', `${c.num_layers} × [ ${layer} ]`],
    ...(c.final_norm ? [['', `final ${norm}`]] : []),
    ['', c.pooling === 'cls' ? 'take [CLS]' : 'mean over tokens'],
    ['', `linear → softmax over ${c.labels.length} labels`],
  ];
  $('pipeline').replaceChildren(...steps.map(([cls, text]) => el('li', cls, text)));
}

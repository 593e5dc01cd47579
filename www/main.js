// The page's main thread: state and start-up. It owns the DOM and renders what the worker's engine computed,
// one module per panel (www/panels/*.js: render(root, analysis), wire(root, ui)); www/lens/rpc.js (the npm
// package's worker client, js/src/rpc.js) talks to the worker. It paints a pre-computed example
// (example.json, a real engine trace) at once, then the live model's.
// No model math happens here. User text only ever reaches the DOM through textContent.
//
// One keystroke: `analyse` (the primary model's inspect, 3 forwards) → classify, attention and positional
// panels; then, while the LN-vs-BN panel is on screen, `compare` (each comparison model that is not the
// primary: one inspect without attention maps) → that panel.

import { connect } from './lens/rpc.js';
import { $, el } from './panels/dom.js';
import * as classify from './panels/classify.js';
import * as attention from './panels/attention.js';
import * as positional from './panels/positional.js';
import * as norms from './panels/norms.js';
import * as teach from './panels/teach.js';
import * as yourmodel from './panels/yourmodel.js';
import * as architecture from './panels/architecture.js';
import * as timings from './panels/timings.js';
import * as precision from './panels/precision.js';
import { readUrl, writeUrl, applyUrl } from './urlstate.js';
import { threadsAsked, buildNote, wireThreads } from './wasm-build.js';
import { EXPLAIN_PANELS, onDemandRequests } from './requests.js';

const SAMPLES = [
  'A quiet, beautifully acted film that stays with you.',
  'The plot was a mess and I was bored within ten minutes.',
  'one of the best films of the year',
  'Not bad at all, though the ending felt rushed.',
  'An absolute triumph of style over substance.',
];

const PANELS = [
  ['classify', classify],
  ['attention', attention],
  ['positional', positional],
  ['norms', norms],
  ['architecture', architecture],
];

const state = {
  manifest: null,
  model: null,
  backend: 'auto',
  info: null, // { model, backend, backendLabel, fallbackReason, config }
  positional: null, // { table, similarity }
  analysis: null, // what the panels draw: the worker's analysis + info, positional, live, seq, compare
  live: false,
  seq: 0,
  normsVisible: false,
  explainVisible: false,
  explanation: null, // the engine's explanation of the current text (panels 5–7)
};

// ---------------------------------------------------------------- worker

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const rpc = connect(worker, { onEvent: (m) => m.type === 'progress' && onProgress(m) });
worker.addEventListener('error', (ev) => {
  showMessage('error', `The engine's worker failed: ${ev.message || 'unknown error'}.`, 'worker');
  setStatus('error', 'Engine unavailable — showing the pre-computed example.');
});

// ---------------------------------------------------------------- status, progress, messages

function setStatus(kind, text) {
  $('status-dot').className = `dot ${kind}`;
  $('status-text').textContent = text;
}

const downloads = new Map();
let engineDown = false; // the engine could not start: the first model's read (begun at init) shows no progress
function onProgress(m) {
  if (engineDown) return;
  downloads.set(`${m.model}/${m.file}`, m);
  let loaded = 0;
  let total = 0;
  let cached = true;
  for (const d of downloads.values()) {
    loaded += d.loaded;
    total += d.total || d.loaded;
    cached = cached && d.cached;
  }
  $('progress').hidden = false;
  $('progress-bar').style.width = `${total ? Math.min(100, (100 * loaded) / total) : 0}%`;
  const mb = (b) => (b / 1048576).toFixed(b < 1048576 ? 2 : 1);
  setStatus('', cached ? `Loading ${m.model} from the browser cache…` : `Downloading ${m.model}: ${mb(loaded)} / ${mb(total)} MB`);
}

/** Show a message; `key` replaces an earlier message with the same key. Text is set with textContent. */
function showMessage(kind, text, key) {
  const box = $('messages');
  const old = key && box.querySelector(`[data-key="${key}"]`);
  if (old) old.remove();
  const div = el('div', `msg ${kind}`);
  div.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (key) div.dataset.key = key;
  const close = el('button', null, '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss');
  close.onclick = () => div.remove();
  div.append(el('p', null, text), close);
  box.append(div);
}
function clearMessage(key) {
  $('messages').querySelector(`[data-key="${key}"]`)?.remove();
}

/**
 * The worker's `info` after a call: when the engine lost its GPU mid-run (device lost, a failed dispatch or
 * readback) it re-ran that call on the CPU and stays there. Say so once per model and loss, and show the
 * CPU in the footer.
 */
const gpuLossSaid = new Set();
function noteGpuLoss(info) {
  if (!info?.gpuLost) return;
  const foot = $('foot-build');
  if (info.model === state.model) {
    foot.textContent = `Engine: ${info.backendLabel}. The GPU device was lost mid-run (reason: ${gpuLossReason(info.gpuLost)}).`;
    foot.dataset.backend = info.backend;
    foot.dataset.why = 'gpu-lost';
  }
  const key = `${info.model}|${info.gpuLost}`;
  if (gpuLossSaid.has(key)) return;
  gpuLossSaid.add(key);
  showMessage('warn', `The GPU device was lost (reason: ${gpuLossReason(info.gpuLost)}); continuing on the CPU. ${modelName(info.model)}'s request was finished there with the same numbers, and every later one runs on the CPU.`, 'gpu');
}

/** The engine's fallback reason without its "GPU failed, running on the CPU from now on: " preamble. */
function gpuLossReason(why) {
  return String(why).replace(/^GPU failed, running on the CPU from now on:\s*/, '') || 'unknown';
}

function modelName(id) {
  return state.manifest?.models.find((m) => m.id === id)?.name || id;
}

// ---------------------------------------------------------------- hover tooltips (shared by the panels)

const tip = $('tooltip');
const { runExplain, runTimings, runPrecision } = onDemandRequests({ state, rpc, showMessage, clearMessage, noteGpuLoss, saveUrl: () => saveUrl() });
const ui = {
  modelName,
  showTip(ev, parts) {
    tip.replaceChildren();
    parts.forEach(([k, v], i) => {
      if (i) tip.append(el('br'));
      tip.append(el('span', 'k', `${k} `), document.createTextNode(v));
    });
    tip.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
    tip.style.left = `${x}px`;
    tip.style.top = `${y}px`;
  },
  hideTip: () => (tip.hidden = true),
  /** Analyse the current text again (a panel needs more than the last analysis has). */
  reanalyse: () => runAnalysis($('text').value),
  local(ev) {
    const r = ev.currentTarget.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  },
};
ui.ablate = (heads) =>
  rpc.call('ablate', { model: state.model, text: state.explanation?.text, heads, ablate: $('abl-mode').value }, { lane: 'ablate' }).then((r) => (noteGpuLoss(r.info), r), (e) => {
    if (!e.stale) showMessage('error', `Could not re-run with those heads ablated: ${e.message}`, 'ablate');
    return null;
  });
ui.say = showMessage;
/** After the labels changed (taught or loaded head): the classify panel and the explanation again. */
function relabelled(labels) {
  clearMessage('teach');
  state.explanation = null;
  if (state.info) state.info = { ...state.info, config: { ...state.info.config, labels } };
  if (state.analysis?.live) runAnalysis(state.analysis.text);
}
ui.teach = (labels, examples) =>
  rpc.call('teach', { model: state.model, labels, examples }).then(
    (r) => (relabelled(r.labels), r),
    (e) => (showMessage('error', `Could not teach: ${e.message}`, 'teach'), null),
  );
ui.setHead = async (config, file) =>
  rpc.call('setHead', { model: state.model, config, weights: new Uint8Array(await file.arrayBuffer()) }).then(
    (r) => (relabelled(r.labels), r),
    (e) => (showMessage('error', `Could not load the head: ${e.message}`, 'teach'), null),
  );
/** Register a dropped or picked model folder with the worker and switch to it; a bad one changes nothing. */
ui.addModel = async ({ name, files }) => {
  setStatus('', `Reading ${name}…`);
  let entry;
  try {
    entry = await rpc.call('addModel', { name, files });
  } catch (e) {
    showMessage('error', `Your model could not be loaded: ${e.message}. ${state.model ? `Still using ${modelName(state.model)}.` : ''}`, 'load');
    setStatus(state.model ? 'ready' : 'error', state.model ? `Ready · ${modelName(state.model)}` : 'No model');
    return null;
  }
  state.manifest.models.push(entry);
  const o = el('option', null, entry.name);
  o.value = entry.id;
  $('model-select').append(o);
  $('model-select').value = entry.id;
  if (await loadModel(entry.id, state.backend)) runAnalysis($('text').value);
  return entry;
};
ui.timeForward = () => runTimings(state.analysis?.live ? state.analysis.text : $('text').value);
ui.parity = () =>
  rpc.call('parity', { model: state.model }).then(
    (value) => {
      document.dispatchEvent(new CustomEvent('parity-drawn', { detail: value }));
      return { value };
    },
    (e) => ({ error: e.message }),
  );
ui.stateChanged = () => saveUrl();
ui.precisionMatrix = (matrix) =>
  rpc.call('histogram', { model: state.model, matrix }, { lane: 'histogram' }).then(
    (r) => {
      precision.showMatrix(r.histogram);
      saveUrl();
      document.dispatchEvent(new CustomEvent('histogram-drawn', { detail: r.histogram }));
    },
    (e) => !e.stale && showMessage('error', `Could not bin that weight matrix: ${e.message}`, 'precision'),
  );
for (const [id, panel] of [...PANELS, ...EXPLAIN_PANELS, ['teach', teach], ['classify', yourmodel], ['timings', timings], ['precision', precision]]) panel.wire($(id), ui);

// ---------------------------------------------------------------- shareable state (the URL's hash: www/urlstate.js)
let urlReady = false; // nothing is written before the start-up restored what the URL asked for
function saveUrl() {
  if (urlReady) writeUrl(state);
}

/** The model entry the URL names when this page has it; a warning (and null) when it names another. */
function urlModel(u) {
  if (!u.model) return null;
  const m = state.manifest.models.find((x) => x.id === u.model && x.available !== false);
  if (!m) showMessage('warn', `The link names a model this page does not have (${u.model}); showing ${modelName(state.model || state.manifest.default)}.`, 'url');
  else clearMessage('url');
  return m || null;
}
const fromUrl = readUrl();
applyUrl(fromUrl, state);
addEventListener('hashchange', () => {
  // A pasted or edited URL in the same tab: apply it as a reload would.
  const u = readUrl();
  applyUrl(u, state);
  const m = state.manifest && urlModel(u);
  if (m && m.id !== state.model) {
    $('model-select').value = m.id;
    loadModel(m.id, state.backend).then((ok) => ok && runAnalysis($('text').value));
  } else if (state.model) runAnalysis($('text').value);
});

// ---------------------------------------------------------------- rendering

/**
 * Draw `panels` (names; all by default) for the current analysis; returns ms per panel. Each panel redraws
 * only what changed since it last drew (`force`: everything, after a resize).
 */
function render(names = PANELS.map(([id]) => id), opts) {
  const a = state.analysis;
  const ms = {};
  if (!a) return ms;
  for (const [id, panel] of PANELS) {
    if (!names.includes(id)) continue;
    const t0 = performance.now();
    panel.render($(id), a, opts);
    ms[id] = performance.now() - t0;
  }
  return ms;
}

/** Tell whoever measures (the end-to-end test) that `a` is on screen, with where the time went. */
function drawn(a, detail) {
  const r = $('result');
  r.dataset.drawnSeq = String(a.seq);
  document.dispatchEvent(new CustomEvent('analysis-drawn', { detail: { seq: a.seq, text: a.text, model: a.model, ...detail } }));
}

// ---------------------------------------------------------------- running the model

/** Analyse `text` with the current model and draw it; a newer keystroke's request supersedes this one. */
async function runAnalysis(text) {
  if (!state.model) return;
  if (!text.trim()) {
    showMessage('info', 'Type some text to classify.', 'empty');
    return;
  }
  clearMessage('empty');
  const t0 = performance.now();
  const args = { model: state.model, text, companion: $('companion').value || undefined, padded: attention.padded() };
  const analysing = rpc.call('analyse', args, { lane: 'text' });
  // The comparison models' request goes out right behind it: the worker runs it while this thread draws.
  const comparing = state.normsVisible ? requestCompare(args) : null;
  let a;
  try {
    a = await analysing;
  } catch (e) {
    if (e.stale) return;
    // A model without labels (a sentence-embedding folder such as all-MiniLM-L6-v2) loads but cannot classify
    // until it is taught labels.
    if (state.info?.model === args.model && !state.info.config?.labels?.length) {
      showMessage('info', `${modelName(args.model)} has no labels: it is a sentence-embedding model (no classifier head). Teach it labels of your own in panel 8 and every panel draws it.`, 'analyse');
      setStatus('ready', `Ready · ${modelName(args.model)} · ${state.info.backendLabel} · no labels yet`);
    } else showMessage('error', `Could not classify: ${e.message}`, 'analyse');
    return;
  }
  const received = performance.now();
  const transferMs = performance.timeOrigin + received - a.sentAt;
  Object.assign(a, { positional: state.positional, live: true, seq: ++state.seq, compare: null });
  state.analysis = a;
  state.info = a.info;
  state.live = true;
  noteGpuLoss(a.info);
  const r = $('result');
  r.dataset.analyseMs = (received - t0).toFixed(1);
  r.dataset.inspectMs = a.inspectMs.toFixed(1);
  const p = a.inspection.result.predictions[0];
  if (p.truncated > 0) {
    showMessage('warn', `Your text is longer than this model's window of ${a.info.config.max_len} tokens: the last ${p.truncated} word pieces were cut off (the model only sees the first ${a.info.config.max_len}).`, 'truncated');
  } else clearMessage('truncated');
  clearMessage('analyse');
  $('progress').hidden = true;
  const renderMs = render();
  r.dataset.renderMs = Object.values(renderMs).reduce((x, y) => x + y, 0).toFixed(1);
  setStatus('ready', `Ready · ${modelName(state.model)} · ${a.info.backendLabel}`);
  const timing = { clickMs: received - t0, workMs: a.workMs, inspectMs: a.inspectMs, transferMs, renderMs, forwards: { ...a.forwards }, engines: a.engines };
  if (comparing) a.comparing = drawCompare(a, comparing);
  else if (state.normsVisible) fetchCompare(a); // the panel came into view meanwhile
  if (state.explainVisible) runExplain(text);
  if (state.timingsVisible) runTimings(text);
  if (state.precisionVisible) runPrecision(text);
  saveUrl();
  if (!a.comparing) {
    timing.totalMs = performance.now() - t0;
    drawn(a, { ...timing, compared: false });
    return;
  }
  const c = await a.comparing;
  if (!c) {
    // Superseded (a newer analysis draws itself) or failed (the panel keeps its last drawing, marked stale).
    if (state.analysis === a) drawn(a, { ...timing, totalMs: performance.now() - t0, compared: false });
    return;
  }
  Object.assign(timing.forwards, c.forwards);
  timing.compare = { workMs: c.workMs, renderMs: c.renderMs };
  timing.totalMs = performance.now() - t0;
  drawn(a, { ...timing, compared: true });
}

/** Ask the worker for the LN-vs-BN panel's comparison models (null when superseded or failed). */
function requestCompare({ model, text, companion }) {
  return rpc.call('compare', { model, text, companion }, { lane: 'compare' }).catch((e) => {
    if (!e.stale) showMessage('error', `Could not run the LN-vs-BN comparison: ${e.message}`, 'compare');
    return null;
  });
}

/**
 * Draw the comparison models' answer `pending` for analysis `a` into the LN-vs-BN panel. Null when a newer
 * analysis replaced `a` meanwhile or the request failed (the panel keeps its last drawing, marked stale).
 */
async function drawCompare(a, pending) {
  const c = await pending;
  // The comparison models' downloads (progress in the status line) are over.
  if (state.analysis === a && state.model === a.model && state.info) {
    $('progress').hidden = true;
    setStatus('ready', `Ready · ${modelName(state.model)} · ${state.info.backendLabel}`);
  }
  if (!c || state.analysis !== a || c.text !== a.text || c.companion !== a.companion || c.model !== a.model) return null;
  clearMessage('compare');
  a.compare = c.roles;
  const t0 = performance.now();
  render(['norms']);
  return { ...c, renderMs: performance.now() - t0 };
}

/** Fetch and draw the comparison models for `a` (once). */
function fetchCompare(a) {
  a.comparing ||= drawCompare(a, requestCompare(a));
  return a.comparing;
}

// The LN-vs-BN panel asks for its comparison models only while it is on screen (or about to be).
new IntersectionObserver(
  (entries) => {
    state.normsVisible = entries.some((e) => e.isIntersecting);
    const a = state.analysis;
    if (state.normsVisible && a?.live && !a.compare) fetchCompare(a);
  },
  { rootMargin: '200px 0px' },
).observe($('norms'));

// Panels 5–7 ask for the explanation only while one of them is on screen (or about to be).
const explainSeen = new Map();
const explainObserver = new IntersectionObserver(
  (entries) => {
    for (const e of entries) explainSeen.set(e.target.id, e.isIntersecting);
    state.explainVisible = [...explainSeen.values()].some(Boolean);
    if (state.explainVisible && state.analysis?.live && state.analysis.model === state.model) runExplain(state.analysis.text);
  },
  { rootMargin: '200px 0px' },
);
for (const [id] of EXPLAIN_PANELS) explainObserver.observe($(id));
$('abl-mode').addEventListener('change', () => {
  saveUrl();
  if (state.analysis?.live) runExplain(state.analysis.text);
});

/** Panel `id` runs `run(text)` only while it is on screen (or about to be): `state[visible]` says whether it
 * is, and coming into view it runs on the live analysis unless `state[drawn]` is of that text and model. */
function runWhileVisible(id, visible, drawn, run) {
  new IntersectionObserver(
    (entries) => {
      state[visible] = entries.some((e) => e.isIntersecting);
      const a = state.analysis;
      if (state[visible] && a?.live && a.model === state.model && (state[drawn]?.text !== a.text || state[drawn]?.model !== a.model)) run(a.text);
    },
    { rootMargin: '200px 0px' },
  ).observe($(id));
}
runWhileVisible('timings', 'timingsVisible', 'timings', runTimings); // panel 9 times a forward
runWhileVisible('precision', 'precisionVisible', 'precision', runPrecision); // panel 10 runs the precisions

async function loadModel(model, backend) {
  const prevModel = state.model;
  // This model's files may already be on their way (the worker starts reading the first model at init).
  for (const k of [...downloads.keys()]) if (!k.startsWith(`${model}/`)) downloads.delete(k);
  setStatus('', `Loading ${modelName(model)}…`);
  try {
    const info = await rpc.call('load', { model, backend });
    state.model = model;
    state.info = info;
    state.positional = info.positional;
    $('progress').hidden = true;
    clearMessage('load');
    // 'auto' that measured (a software adapter declined, or a timed probe) chose; that is said in the footer,
    // not as a warning. WebGPU that could not be had at all is a message.
    const measured = backend === 'auto' && (info.choice?.fallbackAdapter || info.choice?.probe);
    if (info.gpuLost) {
      // Lost mid-run earlier: that message stands (noteGpuLoss below keeps the footer saying so).
    } else if (backend !== 'cpu' && info.backend !== 'gpu' && !measured && (backend === 'gpu' || info.fallbackReason)) {
      showMessage(backend === 'gpu' ? 'warn' : 'info', `WebGPU is not available (${info.fallbackReason || 'no adapter'}); running on the CPU instead.`, 'gpu');
    } else clearMessage('gpu');
    const foot = $('foot-build');
    foot.textContent = `Engine: ${info.backendLabel}.${backend === 'auto' && info.choice ? ` Auto chose it: ${info.choice.reason}.` : ''} ${buildNote(state.build)}`;
    foot.dataset.backend = info.backend;
    foot.dataset.why = backend === 'auto' ? (info.choice?.fallbackAdapter ? 'fallback-adapter' : info.choice?.probe ? 'probe' : 'unavailable') : 'forced';
    noteGpuLoss(info);
    return true;
  } catch (e) {
    $('progress').hidden = true;
    showMessage('error', `${e.message}. ${prevModel ? `Still using ${modelName(prevModel)}.` : 'Showing the pre-computed example.'}`, 'load');
    setStatus(prevModel ? 'ready' : 'error', prevModel ? `Ready · ${modelName(prevModel)}` : 'Model failed to load');
    $('model-select').value = prevModel || model;
    return false;
  }
}

// ---------------------------------------------------------------- wiring

let debounce = 0;
$('text').addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => runAnalysis($('text').value), 300);
});
$('text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) runAnalysis($('text').value);
});
$('classify-btn').addEventListener('click', () => {
  clearTimeout(debounce);
  runAnalysis($('text').value);
});
let companionDebounce = 0;
$('companion').addEventListener('input', () => {
  clearTimeout(companionDebounce);
  companionDebounce = setTimeout(() => runAnalysis($('text').value), 400);
});
$('model-select').addEventListener('change', async (ev) => {
  if (await loadModel(ev.target.value, state.backend)) runAnalysis($('text').value);
});
$('backend-select').addEventListener('change', async (ev) => {
  state.backend = ev.target.value;
  state.timings = null;
  if (await loadModel(state.model, state.backend)) runAnalysis($('text').value);
});
for (const s of SAMPLES) {
  const b = el('button', 'chip', s.length > 34 ? `${s.slice(0, 32)}…` : s);
  b.type = 'button';
  b.title = s;
  b.onclick = () => {
    $('text').value = s;
    runAnalysis(s);
  };
  $('samples').append(b);
}
let resizeTimer = 0;
const redrawAll = () => {
  render(undefined, { force: true });
  if (state.explanation) for (const [id, panel] of EXPLAIN_PANELS) panel.render($(id), state.explanation);
};
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(redrawAll, 120);
}).observe(document.querySelector('main'));
matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener?.('change', redrawAll);

async function paintExample() {
  try {
    const r = await fetch('example.json');
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const ex = await r.json();
    if (state.live) return;
    state.info = { ...ex.info };
    state.positional = ex.positional;
    state.analysis = Object.assign(ex.analysis, { info: state.info, positional: ex.positional, live: false, seq: state.seq });
    if (!$('text').value) $('text').value = ex.analysis.text;
    $('companion').value = ex.analysis.companion;
    render();
  } catch (e) {
    showMessage('warn', `The pre-computed example could not be shown (${e.message}); the live model will fill the page.`, 'example');
  }
}

// The threads setting's choice: the worker restarts its pool, then the model reloads on it.
async function chooseThreads(n) {
  state.build = await rpc.call('threads', { n });
  if (await loadModel(state.model, state.backend)) runAnalysis($('text').value);
}

async function start() {
  setStatus('', 'Showing a pre-computed example while the model loads…');
  const example = paintExample();
  let init;
  try {
    // The model the link names is read while the wasm build loads (the worker checks it exists).
    init = await rpc.call('init', { threads: threadsAsked(), model: fromUrl.model || null });
  } catch (e) {
    engineDown = true;
    $('progress').hidden = true;
    await example;
    showMessage('error', `The engine could not start: ${e.message}`, 'init');
    setStatus('error', 'Engine unavailable — showing the pre-computed example.');
    return;
  }
  state.manifest = init.manifest;
  const ms = $('model-select');
  ms.replaceChildren(...init.manifest.models.map((m) => {
    const o = el('option', null, m.available === false ? `${m.name} — not on this server` : m.name);
    o.value = m.id;
    o.title = m.description || '';
    o.disabled = m.available === false;
    return o;
  }));
  ms.value = init.manifest.default;
  state.build = init.build;
  wireThreads(init.build, chooseThreads);
  ms.disabled = false;
  $('backend-select').disabled = false;
  if (!init.webgpu) $('backend-select').querySelector('option[value="gpu"]').textContent = 'WebGPU (not in this browser)';
  await example;
  if (!state.live && state.analysis) render(['classify']); // model names from the manifest
  if (!$('companion').value) $('companion').value = init.companion;
  state.companion0 = init.companion;
  // The model the URL names, when this server has it; else the default.
  const first = urlModel(fromUrl)?.id || init.manifest.default;
  ms.value = first;
  urlReady = true;
  if (await loadModel(first, state.backend)) await runAnalysis($('text').value);
}

start();

// Diagnostic (not a test; RELIABILITY.md, the browser soak): after N WebGPU (or CPU) load/classify/dispose rounds in one package worker, the retainer paths
// of wasm-bindgen closures ("real") in a heap snapshot.
// Run after `make pkg pkg-relaxed models`: `N=4 BACKEND=webgpu node tests/e2e/diag/heap-retainers.mjs` (BACKEND=cpu for
// the comparison). Prints how many closures wasm-bindgen made (`real`) the worker holds, and what holds them.
import { serve, launch } from '../helpers.mjs';
const N = Number(process.env.N || 4), BACKEND = process.env.BACKEND || 'webgpu';
const srv = await serve();
const browser = await launch({ extra: ['--js-flags=--expose-gc'] });
const page = await browser.newPage();
await page.goto(`${srv.url}models.json`);
const cdp = await browser.newBrowserCDPSession();
let next = 1; const waiting = new Map(); let chunks = [];
cdp.on('Target.receivedMessageFromTarget', (e) => {
  const m = JSON.parse(e.message);
  if (m.method === 'HeapProfiler.addHeapSnapshotChunk') return chunks.push(m.params.chunk);
  if (m.id) { waiting.get(m.id)?.(m); waiting.delete(m.id); }
});
const send = (s, method, params = {}) => new Promise((res, rej) => { const id = next++; waiting.set(id, (m) => (m.error ? rej(new Error(m.error.message)) : res(m.result))); cdp.send('Target.sendMessageToTarget', { sessionId: s, message: JSON.stringify({ id, method, params }) }); });
await page.evaluate(async (u) => { const { connect } = await import(u + 'lens/rpc.js'); self.__w = new Worker(u + 'lens/worker.js', { type: 'module' }); self.__rpc = connect(self.__w); }, srv.url);
await new Promise((r) => setTimeout(r, 1000));
const { targetInfos } = await cdp.send('Target.getTargets');
const t = targetInfos.find((x) => x.type === 'worker' && /lens\/worker/.test(x.url));
const s = (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false })).sessionId;
async function snap() {
  await send(s, 'HeapProfiler.collectGarbage'); chunks = [];
  await send(s, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  return JSON.parse(chunks.join(''));
}
function analyse(sn, label) {
  const m = sn.snapshot.meta, nf = m.node_fields.length, ef = m.edge_fields.length;
  const types = m.node_types[0], etypes = m.edge_types[0];
  const it = m.node_fields.indexOf('type'), iname = m.node_fields.indexOf('name'), iec = m.node_fields.indexOf('edge_count');
  const N = sn.nodes.length / nf; const first = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) { first[i] = e; e += sn.nodes[i * nf + iec] * ef; } first[N] = sn.edges.length;
  const ret = new Map();
  for (let i = 0; i < N; i++) for (let e = first[i]; e < first[i + 1]; e += ef) {
    const to = sn.edges[e + 2] / nf; const et = etypes[sn.edges[e]]; if (et === 'weak') continue;
    const en = et === 'element' || et === 'hidden' ? sn.edges[e + 1] : sn.strings[sn.edges[e + 1]];
    if (!ret.has(to)) ret.set(to, []); ret.get(to).push([i, `${et}:${en}`]);
  }
  const nm = (i) => `${types[sn.nodes[i * nf + it]]}:${sn.strings[sn.nodes[i * nf + iname]].slice(0, 50)}`;
  const reals = []; for (let i = 0; i < N; i++) if (types[sn.nodes[i * nf + it]] === 'closure' && sn.strings[sn.nodes[i * nf + iname]] === 'real') reals.push(i);
  console.log(`${label}: ${reals.length} closures "real"`);
  for (const r of reals.slice(0, 6)) {
    const path = []; let cur = r;
    for (let d = 0; d < 6; d++) { const rs = (ret.get(cur) || []).filter(([p]) => !/system \/ Context|closure:real/.test(nm(p)) || d > 0); if (!rs.length) break; const [p, e] = rs[0]; path.push(`${e} <- ${nm(p)}`); cur = p; }
    console.log('  real <- ' + path.join(' <- '));
  }
}
const one = async () => page.evaluate(async ({ u, b }) => { await self.__rpc.call('load', { source: u + 'models/sentiment-ln/', backend: b, builds: { relaxed: u + 'pkg-relaxed/encoder_lens.js', simd128: u + 'pkg/encoder_lens.js' } }); await self.__rpc.call('classify', { texts: ['a good film'] }); await self.__rpc.call('dispose'); }, { u: srv.url, b: BACKEND });
await one();
analyse(await snap(), `after 1 ${BACKEND} round`);
for (let i = 1; i < N; i++) await one();
analyse(await snap(), `after ${N} ${BACKEND} rounds`);
await browser.close(); await srv.close();

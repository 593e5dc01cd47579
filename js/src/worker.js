// The package's worker: one Host (js/src/host.js) answering TextClassifier's requests over the protocol of
// js/src/rpc.js + js/src/serve.js, with download progress posted as { type: 'progress', ... } events.

import { Host } from './host.js';
import { serve } from './serve.js';

const host = new Host();
const progress = (p) => self.postMessage({ type: 'progress', ...p });
// The GPU was lost mid-run and the engine moved to the CPU: the client's `info` follows (posted before the
// reply of the call that noticed it, so that call's caller already sees it).
host.onInfo = (info) => self.postMessage({ type: 'info', info });

/** Embeddings and attention maps move to the caller instead of being copied. */
function buffers(v, out = []) {
  if (v instanceof Float32Array) out.push(v.buffer);
  else if (Array.isArray(v)) v.forEach((x) => buffers(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => buffers(x, out));
  return out;
}

serve(
  {
    load: (args) => host.load(args, progress),
    classify: (args) => host.classify(args),
    embed: (args) => host.embed(args),
    explain: (args) => host.explain(args),
    dispose: () => host.dispose(),
  },
  { transfer: buffers },
);

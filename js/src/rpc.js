// The client side of the worker protocol (js/src/serve.js is the worker side): numbered requests, one
// promise per request. The package (TextClassifier) and the page (www/main.js) both talk to their workers
// through it.
//
// The page posts { id, type, lane?, ...args }; the worker answers { id, ok: true, value } or
// { id, ok: false, error } (or { id, stale: true } for a request it skipped), and posts { type: 'progress', ... }
// events while downloading. A request on a `lane` (the keystrokes' analyses) supersedes every earlier request
// on that lane: the worker skips queued ones and the page drops their answers, so only the latest text is
// ever drawn. A superseded request's promise rejects with an error whose `stale` is true.

export class StaleError extends Error {
  constructor() {
    super('superseded by a newer request');
    this.stale = true;
  }
}

/**
 * worker: a Worker speaking the protocol above. onEvent(message): messages without an id (progress).
 * Returns { call(type, args?, { lane }?) → Promise }.
 */
export function connect(worker, { onEvent = () => {} } = {}) {
  const pending = new Map(); // id -> { resolve, reject, lane }
  const latest = new Map(); // lane -> newest id
  let nextId = 1;
  worker.addEventListener('message', (ev) => {
    const m = ev.data;
    if (m.id == null) return onEvent(m);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.stale || (p.lane && latest.get(p.lane) !== m.id)) p.reject(new StaleError());
    else if (m.ok) p.resolve(m.value);
    else p.reject(new Error(m.error));
  });
  function call(type, args = {}, { lane } = {}) {
    const id = nextId++;
    if (lane) latest.set(lane, id);
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, lane });
      worker.postMessage({ id, type, lane, ...args });
    });
  }
  return { call };
}

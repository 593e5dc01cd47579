// The worker's side of the protocol js/src/rpc.js speaks (the one protocol of the package and the page).
//
// The client posts { id, type, lane?, ...args }; the worker answers { id, ok: true, value } or
// { id, ok: false, error }, and posts events without an id ({ type: 'progress', ... }) at any time.
// Requests run one at a time, in order (an engine runs one call at a time); a queued request on a lane
// that a newer request has since joined is skipped and answered { id, stale: true }: only the latest
// keystroke runs.

/**
 * Answer requests arriving on `port` (a worker's `self`) with `handlers[type](args)`.
 * `after(type, value, t0)`, when given, may decorate a handler's value before it is posted.
 * Values are posted as they are; `transfer(value)` may list ArrayBuffers to move instead of copy.
 */
export function serve(handlers, { port = self, after = null, transfer = null } = {}) {
  const queue = [];
  const newest = new Map(); // lane -> id of its newest request
  let busy = false;

  async function drain() {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const { id, type, lane, ...args } = queue.shift();
      if (lane && newest.get(lane) !== id) {
        port.postMessage({ id, stale: true });
        continue;
      }
      try {
        if (typeof handlers[type] !== 'function') throw new Error(`unknown request type "${type}"`);
        const t0 = performance.now();
        let value = await handlers[type](args);
        if (after) value = after(type, value, t0);
        port.postMessage({ id, ok: true, value }, transfer ? transfer(value) : []);
      } catch (e) {
        port.postMessage({ id, ok: false, error: e && e.message ? e.message : String(e) });
      }
    }
    busy = false;
  }

  port.onmessage = (ev) => {
    if (ev.data.lane) newest.set(ev.data.lane, ev.data.id);
    queue.push(ev.data);
    drain();
  };
}

// One worker of the wasm threads build's pool (js/src/threads.js): instantiate the module on the engine's
// shared memory, say so, and serve the kernels' tasks for good (poolWorker never returns).
self.onmessage = async ({ data: { url, module, memory } }) => {
  let m;
  try {
    m = await import(url);
    await m.default({ module_or_path: module, memory });
  } catch (e) {
    self.postMessage({ error: e && e.message ? e.message : String(e) });
    return;
  }
  self.postMessage({ ready: true });
  m.poolWorker();
};

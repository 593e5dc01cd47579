// How many forward passes an engine has run: the page's budget is at most 3 per model drawn per keystroke, and
// the end-to-end test checks it. The engine's own `forwardCount()` (forwards since creation, a batched forward
// counted once) is the truth where the wasm build has it; for an older build, `counted()` wraps the engine's
// forward-running methods and counts what each runs: classify = 1 (one padded batch), inspect = 3 (at most: the
// traced eval forward + the batch-statistics forward alone + the same with the companion), embed = 1.

const COST = { classify: 1, inspect: 3, embed: 1 };
const counts = new WeakMap(); // engine -> forwards counted by the wrappers

/** `engine`, with its forward-running methods counted unless the engine counts them itself. */
export function counted(engine) {
  if (typeof engine.forwardCount === 'function' || counts.has(engine)) return engine;
  counts.set(engine, 0);
  for (const [name, cost] of Object.entries(COST)) {
    const method = engine[name];
    if (typeof method !== 'function') continue;
    engine[name] = function (...args) {
      counts.set(engine, counts.get(engine) + cost);
      return method.apply(engine, args);
    };
  }
  return engine;
}

/** Forward passes `engine` has run since it was created (0 for an engine nobody counted). */
export function forwardsOf(engine) {
  if (typeof engine.forwardCount === 'function') return Number(engine.forwardCount());
  return counts.get(engine) ?? 0;
}

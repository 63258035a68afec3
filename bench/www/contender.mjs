// Shared by the benchmark's module workers (ours, ONNX Runtime Web): counting the Workers a
// contender starts (proof of its thread pool) and the timing loop. worker-tfjs.js is a classic
// worker (TF.js's script build) and keeps its own copy of both.

let spawned = 0;

/** Wrap `Worker` so every Worker this contender creates is counted. Call before loading it. */
export function countSpawnedWorkers() {
  const NativeWorker = globalThis.Worker;
  if (!NativeWorker) return;
  globalThis.Worker = class extends NativeWorker {
    constructor(...a) {
      super(...a);
      spawned++;
    }
  };
}

export const workersSpawned = () => spawned;

/** `warmup` untimed then `iters` timed calls of `once()` (sync or async; returns logits). */
export async function timeCalls(once, warmup, iters) {
  let sink = 0;
  const call = async () => {
    const r = once();
    return (r instanceof Promise ? await r : r)[0];
  };
  for (let i = 0; i < warmup; i++) sink += await call();
  const times = new Float64Array(iters);
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const r = once();
    sink += (r instanceof Promise ? await r : r)[0];
    times[i] = performance.now() - t0;
  }
  return { times: Array.from(times), sink, workersSpawned: spawned };
}

/** Answer the page's {id, cmd, ...} messages with `handlers[cmd]`; `describe` formats errors. */
export function serve(handlers, describe = (e) => String((e && e.stack) || e)) {
  self.onmessage = async ({ data }) => {
    try {
      const result = await handlers[data.cmd](data);
      self.postMessage({ id: data.id, ok: true, result });
    } catch (e) {
      self.postMessage({ id: data.id, ok: false, error: describe(e) });
    }
  };
}

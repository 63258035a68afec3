// The threaded build's rayon pool, seen from the worker that owns the engine (worker.js, the
// benchmark's worker): its threads are workers started elsewhere (pool-worker.js says why), one
// MessagePort each. wasm-bindgen-rayon's initThreadPool calls the glue's startWorkers (inlined by
// tools/prepack.mjs), which calls the hook set here: each pool worker gets the module, the shared
// memory and the pool's channel, and answers once it has instantiated the module.

/**
 * Use `ports` for the next initThreadPool in this worker. `error`: why the pool workers could
 * not be started (initThreadPool then throws it); `onStep(text)`: progress. Returns `fail(message)`,
 * which makes a pending start throw (a pool worker whose script did not load).
 */
export function usePoolPorts(ports, { error = null, onStep = () => {} } = {}) {
  const pool = { ports: [...ports], error, fail: null };
  globalThis.__mobilenetv3StartPool = async (module, memory, builder) => {
    const n = builder.numThreads();
    if (pool.error) throw new Error(pool.error);
    if (pool.ports.length < n) throw new Error(`${n} pool threads wanted, ${pool.ports.length} pool workers were started`);
    const init = { module, memory, receiver: builder.receiver(), mainJS: builder.mainJS() };
    const used = pool.ports.splice(0); // each pool worker starts once
    let readyCount = 0;
    const ready = used.slice(0, n).map((port, i) => new Promise((resolve, reject) => {
      port.onmessage = ({ data }) => {
        port.onmessage = null;
        if (!data || !data.ready) return reject(new Error(`thread-pool worker ${i + 1} of ${n} failed to start: ${data && data.error}`));
        onStep(`thread ${++readyCount} of ${n} ready`);
        resolve();
      };
      port.postMessage(init);
    }));
    const failed = new Promise((_, reject) => {
      pool.fail = (message) => reject(new Error(message));
    });
    try {
      await Promise.race([Promise.all(ready), failed]);
    } finally {
      pool.fail = null;
    }
    builder.build();
  };
  return (message) => {
    pool.error = pool.error || message;
    if (pool.fail) pool.fail(message);
  };
}

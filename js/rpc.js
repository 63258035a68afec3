// The worker that runs the engine, seen from the main thread: one request in flight, a watchdog,
// restart after a crash.

import { err, aborted, disposedError, safeCall } from './errors.js';

/**
 * A module worker of this package. `create` is the literal `new Worker(new URL('./FILE',
 * import.meta.url))` that bundlers (Vite, webpack) recognise to emit FILE with its assets.
 */
function spawn(create, file, name) {
  try {
    return { worker: create() };
  } catch (e) {
    // The package is served from another origin (a CDN): start a same-origin module worker that
    // imports it (needs CORS on the CDN, which the common ones send).
    // (Not the literal pattern, so bundlers do not emit a second, unbundled copy.)
    const src = `import ${JSON.stringify(new URL('./' + file, import.meta.url).href)};`;
    const blobUrl = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
    return { worker: new Worker(blobUrl, { type: 'module', name }), blobUrl };
  }
}

const spawnWorker = () => spawn(() => new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'mobilenetv3' }), 'worker.js', 'mobilenetv3');
// The threaded build's pool threads are started here, by the page (pool-worker.js says why).
const spawnPoolWorker = () => spawn(() => new Worker(new URL('./pool-worker.js', import.meta.url), { type: 'module', name: 'mobilenetv3-pool' }), 'pool-worker.js', 'mobilenetv3-pool');

/**
 * Main-side handle of the worker: one request in flight, the rest queued; a watchdog per request;
 * after a crash (fatal error, timeout, worker error) the worker is dropped and the next request
 * starts a fresh one from the same weights Blob.
 */
// A worker start (wasm compile + thread pool) takes well under a second; past this it is stuck.
const FIRST_START_MS = 15000;

export class WorkerEngine {
  constructor({ build, threads, autoThreads = false, timeoutMs, onProgress, simulateFailure }) {
    this.build = build;
    this.simulateFailure = simulateFailure; // test hook (index.js: _simulateThreadedFailure)
    this.threads = threads;
    this.autoThreads = autoThreads;
    this.timeoutMs = timeoutMs;
    this.onProgress = onProgress;
    this.queue = [];
    this.pumping = false;
    this.disposed = false;
    this.worker = null;
    this.blobUrl = null;
    this.pool = []; // the threaded build's pool workers ({ worker, blobUrl }), started with this.worker
    this.loading = null; // the worker while it answers 'load'
    this.loadStep = null; // how far its 'load' got (the worker reports its steps)
    this.inflight = null; // { id, resolve, reject, timer }
    this.nextId = 1;
    this.started = null; // promise of the current worker being loaded + initialised
    this.initData = null; // promise of { weights: Blob, config: string }
    this.info = null;
  }

  /** Starts a worker and loads the wasm now; `data` (a promise) supplies weights and config. */
  start(data) {
    this.initData = data;
    return this._begin();
  }

  /** Starts the worker; `started` holds the promise, also after a start retried in a fresh worker. */
  _begin() {
    const p = this._start().then((info) => {
      if (!this.disposed && this.worker) this.started = p; // the retry's timeout cleared it
      return info;
    });
    p.catch(() => {});
    this.started = p;
    return p;
  }

  async _start() {
    try {
      return await this._startWorker();
    } catch (e) {
      this._kill();
      throw e;
    }
  }

  _spawn() {
    const { worker, blobUrl } = spawnWorker();
    this.worker = worker;
    this.blobUrl = blobUrl;
    this.loadStep = null;
    worker.addEventListener('message', (ev) => this._onMessage(worker, ev.data));
    worker.addEventListener('error', (ev) => {
      ev.preventDefault && ev.preventDefault();
      this._fail(worker, err('INTERNAL', `the worker failed: ${ev.message || 'script error (could not load worker.js or the wasm glue)'}`));
    });
    worker.addEventListener('messageerror', () => this._fail(worker, err('INTERNAL', 'a message from the worker could not be read')));
  }

  /**
   * Starts `n` pool workers for the engine worker just spawned: returns the MessagePorts that
   * connect them to it, or why they could not start (the engine then loads the single build).
   */
  _spawnPool(n) {
    const engineWorker = this.worker;
    const ports = [];
    try {
      // Test hook (index.js: _simulateThreadedFailure 'pool'): a browser that cannot start one more worker.
      if (this.simulateFailure === 'pool') throw new DOMException('Worker(): could not start a worker (simulated)', 'NotSupportedError');
      for (let i = 0; i < n; i++) {
        const started = spawnPoolWorker();
        this.pool.push(started);
        // A pool worker whose script does not load: the engine stops waiting for it (single build).
        started.worker.addEventListener('error', (ev) => {
          if (this.loading === engineWorker) {
            ev.preventDefault && ev.preventDefault();
            engineWorker.postMessage({ op: 'poolFailed', message: `a thread-pool worker failed to start: ${ev.message || 'script error (could not load pool-worker.js)'}` });
          }
        });
        const channel = new MessageChannel();
        started.worker.postMessage({ port: channel.port1 }, [channel.port1]);
        ports.push(channel.port2);
      }
      return { poolPorts: ports };
    } catch (e) {
      this._killPool();
      return { poolPorts: [], poolError: `could not start a thread-pool worker: ${e && e.message}` };
    }
  }

  _killPool() {
    for (const { worker, blobUrl } of this.pool.splice(0)) {
      worker.terminate();
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    }
  }

  /**
   * Starts a worker and loads the wasm build in it. A first start that does not answer within
   * FIRST_START_MS is retried once in a fresh worker, with the single build (buildReason says why
   * and the step it was stuck at), which gets the full watchdog. (A safety net: Firefox left about
   * 1 threaded start in 15 stuck when the engine's worker started the pool's workers itself.)
   */
  async _load() {
    const payload = { build: this.build, threads: this.threads, simulateFailure: this.simulateFailure, autoThreads: this.autoThreads };
    let stuck = null;
    for (let attempt = 0; ; attempt++) {
      this._spawn();
      const pool = payload.build === 'threaded' ? this._spawnPool(payload.threads) : { poolPorts: [] };
      const limit = attempt === 0 ? Math.min(FIRST_START_MS, this.timeoutMs * 4) : this.timeoutMs * 4;
      this.loading = this.worker;
      try {
        const loaded = await this._send('load', { ...payload, ...pool }, pool.poolPorts, limit);
        this.loading = null;
        if (loaded.build !== 'threaded') this._killPool(); // fell back to the single build
        if (stuck) loaded.fallbackReason = stuck;
        return loaded;
      } catch (e) {
        this.loading = null;
        if (e.code !== 'TIMEOUT' || attempt > 0 || this.disposed) throw e;
        // Whatever held up the threaded start may hold up a fresh one: the retry uses the single
        // build, which starts no pool.
        if (payload.build === 'threaded') {
          payload.build = 'single';
          stuck = `the threaded build did not start within ${limit} ms (${this.loadStep ? `last step: ${this.loadStep}` : 'no answer'})`;
        }
      }
    }
  }

  async _startWorker() {
    const progress = this.onProgress;
    this.onProgress = null; // progress is reported for the first start only
    safeCall(progress, { phase: 'compile', loaded: 0, total: 1 });
    let loaded = await this._load();
    safeCall(progress, { phase: 'compile', loaded: 1, total: 1 });
    const { weights, config } = await this.initData;
    safeCall(progress, { phase: 'init', loaded: 0, total: 1 });
    let info;
    try {
      info = await this._send('init', { weights, config }, [], this.timeoutMs * 4);
    } catch (e) {
      // The threaded build's shared memory has a fixed maximum (MAX_MEMORY in build.sh, kept low
      // for iOS); the large MobileNetV4 models or a big input_size need more. The single build
      // grows its memory as far as the browser allows: load it instead of failing.
      if (e.code !== 'OUT_OF_MEMORY' || loaded.build !== 'threaded' || this.disposed) throw e;
      this._kill();
      this.build = 'single'; // restarts after a crash load the single build too
      loaded = await this._load();
      info = await this._send('init', { weights, config }, [], this.timeoutMs * 4);
      const what = e.message.match(/the model does not fit in the threaded build's memory[^(:]*/);
      info.memoryFallback = what ? what[0].trim() : "the model does not fit in the threaded build's memory";
    }
    safeCall(progress, { phase: 'init', loaded: 1, total: 1 });
    info.fallbackReason = loaded.fallbackReason;
    this.info = info;
    return info;
  }

  _send(op, payload, transfer, timeoutMs) {
    const worker = this.worker;
    if (!worker) return Promise.reject(err('INTERNAL', 'the worker is gone'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        const step = op === 'load' ? this.loadStep : null;
        this._fail(worker, err('TIMEOUT', `the engine did not answer '${op}' within ${timeoutMs} ms${step ? ` (last step: ${step})` : ''}; its worker was stopped and will be restarted for the next call`));
      }, timeoutMs);
      this.inflight = { id, worker, resolve, reject, timer };
      try {
        if (payload.trace) this.sentAt = performance.timeOrigin + performance.now();
        worker.postMessage({ id, op, ...payload }, transfer);
      } catch (e) {
        clearTimeout(timer);
        this.inflight = null;
        reject(err('INVALID_INPUT', `could not send the ${op} request to the worker: ${e.message}`, { cause: e }));
      }
    });
  }

  _onMessage(worker, msg) {
    const f = this.inflight;
    if (!f || f.worker !== worker || !msg || msg.id !== f.id) return;
    if (typeof msg.step === 'string') {
      this.loadStep = msg.step;
      return;
    }
    clearTimeout(f.timer);
    this.inflight = null;
    if (msg.ok && msg.result && msg.result.trace) msg.result.trace.unshift(this.sentAt), msg.result.trace.push(performance.timeOrigin + performance.now());
    if (msg.ok) return f.resolve(msg.result);
    const e = msg.error;
    const error = err(e.code, e.message, { panic: e.panic });
    if (e.fatal) {
      // (While the classifier is being created there is nothing that keeps working.)
      if (this.info) error.message += '. The worker was restarted; the classifier keeps working.';
      this._kill();
    }
    f.reject(error);
  }

  /** The worker crashed, hung or errored: reject what it was doing and drop it. */
  _fail(worker, error) {
    if (worker !== this.worker) return;
    const f = this.inflight;
    this._kill();
    if (f) {
      clearTimeout(f.timer);
      f.reject(error);
    }
  }

  _kill() {
    this._killPool();
    if (this.worker) this.worker.terminate();
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.worker = null;
    this.blobUrl = null;
    this.inflight = null;
    this.started = null;
  }

  /** Queue `op`; resolves with the worker's result. `cleanup` runs if the job never reaches the worker. */
  call(op, payload = {}, { transfer = [], signal, cleanup, timeoutMs = this.timeoutMs } = {}) {
    if (this.disposed) {
      if (cleanup) cleanup();
      return Promise.reject(disposedError());
    }
    return new Promise((resolve, reject) => {
      const job = { op, payload, transfer, cleanup, timeoutMs, settled: false, signal };
      const settle = (fn, v) => {
        if (job.settled) return;
        job.settled = true;
        if (signal) signal.removeEventListener('abort', job.onAbort);
        fn(v);
      };
      job.resolve = (v) => settle(resolve, v);
      job.reject = (e) => settle(reject, e);
      job.onAbort = () => job.reject(aborted(op === 'run' ? 'the classification' : op));
      if (signal) {
        if (signal.aborted) {
          if (cleanup) cleanup();
          return job.onAbort();
        }
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this._pump();
    });
  }

  async _pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.disposed) {
        const job = this.queue.shift();
        let sent = false;
        try {
          if (job.settled) continue;
          if (!this.started) this._begin();
          await this.started;
          if (job.settled || this.disposed) continue;
          sent = true;
          job.resolve(await this._send(job.op, job.payload, job.transfer, job.timeoutMs));
        } catch (e) {
          job.reject(this.disposed ? disposedError() : e);
        } finally {
          if (!sent && job.cleanup) job.cleanup();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    const f = this.inflight;
    this._kill();
    if (f) {
      clearTimeout(f.timer);
      f.reject(disposedError());
    }
    for (const job of this.queue.splice(0)) {
      if (job.cleanup) job.cleanup();
      job.reject(disposedError());
    }
  }
}


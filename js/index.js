// mobilenetv3-wasm: MobileNetV3 image classification in the browser (main-thread API).
// Types and documentation: index.d.ts. Inference runs in worker.js (a dedicated Worker).

import { DEFAULT_MODEL as DEFAULT, MODEL_LIST } from './models.js';

export const DEFAULT_MODEL = DEFAULT;
export const MODELS = Object.freeze(Object.fromEntries(MODEL_LIST.map((m) => [m.name, Object.freeze({ ...m })])));

const CACHE_NAME = 'mobilenetv3-wasm-v1';
const DEFAULT_TIMEOUT_MS = 30000;
const MAX_THREADS = 16;
// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only with SIMD128.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

export class MobileNetV3Error extends Error {
  constructor(code, message, extra = {}) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = 'MobileNetV3Error';
    this.code = code;
    for (const k of ['status', 'url', 'panic']) if (extra[k] !== undefined) this[k] = extra[k];
  }
}

const err = (code, message, extra) => new MobileNetV3Error(code, message, extra);
const aborted = (what) => err('ABORTED', `${what} was aborted`);
const disposedError = () => err('DISPOSED', 'the classifier was disposed');

function baseUrl() {
  return (typeof document !== 'undefined' && document.baseURI) || (globalThis.location && globalThis.location.href) || undefined;
}

function toUrl(u) {
  try {
    return u instanceof URL ? u : new URL(u, baseUrl());
  } catch (e) {
    throw err('INVALID_INPUT', `not a URL: ${u}`, { cause: e });
  }
}

function safeCall(fn, arg) {
  if (!fn) return;
  try {
    fn(arg);
  } catch (e) {
    console.error('mobilenetv3-wasm: callback threw', e);
  }
}

/** Rejects with ABORTED as soon as `signal` fires (the work itself is cancelled elsewhere). */
function raceAbort(promise, signal, what) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(aborted(what));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted(what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function openCache(enabled, url) {
  if (!enabled || !/^https?:$/.test(url.protocol) || typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME); // throws in insecure contexts / some private modes
  } catch {
    return null;
  }
}

/** GET `url` as a Blob: Cache API first, else the network with progress; stores successful downloads. */
async function fetchBlob(url, { cache, signal, onProgress, what }) {
  const store = await openCache(cache, url);
  if (store) {
    try {
      const hit = await store.match(url.href);
      if (hit) {
        const blob = await hit.blob();
        safeCall(onProgress, { phase: 'download', loaded: blob.size, total: blob.size, cached: true });
        return blob;
      }
    } catch { /* a broken cache entry: download again */ }
  }
  if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
  let res;
  try {
    res = await fetch(url.href, { signal, credentials: 'same-origin' });
  } catch (e) {
    if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
    throw err('WEIGHTS_FETCH', `could not download the ${what} from ${url.href}: ${e.message} (network error, CORS, or offline)`, { url: url.href, cause: e });
  }
  if (!res.ok) {
    throw err('WEIGHTS_FETCH', `could not download the ${what}: HTTP ${res.status} ${res.statusText} for ${url.href}`, { status: res.status, url: url.href });
  }
  const total = Number(res.headers.get('content-length')) || undefined;
  const chunks = [];
  let loaded = 0;
  safeCall(onProgress, { phase: 'download', loaded, total });
  try {
    if (res.body && res.body.getReader) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.byteLength;
        safeCall(onProgress, { phase: 'download', loaded, total });
      }
    } else {
      const b = new Uint8Array(await res.arrayBuffer());
      chunks.push(b);
      loaded = b.byteLength;
      safeCall(onProgress, { phase: 'download', loaded, total });
    }
  } catch (e) {
    if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
    throw err('WEIGHTS_FETCH', `the download of the ${what} from ${url.href} failed after ${loaded} bytes: ${e.message}`, { url: url.href, cause: e });
  }
  if (total !== undefined && loaded !== total && !res.headers.get('content-encoding')) {
    throw err('WEIGHTS_FETCH', `the download of the ${what} from ${url.href} stopped at ${loaded} of ${total} bytes`, { url: url.href });
  }
  const blob = new Blob(chunks, { type: res.headers.get('content-type') || 'application/octet-stream' });
  if (store) {
    const headers = { 'content-type': blob.type, 'content-length': String(blob.size) };
    await store.put(url.href, new Response(blob, { headers })).catch(() => {}); // quota: just don't cache
  }
  return blob;
}

async function resolveWeights(weights, ctx) {
  if (typeof Blob !== 'undefined' && weights instanceof Blob) return weights;
  if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) return new Blob([weights]);
  if (typeof weights === 'string' || weights instanceof URL) {
    return fetchBlob(toUrl(weights), { ...ctx, what: 'weights' });
  }
  throw err('INVALID_INPUT', 'weights must be a URL, an ArrayBuffer / typed array, or a Blob');
}

async function resolveConfig(config, ctx) {
  if (config instanceof URL || (typeof config === 'string' && !config.trim().startsWith('{'))) {
    const blob = await fetchBlob(toUrl(config), { ...ctx, onProgress: undefined, what: 'config' });
    return blob.text();
  }
  if (typeof config === 'string') return config;
  if (config && typeof config === 'object') return JSON.stringify(config);
  throw err('INVALID_INPUT', 'config must be a URL, JSON text, or an object');
}

function findModel(name) {
  if (MODELS[name]) return MODELS[name];
  return MODEL_LIST.find((m) => `${m.architecture}.${m.tag}` === name);
}

function resolveThreads(threads) {
  const hc = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  if (threads === undefined || threads === 'auto') return Math.max(1, Math.min(hc, 4));
  if (!Number.isInteger(threads) || threads < 1) {
    throw err('INVALID_INPUT', `threads must be 'auto' or a positive integer, got ${threads}`);
  }
  return Math.min(threads, MAX_THREADS);
}

function spawnWorker() {
  try {
    // Literal pattern: bundlers (Vite, webpack) recognise it and emit worker.js with its assets.
    return { worker: new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'mobilenetv3' }) };
  } catch (e) {
    // The package is served from another origin (a CDN): start a same-origin module worker that
    // imports it (needs CORS on the CDN, which the common ones send).
    // (Not the literal pattern above, so bundlers do not emit a second, unbundled copy.)
    const src = `import ${JSON.stringify(new URL('./' + 'worker.js', import.meta.url).href)};`;
    const blobUrl = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
    return { worker: new Worker(blobUrl, { type: 'module', name: 'mobilenetv3' }), blobUrl };
  }
}

/**
 * Main-side handle of the worker: one request in flight, the rest queued; a watchdog per request;
 * after a crash (fatal error, timeout, worker error) the worker is dropped and the next request
 * starts a fresh one from the same weights Blob.
 */
class WorkerEngine {
  constructor({ build, threads, timeoutMs, onProgress }) {
    this.build = build;
    this.threads = threads;
    this.timeoutMs = timeoutMs;
    this.onProgress = onProgress;
    this.queue = [];
    this.pumping = false;
    this.disposed = false;
    this.worker = null;
    this.blobUrl = null;
    this.inflight = null; // { id, resolve, reject, timer }
    this.nextId = 1;
    this.started = null; // promise of the current worker being loaded + initialised
    this.initData = null; // promise of { weights: Blob, config: string }
    this.info = null;
  }

  /** Starts a worker and loads the wasm now; `data` (a promise) supplies weights and config. */
  start(data) {
    this.initData = data;
    this.started = this._start();
    this.started.catch(() => {});
    return this.started;
  }

  async _start() {
    try {
      return await this._startWorker();
    } catch (e) {
      this._kill();
      throw e;
    }
  }

  async _startWorker() {
    const { worker, blobUrl } = spawnWorker();
    this.worker = worker;
    this.blobUrl = blobUrl;
    worker.addEventListener('message', (ev) => this._onMessage(worker, ev.data));
    worker.addEventListener('error', (ev) => {
      ev.preventDefault && ev.preventDefault();
      this._fail(worker, err('INTERNAL', `the worker failed: ${ev.message || 'script error (could not load worker.js or the wasm glue)'}`));
    });
    worker.addEventListener('messageerror', () => this._fail(worker, err('INTERNAL', 'a message from the worker could not be read')));
    const progress = this.onProgress;
    this.onProgress = null; // progress is reported for the first start only
    safeCall(progress, { phase: 'compile', loaded: 0, total: 1 });
    const loaded = await this._send('load', { build: this.build, threads: this.threads }, [], this.timeoutMs * 4);
    safeCall(progress, { phase: 'compile', loaded: 1, total: 1 });
    const { weights, config } = await this.initData;
    safeCall(progress, { phase: 'init', loaded: 0, total: 1 });
    const info = await this._send('init', { weights, config }, [], this.timeoutMs * 4);
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
        this._fail(worker, err('TIMEOUT', `the engine did not answer '${op}' within ${timeoutMs} ms; its worker was stopped and will be restarted for the next call`));
      }, timeoutMs);
      this.inflight = { id, worker, resolve, reject, timer };
      try {
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
    clearTimeout(f.timer);
    this.inflight = null;
    if (msg.ok) return f.resolve(msg.result);
    const e = msg.error;
    const error = err(e.code, e.message, { panic: e.panic });
    if (e.fatal) {
      error.message += '. The worker was restarted; the classifier keeps working.';
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
          if (!this.started) this.started = this._start();
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

const DECODE_OPTIONS = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };

const isA = (v, name) => typeof globalThis[name] === 'function' && v instanceof globalThis[name];

/** Turns a source into what the worker receives (transferring what can be transferred). */
async function toWire(src) {
  if (isA(src, 'Blob')) return { source: { kind: 'blob', blob: src }, transfer: [] };
  if (isA(src, 'ImageData')) {
    return { source: { kind: 'rgba', width: src.width, height: src.height, data: src.data }, transfer: [] };
  }
  if (isA(src, 'VideoFrame')) {
    let frame;
    try {
      frame = src.clone();
    } catch (e) {
      throw err('IMAGE_DECODE', `the VideoFrame is closed: ${e.message}`);
    }
    return { source: { kind: 'frame', frame }, transfer: [frame], cleanup: () => frame.close() };
  }
  let bitmap;
  try {
    if (isA(src, 'HTMLImageElement')) {
      if (!src.complete || !src.naturalWidth) {
        try {
          await src.decode();
        } catch (e) {
          throw err('IMAGE_DECODE', `the <img> could not be decoded (${src.currentSrc || src.src || 'no src'}): ${e.message}`);
        }
      }
      bitmap = await createImageBitmap(src, DECODE_OPTIONS);
    } else if (isA(src, 'HTMLVideoElement')) {
      if (src.readyState < 2 || !src.videoWidth) {
        throw err('IMAGE_DECODE', `the <video> has no frame yet (readyState ${src.readyState})`);
      }
      bitmap = await createImageBitmap(src);
    } else if (isA(src, 'HTMLCanvasElement') || isA(src, 'OffscreenCanvas')) {
      if (!src.width || !src.height) throw err('IMAGE_DECODE', `the canvas is ${src.width}x${src.height} pixels`);
      bitmap = await createImageBitmap(src, DECODE_OPTIONS);
    } else if (isA(src, 'ImageBitmap')) {
      if (!src.width || !src.height) throw err('IMAGE_DECODE', 'the ImageBitmap is empty or closed');
      bitmap = await createImageBitmap(src, DECODE_OPTIONS); // a copy: the caller keeps theirs
    } else {
      throw err('INVALID_INPUT', `cannot classify ${Object.prototype.toString.call(src)}: pass an image, canvas, video, ImageBitmap, ImageData, VideoFrame or Blob`);
    }
  } catch (e) {
    if (e instanceof MobileNetV3Error) throw e;
    throw err('IMAGE_DECODE', `could not read the pixels of the source: ${e.message}`, { cause: e });
  }
  return { source: { kind: 'bitmap', bitmap }, transfer: [bitmap], cleanup: () => bitmap.close() };
}

class ClassifierImpl {
  constructor(engine, info) {
    this._engine = engine;
    this._watches = new Set();
    this._disposed = false;
    this.info = Object.freeze(info);
  }

  _check() {
    if (this._disposed) throw disposedError();
  }

  async _run(source, payload, signal) {
    this._check();
    if (signal && signal.aborted) throw aborted('the classification');
    const wire = await toWire(source);
    if (this._disposed || (signal && signal.aborted)) {
      if (wire.cleanup) wire.cleanup();
      throw this._disposed ? disposedError() : aborted('the classification');
    }
    return this._engine.call('run', { source: wire.source, ...payload }, { transfer: wire.transfer, cleanup: wire.cleanup, signal });
  }

  async classify(source, options = {}) {
    const t0 = performance.now();
    const topk = this._topk(options.topk, 5);
    const r = await this._run(source, { topk, embed: false }, options.signal);
    return {
      top: r.top,
      timings: { preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, totalMs: performance.now() - t0 },
      width: r.width,
      height: r.height,
    };
  }

  async embed(source, options = {}) {
    const r = await this._run(source, { topk: 1, embed: true }, options.signal);
    return r.embedding;
  }

  _topk(k, dflt) {
    if (k === undefined) return Math.min(dflt, this.info.numClasses);
    if (!Number.isInteger(k) || k < 1) throw err('INVALID_INPUT', `topk must be a positive integer, got ${k}`);
    return Math.min(k, this.info.numClasses);
  }

  watch(video, onResult, options = {}) {
    this._check();
    if (!isA(video, 'HTMLVideoElement')) throw err('INVALID_INPUT', 'watch() needs an HTMLVideoElement');
    if (typeof onResult !== 'function') throw err('INVALID_INPUT', 'watch() needs a callback');
    const topk = this._topk(options.topk, 3);
    const minInterval = options.maxFps > 0 ? 1000 / options.maxFps : 0;
    const rvfc = typeof video.requestVideoFrameCallback === 'function';
    let stopped = false;
    let busy = false;
    let last = -Infinity;
    let lastTime = -1;
    let handle = 0;
    let warned = false;
    const onError = (e) => {
      if (options.onError) return safeCall(options.onError, e);
      if (!warned) console.warn('mobilenetv3-wasm: watch() frame failed:', e.message);
      warned = true;
    };
    const schedule = () => {
      if (stopped) return;
      handle = rvfc ? video.requestVideoFrameCallback(tick) : requestAnimationFrame(tick);
    };
    const tick = () => {
      if (stopped) return;
      schedule();
      const now = performance.now();
      if (busy || (typeof document !== 'undefined' && document.hidden)) return;
      if (video.readyState < 2 || video.ended || now - last < minInterval) return;
      // Without video frame callbacks (older Firefox), animation frames outnumber video frames:
      // skip paused videos and frames already classified.
      if (!rvfc && (video.paused || video.currentTime === lastTime)) return;
      busy = true;
      last = now;
      lastTime = video.currentTime;
      this.classify(video, { topk }).then(
        (r) => { if (!stopped) safeCall(onResult, r); },
        (e) => { if (!stopped && e.code !== 'DISPOSED') onError(e); },
      ).finally(() => { busy = false; });
    };
    const onVisible = () => {
      // rAF / video frame callbacks do not run while hidden; re-arm once visible again.
      if (!stopped && !document.hidden) {
        if (rvfc) video.cancelVideoFrameCallback(handle);
        else cancelAnimationFrame(handle);
        schedule();
      }
    };
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (rvfc) video.cancelVideoFrameCallback(handle);
      else cancelAnimationFrame(handle);
      if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisible);
      this._watches.delete(stop);
    };
    this._watches.add(stop);
    schedule();
    return stop;
  }

  /** Internal test hooks (not part of the API): memory figures and a forced engine panic. */
  get _debug() {
    return {
      stats: (gc = false) => this._engine.call('stats', { gc }),
      panic: (inPool = false, timeoutMs) => this._engine.call('debugPanic', { inPool }, { timeoutMs }),
      workerAlive: () => this._engine.worker !== null,
    };
  }

  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    for (const stop of [...this._watches]) stop();
    this._engine.dispose();
  }
}

function buildReason(threads, isolated, info) {
  if (info.build === 'threaded') return `threaded: ${info.threads} threads`;
  if (threads <= 1) return 'single: threads <= 1 requested';
  if (!isolated) return 'single: the page is not crossOriginIsolated (serve it with COOP: same-origin and COEP: require-corp or credentialless)';
  if (typeof SharedArrayBuffer !== 'function') return 'single: SharedArrayBuffer is unavailable';
  return `single: the threaded build failed to start (${info.fallbackReason || 'unknown reason'})`;
}

export async function createClassifier(options = {}) {
  const { signal, onProgress } = options;
  if (signal && signal.aborted) throw aborted('createClassifier');
  if (typeof Worker === 'undefined' || typeof WebAssembly === 'undefined' || !WebAssembly.validate(SIMD_PROBE)) {
    throw err('UNSUPPORTED_BROWSER', 'this browser lacks Web Workers or WebAssembly SIMD128 (needs Chrome/Edge 91+, Firefox 89+, Safari 16.4+)');
  }
  const modelName = options.model || DEFAULT;
  const entry = findModel(modelName);
  if (!entry && (options.weights === undefined || options.config === undefined)) {
    throw err('CONFIG', `unknown model '${modelName}'; known: ${Object.keys(MODELS).join(', ')} (or pass both weights and config)`);
  }
  const threads = resolveThreads(options.threads);
  const isolated = globalThis.crossOriginIsolated === true;
  const build = threads > 1 && isolated && typeof SharedArrayBuffer === 'function' ? 'threaded' : 'single';
  const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
  const ctx = { cache: options.cache !== false, signal, onProgress };

  const engine = new WorkerEngine({ build, threads, timeoutMs, onProgress });
  const data = Promise.all([
    resolveWeights(options.weights !== undefined ? options.weights : entry.weightsUrl, ctx),
    resolveConfig(options.config !== undefined ? options.config : entry.configUrl, ctx),
  ]).then(([weights, config]) => ({ weights, config }));
  data.catch(() => {});
  try {
    // Download and wasm compilation overlap; a failed download rejects at once.
    const [info] = await raceAbort(Promise.all([engine.start(data), data]), signal, 'createClassifier');
    return new ClassifierImpl(engine, {
      model: entry && options.weights === undefined ? entry.name : options.model || info.architecture,
      architecture: info.architecture,
      numClasses: info.numClasses,
      inputSize: info.inputSize,
      embeddingSize: info.embeddingSize,
      threads: info.threads,
      simd: info.simd,
      crossOriginIsolated: isolated,
      build: info.build,
      labels: info.labels,
      paramBytes: info.paramBytes,
      macs: info.macs,
      buildReason: buildReason(threads, isolated, info),
    });
  } catch (e) {
    engine.dispose();
    if (signal && signal.aborted) throw aborted('createClassifier');
    if (e.code === 'WEIGHTS_FORMAT' && options.weights !== undefined && options.config === undefined) {
      e.message += ` (checked against the config of '${modelName}'; pass \`model\` or \`config\` matching these weights)`;
    }
    throw e;
  }
}

export async function clearCache() {
  if (typeof caches === 'undefined') return false;
  try {
    return await caches.delete(CACHE_NAME);
  } catch {
    return false;
  }
}

// mobilenetv3-wasm: MobileNetV3 image classification in the browser (main-thread API).
// Types and documentation: index.d.ts. Inference runs in worker.js (a dedicated Worker).
// The jobs live in their own modules: fetch.js (downloads + cache), rpc.js (the worker),
// sources.js (image sources -> worker messages), watch.js (live video), errors.js.

import { DEFAULT_MODEL as DEFAULT, MODEL_LIST } from './models.js';
import { MobileNetV3Error, err, aborted, disposedError, raceAbort } from './errors.js';
import { resolveWeights, resolveConfig, clearCache } from './fetch.js';
import { WorkerEngine } from './rpc.js';
import { toWire } from './sources.js';
import { watchVideo } from './watch.js';
import { Learner, learnerStore } from './learner.js';
import { capabilities, autoThreads, planBuild } from './capabilities.js';

export { MobileNetV3Error, clearCache, learnerStore, capabilities };
export const DEFAULT_MODEL = DEFAULT;
export const MODELS = Object.freeze(Object.fromEntries(MODEL_LIST.map((m) => [m.name, Object.freeze({ ...m })])));

const DEFAULT_TIMEOUT_MS = 30000;
const MAX_THREADS = 16;

/** Engine verdicts on a file (index into [weights, config]): a cached copy that gets one is
 *  downloaded again. */
const REFUSED = { WEIGHTS_FORMAT: 0, CONFIG: 1, UNSUPPORTED_ARCH: 1 };

/** The `sha256` option: 64 hex digits (case ignored) or undefined. */
function checkSha256(sha256) {
  if (sha256 === undefined) return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(sha256)) {
    throw err('INVALID_INPUT', `sha256 must be the file's SHA-256 as 64 hex digits, got ${JSON.stringify(sha256)}`);
  }
  return sha256.toLowerCase();
}

function findModel(name) {
  if (MODELS[name]) return MODELS[name];
  return MODEL_LIST.find((m) => `${m.architecture}.${m.tag}` === name);
}

function resolveThreads(threads) {
  if (threads === undefined || threads === 'auto') return autoThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw err('INVALID_INPUT', `threads must be 'auto' or a positive integer, got ${threads}`);
  }
  return Math.min(threads, MAX_THREADS);
}

/** The shortest decimal that reads back as the same float32 (what the engine's JSON used to print). */
function shortestF32(x) {
  for (let digits = 1; digits < 9; digits++) {
    const v = Number(x.toPrecision(digits));
    if (Math.fround(v) === x) return v;
  }
  return x;
}

class ClassifierImpl {
  constructor(engine, info) {
    this._engine = engine;
    this._watches = new Set();
    this._disposed = false;
    this._spare = null; // see _run
    this.info = Object.freeze(info);
  }

  _check() {
    if (this._disposed) throw disposedError();
  }

  async _run(source, payload, signal) {
    this._check();
    if (signal && signal.aborted) throw aborted('the classification');
    const wire = await toWire(source, this._spare);
    if (wire.source.kind === 'rgba') this._spare = null; // (now on its way to the worker)
    if (this._disposed || (signal && signal.aborted)) {
      if (wire.cleanup) wire.cleanup();
      throw this._disposed ? disposedError() : aborted('the classification');
    }
    if (this._tracing) payload.trace = true;
    const r = await this._engine.call('run', { source: wire.source, ...payload }, { transfer: wire.transfer, cleanup: wire.cleanup, signal });
    if (r.pixels) this._spare = r.pixels; // an ImageData copy's buffer, back for the next one
    return r;
  }

  async classify(source, options = {}) {
    const t0 = performance.now();
    const topk = this._topk(options.topk, 5);
    const r = await this._run(source, { topk, embed: false }, options.signal);
    if (r.trace) this._lastTrace = [performance.timeOrigin + t0, ...r.trace], this._lastCopyMs = r.copyMs;
    const labels = this.info.labels;
    const top = [];
    for (let i = 0; i < r.top.length; i += 2) {
      const index = r.top[i];
      top.push({ index, label: labels[index] ?? `class ${index}`, probability: shortestF32(r.top[i + 1]) });
    }
    const totalMs = performance.now() - t0;
    if (r.trace) this._lastTrace.push(performance.timeOrigin + t0 + totalMs);
    return {
      top,
      timings: { preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, totalMs },
      width: r.width,
      height: r.height,
    };
  }

  async embed(source, options = {}) {
    const r = await this._run(source, { topk: 1, embed: true }, options.signal);
    return r.embedding;
  }

  /** A few-shot learner of custom classes on this classifier's features (learner.js). */
  async createLearner(options = {}) {
    this._check();
    const run = (source, signal) => this._run(source, { topk: 1, embed: true, probabilities: true }, signal);
    return new Learner(this, run, options);
  }

  _topk(k, dflt) {
    if (k === undefined) return Math.min(dflt, this.info.numClasses);
    if (!Number.isInteger(k) || k < 1) throw err('INVALID_INPUT', `topk must be a positive integer, got ${k}`);
    return Math.min(k, this.info.numClasses);
  }

  watch(video, onResult, options = {}) {
    this._check();
    const topk = this._topk(options.topk, 3);
    const { learner } = options;
    if (learner !== undefined && !(learner instanceof Learner && learner._owner === this)) {
      throw err('INVALID_INPUT', 'watch(): options.learner must be a learner made by this classifier\'s createLearner()');
    }
    const classifyFrame = learner
      ? (frame) => (learner.size ? learner.classify(frame, { topk }) : this.classify(frame, { topk }).then((r) => ({ ...r, top: [], unknown: true })))
      : (frame) => this.classify(frame, { topk });
    const stop = watchVideo(video, onResult, options, classifyFrame);
    const stopAndForget = () => {
      stop();
      this._watches.delete(stopAndForget);
    };
    this._watches.add(stopAndForget);
    return stopAndForget;
  }

  /** Internal test hooks (not part of the API): memory figures and a forced engine panic. */
  get _debug() {
    return {
      stats: (gc = false) => this._engine.call('stats', { gc }),
      panic: (inPool = false, timeoutMs) => this._engine.call('debugPanic', { inPool }, { timeoutMs }),
      workerAlive: () => this._engine.worker !== null,
      // Benchmark hook: time every step of the calls from now on; lastTrace() is the last
      // classify()'s [call, posted, worker received, preprocess start, pixels in, preprocess end,
      // inference end, worker replied, page received, resolved] (ms, timeOrigin + now).
      trace: (on = true) => { this._tracing = on; },
      // lastCopyMs(): of 'pixels in', the time the worker spent copying the source's pixels.
      lastTrace: () => this._lastTrace,
      lastCopyMs: () => this._lastCopyMs,
    };
  }

  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    for (const stop of [...this._watches]) stop();
    this._engine.dispose();
  }
}

function buildReason(plan, info) {
  if (info.build === 'threaded') return `threaded: ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.autoThreads ? ` (${info.autoThreads})` : ''}`;
  if (plan.build === 'single') return plan.reason;
  if (info.memoryFallback) return `single: ${info.memoryFallback}; the single build can grow its memory further`;
  // Creating the shared memory or the worker pool threw (e.g. iOS with little memory to spare).
  return `single: the threaded build failed to start (${info.fallbackReason || 'unknown reason'})`;
}

export async function createClassifier(options = {}) {
  const { signal, onProgress } = options;
  if (signal && signal.aborted) throw aborted('createClassifier');
  const caps = capabilities();
  if (!caps.workers || !caps.simd128) {
    throw err('UNSUPPORTED_BROWSER', 'this browser lacks Web Workers or WebAssembly SIMD128 (needs Chrome/Edge 91+, Firefox 89+, Safari 16.4+)');
  }
  const modelName = options.model || DEFAULT;
  const entry = findModel(modelName);
  if (!entry && (options.weights === undefined || options.config === undefined)) {
    throw err('CONFIG', `unknown model '${modelName}'; known: ${Object.keys(MODELS).join(', ')} (or pass both weights and config)`);
  }
  const threads = resolveThreads(options.threads);
  const plan = planBuild(threads, caps);
  const timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
  const tuneThreads = options.threads === undefined || options.threads === 'auto';
  // What the downloads must be: models.json's pins for a known model, else the `sha256` option.
  const ownWeights = options.weights !== undefined;
  const sha256 = checkSha256(options.sha256);
  const expectWeights = ownWeights ? { sha256 } : { bytes: entry.weightsBytes, sha256: sha256 || entry.weightsSha256, approxBytes: entry.bytes };
  const expectConfig = options.config !== undefined ? {} : { bytes: entry.configBytes, sha256: entry.configSha256 };

  // One attempt: download (or read from the cache) + start the engine; downloads are cached
  // only once the engine has accepted them.
  const attempt = async (readCache) => {
    const ctx = { cache: options.cache !== false, readCache, signal, onProgress, idleMs: timeoutMs };
    // options._simulateThreadedFailure ('memory' | 'pool'): test hook, makes the threaded start throw.
    const engine = new WorkerEngine({ build: plan.build, threads, autoThreads: tuneThreads, timeoutMs, onProgress, simulateFailure: options._simulateThreadedFailure });
    const inputs = Promise.all([
      resolveWeights(ownWeights ? options.weights : entry.weightsUrl, { ...ctx, expect: expectWeights }),
      resolveConfig(options.config !== undefined ? options.config : entry.configUrl, { ...ctx, expect: expectConfig }),
    ]);
    inputs.catch(() => {});
    const data = inputs.then(([w, c]) => ({ weights: w.blob, config: c.text }));
    data.catch(() => {});
    try {
      // Download and wasm compilation overlap; a failed download rejects at once.
      const [info, [w, c]] = await raceAbort(Promise.all([engine.start(data), inputs]), signal, 'createClassifier');
      await Promise.all([w.keep(), c.keep()]);
      return { engine, info };
    } catch (e) {
      engine.dispose();
      // The engine refused what came from the cache (stored by an older version, or changed):
      // forget it, and let the caller download once more.
      // (These come from the engine, after both inputs arrived: nothing to wait for.)
      const suspect = readCache && e.code in REFUSED && (await inputs.catch(() => []))[REFUSED[e.code]];
      if (suspect && suspect.fromCache) {
        await suspect.drop();
        e.retry = true;
      }
      throw e;
    }
  };

  try {
    let started;
    try {
      started = await attempt(true);
    } catch (e) {
      if (!e.retry || (signal && signal.aborted)) throw e;
      started = await attempt(false);
    }
    const { engine, info } = started;
    return new ClassifierImpl(engine, {
      model: entry && options.weights === undefined ? entry.name : options.model || info.architecture,
      architecture: info.architecture,
      numClasses: info.numClasses,
      inputSize: info.inputSize,
      embeddingSize: info.embeddingSize,
      threads: info.threads,
      simd: info.simd,
      crossOriginIsolated: caps.crossOriginIsolated,
      build: info.build,
      labels: info.labels,
      paramBytes: info.paramBytes,
      macs: info.macs,
      buildReason: buildReason(plan, info),
      capabilities: Object.freeze(caps),
    });
  } catch (e) {
    delete e.retry;
    if (signal && signal.aborted) throw aborted('createClassifier');
    if (e.code === 'WEIGHTS_FORMAT' && options.weights !== undefined && options.config === undefined) {
      e.message += ` (checked against the config of '${modelName}'; pass \`model\` or \`config\` matching these weights)`;
    }
    throw e;
  }
}

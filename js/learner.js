// createLearner(): few-shot custom classes on the classifier's outputs. Each example keeps the
// model's pooled embedding and its largest ImageNet probabilities; classes are prototypes (the mean
// of their examples' features) compared by cosine similarity.
//
// Features ('semantic', the default): the L2-normalized embedding joined with the square root of
// the ImageNet probabilities summed over runs of BIN consecutive classes, L2-normalized. ImageNet-1k
// classes are numbered in WordNet-id order, which keeps related classes together (the dogs are
// 151-268, the foods 924-969, ...), so those sums are a coarse "what kind of thing" signal: a
// category made of many ImageNet classes (dogs, vehicles) shares it even when the embeddings
// differ; the embedding block keeps custom classes that ImageNet does not tell apart (my mug / your
// mug) apart. Measured in tests/browser/learner.test.mjs against 'centered' (SimpleShot:
// embedding minus the mean of the class means) and 'cosine' (normalized embedding).
// No training step: adding an example costs one forward pass, predicting microseconds, and
// everything is deterministic (float64 sums in a fixed order over bit-identical embeddings).
//
// "unknown": the best cosine between the image's embedding and any single example's embedding is
// below `threshold` (default DEFAULT_THRESHOLD; 0 disables it). Frames of a taught object score
// ~0.8-0.95, unrelated things ~0.1-0.4; categories taught with very diverse examples need a lower one.

import { err } from './errors.js';

export const LEARNER_FORMAT = 'mobilenetv3-wasm/learner';
export const LEARNER_VERSION = 1;
export const METHODS = ['semantic', 'centered', 'cosine'];
export const DEFAULT_METHOD = 'semantic';
export const DEFAULT_THRESHOLD = 0.5;
export const MAX_LABEL_LENGTH = 100;
/** ImageNet probabilities kept per example (the rest are ~0 and not stored). */
export const KEPT_PROBS = 32;
/** Weight of the probability block in 'semantic' (the embedding block gets 1 - this). */
const SEMANTIC_WEIGHT = 0.7;
/** Consecutive ImageNet classes summed into one 'semantic' feature. */
const BIN = 25;
/** Softmax temperature over cosine similarities (turns scores into readable probabilities). */
const TEMPERATURE = 20;

// ---------------------------------------------------------------------------------------------
// Math (pure; exported for the accuracy test)

function normalize(v) {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  const out = new Float64Array(v.length);
  if (n > 0) for (let i = 0; i < v.length; i++) out[i] = v[i] / n;
  return out;
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Sparse top probabilities -> sqrt of their sums over runs of BIN classes, L2-normalized. */
function probBlock(probs, numClasses) {
  const v = new Float64Array(Math.ceil(numClasses / BIN));
  for (let i = 0; i < probs.index.length; i++) v[Math.floor(probs.index[i] / BIN)] += probs.value[i];
  for (let i = 0; i < v.length; i++) v[i] = Math.sqrt(v[i]);
  return normalize(v);
}

/** Keeps the KEPT_PROBS largest probabilities (ties: lower index first, so it is deterministic). */
export function sparseProbs(probabilities) {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b).slice(0, KEPT_PROBS);
  order.sort((a, b) => a - b);
  return { index: Uint16Array.from(order), value: Float32Array.from(order, (i) => probabilities[i]) };
}

/**
 * The model of a set of examples: per class (in `classes` order) the prototype in feature space
 * and the raw mean embedding (for "unknown"). examples: [{ embedding: Float32Array, probs }].
 */
export function fitPrototypes(classes, method, numClasses) {
  const dim = classes[0].examples[0].embedding.length;
  // Centering ('centered' only) needs two classes at least (with one, the center is the class itself).
  const center = new Float64Array(dim);
  if (method === 'centered' && classes.length > 1) {
    for (const c of classes) {
      for (const ex of c.examples) for (let i = 0; i < dim; i++) center[i] += ex.embedding[i] / c.examples.length;
    }
    for (let i = 0; i < dim; i++) center[i] /= classes.length;
  }
  const model = { method, center, numClasses, prototypes: [], rawExamples: classes.flatMap((c) => c.examples.map(normalizedEmbedding)) };
  for (const c of classes) {
    let proto = null;
    for (const ex of c.examples) {
      // Without centering an example's features depend on it alone: computed once (refits after
      // each added example stay well under a millisecond).
      const f = method === 'centered' ? featuresOf(model, ex) : cached(ex, method, () => featuresOf(model, ex));
      if (!proto) proto = new Float64Array(f.length);
      for (let i = 0; i < f.length; i++) proto[i] += f[i];
    }
    model.prototypes.push(normalize(proto));
  }
  return model;
}

const featureCache = new WeakMap(); // example -> { [method or 'raw']: Float64Array }
function cached(ex, key, compute) {
  let entry = featureCache.get(ex);
  if (!entry) featureCache.set(ex, (entry = {}));
  return entry[key] || (entry[key] = compute());
}
const normalizedEmbedding = (ex) => cached(ex, 'raw', () => normalize(ex.embedding));

export function featuresOf(model, ex) {
  const e = ex.embedding;
  if (model.method !== 'centered') {
    const a = normalize(e);
    if (model.method === 'cosine') return a;
    return joinBlocks(a, probBlock(ex.probs, model.numClasses));
  }
  const centered = new Float64Array(e.length);
  for (let i = 0; i < e.length; i++) centered[i] = e[i] - model.center[i];
  return normalize(centered);
}

function joinBlocks(a, b) {
  const out = new Float64Array(a.length + b.length);
  const wa = Math.sqrt(1 - SEMANTIC_WEIGHT);
  const wb = Math.sqrt(SEMANTIC_WEIGHT);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * wa;
  for (let i = 0; i < b.length; i++) out[a.length + i] = b[i] * wb;
  return out;
}

/** Scores of `ex` against each class: { scores (cosine in feature space), similarity (raw embedding, nearest example) }. */
export function scoreExample(model, ex) {
  const f = featuresOf(model, ex);
  const scores = model.prototypes.map((p) => dot(f, p));
  const raw = normalize(ex.embedding);
  let similarity = -1;
  for (const e of model.rawExamples) similarity = Math.max(similarity, dot(raw, e));
  return { scores, similarity };
}

function softmax(scores) {
  const m = Math.max(...scores);
  const e = scores.map((s) => Math.exp((s - m) * TEMPERATURE));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

// ---------------------------------------------------------------------------------------------
// State (plain JSON)

function f32ToBase64(a) {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
function base64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function stateError(msg) {
  return err('LEARNER_STATE', `not a learner state this classifier can restore: ${msg}`);
}

function decodeExample(x, dim, numClasses) {
  if (!x || typeof x.embedding !== 'string' || !x.probs || typeof x.probs.index !== 'string' || typeof x.probs.value !== 'string') {
    throw stateError('an example lacks embedding / probs');
  }
  let emb, idx, val;
  try {
    emb = base64ToBytes(x.embedding);
    idx = base64ToBytes(x.probs.index);
    val = base64ToBytes(x.probs.value);
  } catch {
    throw stateError('an example is not valid base64');
  }
  if (emb.length !== dim * 4) throw stateError(`an example's embedding has ${emb.length / 4} values, this model's have ${dim}`);
  if (idx.length % 2 || val.length !== idx.length * 2) throw stateError('an example has mismatched probabilities');
  const embedding = new Float32Array(emb.buffer);
  const index = new Uint16Array(idx.buffer);
  const value = new Float32Array(val.buffer);
  if (!embedding.every(Number.isFinite) || !value.every((v) => v >= 0 && v <= 1) || !index.every((i) => i < numClasses)) {
    throw stateError('an example holds out-of-range numbers');
  }
  return { embedding, probs: { index, value } };
}

// ---------------------------------------------------------------------------------------------
// The learner

export function checkLabel(label) {
  if (typeof label !== 'string' || label.trim() === '') {
    throw err('INVALID_LABEL', 'a label must be a non-empty string (the name of your class)');
  }
  if (label.length > MAX_LABEL_LENGTH) {
    throw err('INVALID_LABEL', `a label may have at most ${MAX_LABEL_LENGTH} characters, this one has ${label.length}`);
  }
  return label.trim();
}

function checkThreshold(t) {
  if (t === undefined) return DEFAULT_THRESHOLD;
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) throw err('INVALID_INPUT', `threshold must be a number in [0, 1], got ${t}`);
  return t;
}

export class Learner {
  /** Use classifier.createLearner(). `run(source, signal)` -> { embedding, probabilities, timings }. */
  constructor(owner, run, options = {}) {
    this._owner = owner;
    this._run = run;
    this._info = owner.info;
    this._classes = []; // [{ label, examples: [{ embedding, probs }] }] in creation order
    this._model = null; // cached prototypes; null when examples changed
    this._disposed = false;
    const method = options.method === undefined ? DEFAULT_METHOD : options.method;
    if (!METHODS.includes(method)) throw err('INVALID_INPUT', `method must be one of ${METHODS.join(', ')}, got ${method}`);
    this.method = method;
    this.threshold = checkThreshold(options.threshold);
    if (options.from !== undefined) this._restore(options.from, options);
  }

  get labels() {
    return this._classes.map((c) => c.label);
  }

  get counts() {
    return Object.fromEntries(this._classes.map((c) => [c.label, c.examples.length]));
  }

  get size() {
    return this._classes.reduce((n, c) => n + c.examples.length, 0);
  }

  get disposed() {
    return this._disposed || this._owner._disposed;
  }

  _check() {
    if (this.disposed) throw err('DISPOSED', 'the learner (or its classifier) was disposed');
  }

  setThreshold(t) {
    this.threshold = checkThreshold(t);
  }

  /** One forward pass: the example's features. */
  async _features(source, signal) {
    const r = await this._run(source, signal);
    return { ex: { embedding: r.embedding, probs: sparseProbs(r.probabilities) }, r };
  }

  async addExample(source, label, options = {}) {
    this._check();
    const name = checkLabel(label);
    const t0 = performance.now();
    const { ex, r } = await this._features(source, options.signal);
    this._check(); // disposed while embedding: nothing is added
    let c = this._classes.find((k) => k.label === name);
    if (!c) this._classes.push((c = { label: name, examples: [] }));
    c.examples.push(ex);
    this._model = null;
    return { label: name, count: c.examples.length, timings: { preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, totalMs: performance.now() - t0 } };
  }

  _fit() {
    if (!this._model) this._model = fitPrototypes(this._classes, this.method, this._info.numClasses);
    return this._model;
  }

  /** Scores already-computed features (no forward pass). */
  _predict(ex, topk) {
    const t0 = performance.now();
    const model = this._fit();
    const { scores, similarity } = scoreExample(model, ex);
    const probs = softmax(scores);
    const top = this._classes
      .map((c, i) => ({ label: c.label, probability: probs[i], score: scores[i] }))
      .sort((a, b) => b.probability - a.probability || a.label.localeCompare(b.label))
      .slice(0, topk);
    return { top, similarity, unknown: similarity < this.threshold, predictMs: performance.now() - t0 };
  }

  async classify(source, options = {}) {
    this._check();
    if (!this._classes.length) throw err('NO_EXAMPLES', 'the learner has no examples yet: addExample(source, label) first');
    const topk = options.topk === undefined ? 3 : options.topk;
    if (!Number.isInteger(topk) || topk < 1) throw err('INVALID_INPUT', `topk must be a positive integer, got ${topk}`);
    const t0 = performance.now();
    const { ex, r } = await this._features(source, options.signal);
    this._check();
    if (!this._classes.length) throw err('NO_EXAMPLES', 'every example was removed while this image was being processed');
    const p = this._predict(ex, topk);
    return {
      top: p.top,
      unknown: p.unknown,
      similarity: p.similarity,
      timings: { preprocessMs: r.preprocessMs, inferenceMs: r.inferenceMs, predictMs: p.predictMs, totalMs: performance.now() - t0 },
      width: r.width,
      height: r.height,
    };
  }

  removeLabel(label) {
    this._check();
    const i = this._classes.findIndex((c) => c.label === label);
    if (i < 0) return false;
    this._classes.splice(i, 1);
    this._model = null;
    return true;
  }

  /** Removes example `index` (0 = the oldest) of `label`. */
  removeExample(label, index) {
    this._check();
    const c = this._classes.find((k) => k.label === label);
    if (!c || !Number.isInteger(index) || index < 0 || index >= c.examples.length) return false;
    c.examples.splice(index, 1);
    if (!c.examples.length) this._classes.splice(this._classes.indexOf(c), 1);
    this._model = null;
    return true;
  }

  renameLabel(from, to) {
    this._check();
    const name = checkLabel(to);
    const c = this._classes.find((k) => k.label === from);
    if (!c) throw err('INVALID_LABEL', `there is no class '${from}'`);
    if (name !== from && this._classes.some((k) => k.label === name)) throw err('INVALID_LABEL', `a class '${name}' exists already`);
    c.label = name;
  }

  clear() {
    this._check();
    this._classes = [];
    this._model = null;
  }

  toJSON() {
    return {
      format: LEARNER_FORMAT,
      version: LEARNER_VERSION,
      model: this._info.model,
      architecture: this._info.architecture,
      embeddingSize: this._info.embeddingSize,
      numClasses: this._info.numClasses,
      method: this.method,
      threshold: this.threshold,
      classes: this._classes.map((c) => ({
        label: c.label,
        examples: c.examples.map((ex) => ({
          embedding: f32ToBase64(ex.embedding),
          probs: { index: f32ToBase64(ex.probs.index), value: f32ToBase64(ex.probs.value) },
        })),
      })),
    };
  }

  _restore(state, options) {
    if (typeof state === 'string') {
      try {
        state = JSON.parse(state);
      } catch {
        throw stateError('not JSON');
      }
    }
    if (!state || typeof state !== 'object' || state.format !== LEARNER_FORMAT) throw stateError(`format is not '${LEARNER_FORMAT}'`);
    if (state.version !== LEARNER_VERSION) throw stateError(`version ${state.version}; this package reads version ${LEARNER_VERSION}`);
    const info = this._info;
    if (state.architecture !== info.architecture || state.embeddingSize !== info.embeddingSize || state.numClasses !== info.numClasses) {
      throw err('LEARNER_MODEL_MISMATCH', `this state was learned with ${state.model} (${state.architecture}, embedding size ${state.embeddingSize}); this classifier runs ${info.model} (${info.architecture}, embedding size ${info.embeddingSize}): load that model, or teach this one again`);
    }
    if (state.model !== info.model) {
      // Same architecture, other weights: the embeddings mean different things.
      throw err('LEARNER_MODEL_MISMATCH', `this state was learned with ${state.model}; this classifier runs ${info.model}: load that model, or teach this one again`);
    }
    if (!Array.isArray(state.classes)) throw stateError('classes is not a list');
    const classes = [];
    for (const c of state.classes) {
      let label;
      try {
        label = checkLabel(c && c.label);
      } catch (e) {
        throw stateError(e.message);
      }
      if (classes.some((k) => k.label === label)) throw stateError(`label '${label}' appears twice`);
      if (!Array.isArray(c.examples) || !c.examples.length) throw stateError(`class '${label}' has no examples`);
      classes.push({ label, examples: c.examples.map((x) => decodeExample(x, info.embeddingSize, info.numClasses)) });
    }
    if (options.method === undefined && state.method !== undefined) {
      if (!METHODS.includes(state.method)) throw stateError(`unknown method '${state.method}'`);
      this.method = state.method;
    }
    if (options.threshold === undefined && state.threshold !== undefined) this.threshold = checkThreshold(state.threshold);
    this._classes = classes;
  }

  dispose() {
    this._disposed = true;
  }
}

// ---------------------------------------------------------------------------------------------
// IndexedDB: learner states by name

const DB = 'mobilenetv3-wasm';
const STORE = 'learners';

function openDb() {
  if (typeof indexedDB === 'undefined') return Promise.reject(err('STORAGE', 'this browser has no IndexedDB'));
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(err('STORAGE', `IndexedDB could not be opened: ${req.error && req.error.message}`));
  });
}

async function withStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(err('STORAGE', `IndexedDB: ${tx.error && tx.error.message}`));
    });
  } finally {
    db.close();
  }
}

function checkName(name) {
  if (typeof name !== 'string' || !name) throw err('INVALID_INPUT', 'a saved learner needs a non-empty name');
  return name;
}

/** Learner states kept in this origin's IndexedDB, by name. */
export const learnerStore = Object.freeze({
  async save(name, learnerOrState) {
    checkName(name);
    const state = typeof learnerOrState.toJSON === 'function' ? learnerOrState.toJSON() : learnerOrState;
    await withStore('readwrite', (s) => s.put(state, name));
  },
  async load(name) {
    checkName(name);
    const v = await withStore('readonly', (s) => s.get(name));
    return v === undefined ? null : v;
  },
  async list() {
    return (await withStore('readonly', (s) => s.getAllKeys())).map(String);
  },
  async delete(name) {
    checkName(name);
    const had = (await withStore('readonly', (s) => s.count(name))) > 0;
    if (had) await withStore('readwrite', (s) => s.delete(name));
    return had;
  },
});

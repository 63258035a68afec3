// The demo's one model object: which models exist, which one is loaded, its download progress and
// state. Panels (model bar, cards, camera, teach) subscribe to its events instead of calling each
// other:
//   'switch'   a new model starts loading: detail { entry } (the previous classifier is disposed)
//   'progress' detail { fraction (0..1, or null: indeterminate), text }
//   'state'    detail { state: 'loading' | 'ready' | 'error', clf, error, entry, seconds, cached }
import { createClassifier, MODELS, DEFAULT_MODEL } from 'mobilenetv3-wasm';
import { mb } from './ui.js';

class Model extends EventTarget {
  list = []; // [{ id, name, group, bytes, meta, options, local, url }]
  local = null; // directory of --weights, or null
  current = null; // entry being loaded / loaded
  clf = null; // Classifier when ready
  gen = 0; // bumped on every switch; results of an older generation are dropped
  state = 'idle'; // idle | loading | ready | error
  error = null;
  #abort = null;

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #setState(state, extra = {}) {
    this.state = state;
    document.documentElement.dataset.model = state;
    this.#emit('state', { state, clf: this.clf, error: this.error, entry: this.current, ...extra });
  }

  /** Fills `list`: the --weights directory of the dev server when there is one, else the published models. */
  async loadList() {
    let local = null;
    try {
      const res = await fetch('local-models.json', { cache: 'no-store' });
      if (res.ok) local = await res.json();
    } catch { /* no local weights server (static hosting): use the published models */ }
    if (local && Array.isArray(local.models) && local.models.length) {
      this.local = local.dir || 'local directory';
      this.list = local.models.map((m) => ({
        id: `local:${m.name}`,
        name: m.name,
        group: `Local files (${local.dir})`,
        bytes: m.bytes,
        meta: `${mb(m.bytes)} · local file${m.inputSize ? ` · ${m.inputSize}px` : ''}`,
        options: { weights: m.weightsUrl, config: m.configUrl, model: m.name },
        local: true,
      }));
    } else {
      this.list = Object.values(MODELS).map((m) => ({
        id: m.name,
        name: m.name,
        group: m.architecture.includes('small') ? 'Small (fastest)' : 'Large',
        bytes: m.bytes,
        meta: `${mb(m.bytes)} · ${m.top1.toFixed(1)}% top-1 · ${m.inputSize}px · ${m.license}`,
        options: { model: m.name },
        url: m.weightsUrl,
        local: false,
      }));
    }
    return this.list;
  }

  isDefault(entry) {
    return entry.name === DEFAULT_MODEL && !entry.local;
  }

  /** Switches to `entry` (disposing the current classifier); resolves when it is ready or failed. */
  async load(entry) {
    const gen = ++this.gen;
    if (this.#abort) this.#abort.abort();
    const abort = new AbortController();
    this.#abort = abort;
    if (this.clf) this.clf.dispose();
    this.clf = null;
    this.current = entry;
    this.error = null;
    this.#emit('switch', { entry });
    this.#setState('loading');
    this.#emit('progress', { fraction: 0, text: `Preparing ${entry.name}…` });

    const t0 = performance.now();
    let downloaded = false;
    let cached = false;
    let lastPaint = 0;
    const onProgress = (e) => {
      if (gen !== this.gen) return;
      if (e.phase === 'download') {
        cached = !!e.cached;
        const total = e.total || entry.bytes;
        const now = performance.now();
        if (e.loaded >= total) downloaded = true;
        if (now - lastPaint < 80 && !downloaded) return; // repaint ~12x/s at most
        lastPaint = now;
        const f = total ? Math.min(1, e.loaded / total) : null;
        this.#emit('progress', {
          fraction: f == null ? null : f * 0.9,
          text: cached ? `Loading ${entry.name} from the browser cache…` : `Downloading ${entry.name}: ${mb(e.loaded)} of ${mb(total)}`,
        });
      } else if (e.phase === 'init' && e.loaded === 0) {
        // (The WebAssembly compiles while the weights download: no step of its own to show.)
        this.#emit('progress', { fraction: 0.95, text: 'Setting up the network…' });
      }
    };
    try {
      const clf = await createClassifier({ ...entry.options, onProgress, signal: abort.signal });
      if (gen !== this.gen) return clf.dispose();
      this.clf = clf;
      this.#setState('ready', { seconds: (performance.now() - t0) / 1000, cached });
    } catch (e) {
      if (gen !== this.gen || (e && e.code === 'ABORTED')) return;
      this.error = e;
      this.#setState('error');
    }
  }

  /** Marks a failure outside load() (the page failed to start). */
  fail(e) {
    this.error = e;
    this.#setState('error');
  }
}

export const model = new Model();

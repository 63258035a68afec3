// mobilenetv3-wasm demo page: model picker, live camera labels, image cards.
// Uses only the public API of the npm package (imported by its name; www/serve.mjs points Vite at js/).
import { createClassifier, clearCache, MODELS, DEFAULT_MODEL } from 'mobilenetv3-wasm';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const c of children) if (c != null) e.append(c);
  return e;
};

const EXAMPLES = [
  { file: 'chelsea.jpg', title: 'Cat', credit: 'Stefan van der Walt, CC0' },
  { file: 'coffee.jpg', title: 'Coffee', credit: 'Rachel Michetti, CC0' },
  { file: 'grace_hopper.jpg', title: 'Portrait', credit: 'Grace Hopper, U.S. Navy, public domain' },
  { file: 'rocket.jpg', title: 'Rocket', credit: 'SpaceX, public domain' },
];
const MAX_CARDS = 60;
const STORE = 'mobilenetv3-demo:';

// ---------------------------------------------------------------------------------------------
// Formatting

/** "tabby, tabby cat" -> { head: 'tabby', rest: 'tabby cat' } (the first lemma is what people read). */
function splitLabel(label) {
  const parts = String(label).split(/,\s*/);
  return { head: parts[0], rest: parts.slice(1).join(', ') };
}
function labelNode(label) {
  const { head, rest } = splitLabel(label);
  const frag = document.createDocumentFragment();
  frag.append(el('b', { textContent: head }));
  if (rest) frag.append(el('span', { className: 'alt', textContent: rest }));
  return frag;
}
function pct(p) {
  const v = p * 100;
  if (v >= 99.95) return '100%';
  if (v >= 10) return `${v.toFixed(0)}%`;
  if (v >= 0.1) return `${v.toFixed(1)}%`;
  return '<0.1%';
}
function mb(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}
function ms(v) {
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}
const announce = (() => {
  let last = '';
  return (text) => {
    if (text === last) return;
    last = text;
    $('announcer').textContent = text;
  };
})();
const store = {
  get: (k) => { try { return localStorage.getItem(STORE + k); } catch { return null; } },
  set: (k, v) => { try { localStorage.setItem(STORE + k, v); } catch { /* private mode */ } },
};

/** Fills an .alert element: { title, body, hint (HTML allowed: trusted, ours), actions: [{label, onClick}] }. */
function showAlert(box, { title, body, hint, actions = [] }) {
  box.replaceChildren();
  const p = el('p', {}, el('strong', { textContent: title }));
  if (body) p.append(' ', body);
  box.append(p);
  if (hint) box.append(el('p', { className: 'hint', innerHTML: hint }));
  if (actions.length) {
    const row = el('p', { className: 'alert-actions' });
    for (const a of actions) row.append(el('button', { className: 'button small', type: 'button', textContent: a.label, onclick: a.onClick }));
    box.append(row);
  }
  box.hidden = false;
}
function hideAlert(box) {
  box.hidden = true;
  box.replaceChildren();
}

// ---------------------------------------------------------------------------------------------
// Model: picker, download progress, status line

const model = {
  list: [], // [{ id, name, label, bytes, meta, options }]
  local: null, // directory of --weights, or null
  current: null, // entry being loaded / loaded
  clf: null, // Classifier when ready
  gen: 0, // bumped on every model switch; stale results are dropped
  abort: null,
  state: 'idle', // idle | loading | ready | error
  error: null,
};

async function loadModelList() {
  let local = null;
  try {
    const res = await fetch('local-models.json', { cache: 'no-store' });
    if (res.ok) local = await res.json();
  } catch { /* no local weights server (static hosting): use the published models */ }
  if (local && Array.isArray(local.models) && local.models.length) {
    model.local = local.dir || 'local directory';
    model.list = local.models.map((m) => ({
      id: `local:${m.name}`,
      name: m.name,
      group: `Local files (${local.dir})`,
      bytes: m.bytes,
      meta: `${mb(m.bytes)} · local file${m.inputSize ? ` · ${m.inputSize}px` : ''}`,
      options: { weights: m.weightsUrl, config: m.configUrl, model: m.name },
      local: true,
    }));
  } else {
    model.list = Object.values(MODELS).map((m) => ({
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
  const select = $('model-select');
  select.replaceChildren();
  const groups = new Map();
  for (const m of model.list) {
    if (!groups.has(m.group)) groups.set(m.group, el('optgroup', { label: m.group }));
    groups.get(m.group).append(el('option', { value: m.id, textContent: m.name === DEFAULT_MODEL && !m.local ? `${m.name} (default)` : m.name }));
  }
  select.append(...groups.values());
  // Local weights: the first file. Published: the user's last choice, else the default model.
  const remembered = model.local ? null : store.get('model');
  const initial = model.list.find((m) => m.id === remembered) || (model.local ? model.list[0] : model.list.find((m) => m.id === DEFAULT_MODEL)) || model.list[0];
  select.value = initial.id;
  select.disabled = false;
  select.addEventListener('change', () => {
    const entry = model.list.find((m) => m.id === select.value);
    if (!entry.local) store.set('model', entry.id);
    loadModel(entry);
  });
  return initial;
}

function setProgress(fraction, text) {
  const bar = $('model-progress');
  const indeterminate = fraction == null;
  bar.classList.toggle('indeterminate', indeterminate);
  if (indeterminate) bar.removeAttribute('aria-valuenow');
  else bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
  bar.querySelector('.progress-fill').style.width = indeterminate ? '' : `${(fraction * 100).toFixed(1)}%`;
  if (text !== undefined) $('model-state').textContent = text;
}

function setModelState(state) {
  model.state = state;
  document.documentElement.dataset.model = state;
}

function setStatus(info) {
  const isolated = info ? info.crossOriginIsolated : globalThis.crossOriginIsolated === true;
  const none = model.state === 'error' ? '–' : '…';
  $('st-build').textContent = info ? info.build : none;
  $('st-threads').textContent = info ? String(info.threads) : none;
  $('st-simd').textContent = info ? info.simd : none;
  const coi = $('st-coi');
  coi.textContent = isolated ? 'yes' : 'no';
  coi.className = isolated ? 'yes' : '';
  $('status').title = info ? info.buildReason : '';
}

function describeModelError(e, entry) {
  const code = e && e.code;
  const detail = e && e.message ? e.message : String(e);
  if (code === 'WEIGHTS_FETCH') {
    if (entry.local) {
      return {
        title: 'Could not load the local weights.',
        body: detail,
        hint: 'The demo server serves them: is <code>./build.sh serve --weights DIR</code> still running? Restart it if files in DIR changed.',
      };
    }
    const host = (() => { try { return new URL(entry.url).host; } catch { return 'the model host'; } })();
    return {
      title: `Could not download ${entry.name} from ${host}.`,
      body: 'This computer seems offline, or a firewall / proxy blocks it.',
      hint: `What to do: on a machine with internet run <code>./build.sh weights</code> (it saves the models into <code>weights/</code>), then start the demo with <code>./build.sh serve --weights weights</code>; it then works offline. Any folder with <code>NAME.safetensors</code> + <code>NAME.config.json</code> works too.<br><span class="detail">${escapeHtml(detail)}</span>`,
    };
  }
  if (code === 'WEIGHTS_INTEGRITY' || code === 'WEIGHTS_TOO_LARGE') {
    return {
      title: `The download of ${entry.name} is not the published file.`,
      body: detail,
      hint: 'Something between this computer and the model host (a proxy, captive portal or filter) answered instead of it. Try again on another network, or self-host the weights: <code>./build.sh weights</code> then <code>./build.sh serve --weights weights</code>.',
    };
  }
  if (code === 'WEIGHTS_FORMAT' || code === 'CONFIG' || code === 'UNSUPPORTED_ARCH') {
    return {
      title: `${entry.name} cannot be loaded.`,
      body: detail,
      hint: 'The weights must be a timm MobileNetV3 <code>model.safetensors</code> with its own <code>config.json</code> (same model).',
    };
  }
  if (code === 'UNSUPPORTED_BROWSER') {
    return { title: 'This browser cannot run the model.', body: detail, hint: 'Use a recent Chrome, Edge, Firefox or Safari (WebAssembly SIMD is needed).' };
  }
  return { title: `Loading ${entry.name} failed.`, body: detail };
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function loadModel(entry) {
  const gen = ++model.gen;
  if (model.abort) model.abort.abort();
  const abort = new AbortController();
  model.abort = abort;
  camera.detach();
  if (model.clf) model.clf.dispose();
  model.clf = null;
  model.current = entry;
  model.error = null;
  hideAlert($('model-error'));
  setModelState('loading');
  $('model-meta').textContent = entry.meta;
  setStatus(null);
  setProgress(0, `Preparing ${entry.name}…`);
  camera.showModelWait();
  for (const card of cards.values()) if (card.state !== 'error') setCardState(card, 'waiting');

  const t0 = performance.now();
  let downloaded = false;
  let cached = false;
  let lastPaint = 0;
  const onProgress = (e) => {
    if (gen !== model.gen) return;
    if (e.phase === 'download') {
      cached = !!e.cached;
      const total = e.total || entry.bytes;
      const now = performance.now();
      if (e.loaded >= total) downloaded = true;
      if (now - lastPaint < 80 && !downloaded) return; // repaint ~12x/s at most
      lastPaint = now;
      const f = total ? Math.min(1, e.loaded / total) : null;
      setProgress(f == null ? null : f * 0.9, cached ? `Loading ${entry.name} from the browser cache…` : `Downloading ${entry.name}: ${mb(e.loaded)} of ${mb(total)}`);
    } else if (e.phase === 'init' && e.loaded === 0) {
      // (The WebAssembly compiles while the weights download: no step of its own to show.)
      setProgress(0.95, `Setting up the network…`);
    }
  };
  try {
    const clf = await createClassifier({ ...entry.options, onProgress, signal: abort.signal });
    if (gen !== model.gen) return clf.dispose();
    model.clf = clf;
    setModelState('ready');
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    setProgress(1, `Ready: ${entry.name} · ${(clf.info.paramBytes / 4e6).toFixed(1)} M parameters · loaded in ${secs} s${cached ? ' from the cache' : ''}`);
    setStatus(clf.info);
    camera.attach();
    for (const card of cards.values()) if (card.state !== 'error' || card.retry) runCard(card);
  } catch (e) {
    if (gen !== model.gen || (e && e.code === 'ABORTED')) return;
    model.error = e;
    setModelState('error');
    setProgress(1, `${entry.name} is not loaded`);
    setStatus(null);
    const d = describeModelError(e, entry);
    showAlert($('model-error'), { ...d, actions: [{ label: 'Try again', onClick: () => loadModel(entry) }] });
    camera.showModelWait();
    for (const card of cards.values()) if (card.state === 'waiting' || card.state === 'pending') setCardState(card, 'waiting');
  }
}

// ---------------------------------------------------------------------------------------------
// Images: cards with top-5

const cards = new Map(); // id -> card
let nextCardId = 1;
let pastedCount = 0;

function updateResultsChrome() {
  const n = cards.size;
  $('results-empty').hidden = n > 0;
  $('clear-results').hidden = n === 0;
}

function makeCard(blob, name) {
  const id = nextCardId++;
  const url = URL.createObjectURL(blob);
  const img = el('img', { alt: '', decoding: 'async' });
  const thumb = el('figure', { className: 'thumb' }, img);
  const nameEl = el('span', { className: 'card-name', textContent: name, title: name });
  const timeEl = el('span', { className: 'card-time' });
  const preds = el('ol', { className: 'preds' });
  for (let i = 0; i < 5; i++) {
    preds.append(el('li', { className: 'pred' },
      el('span', { className: 'lbl', textContent: '\u00a0' }),
      el('span', { className: 'pct' }),
      el('span', { className: 'bar' }, el('i'))));
  }
  const note = el('p', { className: 'card-note card-error', hidden: true });
  const body = el('div', { className: 'card-body' }, el('div', { className: 'card-title' }, nameEl, timeEl), preds, note);
  const remove = el('button', { className: 'remove', type: 'button', title: 'Remove', textContent: '×' });
  remove.setAttribute('aria-label', `Remove ${name}`);
  const li = el('li', { className: 'result-card card' }, thumb, body, remove);
  li.setAttribute('aria-label', name);
  const card = { id, blob, name, url, li, img, thumb, preds, note, timeEl, state: 'pending', gen: -1, result: null };
  img.addEventListener('error', () => {
    img.remove();
    thumb.append(el('span', { className: 'no-image', textContent: 'no preview' }));
    notAnImage(card);
  }, { once: true });
  img.src = url;
  remove.addEventListener('click', () => removeCard(card, true));
  cards.set(id, card);
  return card;
}

function removeCard(card, focusNext) {
  const next = card.li.nextElementSibling || card.li.previousElementSibling;
  card.li.remove();
  URL.revokeObjectURL(card.url);
  cards.delete(card.id);
  card.state = 'removed';
  updateResultsChrome();
  if (focusNext) (next ? next.querySelector('.remove') : $('pick')).focus();
}

function setCardState(card, state) {
  card.state = state;
  card.li.dataset.state = state;
  card.li.setAttribute('aria-busy', String(state === 'pending' || state === 'waiting'));
  // Short status in the title row (the card keeps its height); the note is only for errors.
  if (state !== 'error') {
    card.note.hidden = true;
    card.note.replaceChildren();
  }
  if (state === 'pending') card.timeEl.textContent = 'classifying…';
  else if (state !== 'done') card.timeEl.textContent = '';
  if (state === 'waiting') { // said in words, not skeleton bars that could pulse forever
    card.note.textContent = model.state === 'error'
      ? 'Not classified: no model is loaded (see the message at the top). It will be as soon as one loads.'
      : 'Waiting for the model to finish loading; it will be classified then.';
    card.note.hidden = false;
  }
  card.timeEl.title = '';
}

function renderPreds(card, top) {
  const rows = card.preds.children;
  for (let i = 0; i < rows.length; i++) {
    const [lbl, p, bar] = rows[i].children;
    const t = top[i];
    if (t) {
      lbl.replaceChildren(labelNode(t.label));
      lbl.title = t.label;
      p.textContent = pct(t.probability);
      bar.firstChild.style.setProperty('--p', String(t.probability));
    } else {
      lbl.textContent = '\u00a0';
      p.textContent = '';
      bar.firstChild.style.setProperty('--p', '0');
    }
  }
}

function notAnImage(card, e) {
  if (card.state === 'removed') return;
  const type = card.blob.type ? ` (${card.blob.type})` : '';
  setCardState(card, 'error');
  card.li.dataset.error = 'not-an-image';
  card.note.replaceChildren(
    el('strong', { textContent: 'Not an image.' }),
    `${card.name}${type} could not be decoded. Use a JPEG, PNG, WebP, GIF or AVIF file.`,
  );
  card.note.hidden = false;
  if (e && e.message) card.note.title = e.message;
  announce(`${card.name} is not an image`);
}

async function runCard(card) {
  if (card.state === 'removed' || card.li.dataset.error === 'not-an-image') return;
  const clf = model.clf;
  if (!clf) return setCardState(card, 'waiting');
  const gen = model.gen;
  setCardState(card, 'pending');
  card.retry = false;
  try {
    const r = await clf.classify(card.blob, { topk: 5 });
    if (gen !== model.gen || card.state === 'removed' || card.li.dataset.error) return;
    card.result = r;
    card.gen = gen;
    renderPreds(card, r.top);
    setCardState(card, 'done');
    card.li.removeAttribute('data-error');
    card.li.dataset.top = r.top[0].label;
    card.timeEl.textContent = ms(r.timings.inferenceMs);
    card.timeEl.title = `inference ${ms(r.timings.inferenceMs)}, preprocessing ${ms(r.timings.preprocessMs)}, total ${ms(r.timings.totalMs)} · ${r.width}×${r.height} px`;
    announce(`${card.name}: ${splitLabel(r.top[0].label).head}, ${pct(r.top[0].probability)}`);
  } catch (e) {
    if (gen !== model.gen || card.state === 'removed' || e.code === 'DISPOSED' || e.code === 'ABORTED') return;
    if (e.code === 'IMAGE_DECODE') return notAnImage(card, e);
    card.retry = true;
    setCardState(card, 'error');
    card.note.replaceChildren(el('strong', { textContent: 'Classification failed.' }), e.message);
    card.note.hidden = false;
  }
}

function addImages(items) {
  hideAlert($('images-error'));
  const list = $('cards');
  let first = null;
  for (const { blob, name } of items) {
    const card = makeCard(blob, name);
    list.prepend(card.li);
    first = first || card;
    runCard(card);
  }
  while (cards.size > MAX_CARDS) removeCard(cards.values().next().value, false);
  updateResultsChrome();
  if (first) {
    // Small screens: bring the new result into view (not when it is already visible).
    const r = first.li.getBoundingClientRect();
    if (r.top > window.innerHeight - 60 || r.bottom < 0) first.li.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'nearest' });
  }
}

function filesToItems(files) {
  return [...files].map((f) => ({ blob: f, name: f.name || `Pasted image ${++pastedCount}` }));
}

function setupImages() {
  const input = $('file-input');
  $('pick').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    if (input.files.length) addImages(filesToItems(input.files));
    input.value = '';
  });
  $('clear-results').addEventListener('click', () => {
    for (const card of [...cards.values()]) removeCard(card, false);
    $('pick').focus();
  });

  // Examples shipped with the page.
  const ul = $('examples');
  for (const ex of EXAMPLES) {
    const b = el('button', { className: 'example', type: 'button', title: `${ex.title} (${ex.credit})` },
      el('img', { src: `examples/${ex.file}`, alt: '', loading: 'lazy', width: 120, height: 120 }),
      el('span', { textContent: ex.title }));
    b.setAttribute('aria-label', `Classify example: ${ex.title}`);
    b.addEventListener('click', async () => {
      try {
        const res = await fetch(`examples/${ex.file}`);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        addImages([{ blob: await res.blob(), name: ex.file }]);
      } catch (e) {
        showAlert($('images-error'), { title: 'Could not load the example.', body: e.message });
      }
    });
    ul.append(el('li', {}, b));
  }

  // Drag and drop anywhere on the page.
  const overlay = $('drop-overlay');
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  window.addEventListener('dragover', (e) => {
    e.preventDefault(); // also keeps the browser from opening a dropped file and losing the page
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
    if (files.length) return addImages(filesToItems(files));
    const uri = e.dataTransfer && (e.dataTransfer.getData('text/uri-list') || e.dataTransfer.getData('text/plain'));
    showAlert($('images-error'), {
      title: 'Nothing to classify in that drop.',
      body: uri ? 'Images dragged from other websites arrive as links, which this page cannot read. Save the image first, then drop the file.' : 'Drop image files (JPEG, PNG, WebP, GIF, AVIF).',
    });
  });

  // Paste from the clipboard (screenshots, copied images).
  if (/Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)) $('paste-key').textContent = '⌘';
  document.addEventListener('paste', (e) => {
    const files = e.clipboardData ? [...e.clipboardData.files] : [];
    if (files.length) {
      e.preventDefault();
      addImages(filesToItems(files));
    } else if (!(e.target instanceof HTMLInputElement)) {
      showAlert($('images-error'), { title: 'The clipboard holds no image.', body: 'Copy an image (or take a screenshot to the clipboard), then paste again.' });
    }
  });
  updateResultsChrome();
}

// ---------------------------------------------------------------------------------------------
// Camera: live top-3 over the video

const camera = {
  stream: null,
  stopWatch: null,
  state: 'off', // off | starting | on
  deviceId: null,
  times: [], // callback timestamps for the FPS figure
  frames: 0,
  lastStats: 0,
  lastAnnounce: 0,
  fps: 0,
  inferenceMs: 0,

  ui() {
    return { stage: $('stage'), video: $('video'), button: $('cam-toggle'), msg: $('stage-message'), stats: $('cam-stats'), rows: $('live-labels').children };
  },

  setState(state) {
    this.state = state;
    const { stage, button } = this.ui();
    stage.dataset.camera = state;
    const label = button.querySelector('span');
    label.textContent = state === 'off' ? 'Start camera' : state === 'starting' ? 'Starting…' : 'Stop camera';
    button.setAttribute('aria-pressed', String(state === 'on'));
    button.disabled = state === 'starting';
  },

  clearLabels() {
    for (const row of this.ui().rows) {
      row.querySelector('.lbl').textContent = '';
      row.querySelector('.pct').textContent = '';
      row.querySelector('.live-fill').style.transform = 'scaleX(0)';
    }
    this.ui().stats.textContent = '– ms · – fps';
  },

  /** The overlay while there is no model (loading / failed). */
  showModelWait() {
    if (this.state !== 'on') return;
    const [first, ...rest] = this.ui().rows;
    first.querySelector('.lbl').textContent = model.state === 'error' ? 'No model loaded (see above)' : 'Loading the model…';
    first.querySelector('.pct').textContent = '';
    first.querySelector('.live-fill').style.transform = 'scaleX(0)';
    for (const r of rest) {
      r.querySelector('.lbl').textContent = '';
      r.querySelector('.pct').textContent = '';
      r.querySelector('.live-fill').style.transform = 'scaleX(0)';
    }
  },

  async start(deviceId = this.deviceId) {
    const box = $('camera-error');
    hideAlert(box);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return this.fail({ title: 'No camera access here.', body: window.isSecureContext ? 'This browser has no camera API.' : 'Browsers only allow the camera on https:// pages or http://localhost.' });
    }
    this.setState('starting');
    const { video, msg } = this.ui();
    msg.textContent = 'Waiting for the camera…';
    let stream;
    try {
      const size = { width: { ideal: 640 }, height: { ideal: 480 } };
      stream = await navigator.mediaDevices.getUserMedia({
        video: deviceId ? { deviceId: { exact: deviceId }, ...size } : { facingMode: 'user', ...size },
        audio: false,
      });
    } catch (e) {
      return this.fail(describeCameraError(e));
    }
    if (this.state !== 'starting') { // stopped meanwhile
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.stream = stream;
    const [track] = stream.getVideoTracks();
    this.deviceId = (track.getSettings && track.getSettings().deviceId) || deviceId || null;
    track.addEventListener('ended', () => {
      if (this.stream !== stream) return;
      this.stop();
      this.fail({ title: 'The camera stopped.', body: 'It was unplugged, or another app or tab took it. Press Start camera to try again.' });
    });
    video.srcObject = stream;
    try {
      await video.play();
    } catch (e) {
      if (this.stream !== stream) return;
      this.stop();
      return this.fail({ title: 'The camera video would not play.', body: e.message });
    }
    this.setState('on');
    this.attach();
    if (!model.clf) this.showModelWait();
    this.refreshDevices();
  },

  stop() {
    this.detach();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    const { video, msg } = this.ui();
    video.srcObject = null;
    msg.textContent = 'Camera off. Press Start camera to label things live.';
    this.setState('off');
    this.clearLabels();
    announce('Camera stopped');
  },

  fail(d) {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.setState('off');
    this.ui().msg.textContent = d.title;
    showAlert($('camera-error'), { ...d, actions: [{ label: 'Try again', onClick: () => this.start() }] });
  },

  /** Starts watch() on the current classifier (when both the camera and a model are there). */
  attach() {
    this.detach();
    if (this.state !== 'on' || !model.clf) return;
    const { video } = this.ui();
    this.times = [];
    this.stopWatch = model.clf.watch(video, (r) => this.onResult(r), {
      topk: 3,
      onError: (e) => { if (e.code !== 'IMAGE_DECODE') this.ui().stats.textContent = `error: ${e.code}`; },
    });
  },

  detach() {
    if (this.stopWatch) this.stopWatch();
    this.stopWatch = null;
  },

  onResult(r) {
    const now = performance.now();
    this.frames++;
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > 2000) this.times.shift();
    const n = this.times.length;
    this.fps = n > 1 ? ((n - 1) * 1000) / (now - this.times[0]) : 0;
    this.inferenceMs = r.timings.inferenceMs;
    const rows = this.ui().rows;
    for (let i = 0; i < rows.length; i++) {
      const t = r.top[i];
      const lbl = rows[i].querySelector('.lbl');
      if (lbl.dataset.label !== t.label) {
        lbl.dataset.label = t.label;
        lbl.replaceChildren(labelNode(t.label));
      }
      rows[i].querySelector('.pct').textContent = pct(t.probability);
      rows[i].querySelector('.live-fill').style.transform = `scaleX(${t.probability.toFixed(3)})`;
    }
    if (now - this.lastStats > 250 && !document.hidden) { // a readable figure: 4 updates a second
      this.lastStats = now;
      this.ui().stats.textContent = `${ms(this.inferenceMs)} · ${n > 2 ? this.fps.toFixed(1) : '–'} fps`;
    }
    if (now - this.lastAnnounce > 3000) { // screen readers: the top label now and then, not every frame
      this.lastAnnounce = now;
      announce(`Camera: ${splitLabel(r.top[0].label).head}`);
    }
  },

  async refreshDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    let devices = [];
    try {
      devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    } catch { /* leave the picker hidden */ }
    const select = $('cam-select');
    select.replaceChildren(...devices.map((d, i) => el('option', { value: d.deviceId, textContent: d.label || `Camera ${i + 1}` })));
    if (this.deviceId) select.value = this.deviceId;
    $('cam-select-wrap').hidden = devices.length < 2;
  },

  setup() {
    const { button, stage } = this.ui();
    button.addEventListener('click', () => (this.state === 'off' ? this.start() : this.stop()));
    $('cam-select').addEventListener('change', (e) => {
      this.deviceId = e.target.value;
      if (this.state !== 'off') {
        this.stop();
        this.start(this.deviceId);
      }
    });
    const mirror = $('mirror');
    mirror.checked = store.get('mirror') !== '0';
    const applyMirror = () => {
      stage.classList.toggle('mirrored', mirror.checked);
      store.set('mirror', mirror.checked ? '1' : '0');
    };
    mirror.addEventListener('change', applyMirror);
    applyMirror();
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => { if (this.state === 'on') this.refreshDevices(); });
    }
    // watch() pauses by itself while the tab is hidden; restart the FPS window when back.
    document.addEventListener('visibilitychange', () => {
      this.times = [];
      if (document.hidden && this.state === 'on') this.ui().stats.textContent = 'paused';
    });
    this.setState('off');
  },
};

function describeCameraError(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return {
      title: 'Camera access was denied.',
      body: 'Allow the camera for this site (the camera icon in the address bar, or the site settings), then press Try again. Images still work meanwhile.',
    };
  }
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return { title: 'No camera found.', body: 'Connect a camera and press Try again, or classify images below.' };
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return { title: 'The camera is busy.', body: 'Another app or tab is using it. Close that, then press Try again.' };
  }
  return { title: 'The camera could not be started.', body: e && e.message ? e.message : String(e) };
}

// ---------------------------------------------------------------------------------------------

function setupFooter() {
  $('clear-cache').addEventListener('click', async () => {
    const removed = await clearCache();
    $('cache-note').textContent = removed ? 'Done: the models will be downloaded again next time.' : 'Nothing was cached.';
  });
}

// State for tests and the curious (read-only figures; not an API).
window.__demo = {
  get model() {
    return { state: model.state, name: model.current && model.current.name, info: model.clf ? model.clf.info : null, error: model.error && { code: model.error.code, message: model.error.message } };
  },
  get camera() {
    return { state: camera.state, frames: camera.frames, fps: camera.fps, inferenceMs: camera.inferenceMs };
  },
};

async function main() {
  setStatus(null);
  camera.setup();
  setupImages();
  setupFooter();
  const initial = await loadModelList();
  loadModel(initial);
}

main().catch((e) => {
  showAlert($('model-error'), { title: 'The page failed to start.', body: e && e.message ? e.message : String(e) });
  setModelState('error');
});

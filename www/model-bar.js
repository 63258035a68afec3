// The model bar: picker, download progress, engine status line and load errors. Drives and
// follows the model object.
import { capabilities } from 'mobilenetv3-wasm';
import { model } from './model.js';
import { $, el, escapeHtml, store, showAlert, hideAlert } from './ui.js';

function setProgress(fraction, text) {
  const bar = $('model-progress');
  const indeterminate = fraction == null;
  bar.classList.toggle('indeterminate', indeterminate);
  if (indeterminate) bar.removeAttribute('aria-valuenow');
  else bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
  bar.querySelector('.progress-fill').style.width = indeterminate ? '' : `${(fraction * 100).toFixed(1)}%`;
  if (text !== undefined) $('model-state').textContent = text;
}

export function setStatus(info) {
  const isolated = info ? info.crossOriginIsolated : globalThis.crossOriginIsolated === true;
  const none = model.state === 'error' ? '–' : '…';
  $('st-build').textContent = info ? info.build : none;
  $('st-threads').textContent = info ? String(info.threads) : none;
  $('st-simd').textContent = info ? info.simd : none;
  const coi = $('st-coi');
  coi.textContent = isolated ? 'yes' : 'no';
  coi.className = isolated ? 'yes' : '';
  $('status').title = info ? info.buildReason : '';
  $('st-caps').textContent = capabilityText(info ? info.capabilities : capabilities());
}

/** The browser features the engine can use, as the status line shows them. */
function capabilityText(caps) {
  const names = [['simd128', 'SIMD128'], ['relaxedSimd', 'relaxed SIMD'], ['sharedArrayBuffer', 'SharedArrayBuffer'],
    ['offscreenCanvas', 'OffscreenCanvas'], ['videoFrame', 'VideoFrame'], ['requestVideoFrameCallback', 'rVFC']];
  return names.filter(([k]) => caps[k]).map(([, name]) => name).join(' · ') || 'none';
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

/** Subscribes the bar to the model; fills the picker from model.list; returns the initial entry. */
export function setupModelBar() {
  model.addEventListener('switch', ({ detail: { entry } }) => {
    hideAlert($('model-error'));
    $('model-meta').textContent = entry.meta;
  });
  model.addEventListener('progress', ({ detail: { fraction, text } }) => setProgress(fraction, text));
  model.addEventListener('state', ({ detail: { state, clf, error, entry, seconds, cached } }) => {
    if (state === 'loading') {
      setStatus(null);
    } else if (state === 'ready') {
      setProgress(1, `Ready: ${entry.name} · ${(clf.info.paramBytes / 4e6).toFixed(1)} M parameters · loaded in ${seconds.toFixed(1)} s${cached ? ' from the cache' : ''}`);
      setStatus(clf.info);
    } else if (state === 'error' && entry) {
      setProgress(1, `${entry.name} is not loaded`);
      setStatus(null);
      showAlert($('model-error'), { ...describeModelError(error, entry), actions: [{ label: 'Try again', onClick: () => model.load(entry) }] });
    }
  });

  const select = $('model-select');
  select.replaceChildren();
  const groups = new Map();
  for (const m of model.list) {
    if (!groups.has(m.group)) groups.set(m.group, el('optgroup', { label: m.group }));
    groups.get(m.group).append(el('option', { value: m.id, textContent: model.isDefault(m) ? `${m.name} (default)` : m.name }));
  }
  select.append(...groups.values());
  // Local weights: the first file. Published: the user's last choice, else the default model.
  const remembered = model.local ? null : store.get('model');
  const initial = model.list.find((m) => m.id === remembered) || (model.local ? model.list[0] : model.list.find((m) => model.isDefault(m))) || model.list[0];
  select.value = initial.id;
  select.disabled = false;
  select.addEventListener('change', () => {
    const entry = model.list.find((m) => m.id === select.value);
    if (!entry.local) store.set('model', entry.id);
    model.load(entry);
  });
  return initial;
}

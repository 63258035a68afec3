// Teach: custom classes with the package's learner. One learner per model (a learner's examples
// are that model's features), kept in IndexedDB under "demo:<model>" and restored on reload.
// Examples come from the camera (hold a class's button: a few frames a second) or from photos
// dropped on / chosen for a class. With two classes or more, the camera shows the learner's labels.
import { learnerStore } from 'mobilenetv3-wasm';
import { model } from './model.js';
import { camera } from './camera.js';
import { claimedDrops } from './cards.js';
import { $, el, announce, store, showAlert, hideAlert } from './ui.js';

const HOLD_INTERVAL_MS = 250; // ~4 examples a second while a hold button is down
const SAVE_DELAY_MS = 400;

const teach = {
  learner: null,
  key: null, // IndexedDB name of the current learner
  gen: 0,
  saveTimer: 0,
  holding: null, // { label, timer, busy, button }
};

const storageName = (entry) => `demo:${entry.name}`;

function status(text) {
  $('teach-status').textContent = text;
}

function fail(title, e) {
  showAlert($('teach-error'), { title, body: e ? e.message || String(e) : '' });
}

function scheduleSave() {
  clearTimeout(teach.saveTimer);
  const { learner, key } = teach;
  if (!learner) return;
  teach.saveTimer = setTimeout(async () => {
    try {
      if (learner.size) await learnerStore.save(key, learner);
      else await learnerStore.delete(key);
      if (learner === teach.learner) status(learner.size ? 'Saved in this browser.' : '');
    } catch (e) {
      if (learner === teach.learner) status(`Not saved: ${e.message}`);
    }
  }, SAVE_DELAY_MS);
}

/** Routes the camera to the learner when the switch is on and there is something to tell apart. */
function updateCamera() {
  const on = $('teach-live').checked && teach.learner && !teach.learner.disposed && teach.learner.labels.length >= 2;
  camera.useLearner(on ? teach.learner : null);
  document.documentElement.dataset.teachLive = on ? 'on' : 'off';
}

function changed() {
  render();
  updateCamera();
  scheduleSave();
}

function render() {
  const list = $('teach-classes');
  const learner = teach.learner;
  const labels = learner ? learner.labels : [];
  const counts = learner ? learner.counts : {};
  $('teach-empty').hidden = labels.length > 0;
  $('teach-empty').textContent = !learner ? 'Waiting for the model…' : 'No classes yet.';
  for (const id of ['teach-export', 'teach-clear']) $(id).disabled = !labels.length;
  $('teach-import').disabled = !learner;
  // Keep rows (and a held button) that still exist; rebuild the rest.
  const rows = new Map([...list.children].map((li) => [li.dataset.label, li]));
  for (const [label, li] of rows) if (!labels.includes(label) && !(teach.pending && teach.pending.has(label))) li.remove();
  const shown = [...labels, ...(teach.pending ? [...teach.pending].filter((l) => !labels.includes(l)) : [])];
  shown.forEach((label, i) => {
    let li = rows.get(label);
    if (!li || !li.isConnected) li = classRow(label);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    const n = counts[label] || 0;
    li.querySelector('.teach-count').textContent = n === 1 ? '1 example' : `${n} examples`;
  });
}

function classRow(label) {
  const hold = el('button', { className: 'button primary small teach-hold', type: 'button', textContent: 'Hold to add from camera' });
  hold.setAttribute('aria-pressed', 'false');
  const pick = el('button', { className: 'button small', type: 'button', textContent: 'Add photos…' });
  const rename = el('button', { className: 'button small ghost', type: 'button', textContent: 'Rename' });
  const del = el('button', { className: 'button small ghost', type: 'button', textContent: 'Delete' });
  const file = el('input', { type: 'file', accept: 'image/*', multiple: true, hidden: true });
  const li = el('li', { className: 'teach-class' },
    el('span', { className: 'teach-class-name', textContent: label }),
    el('span', { className: 'teach-count' }),
    el('div', { className: 'teach-actions' }, hold, pick, rename, del, file));
  li.dataset.label = label;
  li.setAttribute('aria-label', `Class ${label}`);
  hold.setAttribute('aria-label', `Hold to add camera pictures to ${label}`);
  del.setAttribute('aria-label', `Delete class ${label}`);
  rename.setAttribute('aria-label', `Rename class ${label}`);

  // Hold: pointer (mouse, touch, pen) or keyboard (Space / Enter held down).
  hold.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    try {
      hold.setPointerCapture(e.pointerId); // keep the hold while the finger slides off the button
    } catch { /* synthetic events have no active pointer */ }
    startHold(li.dataset.label, hold);
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) hold.addEventListener(type, stopHold);
  hold.addEventListener('keydown', (e) => {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
      e.preventDefault();
      startHold(li.dataset.label, hold);
    }
  });
  hold.addEventListener('keyup', (e) => { if (e.key === ' ' || e.key === 'Enter') stopHold(); });
  hold.addEventListener('blur', stopHold);
  hold.addEventListener('contextmenu', (e) => e.preventDefault()); // long press on phones

  pick.addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    addFiles(li.dataset.label, [...file.files]);
    file.value = '';
  });
  rename.addEventListener('click', () => {
    const from = li.dataset.label;
    const to = prompt(`New name for “${from}”`, from);
    if (to == null || to.trim() === from) return;
    try {
      if (teach.pending && teach.pending.has(from)) {
        teach.pending.delete(from);
        teach.pending.add(to.trim());
      } else {
        teach.learner.renameLabel(from, to);
      }
      li.dataset.label = to.trim();
      li.querySelector('.teach-class-name').textContent = to.trim();
      hideAlert($('teach-error'));
      changed();
    } catch (e) {
      fail('Could not rename the class.', e);
    }
  });
  del.addEventListener('click', () => {
    const name = li.dataset.label;
    if (teach.pending) teach.pending.delete(name);
    if (teach.learner.labels.includes(name) && !confirm(`Delete “${name}” and its ${teach.learner.counts[name]} examples?`)) return;
    teach.learner.removeLabel(name);
    li.remove();
    announce(`Deleted ${name}`);
    changed();
  });

  // Drop photos onto a class (the page-wide drop handler then leaves them alone).
  li.addEventListener('dragover', (e) => {
    e.preventDefault();
    li.classList.add('drop-target');
  });
  li.addEventListener('dragleave', () => li.classList.remove('drop-target'));
  li.addEventListener('drop', (e) => {
    li.classList.remove('drop-target');
    claimedDrops.add(e);
    const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
    if (files.length) addFiles(li.dataset.label, files);
  });
  return li;
}

async function addOne(label, source) {
  const learner = teach.learner;
  try {
    await learner.addExample(source, label);
    if (learner !== teach.learner) return false;
    if (teach.pending) teach.pending.delete(label);
    hideAlert($('teach-error'));
    changed();
    return true;
  } catch (e) {
    if (learner !== teach.learner || e.code === 'DISPOSED') return false;
    fail(e.code === 'IMAGE_DECODE' ? 'That file is not an image.' : 'Could not add the example.', e);
    return false;
  }
}

async function addFiles(label, files) {
  if (!teach.learner) return;
  let added = 0;
  for (const f of files) if (await addOne(label, f)) added++;
  if (added) announce(`${added} photo${added > 1 ? 's' : ''} added to ${label}`);
}

function startHold(label, button) {
  stopHold();
  if (!teach.learner) return;
  if (camera.state !== 'on') {
    showAlert($('teach-error'), {
      title: 'The camera is off.',
      body: 'Start it, then hold the button while you show the thing.',
      actions: [{ label: 'Start camera', onClick: () => { hideAlert($('teach-error')); camera.start(); } }],
    });
    return;
  }
  const h = { label, button, busy: false, timer: 0 };
  teach.holding = h;
  button.setAttribute('aria-pressed', 'true');
  const grab = async () => {
    if (h.busy || teach.holding !== h || camera.state !== 'on') return;
    h.busy = true;
    await addOne(label, camera.ui().video);
    h.busy = false;
  };
  grab();
  h.timer = setInterval(grab, HOLD_INTERVAL_MS);
}

function stopHold() {
  const h = teach.holding;
  if (!h) return;
  clearInterval(h.timer);
  h.button.setAttribute('aria-pressed', 'false');
  teach.holding = null;
  announce(`${h.label}: ${teach.learner ? teach.learner.counts[h.label] || 0 : 0} examples`);
}

/** A model became ready: this model's learner, restored from IndexedDB when there is one. */
async function attach(clf, entry) {
  const gen = ++teach.gen;
  const key = storageName(entry);
  let learner = null;
  let note = '';
  try {
    const state = await learnerStore.load(key);
    if (state) learner = await clf.createLearner({ from: state });
    if (learner) note = `Restored ${learner.labels.length} class${learner.labels.length === 1 ? '' : 'es'} saved in this browser.`;
  } catch (e) {
    note = `The saved classes could not be restored (${e.code || 'error'}); starting empty.`;
  }
  if (!learner) learner = await clf.createLearner();
  if (gen !== teach.gen) return;
  teach.learner = learner;
  teach.key = key;
  teach.pending = new Set();
  $('teach-classes').replaceChildren();
  render();
  updateCamera();
  status(note);
}

function detach() {
  stopHold();
  teach.gen++;
  teach.learner = null;
  teach.pending = null;
  camera.useLearner(null);
  $('teach-classes').replaceChildren();
  render();
}

function download(name, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function setupTeach() {
  model.addEventListener('switch', detach);
  model.addEventListener('state', ({ detail: { state, clf, entry } }) => {
    if (state === 'ready') attach(clf, entry);
  });

  const live = $('teach-live');
  live.checked = store.get('teach-live') !== '0';
  live.addEventListener('change', () => {
    store.set('teach-live', live.checked ? '1' : '0');
    updateCamera();
  });

  $('teach-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('teach-name');
    const name = input.value.trim();
    if (!teach.learner) return fail('The model is not ready yet.', { message: 'Wait until it has loaded, then add your class.' });
    if (!name) return;
    if (teach.learner.labels.includes(name) || teach.pending.has(name)) return fail(`There is a class “${name}” already.`);
    // A class exists in the learner once it has an example; until then it is listed as pending.
    teach.pending.add(name);
    input.value = '';
    hideAlert($('teach-error'));
    render();
    const row = [...$('teach-classes').children].find((li) => li.dataset.label === name);
    row?.querySelector('.teach-hold').focus();
    announce(`Class ${name} added: hold its button while the camera shows it, or drop photos on it`);
  });

  $('teach-export').addEventListener('click', () => {
    if (!teach.learner) return;
    const name = `${model.current ? model.current.name : 'learner'}-classes.json`;
    download(name, JSON.stringify(teach.learner.toJSON()));
    status(`Exported ${name}.`);
  });
  const importFile = $('teach-import-file');
  $('teach-import').addEventListener('click', () => importFile.click());
  importFile.addEventListener('change', async () => {
    const f = importFile.files[0];
    importFile.value = '';
    if (!f || !model.clf) return;
    try {
      const learner = await model.clf.createLearner({ from: await f.text() });
      if (teach.learner) teach.learner.dispose();
      teach.learner = learner;
      teach.pending = new Set();
      $('teach-classes').replaceChildren();
      hideAlert($('teach-error'));
      changed();
      status(`Imported ${learner.labels.length} classes from ${f.name}.`);
    } catch (e) {
      fail(`Could not import ${f.name}.`, e);
    }
  });
  $('teach-clear').addEventListener('click', () => {
    if (!teach.learner || !confirm('Delete all your classes for this model?')) return;
    teach.learner.clear();
    teach.pending = new Set();
    $('teach-classes').replaceChildren();
    changed();
  });

  camera.addEventListener('result', ({ detail: r }) => {
    // Highlight the class the camera sees.
    const top = camera.learner && r.top.length && !r.unknown ? r.top[0].label : null;
    for (const li of $('teach-classes').children) li.dataset.live = li.dataset.label === top ? 'top' : '';
  });
  render();
}

/** For tests: the current learner's labels and counts. */
export function teachState() {
  return teach.learner ? { labels: teach.learner.labels, counts: teach.learner.counts, live: camera.learner === teach.learner, pending: [...teach.pending] } : null;
}

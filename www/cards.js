// Images: one card per image with its top 5, re-run whenever a model becomes ready; the image
// inputs (choose, examples, drag and drop, paste).
import { model } from './model.js';
import { $, el, pct, ms, splitLabel, announce, drawTopRows, showAlert, hideAlert } from './ui.js';

const EXAMPLES = [
  { file: 'chelsea.jpg', title: 'Cat', credit: 'Stefan van der Walt, CC0' },
  { file: 'coffee.jpg', title: 'Coffee', credit: 'Rachel Michetti, CC0' },
  { file: 'grace_hopper.jpg', title: 'Portrait', credit: 'Grace Hopper, U.S. Navy, public domain' },
  { file: 'rocket.jpg', title: 'Rocket', credit: 'SpaceX, public domain' },
];
const MAX_CARDS = 60;
const NBSP = '\u00a0';

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
      el('span', { className: 'lbl', textContent: NBSP }),
      el('span', { className: 'pct' }),
      el('span', { className: 'bar' }, el('i', { className: 'fill' }))));
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
    drawTopRows(card.preds.children, r.top, { blank: NBSP });
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

/** Drops another panel handled on its own element (a custom class): the page-wide handler skips them. */
export const claimedDrops = new WeakSet();

export function setupCards() {
  model.addEventListener('switch', () => {
    for (const card of cards.values()) if (card.state !== 'error') setCardState(card, 'waiting');
  });
  model.addEventListener('state', ({ detail: { state } }) => {
    if (state === 'ready') {
      for (const card of cards.values()) if (card.state !== 'error' || card.retry) runCard(card);
    } else if (state === 'error') {
      for (const card of cards.values()) if (card.state === 'waiting' || card.state === 'pending') setCardState(card, 'waiting');
    }
  });

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
    if (claimedDrops.has(e)) return;
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

// Small DOM and formatting helpers shared by the demo's panels, and drawTopRows(): the one
// function that draws ranked labels (image cards, the camera overlay, custom classes).

export const $ = (id) => document.getElementById(id);
export const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const c of children) if (c != null) e.append(c);
  return e;
};

/** "tabby, tabby cat" -> { head: 'tabby', rest: 'tabby cat' } (the first lemma is what people read). */
export function splitLabel(label) {
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
export function pct(p) {
  const v = p * 100;
  if (v >= 99.95) return '100%';
  if (v >= 10) return `${v.toFixed(0)}%`;
  if (v >= 0.1) return `${v.toFixed(1)}%`;
  return '<0.1%';
}
export function mb(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}
export function ms(v) {
  return v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`;
}
export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/**
 * Draws ranked results into `rows` (elements holding .lbl, .pct and .fill). `top`: [{ label,
 * probability }]; rows past its end are blanked. `message` instead of results: shown in the
 * first row (e.g. "Loading the model…"), the others blanked.
 */
export function drawTopRows(rows, top, { message, blank = '' } = {}) {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const lbl = row.querySelector('.lbl');
    const t = message === undefined ? top[i] : null;
    if (t) {
      if (lbl.dataset.label !== t.label) {
        lbl.dataset.label = t.label;
        lbl.title = t.label;
        lbl.replaceChildren(labelNode(t.label));
      }
      row.querySelector('.pct').textContent = pct(t.probability);
      row.querySelector('.fill').style.setProperty('--p', t.probability.toFixed(3));
    } else {
      delete lbl.dataset.label;
      lbl.title = '';
      lbl.textContent = i === 0 && message !== undefined ? message : blank;
      row.querySelector('.pct').textContent = '';
      row.querySelector('.fill').style.setProperty('--p', '0');
    }
    row.classList.toggle('unknown', !!(t && t.unknown));
  }
}

export const announce = (() => {
  let last = '';
  return (text) => {
    if (text === last) return;
    last = text;
    $('announcer').textContent = text;
  };
})();

const STORE = 'mobilenetv3-demo:';
export const store = {
  get: (k) => { try { return localStorage.getItem(STORE + k); } catch { return null; } },
  set: (k, v) => { try { localStorage.setItem(STORE + k, v); } catch { /* private mode */ } },
};

/** Fills an .alert element: { title, body, hint (HTML allowed: trusted, ours), actions: [{label, onClick}] }. */
export function showAlert(box, { title, body, hint, actions = [] }) {
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
export function hideAlert(box) {
  box.hidden = true;
  box.replaceChildren();
}

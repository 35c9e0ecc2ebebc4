// Small DOM helpers. Everything is built with DOM APIs and textContent, never
// innerHTML with data, and never style attributes (the CSP forbids inline styles).

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('div', {class: 'x', onclick: fn}, child, 'text', [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
  } else {
    apply(el, attrs);
  }
  append(el, children);
  return el;
}

/** svg('rect', {x: 1, class: 'bar'}) creates an SVG element. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
export function id(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field. input is an element; hint is optional help text. */
export function field(label, input, hint) {
  if (!input.id) input.id = id('in');
  const parts = [h('label', { for: input.id, class: 'label' }, label), input];
  if (hint) {
    const hid = id('hint');
    input.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function select(options, value, attrs = {}) {
  const s = h('select', attrs);
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    s.append(h('option', { value: v, selected: v === value }, label));
  }
  s.value = value ?? '';
  return s;
}

export function button(label, attrs = {}) {
  return h('button', { type: 'button', class: 'btn', ...attrs }, label);
}

/** Announce a status update to screen readers. */
export function announce(message) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  // A new text node after clearing makes screen readers read repeats too.
  setTimeout(() => { live.textContent = message; }, 30);
}

// Toasts belong to a page: a page change the reader makes (a link, back,
// forward) clears them all; a page change the code makes right after an
// action ("Project created.", then the project) keeps the toasts of that
// action, and the next page change clears them.
let generation = 0;

/** Called on every page change; user: the reader changed the page. */
export function clearToasts(user) {
  generation += 1;
  for (const t of document.querySelectorAll('#toasts .toast')) {
    if (user || Number(t.dataset.gen) < generation - 1) t.remove();
  }
}

/** A transient notice at the corner of the screen (also read by screen readers). */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { gen: String(generation) } },
    h('span', { class: 'toast-text' }, message),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 5000);
}

/** An inline message area for a form; set(msg, kind) shows it. */
export function messageArea() {
  const el = h('div', { class: 'form-message', role: 'alert', hidden: true });
  el.set = (msg, kind = 'error') => {
    el.textContent = msg || '';
    el.className = `form-message form-message-${kind}`;
    el.hidden = !msg;
  };
  return el;
}

/** A modal dialog built on <dialog>: focus is trapped and restored by the browser. */
export function modal(title, body, { onClose } = {}) {
  const titleId = id('dlg');
  const closeBtn = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close dialog' }, '×');
  const dlg = h('dialog', { class: 'modal', 'aria-labelledby': titleId },
    h('div', { class: 'modal-head' }, h('h2', { id: titleId }, title), closeBtn),
    h('div', { class: 'modal-body' }, body));
  const opener = document.activeElement;
  closeBtn.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus();
    if (onClose) onClose();
  });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('input, select, textarea');
  if (first) first.focus();
  return dlg;
}

export function confirmDialog(title, message, confirmLabel = 'Confirm', danger = true) {
  return new Promise((resolve) => {
    let result = false;
    const ok = button(confirmLabel, { class: danger ? 'btn btn-danger' : 'btn btn-primary' });
    const cancel = button('Cancel', { class: 'btn btn-ghost' });
    const dlg = modal(title, [h('p', message), h('div', { class: 'form-actions' }, cancel, ok)],
      { onClose: () => resolve(result) });
    ok.addEventListener('click', () => { result = true; dlg.close(); });
    cancel.addEventListener('click', () => dlg.close());
    ok.focus();
  });
}

/** Generate a random password (for admins creating or resetting users). */
export function randomPassword(len = 16) {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_';
  const bytes = new Uint8Array(len);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

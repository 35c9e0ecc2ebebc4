// Shared page building blocks.
import { h, clear } from './dom.js';
import { describeError } from './api.js';

export function pageHeader(title, { subtitle, actions, meta, eyebrow } = {}) {
  return h('div', { class: 'page-header' },
    h('div', { class: 'page-heading' },
      eyebrow ? h('p', { class: 'eyebrow' }, eyebrow) : null,
      h('h1', { class: ['page-title', String(title).length > 48 && 'page-title-long'], tabindex: '-1' }, title),
      subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null,
      meta ? h('div', { class: 'page-meta' }, meta) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

export function loading(label = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

export function errorPanel(err, what, retry) {
  return h('div', { class: 'panel error-panel', role: 'alert' },
    h('p', describeError(err, what)),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null);
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' },
    h('span', { class: 'empty-art', 'aria-hidden': 'true' }),
    h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'muted' }, text) : null,
    action || null);
}

export function panel(title, body, { actions, id, cls } = {}) {
  return h('section', { class: ['panel', cls], id, 'aria-labelledby': id ? `${id}-title` : null },
    title ? h('div', { class: 'panel-head' },
      h('h2', { class: 'panel-title', id: id ? `${id}-title` : null }, title),
      actions ? h('div', { class: 'panel-actions' }, actions) : null) : null,
    body);
}

/** Tabs as links (each tab is its own URL, so back/forward and reload work). */
export function tabLinks(label, tabs, active) {
  return h('nav', { class: 'tabs', 'aria-label': label },
    tabs.map((t) => h('a', { href: t.href, class: 'tab', 'aria-current': t.key === active ? 'page' : null }, t.label,
      t.count != null ? h('span', { class: 'tab-count' }, String(t.count)) : null)));
}

/** table([{label, cls}], rows) where rows are arrays of cells (nodes or text). */
export function table(caption, columns, rows, { cls } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['table', cls] },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
      h('tbody', rows)));
}

export function replace(el, ...children) {
  clear(el).append(...children.flat().filter(Boolean));
  return el;
}

/** Poll fn every ms until it returns true or the signal aborts. Errors stop nothing but are reported once. */
export function poll(signal, ms, fn) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    let done = false;
    try {
      done = await fn();
    } catch (e) {
      if (e && (e.name === 'AbortError' || e.status === 401)) return;
    }
    if (!done && !signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener('abort', () => clearTimeout(timer));
  timer = setTimeout(tick, ms);
}

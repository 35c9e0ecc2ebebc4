// The document viewer: the original page with a passage (a clause, or the
// text a fact was read from) highlighted. Page images are rendered by the
// worker (pdftoppm); the highlight boxes come from the words' boxes
// (pdftotext -bbox-layout) aligned to the text the passage's offsets count.
// Documents without pages (Word) show the passage marked in the text.
import { h, svg, clear, modal, button, announce } from '../dom.js';
import { api, describeError } from '../api.js';
import { loading } from '../ui.js';

const pagesCache = new Map(); // document id -> Promise of its pages

function documentPages(docId) {
  if (!pagesCache.has(docId)) {
    const p = api('GET', `/api/documents/${docId}/pages`).then((r) => r.pages || []);
    p.catch(() => pagesCache.delete(docId));
    pagesCache.set(docId, p);
  }
  return pagesCache.get(docId);
}

/** Forget what the viewer loaded for a document (it was analyzed again). */
export function forgetPages(docId) { pagesCache.delete(docId); }

/**
 * openViewer(doc, {start, end, page, title}): start/end are byte offsets of
 * the passage in the extracted text; page is where it starts, if known.
 */
export function openViewer(doc, { start, end, page, title }) {
  const body = h('div', { class: 'viewer', 'data-testid': 'viewer' }, loading('Loading the document…'));
  const dlg = modal(title || 'In the document', body);
  dlg.classList.add('modal-viewer');
  let objectURL = null;
  dlg.addEventListener('close', () => { if (objectURL) URL.revokeObjectURL(objectURL); });
  show(doc, body, { start, end, page }, (url) => {
    if (objectURL) URL.revokeObjectURL(objectURL);
    objectURL = url;
  }).catch((e) => {
    clear(body).append(h('p', { class: 'error-text', role: 'alert' }, describeError(e, 'the document')));
  });
  return dlg;
}

async function show(doc, body, span, setURL) {
  const hasSpan = Number.isInteger(span.start) && Number.isInteger(span.end) && span.end > span.start;
  const [pages, marks] = await Promise.all([
    documentPages(doc.id),
    hasSpan ? api('GET', `/api/documents/${doc.id}/highlight?start=${span.start}&end=${span.end}`).then((r) => r.pages || [])
      : Promise.resolve([]),
  ]);
  if (!pages.some((p) => p.image)) {
    await showText(doc, body, span, hasSpan);
    return;
  }
  const boxesOf = new Map(marks.map((m) => [m.page, m.boxes || []]));
  const first = marks.find((m) => m.boxes && m.boxes.length) || marks[0];
  let current = first ? first.page : (span.page || 1);
  current = Math.min(Math.max(current, 1), pages.length);

  const status = h('p', { class: 'viewer-status', role: 'status' });
  const prev = button('Previous page', { class: 'btn btn-small', 'aria-label': 'Previous page' });
  const next = button('Next page', { class: 'btn btn-small', 'aria-label': 'Next page' });
  const stage = h('div', { class: 'viewer-stage' });
  const note = h('p', { class: 'viewer-note muted small', hidden: true });
  clear(body).append(h('div', { class: 'viewer-bar' }, prev, status, next), note, stage);

  const render = async () => {
    const p = pages[current - 1];
    prev.disabled = current <= 1;
    next.disabled = current >= pages.length;
    const onSpan = boxesOf.has(current);
    status.textContent = `Page ${current} of ${pages.length}${onSpan ? ' · highlighted' : ''}`;
    note.hidden = true;
    if (onSpan && !(boxesOf.get(current) || []).length) {
      note.textContent = p.highlights ? 'The passage is on this page.'
        : 'The passage is on this page; it cannot be marked here (the page was read from an image).';
      note.hidden = false;
    }
    if (!p.image) {
      clear(stage).append(h('p', { class: 'muted' }, 'There is no image of this page.'));
      return;
    }
    const fig = h('figure', { class: 'viewer-page', dataset: { page: String(current) } }, loading('Loading the page…'));
    clear(stage).append(fig);
    const res = await api('GET', `/api/documents/${doc.id}/pages/${current}/image`, null, { blob: true });
    const url = URL.createObjectURL(await res.blob());
    setURL(url);
    if (String(current) !== fig.dataset.page || !fig.isConnected) return; // the reader moved on
    const img = h('img', { src: url, alt: `Page ${current} of ${doc.original_name}`, class: 'viewer-img', width: p.width, height: p.height });
    const overlay = svg('svg', { class: 'viewer-overlay', viewBox: '0 0 1000 1000', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
      (boxesOf.get(current) || []).map((b) => svg('rect', {
        class: 'hl-box', x: b.x0 * 1000 - 3, y: b.y0 * 1000 - 2, width: (b.x1 - b.x0) * 1000 + 6, height: (b.y1 - b.y0) * 1000 + 4, rx: 2,
      })));
    clear(fig).append(img, overlay);
    img.addEventListener('load', () => {
      const box = overlay.querySelector('rect');
      if (box) box.scrollIntoView({ block: 'center' });
      fig.dataset.ready = 'true';
    }, { once: true });
  };
  const go = (n) => {
    if (n < 1 || n > pages.length || n === current) return;
    current = n;
    render().catch((e) => clear(stage).append(h('p', { class: 'error-text' }, describeError(e, 'this page'))));
    announce(`Page ${current} of ${pages.length}`);
  };
  prev.addEventListener('click', () => go(current - 1));
  next.addEventListener('click', () => go(current + 1));
  (body.closest('dialog') || body).addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'PageUp') { go(current - 1); e.preventDefault(); }
    if (e.key === 'ArrowRight' || e.key === 'PageDown') { go(current + 1); e.preventDefault(); }
  });
  await render();
}

/** Byte offsets of UTF-8 text to string positions. */
function slices(text, start, end) {
  const bytes = new TextEncoder().encode(text);
  const dec = new TextDecoder();
  return [dec.decode(bytes.subarray(0, start)), dec.decode(bytes.subarray(start, end)), dec.decode(bytes.subarray(end))];
}

async function showText(doc, body, span, hasSpan) {
  const res = await api('GET', `/api/documents/${doc.id}/text`, null, { blob: true });
  const text = await res.text();
  const why = doc.file_type === 'docx'
    ? 'A Word document has no fixed pages: the passage is marked in the text read from the document.'
    : 'There are no page images of this document (it was analyzed before they existed; analyze it again to see its pages). The passage is marked in the text read from it.';
  const box = h('div', { class: 'viewer-text', tabindex: '0', 'aria-label': 'Document text' });
  const page = (s) => s.replaceAll('\f', '\n\n— next page —\n\n');
  if (hasSpan) {
    const [before, mid, after] = slices(text, span.start, span.end);
    const CONTEXT = 4000;
    box.append(
      before.length > CONTEXT ? '…' : '', page(before.slice(-CONTEXT)),
      h('mark', { class: 'hl-text' }, page(mid)),
      page(after.slice(0, CONTEXT)), after.length > CONTEXT ? '…' : '');
  } else {
    box.append(page(text));
  }
  clear(body).append(h('p', { class: 'viewer-note muted small' }, why), box);
  const mark = box.querySelector('mark');
  if (mark) mark.scrollIntoView({ block: 'center' });
}

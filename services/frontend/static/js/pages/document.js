// One document: facts with their sources, clauses grouped by category
// (risky first) with risk, decisions, similar clauses and the original
// page; and its reports with the risk chart.
import { h, clear, field, button, announce, toast, select, id as uid } from '../dom.js';
import { api, describeError, download } from '../api.js';
import { navigate } from '../router.js';
import { pageHeader, loading, errorPanel, emptyState, panel, tabLinks, replace, poll } from '../ui.js';
import {
  formatBytes, statusBadge, riskBadge, decisionBadge, timeEl, isTerminal, plural, statusLabel, humanize,
  PIPELINE_STEPS, RISK_LEVELS, formatDate,
} from '../format.js';
import { riskChart, riskMeter } from '../chart.js';
import { follow } from '../live.js';
import { factsPanel } from './facts.js';
import { openViewer, forgetPages } from './viewer.js';
import { playbookWording } from '../negotiate.js';

const DECISIONS = [
  { value: 'accept', label: 'Accept', verb: 'accepted' },
  { value: 'reject', label: 'Reject', verb: 'rejected' },
  { value: 'negotiate', label: 'Negotiate', verb: 'marked for negotiation' },
];

async function loadDocument(ctx) {
  const doc = await api('GET', `/api/documents/${encodeURIComponent(ctx.params.id)}`, null, { signal: ctx.signal });
  let project = null;
  try {
    project = await api('GET', `/api/projects/${doc.project_id}`, null, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  const myRole = (project && project.my_role) || (ctx.user.role === 'admin' ? 'admin' : 'viewer');
  return { doc, project, canEdit: myRole === 'editor' || myRole === 'admin' };
}

function docHeader(ctx, { doc, project, canEdit }, tab) {
  const crumbs = [{ label: 'Projects', href: '/projects' }];
  if (project) crumbs.push({ label: project.name, href: `/projects/${project.id}` });
  crumbs.push({ label: doc.original_name });
  ctx.setPage(tab === 'reports' ? `Reports · ${doc.original_name}` : doc.original_name, crumbs);
  const dl = button('Download original', {
    class: 'btn',
    onclick: async () => {
      try { await download(`/api/documents/${doc.id}/file`, doc.original_name); } catch (e) { toast(describeError(e, 'the file'), 'error'); }
    },
  });
  const actions = [dl];
  if (canEdit && isTerminal(doc.pipeline_status)) {
    actions.push(button('Analyze again', {
      class: 'btn btn-ghost',
      onclick: async () => {
        try {
          await api('POST', `/api/documents/${doc.id}/reprocess`);
          forgetPages(doc.id);
          announce('The document is being analyzed again.');
          navigate(`/documents/${doc.id}`, { replace: true });
        } catch (e) { toast(describeError(e, 'the document'), 'error'); }
      },
    }));
  }
  const meta = [
    statusBadge(doc.pipeline_status),
    h('span', (doc.file_type || '').toUpperCase()),
    h('span', formatBytes(doc.size_bytes)),
    doc.page_count ? h('span', plural(doc.page_count, 'page')) : null,
    doc.pipeline_status === 'complete' ? h('span', plural(doc.clause_count || 0, 'clause')) : null,
    h('span', 'Uploaded ', timeEl(doc.created_at)),
  ];
  return [
    pageHeader(doc.original_name, { eyebrow: project ? project.name : 'Document', actions, meta }),
    tabLinks('Document sections', [
      { key: 'review', href: `/documents/${doc.id}`, label: 'Review' },
      { key: 'reports', href: `/documents/${doc.id}/reports`, label: 'Reports' },
    ], tab),
  ];
}

function pipelinePanel(doc) {
  const current = PIPELINE_STEPS.indexOf(doc.pipeline_status);
  const steps = h('ol', { class: 'stepper' }, PIPELINE_STEPS.map((s, i) => h('li', {
    class: ['step', i < current && 'done', i === current && 'current'],
    'aria-current': i === current ? 'step' : null,
  }, h('span', { class: 'step-dot', 'aria-hidden': 'true' }), h('span', { class: 'step-label' }, statusLabel(s)))));
  return panel('Analysis in progress', h('div', { class: 'pipeline', dataset: { status: doc.pipeline_status } },
    h('p', { class: 'muted' }, 'The document is being read and analyzed. Each step shows here as it happens.'),
    steps,
    h('div', { class: 'progress-row' },
      h('progress', { class: 'progress progress-large', max: 100, value: doc.progress || 0, 'aria-label': 'Analysis progress' }),
      h('span', { class: 'progress-text' }, `${doc.progress || 0}%`))), { id: 'pipeline' });
}

// openDocument shows a loading state, loads the document and draws its
// header with tab selected. It returns null when loading failed (the error
// panel is shown) or was aborted by navigation.
async function openDocument(ctx, tab, loadingText) {
  ctx.main.append(loading(loadingText));
  let info;
  try {
    info = await loadDocument(ctx);
  } catch (e) {
    if (e.name !== 'AbortError') replace(ctx.main, errorPanel(e, 'this document'));
    return null;
  }
  replace(ctx.main, docHeader(ctx, info, tab));
  return info;
}

export async function documentPage(ctx) {
  const linked = /^#clause-(\d+)$/.exec(location.hash); // a link to one clause
  const info = await openDocument(ctx, 'review', 'Loading document…');
  if (!info) return;
  const { doc } = info;

  if (!isTerminal(doc.pipeline_status)) {
    const box = h('div', pipelinePanel(doc));
    ctx.main.append(box);
    let last = doc.pipeline_status;
    let done = false;
    const show = (d) => {
      if (done || ctx.signal.aborted) return;
      if (d.pipeline_status !== last) {
        last = d.pipeline_status;
        announce(`Status: ${statusLabel(d.pipeline_status)}.`);
      }
      if (isTerminal(d.pipeline_status)) {
        done = true;
        navigate(`/documents/${doc.id}`, { replace: true });
        return;
      }
      replace(box, pipelinePanel({ ...doc, ...d }));
    };
    const reload = async () => {
      try { show(await api('GET', `/api/documents/${doc.id}`, null, { signal: ctx.signal })); } catch { /* the next event or poll retries */ }
    };
    follow(doc.project_id, ctx.signal, {
      onReady: reload,
      onPoll: reload,
      onDocument: (ev) => { if (ev.document_id === doc.id) show(ev); },
      onState: (st) => { box.dataset.live = st; },
    });
    return;
  }
  if (doc.pipeline_status === 'failed') {
    ctx.main.append(h('div', { class: 'panel error-panel', role: 'alert' },
      h('h2', { class: 'panel-title' }, 'The analysis failed'),
      h('p', doc.error_message || 'No reason was recorded.'),
      info.canEdit ? h('p', { class: 'muted' }, 'Use “Analyze again” to retry.') : null));
    return;
  }

  const layout = h('div', { class: 'doc-layout' });
  const mainCol = h('div', { class: 'doc-main' });
  const side = h('aside', { class: 'doc-side', 'aria-label': 'Document facts' });
  layout.append(mainCol, side);
  ctx.main.append(layout);

  let all;
  try {
    all = (await api('GET', `/api/documents/${doc.id}/clauses`, null, { signal: ctx.signal })).items || [];
  } catch (e) {
    if (e.name === 'AbortError') return;
    mainCol.append(errorPanel(e, 'the clauses'));
    return;
  }
  const summaryBox = h('div', summaryPanel(all));
  const onDecision = (clauseId, dec) => {
    const c = all.find((x) => x.id === clauseId);
    if (c) c.latest_decision = dec;
    replace(summaryBox, summaryPanel(all));
  };
  const view = (c) => openViewer(doc, { start: c.start_offset, end: c.end_offset, page: c.page_start, title: clauseTitle(c) });
  const clauses = await clausesPanel(ctx, doc, all, info.canEdit, onDecision, view);
  side.append(summaryBox, factsPanel(doc, all, {
    onClause: (ordinal) => clauses.reveal(ordinal),
    onSource: (src, label) => openViewer(doc, { start: src.start, end: src.end, page: src.page, title: label }),
  }));
  mainCol.append(clauses.node);
  if (linked) clauses.reveal(Number(linked[1]));
}

function summaryPanel(clauses) {
  const totals = { high: 0, medium: 0, low: 0 };
  const decided = { accept: 0, reject: 0, negotiate: 0 };
  for (const c of clauses) {
    totals[c.risk_level] = (totals[c.risk_level] || 0) + 1;
    if (c.latest_decision) decided[c.latest_decision.decision] += 1;
  }
  const open = clauses.length - decided.accept - decided.reject - decided.negotiate;
  return panel('Risk summary', [
    h('div', { class: 'risk-totals' }, RISK_LEVELS.map((l) => h('div', { class: `risk-total risk-total-${l}` },
      h('span', { class: 'risk-total-n' }, String(totals[l])), h('span', { class: 'risk-total-l' }, humanize(l))))),
    riskMeter(totals),
    h('p', { class: 'muted small' }, `${plural(clauses.length, 'clause')} · ${clauses.length - open} decided · ${open} awaiting a decision`),
  ], { id: 'summary' });
}

async function clausesPanel(ctx, doc, all, canEdit, onDecision, onView) {
  const categories = [...new Set(all.map((c) => c.category))].sort((a, b) => (a === OTHER) - (b === OTHER) || a.localeCompare(b));
  const q = ctx.query;
  const catSel = select([['', 'All categories'], ...categories.map((c) => [c, categoryLabel(c)])], q.get('category') || '', { name: 'category' });
  const riskSel = select([['', 'Any risk'], ['high', 'High'], ['medium', 'Medium'], ['low', 'Low']], q.get('risk') || '', { name: 'risk' });
  const decSel = select([['', 'Any decision'], ['open', 'Awaiting decision'], ['accept', 'Accepted'], ['reject', 'Rejected'], ['negotiate', 'To negotiate']],
    q.get('decision') || '', { name: 'decision' });
  const count = h('p', { class: 'filter-count', role: 'status' });
  const list = h('div', { class: 'clause-groups' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter clauses', role: 'search' },
    field('Category', catSel), field('Risk', riskSel), field('Decision', decSel),
    h('div', { class: 'field field-button' }, button('Clear filters', {
      class: 'btn btn-ghost',
      onclick: () => { catSel.value = ''; riskSel.value = ''; decSel.value = ''; apply(); },
    })));
  filters.addEventListener('submit', (e) => e.preventDefault());

  const apply = async () => {
    const params = new URLSearchParams();
    if (catSel.value) params.set('category', catSel.value);
    if (riskSel.value) params.set('risk', riskSel.value);
    if (decSel.value) params.set('decision', decSel.value);
    const qs = params.toString();
    history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
    let items = all;
    if (catSel.value || riskSel.value) {
      const api_params = new URLSearchParams();
      if (catSel.value) api_params.set('category', catSel.value);
      if (riskSel.value) api_params.set('risk', riskSel.value);
      replace(list, loading('Filtering…'));
      try {
        items = (await api('GET', `/api/documents/${doc.id}/clauses?${api_params}`, null, { signal: ctx.signal })).items || [];
      } catch (e) {
        if (e.name === 'AbortError') return;
        replace(list, errorPanel(e, 'the clauses'));
        return;
      }
    }
    if (decSel.value === 'open') items = items.filter((c) => !c.latest_decision);
    else if (decSel.value) items = items.filter((c) => c.latest_decision && c.latest_decision.decision === decSel.value);
    count.textContent = items.length === all.length ? `Showing all ${plural(all.length, 'clause')}`
      : `Showing ${items.length} of ${plural(all.length, 'clause')}`;
    renderGroups(list, items, { ctx, canEdit, all, onDecision, onView, openGroups, only: catSel.value });
  };
  const openGroups = new Map(); // category -> expanded, as the reader left it
  for (const s of [catSel, riskSel, decSel]) s.addEventListener('change', apply);
  await apply();

  // Keyboard: j / k move between the clauses of the open groups, v shows
  // the current one in the document.
  const cards = () => [...list.querySelectorAll('.clause-group[data-open="true"] .clause')];
  let currentCard = null;
  const focusCard = (card) => {
    if (!card) return;
    if (currentCard) currentCard.classList.remove('is-current');
    currentCard = card;
    card.classList.add('is-current');
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: 'center' });
  };
  const onKey = (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || !list.isConnected) return;
    if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable="true"]')) return;
    if (document.querySelector('dialog[open]')) return;
    const key = e.key.toLowerCase();
    if (key !== 'j' && key !== 'k' && key !== 'v') return;
    const all2 = cards();
    const here = all2.indexOf(document.activeElement && document.activeElement.closest ? document.activeElement.closest('.clause') : null);
    const at = here >= 0 ? here : all2.indexOf(currentCard);
    e.preventDefault();
    if (key === 'v') {
      const btn = (at >= 0 ? all2[at] : null)?.querySelector('.btn-view');
      if (btn) btn.click();
      return;
    }
    const step = key === 'j' ? 1 : -1;
    focusCard(all2[at < 0 ? (step > 0 ? 0 : all2.length - 1) : Math.min(Math.max(at + step, 0), all2.length - 1)]);
  };
  document.addEventListener('keydown', onKey);
  ctx.signal.addEventListener('abort', () => document.removeEventListener('keydown', onKey));

  // reveal shows a clause wherever it is: clears filters that hide it and
  // opens its group.
  const reveal = async (ordinal) => {
    let card = list.querySelector(`#clause-${ordinal}`);
    if (!card) {
      catSel.value = ''; riskSel.value = ''; decSel.value = '';
      await apply();
      card = list.querySelector(`#clause-${ordinal}`);
    }
    if (!card) return;
    const group = card.closest('.clause-group');
    if (group.dataset.open !== 'true') group.querySelector('.group-toggle').click();
    focusCard(card);
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1600);
  };
  const hint = h('p', { class: 'keys-hint muted small' },
    'Keyboard: ', h('kbd', 'J'), ' next clause · ', h('kbd', 'K'), ' previous clause · ', h('kbd', 'V'), ' show it in the document');
  return { node: panel('Clauses', [filters, h('div', { class: 'clauses-meta' }, count, hint), list], { id: 'clauses' }), reveal };
}

const OTHER = 'Other';
function categoryLabel(c) { return c === OTHER ? 'Other (not classified)' : c; }

/** A clause's name: its heading as the document numbers it, else its category. */
function clauseTitle(c) {
  return c.heading || (c.category === OTHER ? 'Unclassified clause' : c.category);
}

const riskRank = { high: 0, medium: 1, low: 2 };

function renderGroups(list, items, opts) {
  clear(list);
  if (!items.length) {
    list.append(emptyState('No clauses match these filters', 'Change or clear the filters to see more.'));
    return;
  }
  const groups = new Map();
  for (const c of items) {
    if (!groups.has(c.category)) groups.set(c.category, []);
    groups.get(c.category).push(c);
  }
  // Risky groups first (highest risk, then how many clauses carry it);
  // Other, the clauses without a category, always last.
  const worst = (cs) => Math.min(...cs.map((c) => riskRank[c.risk_level] ?? 3));
  const highs = (cs) => cs.filter((c) => c.risk_level === 'high').length;
  const ordered = [...groups.entries()].sort(([a, ca], [b, cb]) => (a === OTHER) - (b === OTHER)
    || worst(ca) - worst(cb)
    || highs(cb) - highs(ca)
    || a.localeCompare(b));
  for (const [cat, clauses] of ordered) {
    const hid = uid('cat');
    const listId = uid('cl');
    clauses.sort((a, b) => a.ordinal - b.ordinal);
    const counts = RISK_LEVELS.map((l) => [l, clauses.filter((c) => c.risk_level === l).length]).filter(([, n]) => n);
    // Other starts collapsed, unless it is the category asked for.
    const open = opts.openGroups.has(cat) ? opts.openGroups.get(cat) : (cat !== OTHER || opts.only === OTHER);
    const ol = h('ol', { class: 'clause-list', id: listId, hidden: !open }, clauses.map((c) => h('li', clauseCard(c, opts))));
    const toggle = h('button', { type: 'button', class: 'group-toggle', 'aria-expanded': String(open), 'aria-controls': listId },
      h('span', { class: 'chevron', 'aria-hidden': 'true' }),
      h('span', { class: 'group-title', id: hid }, categoryLabel(cat)),
      h('span', { class: 'group-count' }, plural(clauses.length, 'clause')),
      h('span', { class: 'group-risks' }, counts.map(([l, n]) => h('span', { class: `dot-count dot-${l}` }, `${n} ${l}`))));
    const section = h('section', { class: 'clause-group', 'aria-labelledby': hid, dataset: { category: cat, open: String(open) } },
      h('h3', { class: 'group-head' }, toggle),
      cat === OTHER ? h('p', { class: 'group-note muted small', hidden: !open },
        'Clauses the analyzer could not place in a category with enough confidence.') : null,
      ol);
    toggle.addEventListener('click', () => {
      const now = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(now));
      section.dataset.open = String(now);
      ol.hidden = !now;
      const note = section.querySelector('.group-note');
      if (note) note.hidden = !now;
      opts.openGroups.set(cat, now);
    });
    list.append(section);
  }
}

function decisionLine(d) {
  if (!d) return h('p', { class: 'decision-line muted' }, 'No decision yet.');
  const who = d.decided_by ? (d.decided_by.name || d.decided_by.email) : 'someone';
  return h('div', { class: 'decision-line' },
    decisionBadge(d.decision),
    h('span', { class: 'decision-meta' }, ' by ', h('strong', who), ' · ', timeEl(d.decided_at)),
    d.comment ? h('blockquote', { class: 'decision-comment' }, d.comment) : null);
}

function clauseCard(c, { ctx, canEdit, onDecision, onView }) {
  const card = h('article', {
    class: `clause clause-risk-${c.risk_level}`, id: `clause-${c.ordinal}`, tabindex: '-1',
    dataset: { clauseId: c.id, risk: c.risk_level, ordinal: String(c.ordinal) }, 'aria-labelledby': `cl-${c.id}`,
  });
  const render = () => {
    clear(card);
    const long = c.text.length > 700;
    const text = h('p', { class: ['clause-text', long && 'clamped'] }, c.text);
    const textId = uid('ct');
    text.id = textId;
    const more = long ? button('Show full clause', {
      class: 'link-btn', 'aria-expanded': 'false', 'aria-controls': textId,
      onclick: () => {
        const open = text.classList.toggle('clamped') === false;
        more.textContent = open ? 'Show less' : 'Show full clause';
        more.setAttribute('aria-expanded', String(open));
      },
    }) : null;
    const decisionBox = h('div', { class: 'decision' }, decisionLine(c.latest_decision));
    const extra = h('div', { class: 'clause-extra' });
    const tools = h('div', { class: 'clause-tools' });
    if (canEdit) {
      for (const d of DECISIONS) {
        tools.append(button(d.label, {
          class: `btn btn-small btn-decision btn-${d.value}`, 'aria-label': `${d.label} clause ${c.ordinal}`,
          'aria-pressed': c.latest_decision && c.latest_decision.decision === d.value ? 'true' : 'false',
          onclick: () => openDecisionForm(d),
        }));
      }
    }
    const simBtn = button('Similar clauses', { class: 'btn btn-small btn-ghost', 'aria-expanded': 'false' });
    const histBtn = button('History', { class: 'btn btn-small btn-ghost', 'aria-expanded': 'false' });
    const viewBtn = c.start_offset != null && c.end_offset != null ? button('Show in document', {
      class: 'btn btn-small btn-ghost btn-view', 'aria-label': `Show “${clauseTitle(c)}” in the document`,
      onclick: () => onView(c),
    }) : null;
    tools.append(h('span', { class: 'spacer' }), viewBtn, simBtn, histBtn);
    simBtn.addEventListener('click', () => toggleExtra(simBtn, () => similarList(c, ctx)));
    histBtn.addEventListener('click', () => toggleExtra(histBtn, () => historyList(c, ctx)));

    function toggleExtra(btn, build) {
      const open = btn.getAttribute('aria-expanded') === 'true';
      for (const b of [simBtn, histBtn]) b.setAttribute('aria-expanded', 'false');
      clear(extra);
      if (open) return;
      btn.setAttribute('aria-expanded', 'true');
      extra.append(loading());
      build().then((node) => replace(extra, node));
    }

    function openDecisionForm(d) {
      clear(extra);
      for (const b of [simBtn, histBtn]) b.setAttribute('aria-expanded', 'false');
      const comment = h('textarea', { rows: 2, name: 'comment', maxlength: 4000, placeholder: d.value === 'accept' ? 'Optional' : 'What should change, and why?' });
      const save = h('button', { type: 'submit', class: `btn btn-small btn-primary` }, `Save: ${d.label}`);
      const err = h('p', { class: 'error-text', role: 'alert', hidden: true });
      const form = h('form', { class: 'decision-form', 'aria-label': `${d.label} clause ${c.ordinal}` },
        field(`Comment (${d.label.toLowerCase()})`, comment),
        d.value === 'negotiate' ? playbookWording(c.id, comment, ctx.signal) : null, err,
        h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-small btn-ghost', onclick: () => { clear(extra); } }), save));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        save.disabled = true;
        try {
          const dec = await api('POST', `/api/clauses/${c.id}/decisions`, { decision: d.value, comment: comment.value.trim() });
          if (!dec.decided_by || typeof dec.decided_by !== 'object') {
            dec.decided_by = { id: ctx.user.id, name: ctx.user.name, email: ctx.user.email };
          }
          c.latest_decision = dec;
          render();
          if (onDecision) onDecision(c.id, dec);
          announce(`Clause ${c.ordinal} ${d.verb}.`);
          const first = card.querySelector(`.btn-${d.value}`);
          if (first) first.focus();
        } catch (ex) {
          err.textContent = describeError(ex, 'this clause');
          err.hidden = false;
          save.disabled = false;
        }
      });
      extra.append(form);
      comment.focus();
    }

    card.append(...[
      h('header', { class: 'clause-head' },
        h('h4', { class: 'clause-title', id: `cl-${c.id}` }, clauseTitle(c)),
        riskBadge(c.risk_level),
        likelihoodBadge(c)),
      pagesLine(c),
      text, more,
      c.explanation ? h('div', { class: `explanation explanation-${c.risk_level}` }, h('span', { class: 'explanation-label' }, 'Why this rating: '), c.explanation) : null,
      decisionBox, tools, extra].filter(Boolean));
  };
  render();
  return card;
}

const LIKELIHOOD = {
  likely: ['Likely', 'The analyzer finds this clause likely to be a %s clause (right about 4 times in 5).'],
  possible: ['Possible', 'The analyzer finds this clause possibly a %s clause (right about 1 time in 3): check it.'],
};
function likelihoodBadge(c) {
  const l = LIKELIHOOD[c.likelihood];
  if (!l) return null;
  return h('span', { class: `confidence confidence-${c.likelihood}`, title: l[1].replace('%s', c.category), dataset: { likelihood: c.likelihood } },
    `${l[0]} ${c.category.toLowerCase()}`);
}

function pagesLine(c) {
  if (!c.page_start) return null;
  const pages = c.page_end && c.page_end !== c.page_start ? `Pages ${c.page_start}–${c.page_end}` : `Page ${c.page_start}`;
  return h('p', { class: 'clause-pages muted small' }, pages);
}

// Similarity in words: from 0.5 the nearest clause shares the category 94%
// of the time, from 0.4 (the floor the API applies) 82%.
function similarity(score) { return score >= 0.5 ? 'Close match' : 'Related'; }

async function similarList(c, ctx) {
  try {
    const res = await api('GET', `/api/clauses/${c.id}/similar?limit=5`, null, { signal: ctx.signal });
    const items = res.items || [];
    if (!items.length) return h('p', { class: 'muted small' }, 'No clearly similar clauses in other documents you can see.');
    return h('div', { class: 'similar' }, h('h5', { class: 'extra-title' }, 'Similar clauses in other documents'),
      h('ul', { class: 'similar-list' }, items.map((s) => h('li', { class: 'similar-item', dataset: { score: String(s.score) } },
        h('div', { class: 'similar-head' },
          h('a', { href: `/documents/${s.document_id}#clause-${s.ordinal}` }, s.document_name || 'Document'),
          h('span', { class: 'muted small' }, `${similarity(s.score || 0)} · ${s.category === c.category ? 'same category' : categoryLabel(s.category)}`),
          s.risk_level ? riskBadge(s.risk_level) : null),
        h('p', { class: 'similar-text' }, s.text.length > 320 ? `${s.text.slice(0, 320)}…` : s.text)))));
  } catch (e) {
    return errorPanel(e, 'similar clauses');
  }
}

async function historyList(c, ctx) {
  try {
    const res = await api('GET', `/api/clauses/${c.id}/decisions`, null, { signal: ctx.signal });
    const items = res.items || [];
    if (!items.length) return h('p', { class: 'muted small' }, 'No decisions recorded for this clause.');
    return h('div', { class: 'history' }, h('h5', { class: 'extra-title' }, 'Decision history'),
      h('ol', { class: 'history-list' }, items.map((d) => h('li', decisionLine(d)))));
  } catch (e) {
    return errorPanel(e, 'the decision history');
  }
}

// ---- reports -------------------------------------------------------------

export async function reportsPage(ctx) {
  const info = await openDocument(ctx, 'reports', 'Loading reports…');
  if (!info) return;
  const { doc } = info;
  if (doc.pipeline_status !== 'complete') {
    ctx.main.append(emptyState('Reports are available once the analysis is complete',
      'Follow the progress on the Review tab.', h('a', { href: `/documents/${doc.id}`, class: 'btn' }, 'Go to review')));
    return;
  }
  const grid = h('div', { class: 'reports-layout' });
  ctx.main.append(grid);
  const chartBox = h('div', { class: 'chart-box' }, loading());
  grid.append(panel('Risk by category', chartBox, { id: 'risk-chart' }));
  const reportsBox = h('div', loading());
  const genBtn = button('Generate report', { class: 'btn btn-primary', id: 'generate-report' });
  grid.append(panel('Reports', reportsBox, { id: 'reports', actions: genBtn }));

  api('GET', `/api/documents/${doc.id}/clauses`, null, { signal: ctx.signal }).then((res) => {
    const items = res.items || [];
    replace(chartBox, items.length ? riskChart(items) : emptyState('No clauses', 'The analysis found no clauses to chart.'));
  }).catch((e) => { if (e.name !== 'AbortError') replace(chartBox, errorPanel(e, 'the clauses')); });

  const statusOf = new Map();
  let polling = false;
  const load = async () => {
    const res = await api('GET', `/api/documents/${doc.id}/reports`, null, { signal: ctx.signal });
    const items = res.items || [];
    for (const r of items) {
      const prev = statusOf.get(r.id);
      if (prev && prev !== r.status && isTerminal(r.status)) {
        announce(r.status === 'complete' ? 'The report is ready to download.' : 'The report could not be generated.');
      }
      statusOf.set(r.id, r.status);
    }
    if (!items.length) {
      replace(reportsBox, emptyState('No reports yet', 'Generate a report with the clauses, risks and decisions of this document.'));
    } else {
      replace(reportsBox, h('ul', { class: 'report-list' }, items.map((r) => reportItem(doc, r, ctx.user))));
    }
    return items.every((r) => isTerminal(r.status));
  };
  const startPolling = () => {
    if (polling) return;
    polling = true;
    poll(ctx.signal, 1500, async () => { const done = await load(); if (done) polling = false; return done; });
  };
  genBtn.addEventListener('click', async () => {
    genBtn.disabled = true;
    try {
      const r = await api('POST', `/api/documents/${doc.id}/reports`);
      statusOf.set(r.id, r.status);
      announce('Report requested. It will be ready in a moment.');
      await load();
      startPolling();
    } catch (e) {
      toast(describeError(e, 'the document'), 'error');
    } finally { genBtn.disabled = false; }
  });
  try {
    if (!await load()) startPolling();
  } catch (e) {
    if (e.name !== 'AbortError') replace(reportsBox, errorPanel(e, 'the reports'));
  }
}

function reportItem(doc, r, me) {
  const base = doc.original_name.replace(/\.[^.]+$/, '');
  let by = null;
  if (r.requested_by && typeof r.requested_by === 'object') by = r.requested_by.name || r.requested_by.email;
  else if (r.requested_by && me && r.requested_by === me.id) by = 'you';
  const actions = h('div', { class: 'report-actions' });
  if (r.status === 'complete') {
    for (const fmt of ['pdf', 'html']) {
      actions.append(button(`Download ${fmt.toUpperCase()}`, {
        class: fmt === 'pdf' ? 'btn btn-small btn-primary' : 'btn btn-small',
        dataset: { format: fmt },
        onclick: async () => {
          try { await download(`/api/reports/${r.id}/download?format=${fmt}`, `${base} report.${fmt}`); } catch (e) { toast(describeError(e, 'the report'), 'error'); }
        },
      }));
    }
  }
  return h('li', { class: 'report-item', dataset: { id: r.id, status: r.status } },
    h('div', { class: 'report-info' },
      h('span', { class: 'report-icon', 'aria-hidden': 'true' }),
      h('div',
        h('p', { class: 'strong' }, `Review report · ${formatDate(r.created_at)}`),
        h('p', { class: 'muted small' }, by ? `Requested by ${by}` : '', r.completed_at ? `${by ? ' · ' : ''}ready ${formatDate(r.completed_at)}` : ''),
        r.status === 'failed' && r.error_message ? h('p', { class: 'error-text' }, r.error_message) : null)),
    statusBadge(r.status), actions);
}

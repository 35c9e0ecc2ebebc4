// A project's dashboard: its documents with their risk counts and the
// decisions still to take, the contracts' key dates (also as a calendar
// file) and reports of the whole project.
import { h, button, toast, announce } from '../dom.js';
import { api, describeError, download } from '../api.js';
import { loading, errorPanel, emptyState, panel, table, replace, poll } from '../ui.js';
import { statusBadge, timeEl, formatCalendarDate, formatDate, isTerminal, RISK_LEVELS } from '../format.js';
import { riskMeter } from '../chart.js';
import { follow } from '../live.js';

export async function dashboardSection(ctx, project, canEdit, body) {
  const box = h('div', loading('Loading the dashboard…'));
  body.append(box);
  const load = () => api('GET', `/api/projects/${project.id}/dashboard`, null, { signal: ctx.signal });
  let dash;
  try {
    dash = await load();
  } catch (e) {
    if (e.name !== 'AbortError') replace(box, errorPanel(e, 'the dashboard'));
    return;
  }
  // Overview, documents and key dates follow the analyses live; the
  // reports panel keeps its own state.
  const live = h('div', { class: 'dashboard-live' });
  const draw = (d) => replace(live, overviewPanel(d.totals),
    panel('Documents', documentsTable(project, d.documents), { id: 'dash-documents' }),
    keyDatesPanel(project, d.key_dates));
  draw(dash);
  replace(box, h('div', { class: 'dashboard' }, live, reportsPanel(ctx, project, canEdit)));

  // One reload at a time; an event arriving meanwhile asks for one more.
  let loadingNow = false;
  let again = false;
  const reload = async () => {
    if (loadingNow) { again = true; return; }
    loadingNow = true;
    try {
      do {
        again = false;
        draw(await load());
      } while (again && !ctx.signal.aborted);
    } catch { /* the next event or poll retries */ } finally { loadingNow = false; }
  };
  follow(project.id, ctx.signal, {
    onReady: reload,
    onPoll: reload,
    onDocument: (ev) => {
      const row = live.querySelector(`#dash-documents tr[data-id="${CSS.escape(ev.document_id)}"]`);
      // A stage of a listed document changes its badge; a new or finished
      // document changes the counts, so the dashboard is read again.
      if (row && !isTerminal(ev.pipeline_status)) {
        row.dataset.status = ev.pipeline_status;
        replace(row.querySelector('td[data-analysis]'), statusBadge(ev.pipeline_status));
        return;
      }
      reload();
    },
    onState: (st) => { live.dataset.live = st; },
  });
}

function overviewPanel(t) {
  return panel('Overview', h('div', { class: 'dash-totals' },
    stat(String(t.documents), `${t.documents === 1 ? 'document' : 'documents'}, ${t.complete} analyzed`),
    ...RISK_LEVELS.map((l) => stat(String(t[l]), `${l} risk clauses`, `risk-total-${l}`)),
    stat(String(t.outstanding), `awaiting a decision (${t.outstanding_high_medium} high or medium)`, 'dash-open'),
    h('div', { class: 'dash-meter' }, riskMeter({ high: t.high, medium: t.medium, low: t.low }))), { id: 'overview' });
}

function stat(value, label, cls) {
  return h('div', { class: ['dash-stat', cls] }, h('span', { class: 'dash-stat-n' }, value), h('span', { class: 'dash-stat-l' }, label));
}

function documentsTable(project, docs) {
  if (!docs.length) return emptyState('No documents yet', 'Upload contracts on the Documents tab.');
  const count = (n, level) => (n ? h('span', { class: `dot-count dot-${level}` }, String(n)) : h('span', { class: 'muted' }, '0'));
  const rows = docs.map((d) => h('tr', { dataset: { id: d.id, status: d.pipeline_status } },
    h('td', h('a', { href: `/documents/${d.id}` }, d.original_name)),
    h('td', { dataset: { analysis: '' } }, statusBadge(d.pipeline_status)),
    h('td', { class: 'num', dataset: { risk: 'high' } }, count(d.high, 'high')),
    h('td', { class: 'num', dataset: { risk: 'medium' } }, count(d.medium, 'medium')),
    h('td', { class: 'num', dataset: { risk: 'low' } }, count(d.low, 'low')),
    h('td', { class: 'num', dataset: { outstanding: String(d.outstanding) } },
      d.pipeline_status === 'complete' ? `${d.outstanding} of ${d.clause_count}` : '—'),
    h('td', timeEl(d.created_at, true))));
  return table(`Documents of ${project.name} with their risks`, [
    { label: 'Document' }, { label: 'Analysis' }, { label: 'High', cls: 'num' }, { label: 'Medium', cls: 'num' }, { label: 'Low', cls: 'num' },
    { label: 'Awaiting a decision', cls: 'num' }, { label: 'Uploaded' },
  ], rows, { cls: 'dashboard-table' });
}

function keyDatesPanel(project, dates) {
  const ics = button('Download calendar (.ics)', {
    class: 'btn btn-small', id: 'download-ics', disabled: !dates.length,
    onclick: async () => {
      try { await download(`/api/projects/${project.id}/key-dates.ics`, `${project.name} key dates.ics`); } catch (e) { toast(describeError(e, 'the key dates'), 'error'); }
    },
  });
  const today = new Date().toISOString().slice(0, 10);
  const body = dates.length ? h('ol', { class: 'key-dates' }, dates.map((k) => h('li', {
    class: ['key-date', k.date < today && 'past'], dataset: { kind: k.kind, date: k.date, tentative: String(k.tentative) },
  },
  h('time', { class: 'key-date-day', datetime: k.date }, formatCalendarDate(k.date)),
  h('div', { class: 'key-date-body' },
    h('p', h('span', { class: 'strong' }, k.title), k.tentative ? h('span', { class: 'badge badge-warning', title: 'Read from a passage the analysis is unsure of: check the contract' }, 'Tentative') : null,
      k.date < today ? h('span', { class: 'badge badge-neutral' }, 'Past') : null),
    h('p', h('a', { href: `/documents/${k.document_id}` }, k.document_name)),
    // The server words the computation with ISO dates (also in the .ics); shown in the page's one format.
    h('p', { class: 'muted small key-date-detail' }, String(k.detail || '').replace(/\b\d{4}-\d{2}-\d{2}\b/g, formatCalendarDate)),
    k.source_text ? h('p', { class: 'key-date-source small' }, k.source_page ? `Page ${k.source_page}: ` : '', `“${k.source_text}”`) : null))))
    : emptyState('No key dates', 'No expiration, renewal or notice date could be computed from the analyzed contracts.');
  return panel('Key dates', body, { id: 'key-dates', actions: ics });
}

function reportsPanel(ctx, project, canEdit) {
  const list = h('div', loading());
  const gen = canEdit ? button('Generate project report', { class: 'btn btn-primary btn-small', id: 'generate-project-report' }) : null;
  let polling = false;
  const load = async () => {
    const items = (await api('GET', `/api/projects/${project.id}/reports`, null, { signal: ctx.signal })).items || [];
    replace(list, items.length ? h('ul', { class: 'report-list' }, items.map((r) => reportItem(project, r)))
      : emptyState('No project reports yet', 'A project report covers every document: risks, every clause, decisions and key dates.'));
    return items.every((r) => isTerminal(r.status));
  };
  const follow = () => {
    if (polling) return;
    polling = true;
    poll(ctx.signal, 1500, async () => {
      const done = await load();
      if (done) { polling = false; announce('The project report is ready to download.'); }
      return done;
    });
  };
  if (gen) {
    gen.addEventListener('click', async () => {
      gen.disabled = true;
      try {
        await api('POST', `/api/projects/${project.id}/reports`);
        announce('Project report requested.');
        await load();
        follow();
      } catch (e) { toast(describeError(e, 'the project'), 'error'); } finally { gen.disabled = false; }
    });
  }
  load().then((done) => { if (!done) follow(); }).catch((e) => { if (e.name !== 'AbortError') replace(list, errorPanel(e, 'the reports')); });
  return panel('Project reports', list, { id: 'project-reports', actions: gen });
}

function reportItem(project, r) {
  const actions = h('div', { class: 'report-actions' });
  if (r.status === 'complete') {
    for (const fmt of ['pdf', 'html']) {
      actions.append(button(`Download ${fmt.toUpperCase()}`, {
        class: fmt === 'pdf' ? 'btn btn-small btn-primary' : 'btn btn-small', dataset: { format: fmt },
        onclick: async () => {
          try { await download(`/api/reports/${r.id}/download?format=${fmt}`, `${project.name} report.${fmt}`); } catch (e) { toast(describeError(e, 'the report'), 'error'); }
        },
      }));
    }
  }
  return h('li', { class: 'report-item', dataset: { id: r.id, status: r.status } },
    h('div', { class: 'report-info' }, h('span', { class: 'report-icon', 'aria-hidden': 'true' }),
      h('div', h('p', { class: 'strong' }, `Project report · ${formatDate(r.created_at)}`),
        r.status === 'failed' && r.error_message ? h('p', { class: 'error-text' }, r.error_message) : null)),
    statusBadge(r.status), actions);
}

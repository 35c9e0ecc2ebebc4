// Projects: the list, one project's documents (upload + live status), members.
import { h, clear, field, messageArea, modal, button, announce, toast, confirmDialog, select } from '../dom.js';
import { api, describeError, ApiError } from '../api.js';
import { navigate } from '../router.js';
import { pageHeader, loading, errorPanel, emptyState, panel, tabLinks, table, replace } from '../ui.js';
import {
  formatBytes, statusBadge, roleBadge, timeEl, isTerminal, plural, roleLabel,
} from '../format.js';
import { checkFile, uploadFile, acceptAttribute } from '../upload.js';
import { follow } from '../live.js';
import { dashboardSection } from './dashboard.js';
import { projectPlaybookSection } from './playbook.js';

const PROJECT_ROLES = ['viewer', 'editor', 'admin'];

export async function projectsPage(ctx) {
  ctx.setPage('Projects', [{ label: 'Projects' }]);
  const list = h('div', { class: 'project-grid-wrap' }, loading('Loading projects…'));
  const newBtn = button('New project', { class: 'btn btn-primary', onclick: () => newProjectDialog() });
  const header = pageHeader('Projects', { subtitle: 'Each project groups the contracts of one matter or client.', actions: newBtn });
  ctx.main.append(header, list);

  const load = async () => {
    try {
      const res = await api('GET', '/api/projects?limit=200', null, { signal: ctx.signal });
      const items = res.items || [];
      if (!items.length) {
        replace(list, emptyState('No projects yet', 'Create a project, then upload contracts to it.',
          button('Create your first project', { class: 'btn btn-primary', onclick: () => newProjectDialog() })));
        return;
      }
      replace(list, h('ul', { class: 'project-grid', 'aria-label': 'Projects' }, items.map((p) => h('li',
        h('a', { href: `/projects/${p.id}`, class: 'project-card' },
          h('div', { class: 'project-card-top' },
            h('span', { class: 'project-icon', 'aria-hidden': 'true' }, (p.name || '?').slice(0, 1).toUpperCase()),
            roleBadge(p.my_role)),
          h('h2', { class: 'project-name' }, p.name),
          h('p', { class: 'project-desc' }, p.description || 'No description'),
          h('div', { class: 'project-foot' },
            h('span', plural(p.document_count || 0, 'document')),
            h('span', { class: 'muted' }, 'Created ', timeEl(p.created_at, true))))))));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(list, errorPanel(e, 'the projects', load));
    }
  };
  await load();
}

function newProjectDialog() {
  const name = h('input', { type: 'text', required: true, maxlength: 200, name: 'name' });
  const desc = h('textarea', { rows: 3, maxlength: 2000, name: 'description' });
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create project');
  const form = h('form', { class: 'form' }, msg, field('Name', name), field('Description', desc, 'Optional: client, matter number, scope.'),
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), save));
  const dlg = modal('New project', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.value.trim()) { msg.set('Give the project a name.'); name.focus(); return; }
    save.disabled = true;
    try {
      const p = await api('POST', '/api/projects', { name: name.value.trim(), description: desc.value.trim() });
      dlg.close();
      toast(`Project “${p.name}” created.`, 'success');
      navigate(`/projects/${p.id}`);
    } catch (err) {
      msg.set(err instanceof ApiError && err.status === 409 ? 'A project with this name already exists.' : describeError(err));
    } finally {
      save.disabled = false;
    }
  });
}

export async function projectPage(ctx) {
  const id = ctx.params.id;
  ctx.setPage('Project', [{ label: 'Projects', href: '/projects' }, { label: '…' }]);
  ctx.main.append(loading('Loading project…'));
  let project;
  try {
    project = await api('GET', `/api/projects/${encodeURIComponent(id)}`, null, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(ctx.main, errorPanel(e, 'this project'));
    return;
  }
  const myRole = project.my_role || (ctx.user.role === 'admin' ? 'admin' : 'viewer');
  const canEdit = myRole === 'editor' || myRole === 'admin';
  const canManage = myRole === 'admin';
  ctx.setPage(project.name, [{ label: 'Projects', href: '/projects' }, { label: project.name }]);

  const actions = canManage ? [
    button('Edit', { class: 'btn', onclick: () => editProjectDialog(project) }),
    button('Delete', {
      class: 'btn btn-danger-ghost',
      onclick: async () => {
        if (!await confirmDialog('Delete project?', `“${project.name}” and all its documents, clauses, decisions and reports will be deleted. This cannot be undone.`, 'Delete project')) return;
        try {
          await api('DELETE', `/api/projects/${id}`);
          toast('Project deleted.', 'success');
          navigate('/projects');
        } catch (err) { toast(describeError(err, 'the project'), 'error'); }
      },
    }),
  ] : null;
  const header = pageHeader(project.name, {
    eyebrow: 'Project', subtitle: project.description || null, actions,
    meta: [h('span', 'Your role: '), roleBadge(myRole)],
  });
  const tab = ctx.tab || 'documents';
  const tabs = tabLinks('Project sections', [
    { key: 'documents', href: `/projects/${id}`, label: 'Documents' },
    { key: 'dashboard', href: `/projects/${id}/dashboard`, label: 'Dashboard' },
    { key: 'playbook', href: `/projects/${id}/playbook`, label: 'Playbook' },
    { key: 'members', href: `/projects/${id}/members`, label: 'Members' },
  ], tab);
  const body = h('div', { class: 'stack' });
  replace(ctx.main, header, tabs, body);
  if (tab === 'members') {
    body.append(await membersSection(id, canManage, ctx));
    return;
  }
  if (tab === 'dashboard') {
    await dashboardSection(ctx, project, canEdit, body);
    return;
  }
  if (tab === 'playbook') {
    await projectPlaybookSection(ctx, project, canManage, body);
    return;
  }
  await documentsSection(ctx, project, canEdit, body);
}

function editProjectDialog(project) {
  const name = h('input', { type: 'text', required: true, value: project.name, name: 'name' });
  const desc = h('textarea', { rows: 3, name: 'description' });
  desc.value = project.description || '';
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
  const form = h('form', { class: 'form' }, msg, field('Name', name), field('Description', desc),
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), save));
  const dlg = modal('Edit project', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api('PATCH', `/api/projects/${project.id}`, { name: name.value.trim(), description: desc.value.trim() });
      dlg.close();
      toast('Project updated.', 'success');
      navigate(location.pathname, { replace: true });
    } catch (err) {
      msg.set(describeError(err));
    } finally { save.disabled = false; }
  });
}

// ---- documents ----------------------------------------------------------

async function documentsSection(ctx, project, canEdit, body) {
  const id = project.id;
  let settings = { supported_file_types: [], max_upload_size_mb: 0 };
  try {
    settings = await api('GET', '/api/settings', null, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
  }
  const tableBox = h('div', loading('Loading documents…'));
  const rows = new Map(); // document id -> {tr, sig, status}
  let docs = [];

  const rowSig = (d) => `${d.pipeline_status}|${d.progress}|${d.clause_count}|${d.error_message || ''}`;
  const renderRow = (d) => {
    const status = h('div', { class: 'status-cell' }, statusBadge(d.pipeline_status));
    if (!isTerminal(d.pipeline_status)) {
      status.append(h('progress', { class: 'progress', max: 100, value: d.progress || 0, 'aria-label': `Analysis progress for ${d.original_name}` }),
        h('span', { class: 'progress-text' }, `${d.progress || 0}%`));
    }
    if (d.pipeline_status === 'failed' && d.error_message) status.append(h('p', { class: 'error-text' }, d.error_message));
    const actions = h('div', { class: 'row-actions' });
    if (canEdit && d.pipeline_status === 'failed') {
      actions.append(button('Retry', {
        class: 'btn btn-small',
        onclick: async () => {
          try { await api('POST', `/api/documents/${d.id}/reprocess`); announce(`${d.original_name} queued again.`); refresh(); } catch (err) { toast(describeError(err, 'the document'), 'error'); }
        },
      }));
    }
    if (canEdit) {
      actions.append(button('Delete', {
        class: 'btn btn-small btn-danger-ghost', 'aria-label': `Delete ${d.original_name}`,
        onclick: async () => {
          if (!await confirmDialog('Delete document?', `“${d.original_name}”, its clauses, decisions and reports will be deleted.`, 'Delete')) return;
          try { await api('DELETE', `/api/documents/${d.id}`); toast('Document deleted.', 'success'); refresh(); } catch (err) { toast(describeError(err, 'the document'), 'error'); }
        },
      }));
    }
    return h('tr', { dataset: { id: d.id, status: d.pipeline_status } },
      h('td', h('a', { href: `/documents/${d.id}`, class: 'doc-link' },
        h('span', { class: `file-icon file-${d.file_type}`, 'aria-hidden': 'true' }, (d.file_type || '').toUpperCase()),
        h('span', { class: 'doc-name' }, d.original_name)),
      h('span', { class: 'sub' }, `${(d.file_type || '').toUpperCase()} · ${formatBytes(d.size_bytes)}${d.page_count ? ` · ${plural(d.page_count, 'page')}` : ''}`)),
      h('td', status),
      h('td', { class: 'num' }, d.pipeline_status === 'complete' ? String(d.clause_count ?? 0) : '—'),
      h('td', timeEl(d.created_at)),
      h('td', { class: 'actions-cell' }, actions));
  };

  let rendered = false;
  const renderTable = () => {
    rendered = true;
    rows.clear();
    if (!docs.length) {
      replace(tableBox, emptyState('No documents yet',
        canEdit ? 'Upload contracts above: they are analyzed automatically.' : 'Nobody has uploaded a document to this project yet.'));
      return;
    }
    const trs = docs.map((d) => {
      const tr = renderRow(d);
      rows.set(d.id, { tr, sig: rowSig(d), status: d.pipeline_status });
      return tr;
    });
    replace(tableBox, table(`Documents in ${project.name}`, [
      { label: 'Document' }, { label: 'Status' }, { label: 'Clauses', cls: 'num' }, { label: 'Uploaded' }, { label: 'Actions', cls: 'sr-only-th' },
    ], trs, { cls: 'documents-table' }));
  };

  const updateRow = (d) => {
    const r = rows.get(d.id);
    const sig = rowSig(d);
    if (!r || r.sig === sig) return;
    if (r.status !== d.pipeline_status && isTerminal(d.pipeline_status)) {
      announce(d.pipeline_status === 'complete' ? `${d.original_name}: analysis complete.` : `${d.original_name}: analysis failed.`);
    }
    const tr = renderRow(d);
    r.tr.replaceWith(tr);
    rows.set(d.id, { tr, sig, status: d.pipeline_status });
  };

  // Live events (document id -> the latest, with its arrival number): one
  // that arrives while the list is being loaded wins over the list.
  const latest = new Map();
  let arrivals = 0;
  const withLatest = (d, since) => {
    const ev = latest.get(d.id);
    if (!ev || ev.n <= since) return d;
    return { ...d, pipeline_status: ev.pipeline_status, progress: ev.progress, error_message: ev.error_message || d.error_message };
  };
  let loadingList = null;
  let again = false;
  const refresh = async () => {
    if (loadingList) { again = true; return loadingList; }
    loadingList = (async () => {
      do {
        again = false;
        const since = arrivals;
        const res = await api('GET', `/api/projects/${id}/documents?limit=200`, null, { signal: ctx.signal });
        const next = (res.items || []).map((d) => withLatest(d, since));
        const sameSet = rendered && next.length === docs.length && next.every((d, i) => docs[i] && docs[i].id === d.id);
        docs = next;
        if (!sameSet) renderTable();
        else next.forEach(updateRow);
      } while (again && !ctx.signal.aborted);
    })().finally(() => { loadingList = null; });
    return loadingList;
  };
  const onDocument = (ev) => {
    arrivals += 1;
    latest.set(ev.document_id, { ...ev, n: arrivals });
    const i = docs.findIndex((d) => d.id === ev.document_id);
    if (i < 0 || isTerminal(ev.pipeline_status)) {
      // A new document, or a finished one (its clause count): reload the list.
      if (i >= 0) updateRow(withLatest(docs[i], 0));
      refresh().catch(() => {});
      return;
    }
    docs[i] = withLatest(docs[i], 0);
    updateRow(docs[i]);
  };
  const tablePanel = panel('Documents', tableBox, { id: 'documents' });
  follow(id, ctx.signal, {
    onReady: () => refresh().catch(() => {}),
    onPoll: () => refresh().catch(() => {}),
    onDocument,
    onState: (st) => { tablePanel.dataset.live = st; },
  });

  if (canEdit) {
    body.append(uploadPanel(id, settings, {
      onStart: () => {},
      onDone: async () => { try { await refresh(); } catch { /* the next event or poll reloads */ } },
    }));
  } else {
    body.append(h('p', { class: 'notice', 'data-testid': 'read-only-notice' },
      'You can read this project. Ask a project admin for the editor role to upload documents.'));
  }
  body.append(tablePanel);
  try {
    await refresh();
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(tableBox, errorPanel(e, 'the documents'));
  }
}

function uploadPanel(projectId, settings, hooks) {
  const types = settings.supported_file_types || [];
  const input = h('input', { type: 'file', multiple: true, id: 'file-input', class: 'file-input', accept: acceptAttribute(types), name: 'file' });
  const limit = settings.max_upload_size_mb ? `up to ${settings.max_upload_size_mb} MB each` : '';
  const zone = h('div', { class: 'dropzone', 'data-testid': 'dropzone' },
    input,
    h('label', { for: 'file-input', class: 'dropzone-label' },
      h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }),
      h('span', { class: 'dropzone-title' }, 'Drop contracts here or ', h('span', { class: 'link' }, 'choose files')),
      h('span', { class: 'dropzone-hint', id: 'upload-hint' },
        `${types.map((t) => t.toUpperCase()).join(', ') || 'No file types are enabled'}${limit ? ` · ${limit}` : ''}`)));
  input.setAttribute('aria-describedby', 'upload-hint');
  const list = h('ul', { class: 'upload-list', 'aria-label': 'Uploads' });
  const queue = [];
  let active = 0;

  const pump = () => {
    while (active < 2 && queue.length) {
      const job = queue.shift();
      active += 1;
      job().finally(() => { active -= 1; pump(); });
    }
  };

  const addFile = (file) => {
    const bar = h('progress', { class: 'progress', max: 100, value: 0, 'aria-label': `Upload progress for ${file.name}` });
    const state = h('span', { class: 'upload-state' }, 'Checking…');
    const cancel = button('Cancel', { class: 'btn btn-small btn-ghost', 'aria-label': `Cancel upload of ${file.name}` });
    const item = h('li', { class: 'upload-item', dataset: { name: file.name } },
      h('div', { class: 'upload-top' }, h('span', { class: 'upload-name' }, file.name),
        h('span', { class: 'muted' }, formatBytes(file.size)), cancel),
      bar, state);
    list.prepend(item);
    const finish = (text, kind) => {
      state.textContent = text;
      item.dataset.state = kind;
      cancel.textContent = 'Dismiss';
      cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
      cancel.onclick = () => item.remove();
    };
    let handle = null;
    let cancelled = false;
    cancel.onclick = () => { cancelled = true; if (handle) handle.abort(); else finish('Canceled.', 'cancelled'); };
    queue.push(async () => {
      if (cancelled) return;
      const reason = await checkFile(file, settings);
      if (reason) {
        bar.remove();
        finish(`Not uploaded: ${reason}`, 'refused');
        announce(`${file.name} was not uploaded. ${reason}`);
        return;
      }
      state.textContent = 'Uploading…';
      item.dataset.state = 'uploading';
      hooks.onStart();
      handle = uploadFile(projectId, file, (f) => {
        bar.value = Math.round(f * 100);
        state.textContent = f >= 1 ? 'Processing upload…' : `Uploading… ${Math.round(f * 100)}%`;
      });
      try {
        await handle.promise;
        bar.value = 100;
        finish('Uploaded. Analysis has started.', 'done');
        announce(`${file.name} uploaded. Analysis has started.`);
      } catch (err) {
        bar.remove();
        if (err.name === 'AbortError') finish('Canceled.', 'cancelled');
        else {
          const text = err.status === 413
            ? `The file is larger than the ${settings.max_upload_size_mb} MB limit.`
            : err.status === 415 ? 'The server refused this file type. Check the list of accepted types.'
              : describeError(err);
          finish(`Not uploaded: ${text}`, 'refused');
          announce(`${file.name} was not uploaded. ${text}`);
        }
      } finally {
        await hooks.onDone();
      }
    });
  };

  const addFiles = (files) => {
    for (const f of files) addFile(f);
    pump();
  };
  input.addEventListener('change', () => { addFiles(Array.from(input.files || [])); input.value = ''; });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; zone.classList.add('dragging'); });
  zone.addEventListener('dragleave', (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove('dragging'); });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    addFiles(Array.from(e.dataTransfer.files || []));
  });
  return panel('Upload', h('div', { class: 'upload' }, zone, list), { id: 'upload' });
}

// ---- members ------------------------------------------------------------

/** The members of a project; editable when canManage. Also used on the admin page. */
export async function membersSection(projectId, canManage, ctx) {
  const box = h('div', loading('Loading members…'));
  const wrap = panel('Members', box, { id: 'members' });
  const load = async () => {
    let res;
    try {
      res = await api('GET', `/api/projects/${projectId}/members`, null, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(box, errorPanel(e, 'the members', load));
      return;
    }
    const items = res.items || [];
    const rows = items.map((m) => {
      let roleCell;
      if (canManage) {
        const sel = select(PROJECT_ROLES.map((r) => [r, roleLabel(r)]), m.role, { 'aria-label': `Role of ${m.name || m.email}`, class: 'select-small' });
        sel.addEventListener('change', async () => {
          try {
            await api('PUT', `/api/projects/${projectId}/members/${m.user_id}`, { role: sel.value });
            toast(`${m.name || m.email} is now ${roleLabel(sel.value).toLowerCase()}.`, 'success');
          } catch (err) {
            sel.value = m.role;
            toast(describeError(err, 'this member'), 'error');
          }
        });
        roleCell = sel;
      } else {
        roleCell = roleBadge(m.role);
      }
      return h('tr', { dataset: { userId: m.user_id } },
        h('td', h('span', { class: 'strong' }, m.name || '—')),
        h('td', m.email),
        h('td', roleCell),
        canManage ? h('td', { class: 'actions-cell' }, button('Remove', {
          class: 'btn btn-small btn-danger-ghost', 'aria-label': `Remove ${m.name || m.email}`,
          onclick: async () => {
            if (!await confirmDialog('Remove member?', `${m.name || m.email} will lose access to this project.`, 'Remove')) return;
            try { await api('DELETE', `/api/projects/${projectId}/members/${m.user_id}`); toast('Member removed.', 'success'); load(); } catch (err) { toast(describeError(err, 'this member'), 'error'); }
          },
        })) : null);
    });
    const cols = [{ label: 'Name' }, { label: 'Email' }, { label: 'Role' }];
    if (canManage) cols.push({ label: 'Actions', cls: 'sr-only-th' });
    replace(box, items.length ? table('Project members', cols, rows) : emptyState('No members', 'Add people by their email address.'),
      canManage ? addMemberForm(projectId, load) : h('p', { class: 'muted small' }, 'Only project admins can change members.'));
  };
  await load();
  return wrap;
}

function addMemberForm(projectId, reload) {
  const email = h('input', { type: 'email', name: 'member_email', required: true, placeholder: 'name@example.com', autocomplete: 'off' });
  const role = select(PROJECT_ROLES.map((r) => [r, roleLabel(r)]), 'viewer', { name: 'member_role' });
  const msg = messageArea();
  const add = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add member');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Add a member' },
    field('Email', email), field('Role', role), h('div', { class: 'field field-button' }, add));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.set('');
    if (!email.value.trim()) { msg.set('Enter the email address of the person to add.'); email.focus(); return; }
    add.disabled = true;
    try {
      const u = await api('GET', `/api/users/lookup?email=${encodeURIComponent(email.value.trim())}`);
      await api('PUT', `/api/projects/${projectId}/members/${u.id}`, { role: role.value });
      toast(`${u.name || u.email} added as ${roleLabel(role.value).toLowerCase()}.`, 'success');
      email.value = '';
      await reload();
    } catch (err) {
      msg.set(err instanceof ApiError && err.status === 404
        ? 'No account uses this email address. A system admin can create it under Users.'
        : describeError(err));
    } finally { add.disabled = false; }
  });
  return h('div', { class: 'add-member' }, h('h3', { class: 'subhead' }, 'Add a member'), msg, form);
}

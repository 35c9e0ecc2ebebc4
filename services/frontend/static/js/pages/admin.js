// Administration: users, project access, uploads, AI providers, audit log.
import { h, clear, field, messageArea, modal, button, toast, confirmDialog, select, randomPassword, announce } from '../dom.js';
import { api, describeError, ApiError, currentUser } from '../api.js';
import { pageHeader, loading, errorPanel, emptyState, panel, table, replace } from '../ui.js';
import { timeEl, roleBadge, humanize } from '../format.js';
import { membersSection } from './projects.js';

function adminCrumbs(ctx, title) {
  ctx.setPage(title, [{ label: 'Administration' }, { label: title }]);
}

// ---- users -----------------------------------------------------------------

export async function usersPage(ctx) {
  adminCrumbs(ctx, 'Users');
  const box = h('div', loading('Loading users…'));
  ctx.main.append(pageHeader('Users', {
    subtitle: 'People who can sign in. New accounts get a temporary password they must change.',
    actions: button('Create user', { class: 'btn btn-primary', onclick: () => userDialog(load) }),
  }), panel(null, box));
  const me = currentUser();
  async function load() {
    let res;
    try {
      res = await api('GET', '/api/users?limit=500', null, { signal: ctx.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(box, errorPanel(e, 'the users', load));
      return;
    }
    const items = res.items || [];
    const rows = items.map((u) => {
      const self = me && u.id === me.id;
      const role = select([['user', 'User'], ['admin', 'Admin']], u.role, { 'aria-label': `System role of ${u.email}`, class: 'select-small', disabled: self });
      role.addEventListener('change', async () => {
        try {
          await api('PATCH', `/api/users/${u.id}`, { role: role.value });
          toast(`${u.email} is now ${role.value === 'admin' ? 'an admin' : 'a user'}.`, 'success');
          u.role = role.value;
        } catch (e) { role.value = u.role; toast(describeError(e, 'this user'), 'error'); }
      });
      const status = u.disabled ? h('span', { class: 'badge badge-danger' }, 'Disabled')
        : u.must_change_password ? h('span', { class: 'badge badge-warning' }, 'Password change pending')
          : h('span', { class: 'badge badge-success' }, 'Active');
      const actions = h('div', { class: 'row-actions' },
        button('Reset password', { class: 'btn btn-small', onclick: () => resetDialog(u, load) }),
        self ? null : button(u.disabled ? 'Enable' : 'Disable', {
          class: u.disabled ? 'btn btn-small' : 'btn btn-small btn-danger-ghost',
          onclick: async () => {
            if (!u.disabled && !await confirmDialog('Disable user?', `${u.email} will be signed out and can no longer sign in.`, 'Disable')) return;
            try {
              await api('PATCH', `/api/users/${u.id}`, { disabled: !u.disabled });
              toast(u.disabled ? 'User enabled.' : 'User disabled.', 'success');
              load();
            } catch (e) { toast(describeError(e, 'this user'), 'error'); }
          },
        }));
      return h('tr', { dataset: { email: u.email } },
        h('td', h('span', { class: 'strong' }, u.name || '—'), h('span', { class: 'sub' }, u.email)),
        h('td', role), h('td', status), h('td', timeEl(u.last_login)), h('td', timeEl(u.created_at, true)),
        h('td', { class: 'actions-cell' }, actions));
    });
    replace(box, table('Users', [{ label: 'User' }, { label: 'Role' }, { label: 'Status' }, { label: 'Last sign-in' }, { label: 'Created' }, { label: 'Actions', cls: 'sr-only-th' }], rows));
  }
  await load();
}

function passwordField(label) {
  const input = h('input', { type: 'text', required: true, minlength: 12, autocomplete: 'new-password', name: 'password', class: 'mono', value: randomPassword() });
  const regen = button('Generate', { class: 'btn btn-small btn-ghost', onclick: () => { input.value = randomPassword(); input.focus(); } });
  return { input, el: h('div', { class: 'field' }, h('label', { class: 'label', for: 'pw-field' }, label),
    h('div', { class: 'input-group' }, Object.assign(input, { id: 'pw-field' }), regen),
    h('p', { class: 'hint' }, 'Share it with the person securely. They must change it when they first sign in.')) };
}

function userDialog(reload) {
  const email = h('input', { type: 'email', required: true, name: 'email', autocomplete: 'off' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const role = select([['user', 'User — sees only projects they are a member of'], ['admin', 'Admin — manages everything']], 'user', { name: 'role' });
  const pw = passwordField('Temporary password');
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create user');
  const form = h('form', { class: 'form' }, msg, field('Email', email), field('Name', name), field('System role', role), pw.el,
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), save));
  const dlg = modal('Create user', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!email.value.trim()) { msg.set('Enter an email address.'); email.focus(); return; }
    if (pw.input.value.length < 12) { msg.set('The temporary password needs at least 12 characters.'); pw.input.focus(); return; }
    save.disabled = true;
    try {
      const u = await api('POST', '/api/users', { email: email.value.trim(), name: name.value.trim(), role: role.value, password: pw.input.value });
      dlg.close();
      toast(`User ${u.email} created.`, 'success');
      reload();
    } catch (err) {
      msg.set(err instanceof ApiError && err.status === 409 ? 'A user with this email already exists.' : describeError(err));
    } finally { save.disabled = false; }
  });
}

function resetDialog(u, reload) {
  const pw = passwordField('New temporary password');
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Reset password');
  const form = h('form', { class: 'form' }, h('p', `Set a temporary password for ${u.email}. They will have to change it when they next sign in.`), msg, pw.el,
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), save));
  const dlg = modal('Reset password', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api('POST', `/api/users/${u.id}/reset-password`, { password: pw.input.value });
      dlg.close();
      toast(`Password reset for ${u.email}.`, 'success');
      reload();
    } catch (err) { msg.set(describeError(err)); } finally { save.disabled = false; }
  });
}

// ---- project access ----------------------------------------------------------

export async function membershipsPage(ctx) {
  adminCrumbs(ctx, 'Project access');
  ctx.main.append(pageHeader('Project access', { subtitle: 'Choose a project to see and change who can read it (viewer), upload and decide (editor), or manage it (admin).' }));
  let projects;
  try {
    projects = (await api('GET', '/api/projects?limit=500', null, { signal: ctx.signal })).items || [];
  } catch (e) {
    if (e.name !== 'AbortError') ctx.main.append(errorPanel(e, 'the projects'));
    return;
  }
  if (!projects.length) {
    ctx.main.append(emptyState('No projects yet', 'Projects appear here once someone creates one.'));
    return;
  }
  const chosen = ctx.query.get('project') || projects[0].id;
  const sel = select(projects.map((p) => [p.id, p.name]), chosen, { name: 'project' });
  const box = h('div');
  ctx.main.append(h('div', { class: 'toolbar' }, field('Project', sel)), box);
  const show = async () => {
    history.replaceState(null, '', `/admin/memberships?project=${encodeURIComponent(sel.value)}`);
    replace(box, loading());
    replace(box, await membersSection(sel.value, true, ctx));
  };
  sel.addEventListener('change', show);
  await show();
}

// ---- uploads ---------------------------------------------------------------

const KNOWN_TYPES = [
  ['pdf', 'PDF documents'], ['docx', 'Word documents (DOCX)'], ['png', 'PNG images (scans)'],
  ['jpg', 'JPG images (scans)'], ['jpeg', 'JPEG images (scans)'], ['tiff', 'TIFF images (scans)'],
];

export async function settingsPage(ctx) {
  adminCrumbs(ctx, 'Uploads');
  ctx.main.append(pageHeader('Uploads', { subtitle: 'Which files people may upload, and how large. The server checks the content of every file, not only its name.' }));
  let s;
  try {
    s = await api('GET', '/api/settings', null, { signal: ctx.signal });
  } catch (e) {
    if (e.name !== 'AbortError') ctx.main.append(errorPanel(e, 'the settings'));
    return;
  }
  const current = new Set((s.supported_file_types || []).map((t) => t.toLowerCase()));
  const known = [...KNOWN_TYPES];
  for (const t of current) if (!known.some(([k]) => k === t)) known.push([t, t.toUpperCase()]);
  const boxes = known.map(([t, label]) => {
    const cb = h('input', { type: 'checkbox', name: 'file_type', value: t, checked: current.has(t), id: `ft-${t}` });
    return h('li', { class: 'check' }, cb, h('label', { for: `ft-${t}` }, h('span', { class: 'strong' }, `.${t}`), ' ', h('span', { class: 'muted' }, label)));
  });
  const size = h('input', { type: 'number', min: 1, max: 10000, step: 1, name: 'max_upload_size_mb', value: String(s.max_upload_size_mb || 100), class: 'input-narrow' });
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save settings');
  const form = h('form', { class: 'form form-wide' }, msg,
    h('fieldset', { class: 'fieldset' }, h('legend', 'Accepted file types'), h('ul', { class: 'check-list' }, boxes)),
    field('Largest upload (MB)', size, 'Per file. Larger files are refused before they are stored.'),
    h('div', { class: 'form-actions form-actions-left' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const types = [...form.querySelectorAll('input[name=file_type]:checked')].map((c) => c.value);
    if (!types.length) { msg.set('Keep at least one file type, or nobody can upload anything.'); return; }
    const mb = Number(size.value);
    if (!Number.isInteger(mb) || mb < 1) { msg.set('The size limit must be a whole number of megabytes.'); size.focus(); return; }
    save.disabled = true;
    try {
      await api('PUT', '/api/admin/settings', { supported_file_types: types, max_upload_size_mb: mb });
      msg.set('Settings saved. They apply to the next upload.', 'success');
      announce('Upload settings saved.');
    } catch (err) { msg.set(describeError(err)); } finally { save.disabled = false; }
  });
  ctx.main.append(panel('Upload rules', form, { id: 'upload-settings' }));
}

// ---- AI providers ------------------------------------------------------------

const CAPABILITIES = [
  ['extraction_classification', 'Extraction and classification', 'Splits the text into clauses and names their category.'],
  ['document_understanding', 'Document understanding', 'Reads document-level facts: parties, dates, governing law.'],
  ['reasoning', 'Risk reasoning', 'Rates the risk of each clause and explains why.'],
  ['generation', 'Report writing', 'Writes the summaries in reports.'],
  ['embeddings', 'Embeddings', 'Finds similar clauses across documents.'],
];

export async function aiPage(ctx) {
  adminCrumbs(ctx, 'AI providers');
  ctx.main.append(pageHeader('AI providers', {
    subtitle: 'Optional. Without a provider, the built-in offline analyzer does the work and no text leaves your servers.',
    actions: button('Add provider', { class: 'btn btn-primary', onclick: () => providerDialog(null, load) }),
  }));
  const provBox = h('div', loading());
  const capBox = h('div', loading());
  ctx.main.append(panel('Providers', provBox, { id: 'providers' }), panel('Capabilities', capBox, { id: 'capabilities' }));
  async function load() {
    let providers;
    let caps;
    try {
      [providers, caps] = await Promise.all([
        api('GET', '/api/admin/ai-providers', null, { signal: ctx.signal }),
        api('GET', '/api/admin/ai-capabilities', null, { signal: ctx.signal }),
      ]);
    } catch (e) {
      if (e.name !== 'AbortError') replace(provBox, errorPanel(e, 'the AI providers', load));
      clear(capBox);
      return;
    }
    const items = providers.items || [];
    replace(provBox, items.length ? table('AI providers', [
      { label: 'Name' }, { label: 'Kind' }, { label: 'Models' }, { label: 'API key' }, { label: 'State' }, { label: 'Actions', cls: 'sr-only-th' },
    ], items.map((p) => {
      const result = h('span', { class: 'test-result', role: 'status' });
      return h('tr', { dataset: { id: p.id } },
        h('td', h('span', { class: 'strong' }, p.name), h('span', { class: 'sub mono' }, p.base_url)),
        h('td', p.kind === 'anthropic' ? 'Anthropic' : 'OpenAI-compatible'),
        h('td', h('span', p.model || '—'), p.embedding_model ? h('span', { class: 'sub' }, `Embeddings: ${p.embedding_model}`) : null),
        h('td', !p.has_api_key ? h('span', { class: 'badge badge-neutral' }, 'None')
          : p.api_key_unreadable ? h('span', { class: 'badge badge-danger', title: 'The key it was encrypted with is gone; enter the key again.' }, 'Unreadable — re-enter')
          : h('span', { class: 'badge badge-success' }, 'Stored')),
        h('td', p.active ? h('span', { class: 'badge badge-info' }, 'Active') : h('span', { class: 'badge badge-neutral' }, 'Inactive')),
        h('td', { class: 'actions-cell' }, h('div', { class: 'row-actions' },
          button('Test connection', {
            class: 'btn btn-small',
            onclick: async (e) => {
              const b = e.currentTarget;
              b.disabled = true;
              result.textContent = 'Testing…';
              result.className = 'test-result';
              try {
                const r = await api('POST', `/api/admin/ai-providers/${p.id}/test`);
                result.textContent = r.ok ? `Connected${r.detail ? `: ${r.detail}` : ''}` : `Failed: ${r.detail || 'no answer'}`;
                result.className = `test-result ${r.ok ? 'ok' : 'bad'}`;
              } catch (err) {
                result.textContent = describeError(err);
                result.className = 'test-result bad';
              } finally { b.disabled = false; }
            },
          }),
          button('Edit', { class: 'btn btn-small', onclick: () => providerDialog(p, load) }),
          button('Delete', {
            class: 'btn btn-small btn-danger-ghost',
            onclick: async () => {
              if (!await confirmDialog('Delete provider?', `${p.name} and its stored key will be deleted. Capabilities using it fall back to the offline analyzer.`, 'Delete')) return;
              try { await api('DELETE', `/api/admin/ai-providers/${p.id}`); toast('Provider deleted.', 'success'); load(); } catch (err) { toast(describeError(err), 'error'); }
            },
          })), result));
    })) : emptyState('No AI providers', 'The offline analyzer is in use. Add a provider to use a hosted or self-hosted model.'));
    replace(capBox, capabilityForm(items, caps.items || [], load));
  }
  await load();
}

function providerDialog(p, reload) {
  const name = h('input', { type: 'text', required: true, name: 'name', value: p ? p.name : '' });
  const kind = select([['openai', 'OpenAI-compatible (OpenAI, Azure, vLLM, Ollama…)'], ['anthropic', 'Anthropic']], p ? p.kind : 'openai', { name: 'kind' });
  const base = h('input', { type: 'url', required: true, name: 'base_url', value: p ? p.base_url : 'https://api.openai.com/v1', class: 'mono' });
  const model = h('input', { type: 'text', name: 'model', value: p ? p.model : '' });
  const emb = h('input', { type: 'text', name: 'embedding_model', value: p ? p.embedding_model : '' });
  const key = h('input', { type: 'password', name: 'api_key', autocomplete: 'off', placeholder: p && p.has_api_key ? '•••••••• stored — leave empty to keep' : '' });
  const active = h('input', { type: 'checkbox', name: 'active', checked: p ? p.active : true, id: 'prov-active' });
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, p ? 'Save provider' : 'Add provider');
  const form = h('form', { class: 'form' }, msg, field('Name', name), field('Kind', kind), field('Base URL', base),
    h('div', { class: 'field-row' }, field('Model', model), field('Embedding model', emb, 'Must produce 384-dimension vectors.')),
    field('API key', key, 'Stored encrypted. It is never shown again, not even to admins.'),
    h('div', { class: 'check' }, active, h('label', { for: 'prov-active' }, 'Active')),
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), save));
  const dlg = modal(p ? `Edit ${p.name}` : 'Add AI provider', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), kind: kind.value, base_url: base.value.trim(), model: model.value.trim(), embedding_model: emb.value.trim(), active: active.checked };
    if (key.value) body.api_key = key.value;
    save.disabled = true;
    try {
      if (p) await api('PATCH', `/api/admin/ai-providers/${p.id}`, body);
      else await api('POST', '/api/admin/ai-providers', body);
      key.value = '';
      dlg.close();
      toast(p ? 'Provider saved.' : 'Provider added.', 'success');
      reload();
    } catch (err) { msg.set(describeError(err)); } finally { save.disabled = false; }
  });
}

function capabilityForm(providers, mappings, reload) {
  const byCap = new Map(mappings.map((m) => [m.capability, m]));
  const opts = [['', 'Built-in offline analyzer'], ...providers.map((p) => [p.id, p.name])];
  const rows = CAPABILITIES.map(([cap, label, help]) => {
    const m = byCap.get(cap) || {};
    const prov = select(opts, m.provider_id || '', { name: `provider-${cap}`, 'aria-label': `Provider for ${label}` });
    const model = h('input', { type: 'text', name: `model-${cap}`, value: m.model || '', placeholder: 'Provider default', 'aria-label': `Model for ${label}` });
    return { cap, prov, model, tr: h('tr', h('td', h('span', { class: 'strong' }, label), h('span', { class: 'sub' }, help)), h('td', prov), h('td', model)) };
  });
  const msg = messageArea();
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save mapping');
  const form = h('form', { class: 'form-wide' }, msg,
    table('Capability mapping', [{ label: 'Capability' }, { label: 'Provider' }, { label: 'Model override' }], rows.map((r) => r.tr)),
    h('div', { class: 'form-actions form-actions-left' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api('PUT', '/api/admin/ai-capabilities', { items: rows.map((r) => ({ capability: r.cap, provider_id: r.prov.value || null, model: r.model.value.trim() })) });
      msg.set('Capability mapping saved.', 'success');
      announce('Capability mapping saved.');
    } catch (err) { msg.set(describeError(err)); } finally { save.disabled = false; }
  });
  return form;
}

// ---- audit log -----------------------------------------------------------------

const EVENT_TYPES = ['login_succeeded', 'login_failed', 'token_manipulation', 'token_expired', 'permission_denied',
  'password_changed', 'password_change_failed', 'password_reset', 'user_created', 'user_updated', 'project_deleted',
  'settings_changed', 'ai_provider_created', 'ai_provider_updated', 'ai_provider_deleted', 'ai_capabilities_changed',
  'playbook_rule_created', 'playbook_rule_updated', 'playbook_rule_deleted', 'playbook_reordered', 'playbook_reassessment_requested'];
const PAGE = 50;

export async function auditPage(ctx) {
  adminCrumbs(ctx, 'Audit log');
  ctx.main.append(pageHeader('Audit log', { subtitle: 'Security events: sign-ins, failed attempts, token misuse, refused actions and admin changes.' }));
  const type = select([['', 'All events'], ...EVENT_TYPES.map((t) => [t, humanize(t)])], ctx.query.get('event_type') || '', { name: 'event_type' });
  const box = h('div', loading());
  const pager = h('div', { class: 'pager' });
  ctx.main.append(h('div', { class: 'toolbar' }, field('Event type', type)), panel(null, [box, pager]));
  let offset = Number(ctx.query.get('offset')) || 0;
  const load = async () => {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (type.value) params.set('event_type', type.value);
    history.replaceState(null, '', `/admin/audit?${params}`);
    let res;
    try {
      res = await api('GET', `/api/admin/audit?${params}`, null, { signal: ctx.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(box, errorPanel(e, 'the audit log', load));
      return;
    }
    const items = res.items || [];
    const danger = new Set(['login_failed', 'token_manipulation', 'permission_denied', 'password_change_failed']);
    replace(box, items.length ? table('Audit events', [{ label: 'When' }, { label: 'Event' }, { label: 'User' }, { label: 'IP address' }, { label: 'Details' }],
      items.map((ev) => h('tr',
        h('td', timeEl(ev.created_at)),
        h('td', h('span', { class: `badge ${danger.has(ev.event_type) ? 'badge-danger' : 'badge-neutral'}` }, humanize(ev.event_type))),
        h('td', ev.email || '—'),
        h('td', { class: 'mono' }, ev.ip || '—'),
        h('td', { class: 'detail-cell' }, detailText(ev.detail))))) : emptyState('No events', type.value ? 'No events of this type yet.' : 'Nothing has been recorded yet.'));
    const total = res.total ?? items.length;
    clear(pager);
    if (total > PAGE) {
      pager.append(
        button('Previous', { class: 'btn btn-small', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }),
        h('span', { class: 'muted small' }, `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`),
        button('Next', { class: 'btn btn-small', disabled: offset + PAGE >= total, onclick: () => { offset += PAGE; load(); } }));
    }
  };
  type.addEventListener('change', () => { offset = 0; load(); });
  await load();
}

function detailText(d) {
  if (!d || (typeof d === 'object' && !Object.keys(d).length)) return h('span', { class: 'muted' }, '—');
  if (typeof d !== 'object') return String(d);
  return h('span', { class: 'kv' }, Object.entries(d).map(([k, v]) => h('span', { class: 'kv-item' },
    h('span', { class: 'kv-k' }, `${humanize(k)}: `), typeof v === 'object' ? JSON.stringify(v) : String(v))));
}


// The risk playbook: the firm's rules (system admins edit, everyone reads)
// and a project's own rules and overrides (its project admins edit). Rules
// are tried in order; the first that matches a clause rates it.
import { h, field, messageArea, modal, button, toast, confirmDialog, select, announce } from '../dom.js';
import { api, describeError } from '../api.js';
import { pageHeader, loading, errorPanel, emptyState, panel, replace, poll } from '../ui.js';
import { riskBadge, plural, formatDate } from '../format.js';

const RISKS = [['high', 'High risk'], ['medium', 'Medium risk'], ['low', 'Low risk']];
let categoriesCache = null;

async function categories(signal) {
  if (!categoriesCache) categoriesCache = (await api('GET', '/api/playbook/categories', null, { signal })).items || [];
  return categoriesCache;
}

function categoryLabel(c) { return c === '*' ? 'Any category' : c; }

/** The installation's playbook: /playbook. */
export async function playbookPage(ctx) {
  ctx.setPage('Playbook', [{ label: 'Playbook' }]);
  const canEdit = ctx.user.role === 'admin';
  ctx.main.append(pageHeader('Playbook', {
    subtitle: 'The firm’s positions. Clauses are rated by the first rule that matches them; projects can add their own rules or override these.',
  }));
  const body = h('div', { class: 'stack' });
  ctx.main.append(body);
  await rulesEditor(ctx, body, { scope: 'installation', canEdit });
}

/** A project's playbook tab: its own rules first, then the firm's with its overrides. */
export async function projectPlaybookSection(ctx, project, canManage, body) {
  body.append(h('p', { class: 'notice' }, canManage
    ? 'Rules added here are tried before the firm’s. Override a firm rule to change or turn it off for this project only.'
    : 'The rules this project’s clauses are rated against. Project admins can change them for this project.'));
  await rulesEditor(ctx, body, { scope: 'project', project, canEdit: canManage });
}

async function rulesEditor(ctx, body, { scope, project, canEdit }) {
  const base = scope === 'project' ? `/api/projects/${project.id}/playbook` : '/api/playbook';
  const listBox = h('div', loading('Loading the playbook…'));
  const progressBox = h('div', { class: 'reassess', 'aria-live': 'polite' });
  let rules = [];
  const actions = canEdit ? [
    button(scope === 'project' ? 'Add project rule' : 'Add rule', { class: 'btn btn-primary', id: 'add-rule', onclick: () => ruleDialog(ctx, { title: 'Add rule' }, save) }),
    button(scope === 'project' ? 'Re-assess this project' : 'Re-assess all documents', { class: 'btn', id: 'reassess', onclick: () => reassess() }),
  ] : null;
  body.append(panel('Rules', [progressBox, listBox], { id: 'rules', actions }));

  async function load() {
    try {
      rules = (await api('GET', `${base}/rules`, null, { signal: ctx.signal })).items || [];
    } catch (e) {
      if (e.name !== 'AbortError') replace(listBox, errorPanel(e, 'the playbook', load));
      return;
    }
    render();
  }

  function render() {
    if (!rules.length) {
      replace(listBox, emptyState('No rules', canEdit ? 'Add a rule to rate clauses of a category.' : 'Every clause is rated low risk.'));
      return;
    }
    replace(listBox, h('ol', { class: 'rule-list', 'aria-label': 'Rules in the order they are tried' }, rules.map((r, i) => ruleItem(r, i))));
  }

  // The rules whose order this page may change: the firm's list, or the project's additions.
  const movable = () => rules.filter((r) => (scope === 'installation' ? r.scope === 'installation' : r.scope === 'project' && !r.overrides_rule_id));

  function ruleItem(r, i) {
    const own = scope === 'installation' || r.scope === 'project';
    const label = `rule ${i + 1} (${categoryLabel(r.category)})`;
    const tools = h('div', { class: 'rule-tools' });
    if (canEdit && own) {
      const list = movable();
      const at = list.findIndex((x) => x.id === r.id);
      if (at >= 0) {
        tools.append(
          button('Move up', { class: 'btn btn-small btn-ghost', 'aria-label': `Move ${label} up`, disabled: at === 0, onclick: () => move(r, -1) }),
          button('Move down', { class: 'btn btn-small btn-ghost', 'aria-label': `Move ${label} down`, disabled: at === list.length - 1, onclick: () => move(r, 1) }));
      }
      tools.append(
        button('Edit', { class: 'btn btn-small', 'aria-label': `Edit ${label}`, onclick: () => ruleDialog(ctx, { title: 'Edit rule', rule: r, fixedCategory: Boolean(r.overrides_rule_id) }, (v) => update(r, v)) }),
        button(r.enabled ? 'Turn off' : 'Turn on', { class: 'btn btn-small', 'aria-label': `${r.enabled ? 'Turn off' : 'Turn on'} ${label}`, onclick: () => update(r, { enabled: !r.enabled }) }),
        button(r.overrides_rule_id ? 'Use the firm’s rule' : 'Delete', { class: 'btn btn-small btn-danger-ghost', 'aria-label': `${r.overrides_rule_id ? 'Remove the override of' : 'Delete'} ${label}`, onclick: () => remove(r) }));
    } else if (canEdit) { // a firm rule seen from a project
      tools.append(
        button('Override', { class: 'btn btn-small', 'aria-label': `Override ${label} for this project`, onclick: () => ruleDialog(ctx, { title: 'Override for this project', rule: r, fixedCategory: true }, (v) => save({ ...v, overrides_rule_id: r.id })) }),
        r.enabled ? button('Turn off here', { class: 'btn btn-small', 'aria-label': `Turn off ${label} for this project`, onclick: () => save({ overrides_rule_id: r.id, enabled: false }) }) : null);
    }
    const origin = scope === 'project'
      ? h('span', { class: 'badge badge-neutral' }, r.scope === 'installation' ? 'Firm' : r.overrides_rule_id ? 'Project override' : 'This project')
      : null;
    const wording = r.preferred_position || r.fallback_wording ? h('details', { class: 'rule-wording' },
      h('summary', 'Negotiation wording'),
      r.preferred_position ? h('p', h('span', { class: 'strong' }, 'Preferred position: '), r.preferred_position) : null,
      r.fallback_wording ? h('p', h('span', { class: 'strong' }, 'Fallback wording: '), r.fallback_wording) : null) : null;
    return h('li', { class: ['rule', !r.enabled && 'rule-off'], dataset: { id: r.id, scope: r.scope, enabled: String(r.enabled), category: r.category } },
      h('div', { class: 'rule-head' },
        h('span', { class: 'rule-no' }, String(i + 1)),
        h('span', { class: 'rule-category strong' }, categoryLabel(r.category)),
        riskBadge(r.risk_level),
        r.enabled ? null : h('span', { class: 'badge badge-neutral', dataset: { off: 'true' } }, 'Off'),
        origin),
      r.condition ? h('p', { class: 'rule-condition muted small' }, 'When the clause text matches ', h('code', r.condition)) : h('p', { class: 'rule-condition muted small' }, 'Every clause of the category'),
      h('p', { class: 'rule-explanation' }, r.explanation),
      wording, tools);
  }

  async function save(values) {
    try {
      await api('POST', `${base}/rules`, values);
      toast('Rule saved. Re-assess the documents to apply it to clauses analyzed before.', 'success');
      await load();
      return true;
    } catch (e) { toast(describeError(e, 'the rule'), 'error'); return false; }
  }

  async function update(r, values) {
    try {
      await api('PATCH', `/api/playbook/rules/${r.id}`, values);
      announce('Rule updated.');
      await load();
      return true;
    } catch (e) { toast(describeError(e, 'the rule'), 'error'); return false; }
  }

  async function remove(r) {
    const what = r.overrides_rule_id ? 'The project goes back to the firm’s rule.' : 'The rule is deleted.';
    if (!await confirmDialog(r.overrides_rule_id ? 'Remove the override?' : 'Delete rule?', `${what} Clauses already rated keep their rating until you re-assess.`, r.overrides_rule_id ? 'Remove override' : 'Delete rule')) return;
    try {
      await api('DELETE', `/api/playbook/rules/${r.id}`);
      toast('Rule removed.', 'success');
      await load();
    } catch (e) { toast(describeError(e, 'the rule'), 'error'); }
  }

  async function move(r, delta) {
    const ids = movable().map((x) => x.id);
    const at = ids.indexOf(r.id);
    const to = at + delta;
    if (to < 0 || to >= ids.length) return;
    [ids[at], ids[to]] = [ids[to], ids[at]];
    try {
      rules = (await api('PUT', `${base}/order`, { rule_ids: ids })).items || [];
      render();
      announce(`Rule moved ${delta < 0 ? 'up' : 'down'}.`);
      const btn = listBox.querySelector(`.rule[data-id="${r.id}"] button[aria-label^="Move"]:not([disabled])`);
      if (btn) btn.focus();
    } catch (e) { toast(describeError(e, 'the playbook'), 'error'); }
  }

  function showProgress(a) {
    const done = a.status === 'complete' || a.status === 'failed';
    const text = a.status === 'failed' ? (a.error_message || 'The re-assessment failed.')
      : `${a.documents_done} of ${plural(a.documents_total, 'document')} re-assessed · ${plural(a.clauses_changed, 'clause')} changed`;
    replace(progressBox, h('div', { class: ['reassess-box', done && 'done'], dataset: { status: a.status } },
      h('p', { class: 'strong' }, a.status === 'complete' ? 'Re-assessment complete' : a.status === 'failed' ? 'Re-assessment failed' : 'Re-assessing documents…'),
      h('progress', { class: 'progress', max: Math.max(a.documents_total, 1), value: a.documents_done, 'aria-label': 'Re-assessment progress' }),
      h('p', { class: 'muted small' }, text, a.completed_at ? ` · ${formatDate(a.completed_at)}` : '')));
    return done;
  }

  function follow(a) {
    if (showProgress(a)) return;
    poll(ctx.signal, 1000, async () => {
      const next = await api('GET', `/api/playbook/reassessments/${a.id}`, null, { signal: ctx.signal });
      const done = showProgress(next);
      if (done) announce(next.status === 'complete' ? `Re-assessment complete: ${plural(next.clauses_changed, 'clause')} changed.` : 'The re-assessment failed.');
      return done;
    });
  }

  async function reassess() {
    const what = scope === 'project' ? 'this project’s analyzed documents' : 'every analyzed document of every project';
    if (!await confirmDialog('Re-assess documents?', `The clauses of ${what} are rated again with the current rules. Decisions are kept.`, 'Re-assess', false)) return;
    try {
      const a = await api('POST', `${base}/reassessments`);
      announce('Re-assessment started.');
      follow(a);
    } catch (e) { toast(describeError(e, 'the playbook'), 'error'); }
  }

  // Show the latest re-assessment (it may still be running).
  if (canEdit) {
    api('GET', `${base}/reassessments`, null, { signal: ctx.signal }).then((res) => {
      const latest = (res.items || [])[0];
      if (latest) follow(latest);
    }).catch(() => { /* shown on the next visit */ });
  }
  await load();
}

/** The add/edit form; onSave(values) resolves true when saved. */
async function ruleDialog(ctx, { title, rule, fixedCategory }, onSave) {
  let cats = [];
  try { cats = await categories(ctx.signal); } catch (e) { toast(describeError(e, 'the categories'), 'error'); return; }
  const r = rule || { category: cats.find((c) => c !== '*') || '', condition: '', risk_level: 'medium', explanation: '', preferred_position: '', fallback_wording: '', enabled: true };
  const category = select(cats.map((c) => [c, categoryLabel(c)]), r.category, { name: 'category', disabled: fixedCategory });
  const condition = h('input', { type: 'text', name: 'condition', value: r.condition, maxlength: 1000, class: 'mono' });
  const risk = select(RISKS, r.risk_level, { name: 'risk_level' });
  const explanation = h('textarea', { rows: 2, name: 'explanation', maxlength: 2000, required: true });
  explanation.value = r.explanation;
  const preferred = h('textarea', { rows: 3, name: 'preferred_position', maxlength: 5000 });
  preferred.value = r.preferred_position;
  const fallback = h('textarea', { rows: 3, name: 'fallback_wording', maxlength: 5000 });
  fallback.value = r.fallback_wording;
  const msg = messageArea();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save rule');
  const form = h('form', { class: 'form form-wide' }, msg,
    field('Category', category),
    field('Condition', condition, 'Optional. A pattern the clause text must match (case-insensitive regular expression), e.g. worldwide|anywhere in the world. Empty: every clause of the category.'),
    field('Risk level', risk),
    field('Explanation', explanation, 'Shown to reviewers as the reason for the rating.'),
    field('Preferred position', preferred, 'The firm’s position, offered when a reviewer negotiates such a clause.'),
    field('Fallback wording', fallback, 'Wording the firm can accept instead.'),
    h('div', { class: 'form-actions' }, button('Cancel', { class: 'btn btn-ghost', onclick: () => dlg.close() }), submit));
  const dlg = modal(title, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!explanation.value.trim()) { msg.set('Give the reason for the rating.'); explanation.focus(); return; }
    submit.disabled = true;
    const values = {
      condition: condition.value.trim(), risk_level: risk.value, explanation: explanation.value.trim(),
      preferred_position: preferred.value.trim(), fallback_wording: fallback.value.trim(),
    };
    if (!fixedCategory) values.category = category.value;
    if (await onSave(values)) dlg.close();
    else submit.disabled = false;
  });
}

// The playbook's wording for a clause a reviewer negotiates: the firm's
// preferred position and fallback wording, each ready to copy into the
// decision's comment.
import { h, button } from './dom.js';
import { api, describeError } from './api.js';
import { loading, replace } from './ui.js';

export function playbookWording(clauseId, comment, signal) {
  const box = h('div', { class: 'playbook-wording', 'aria-live': 'polite' }, loading('Looking up the playbook…'));
  api('GET', `/api/clauses/${clauseId}/playbook-position`, null, { signal }).then((res) => {
    const r = res && res.rule;
    if (!r) {
      replace(box, h('p', { class: 'muted small' }, 'The playbook has no wording for this kind of clause.'));
      return;
    }
    const option = (key, label, text) => (text ? h('div', { class: 'wording', dataset: { wording: key } },
      h('p', h('span', { class: 'strong' }, `${label}: `), text),
      button(`Use the ${label.toLowerCase()}`, {
        class: 'btn btn-small btn-ghost',
        onclick: () => { comment.value = text; comment.focus(); },
      })) : null);
    replace(box, h('p', { class: 'extra-title' }, 'From the playbook'),
      option('preferred', 'Preferred position', r.preferred_position),
      option('fallback', 'Fallback wording', r.fallback_wording));
  }).catch((e) => {
    if (e.name !== 'AbortError') replace(box, h('p', { class: 'muted small' }, describeError(e, 'the playbook')));
  });
  return box;
}

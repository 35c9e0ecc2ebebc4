// The document facts with their sources: each value cites the clause and
// page it was read from; a value the analyzer is unsure of is shown as a
// candidate to check, never as the document's value.
import { h } from '../dom.js';
import { panel } from '../ui.js';
import { formatCalendarDate, formatDate, humanize, analyzerLabel } from '../format.js';

const FIELDS = [
  ['document_name', 'Title'],
  ['document_type', 'Type'],
  ['agreement_date', 'Agreement date'],
  ['effective_date', 'Effective date'],
  ['expiration_date', 'Expiration date'],
  ['renewal_term', 'Renewal term'],
  ['notice_period', 'Notice period'],
  ['governing_law', 'Governing law'],
];
const HIDDEN = new Set(['facts_version', 'details', 'party_details', 'parties', ...FIELDS.map(([k]) => k)]);

function sentence(s) {
  const t = String(s || '').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** The value of a fact detail in words. */
function valueText(d) {
  switch (d.kind) {
    case 'date': return formatCalendarDate(d.value);
    case 'blank': return 'Left blank in the document';
    case 'perpetual': return 'Until terminated (no fixed end)';
    case 'event':
    case 'duration': return sentence(d.value);
    default: return /^\d{4}-\d{2}-\d{2}$/.test(d.value) ? formatCalendarDate(d.value) : String(d.value);
  }
}

/**
 * factsPanel(doc, clauses, {onClause(ordinal), onSource(source, label)})
 * clauses: the document's clauses (to name a fact's clause).
 */
export function factsPanel(doc, clauses, { onClause, onSource }) {
  const facts = doc.facts || {};
  const details = facts.details || {};
  const byOrdinal = new Map(clauses.map((c) => [c.ordinal, c]));

  const sourceLine = (src, label) => {
    if (!src) return null;
    const parts = [];
    const c = src.clause ? byOrdinal.get(src.clause) : null;
    if (c) {
      let name = c.heading || `the clause on ${c.page_start ? `page ${c.page_start}` : 'this page'}`;
      if (name.length > 48) name = `${name.slice(0, 46).replace(/[\s,;:.]+\S*$/, '')}…`;
      parts.push('From ', h('a', {
        href: `#clause-${c.ordinal}`, class: 'fact-clause', dataset: { clause: String(c.ordinal) },
        onclick: (e) => { e.preventDefault(); onClause(c.ordinal); },
      }, name));
      if (name !== c.heading && c.heading) parts[parts.length - 1].title = c.heading;
    } else {
      parts.push('From the text');
    }
    if (src.page) {
      parts.push(' · ', h('button', {
        type: 'button', class: 'link-btn fact-page', 'aria-label': `Show where “${label}” is written, on page ${src.page}`,
        onclick: () => onSource(src, label),
      }, `page ${src.page}`));
    } else if (src.end > src.start) {
      parts.push(' · ', h('button', { type: 'button', class: 'link-btn fact-page', onclick: () => onSource(src, label) }, 'show in the document'));
    }
    return h('p', { class: 'fact-source' }, parts);
  };

  const rows = [];
  const parties = facts.party_details || [];
  if (parties.length) {
    rows.push(h('dt', 'Parties'), h('dd', h('ul', { class: 'party-list' }, parties.map((p) => h('li', { class: 'party' },
      h('span', { class: 'party-name' }, p.name),
      p.role ? h('span', { class: 'party-role' }, ` — ${p.role}`) : null,
      p.short_name && p.short_name !== p.name ? h('span', { class: 'muted' }, ` (“${p.short_name}”)`) : null,
      sourceLine(p.source, p.name))))));
  } else if (Array.isArray(facts.parties) && facts.parties.length) {
    rows.push(h('dt', 'Parties'), h('dd', h('ul', { class: 'party-list' }, facts.parties.map((p) => h('li', String(p))))));
  }
  for (const [key, label] of FIELDS) {
    const d = details[key];
    const flat = facts[key];
    // A detail that disagrees with the value shown (an AI provider's
    // answer replaced it) is not its source.
    if (d && d.value && (!flat || flat === d.value)) {
      const value = valueText(d);
      const body = d.unsure
        ? h('span', { class: 'fact-unsure', dataset: { unsure: 'true' } }, `possibly ${value} — check`)
        : h('span', { class: 'fact-value' }, value);
      const quote = d.kind === 'blank' && d.source ? h('span', { class: 'muted small' }, ` (“${d.source.text}”)`) : null;
      rows.push(h('dt', label), h('dd', { dataset: { fact: key } }, body, quote, sourceLine(d.source, label)));
    } else if (flat) {
      rows.push(h('dt', label), h('dd', { dataset: { fact: key } }, h('span', { class: 'fact-value' }, formatCalendarDate(flat))));
    }
  }
  for (const [key, v] of Object.entries(facts)) {
    if (HIDDEN.has(key) || v === null || v === '' || typeof v === 'object') continue;
    rows.push(h('dt', humanize(key)), h('dd', String(v)));
  }
  const body = rows.length ? h('dl', { class: 'facts' }, rows) : h('p', { class: 'muted' }, 'No document facts were found.');
  const analyzed = h('p', { class: 'muted small' },
    `Analyzed by the ${analyzerLabel(doc.analyzer).replace(/^Built-in/, 'built-in')}`,
    doc.completed_at ? ` · ${formatDate(doc.completed_at)}` : '',
    doc.tokens_used ? ` · ${doc.tokens_used.toLocaleString()} AI tokens` : '');
  return panel('Facts', [body, analyzed], { id: 'facts' });
}

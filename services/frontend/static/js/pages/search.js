// Search: full-text search over the clauses of every document the user may see.
import { h } from '../dom.js';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { pageHeader, loading, errorPanel, emptyState, replace } from '../ui.js';
import { riskBadge } from '../format.js';

export async function searchPage(ctx) {
  const q = (ctx.query.get('q') || '').trim();
  const projectId = ctx.query.get('project_id') || '';
  ctx.setPage(q ? `Search: ${q}` : 'Search', [{ label: 'Search' }]);

  const input = h('input', {
    type: 'search', id: 'search-q', name: 'q', value: q, required: true, maxlength: 500,
    placeholder: 'e.g. governing law, limitation of liability, "change of control"',
  });
  const projects = h('select', { id: 'search-project', name: 'project_id' }, h('option', { value: '' }, 'All projects'));
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Search clauses' },
    h('div', { class: 'field' }, h('label', { for: 'search-q' }, 'Words or phrase'), input),
    h('div', { class: 'field' }, h('label', { for: 'search-project' }, 'Project'), projects),
    h('button', { type: 'submit', class: 'btn btn-primary field-button' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams({ q: input.value.trim() });
    if (projects.value) params.set('project_id', projects.value);
    if (input.value.trim()) navigate(`/search?${params}`);
  });
  const results = h('div', { class: 'search-results', 'aria-live': 'polite' });
  ctx.main.append(pageHeader('Search', {
    subtitle: 'Find clauses across every contract you can see. Quotes match a phrase; -word excludes a word.',
  }), form, results);

  api('GET', '/api/projects?limit=200', null, { signal: ctx.signal }).then((res) => {
    for (const p of res.items || []) projects.append(h('option', { value: p.id, selected: p.id === projectId }, p.name));
  }).catch(() => {});

  if (!q) {
    replace(results, emptyState('Search your contracts', 'Type a few words above to find matching clauses.'));
    input.focus();
    return;
  }
  replace(results, loading('Searching…'));
  try {
    const params = new URLSearchParams({ q, limit: '50' });
    if (projectId) params.set('project_id', projectId);
    const res = await api('GET', `/api/search?${params}`, null, { signal: ctx.signal });
    const items = res.items || [];
    if (!items.length) {
      replace(results, emptyState('No matching clauses', 'Try other words, or search all projects.'));
      return;
    }
    replace(results,
      h('p', { class: 'muted small' }, `${items.length}${items.length === 50 ? '+' : ''} matching clause${items.length === 1 ? '' : 's'}`),
      h('ul', { class: 'similar-list', 'aria-label': 'Search results' }, items.map((c) => h('li', { class: 'similar-item search-hit' },
        h('div', { class: 'similar-head' },
          h('a', { href: `/documents/${c.document_id}` }, c.document_name || 'Document'),
          h('span', { class: 'muted small' }, [c.heading, c.category].filter(Boolean).join(' · ')),
          c.risk_level ? riskBadge(c.risk_level) : null),
        h('p', { class: 'similar-text' }, c.text.length > 400 ? `${c.text.slice(0, 400)}…` : c.text)))));
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(results, errorPanel(e, 'the search results'));
  }
}

// Formatting helpers and the status/risk vocabularies used across pages.
import { h } from './dom.js';

// One date format everywhere, in the reader's locale: "Jul 1, 2020" (and
// "Jul 1, 2020, 8:18 AM" for moments).
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
// A calendar date of a contract (ISO YYYY-MM-DD) is no moment: it is shown
// as written, never shifted by the reader's time zone.
const calendarFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

export function formatDate(s) {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : dateFmt.format(d);
}

export function formatDay(s) {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : dayFmt.format(d);
}

/** "2020-07-01" -> "Jul 1, 2020"; anything else is returned unchanged. */
export function formatCalendarDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(s || ''));
  if (!m) return String(s ?? '');
  return calendarFmt.format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))));
}

export function timeEl(s, day = false) {
  if (!s) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: s, title: formatDate(s) }, day ? formatDay(s) : formatDate(s));
}

export function formatBytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const PIPELINE_STEPS = ['queued', 'extracting', 'classifying', 'analyzing', 'embedding', 'complete'];
const STATUS_LABEL = {
  queued: 'Queued', extracting: 'Reading the text', classifying: 'Finding the facts', analyzing: 'Analyzing clauses',
  embedding: 'Indexing', complete: 'Complete', failed: 'Failed', running: 'Running',
};
export function statusLabel(status) { return STATUS_LABEL[status] || humanize(status); }
export function isTerminal(status) { return status === 'complete' || status === 'failed'; }

export function statusBadge(status) {
  const kind = status === 'complete' ? 'success' : status === 'failed' ? 'danger'
    : status === 'queued' ? 'neutral' : 'info';
  return h('span', { class: `badge badge-${kind}`, dataset: { status } },
    isTerminal(status) ? null : h('span', { class: 'pulse', 'aria-hidden': 'true' }),
    STATUS_LABEL[status] || status);
}

export const RISK_LEVELS = ['high', 'medium', 'low'];
const RISK_LABEL = { high: 'High risk', medium: 'Medium risk', low: 'Low risk' };
export function riskBadge(level) {
  return h('span', { class: `badge badge-risk-${level}`, dataset: { risk: level } }, RISK_LABEL[level] || level);
}

const ROLE_LABEL = { admin: 'Admin', editor: 'Editor', viewer: 'Viewer', user: 'User' };
export function roleBadge(role) {
  return h('span', { class: `badge badge-role badge-role-${role}` }, ROLE_LABEL[role] || role);
}
export function roleLabel(role) { return ROLE_LABEL[role] || role; }

const DECISION_LABEL = { accept: 'Accepted', reject: 'Rejected', negotiate: 'To negotiate' };
export function decisionBadge(decision) {
  const kind = decision === 'accept' ? 'success' : decision === 'reject' ? 'danger' : 'warning';
  return h('span', { class: `badge badge-${kind}`, dataset: { decision } }, DECISION_LABEL[decision] || decision);
}

const PROVIDER_KIND = { openai: 'OpenAI-compatible model', anthropic: 'Anthropic model' };

/**
 * The analyzer a document names ("offline/cuad-lr-v3+openai:gpt-4o-mini")
 * in words: "Built-in analyzer and OpenAI-compatible model gpt-4o-mini".
 */
export function analyzerLabel(name) {
  if (!name) return 'Built-in analyzer';
  const parts = String(name).split('+');
  const out = [];
  for (const p of parts) {
    if (p.startsWith('offline')) { if (!out.includes('Built-in analyzer')) out.unshift('Built-in analyzer'); continue; }
    const [kind, ...model] = p.split(':');
    out.push(`${PROVIDER_KIND[kind] || 'AI model'}${model.length ? ` ${model.join(':')}` : ''}`);
  }
  return out.join(' and ');
}

/** "termination_for_convenience" -> "Termination for convenience" */
export function humanize(key) {
  const s = String(key).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : (many || `${one}s`)}`;
}

// Formatting helpers and the status/risk vocabularies used across pages.
import { h } from './dom.js';

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

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
  queued: 'Queued', extracting: 'Extracting text', classifying: 'Classifying', analyzing: 'Analyzing risk',
  embedding: 'Indexing', complete: 'Complete', failed: 'Failed', running: 'Running',
};
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

/** "termination_for_convenience" -> "Termination for convenience" */
export function humanize(key) {
  const s = String(key).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : (many || `${one}s`)}`;
}

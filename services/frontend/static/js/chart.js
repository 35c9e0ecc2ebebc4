// The risk chart as inline SVG built with DOM APIs (no inline styles: colours
// come from classes in app.css).
import { svg, id } from './dom.js';
import { RISK_LEVELS } from './format.js';

const RISK_NAMES = { high: 'High', medium: 'Medium', low: 'Low' };

/**
 * riskChart(clauses) draws one stacked bar per category (most clauses first,
 * at most `max` categories) with high/medium/low segments, and a legend.
 */
export function riskChart(clauses, { max = 10 } = {}) {
  const byCat = new Map();
  for (const c of clauses) {
    const e = byCat.get(c.category) || { category: c.category, high: 0, medium: 0, low: 0, total: 0 };
    e[c.risk_level] = (e[c.risk_level] || 0) + 1;
    e.total += 1;
    byCat.set(c.category, e);
  }
  const rows = [...byCat.values()]
    .sort((a, b) => b.high - a.high || b.medium - a.medium || b.total - a.total || a.category.localeCompare(b.category))
    .slice(0, max);
  const totals = { high: 0, medium: 0, low: 0 };
  for (const c of clauses) totals[c.risk_level] = (totals[c.risk_level] || 0) + 1;

  const labelW = 230;
  const barW = 420;
  const rowH = 30;
  const top = 40;
  const width = labelW + barW + 60;
  const height = top + rows.length * rowH + 16;
  const peak = Math.max(1, ...rows.map((r) => r.total));
  const titleId = id('chart-title');
  const descId = id('chart-desc');
  const summary = `${clauses.length} clauses: ${totals.high} high, ${totals.medium} medium and ${totals.low} low risk.`;

  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-labelledby': `${titleId} ${descId}`,
    preserveAspectRatio: 'xMinYMin meet',
  },
  svg('title', { id: titleId, text: 'Clauses by category and risk level' }),
  svg('desc', { id: descId, text: `${summary} ${rows.map((r) => `${r.category}: ${r.high} high, ${r.medium} medium, ${r.low} low`).join('; ')}.` }));

  // Legend
  let lx = labelW;
  for (const level of RISK_LEVELS) {
    root.append(
      svg('rect', { x: lx, y: 10, width: 12, height: 12, rx: 3, class: `seg seg-${level}` }),
      svg('text', { x: lx + 18, y: 20, class: 'chart-legend', text: `${RISK_NAMES[level]} (${totals[level] || 0})` }));
    lx += 120;
  }
  // Grid lines
  for (let i = 0; i <= 4; i += 1) {
    const x = labelW + (barW * i) / 4;
    root.append(svg('line', { x1: x, x2: x, y1: top - 6, y2: height - 12, class: 'chart-grid' }));
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const name = r.category.length > 32 ? `${r.category.slice(0, 31)}…` : r.category;
    root.append(svg('text', { x: labelW - 10, y: y + 16, class: 'chart-label', 'text-anchor': 'end', text: name }));
    let x = labelW;
    for (const level of RISK_LEVELS) {
      const n = r[level] || 0;
      if (!n) continue;
      const w = (barW * n) / peak;
      root.append(svg('rect', { x, y: y + 4, width: Math.max(w - 1, 1), height: rowH - 10, rx: 3, class: `seg seg-${level}` },
        svg('title', { text: `${r.category}: ${n} ${level} risk` })));
      x += w;
    }
    root.append(svg('text', { x: x + 8, y: y + 16, class: 'chart-value', text: String(r.total) }));
  });
  return root;
}

/** A compact horizontal bar of the risk mix, for summaries. */
export function riskMeter(totals) {
  const sum = RISK_LEVELS.reduce((s, l) => s + (totals[l] || 0), 0) || 1;
  const root = svg('svg', { viewBox: '0 0 100 8', class: 'risk-meter', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
  let x = 0;
  for (const level of RISK_LEVELS) {
    const w = (100 * (totals[level] || 0)) / sum;
    if (w > 0) root.append(svg('rect', { x, y: 0, width: w, height: 8, class: `seg seg-${level}` }));
    x += w;
  }
  return root;
}

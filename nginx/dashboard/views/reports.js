// views/reports.js: staff's numbers (GET /api/reports/summary): orders and revenue per
// hour or per day as a chart the page draws itself (inline SVG, no library), the totals,
// orders by status, top items, paid → ready time, cancellations by reason, low stock.
import { api } from '../api.js';
import { h, money, loading, empty, table, statusBadge } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const RANGES = [
  ['24h', 'Last 24 hours', 24 * 3600, 'hours'],
  ['7d', 'Last 7 days', 7 * 86400, 'days'],
  ['31d', 'Last 31 days', 31 * 86400, 'days'],
];

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// The currency with the most revenue in the range (the chart's), or null.
function mainCurrency(rev) {
  const c = Object.entries(rev || {}).sort((a, b) => b[1] - a[1]);
  return c.length ? c[0][0] : null;
}

function label(bucket, by) {
  if (by === 'days') return bucket.date.slice(5);
  return new Date(bucket.at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

// Bars of orders per bucket, and the revenue of one currency as a line over them; the same
// numbers are in the table below it, for screen readers and for reading exact values.
function chart(buckets, by, currency) {
  const W = 720, H = 220, L = 36, B = 28, T = 12;
  const n = Math.max(buckets.length, 1);
  const slot = (W - L - 8) / n;
  const maxOrders = Math.max(1, ...buckets.map((b) => b.orders));
  const maxRev = Math.max(1, ...buckets.map((b) => (currency && b.revenue_cents[currency]) || 0));
  const y = (v, max) => H - B - ((H - B - T) * v) / max;
  const every = Math.ceil(n / 12);
  const total = buckets.reduce((a, b) => a + b.orders, 0);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'data-testid': 'reports-chart',
    'aria-label': `Orders per ${by === 'days' ? 'day' : 'hour'}: ${total} in ${n} ${by}${currency ? `, with revenue in ${currency}` : ''}`,
  });
  svg.appendChild(s('line', { x1: L, y1: H - B, x2: W - 4, y2: H - B, class: 'chart-axis' }));
  for (const v of [0, Math.round(maxOrders / 2), maxOrders]) {
    svg.appendChild(s('text', { x: L - 6, y: y(v, maxOrders) + 4, class: 'chart-label', 'text-anchor': 'end' }, String(v)));
  }
  const points = [];
  buckets.forEach((b, i) => {
    const x = L + i * slot;
    const top = y(b.orders, maxOrders);
    const bar = s('rect', { x: x + slot * 0.15, y: top, width: Math.max(1, slot * 0.7), height: H - B - top, class: 'chart-bar' },
      s('title', null, `${label(b, by)}: ${b.orders} order${b.orders === 1 ? '' : 's'}`));
    svg.appendChild(bar);
    if (currency) points.push(`${x + slot / 2},${y(b.revenue_cents[currency] || 0, maxRev)}`);
    if (i % every === 0) svg.appendChild(s('text', { x: x + slot / 2, y: H - 8, class: 'chart-label', 'text-anchor': 'middle' }, label(b, by)));
  });
  if (currency && points.length) svg.appendChild(s('polyline', { points: points.join(' '), class: 'chart-line' }));
  return svg;
}

function stat(title, value, testid) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-value', testid }, value), h('div', { class: 'stat-title muted' }, title));
}

function moneyOf(map) {
  const e = Object.entries(map || {});
  return e.length ? e.map(([c, v]) => money(v, c)).join(' + ') : money(0);
}

export function renderReports(body) {
  const range = h('select', { testid: 'reports-range', 'aria-label': 'range' }, RANGES.map(([v, t]) => h('option', { value: v }, t)));
  const box = h('div');
  body.append(h('div', { class: 'toolbar' }, h('label', null, 'Range ', range),
    h('button', { type: 'button', class: 'secondary small', testid: 'reports-refresh', onclick: () => load() }, 'Refresh')), box);

  function load() {
    const [, , span, by] = RANGES.find(([v]) => v === range.value);
    const to = Date.now();
    return loading(box, async () => {
      const r = await api('GET', `/api/reports/summary?from=${iso(to - span * 1000)}&to=${iso(to)}`);
      const buckets = by === 'days' ? r.days : r.hours;
      const currency = mainCurrency(r.totals.revenue_cents);
      const avg = r.paid_to_ready.average_seconds;
      const out = h('div', { testid: 'reports' });
      out.append(
        h('div', { class: 'stats' },
          stat('orders placed', String(r.totals.orders), 'reports-orders'),
          stat('orders paid', String(r.totals.paid), 'reports-paid'),
          stat('revenue', moneyOf(r.totals.revenue_cents), 'reports-revenue'),
          stat('refunded', moneyOf(r.totals.refunded_cents), 'reports-refunded'),
          stat('paid → ready (average)', avg === null ? '—' : `${avg.toFixed(1)} s`, 'reports-ready')),
        h('section', { class: 'panel' }, h('h2', null, `Orders per ${by === 'days' ? 'day' : 'hour'}${currency ? ` and revenue (${currency})` : ''}`),
          chart(buckets, by, currency),
          h('details', null, h('summary', null, 'The numbers'),
            table([by === 'days' ? 'Day' : 'Hour', 'Orders', 'Paid', 'Revenue'],
              buckets.filter((b) => b.orders || b.paid).map((b) => h('tr', null, h('td', null, by === 'days' ? b.date : new Date(b.at).toLocaleString()),
                h('td', { class: 'num' }, String(b.orders)), h('td', { class: 'num' }, String(b.paid)), h('td', { class: 'num' }, moneyOf(b.revenue_cents)))),
              { 'aria-label': 'Orders and revenue', testid: 'reports-buckets' }))),
        h('div', { class: 'report-grid' },
          h('section', { class: 'panel' }, h('h2', null, 'By status'),
            Object.keys(r.by_status).length ? table(['Status', 'Orders'],
              Object.entries(r.by_status).filter(([, n]) => n > 0).map(([st, n]) => h('tr', null, h('td', null, statusBadge(st)), h('td', { class: 'num', testid: `reports-status-${st}` }, String(n)))),
              { 'aria-label': 'Orders by status' }) : empty('No orders in this range.')),
          h('section', { class: 'panel' }, h('h2', null, 'Top items'),
            r.top_items.length ? table(['Item', 'Units paid'],
              r.top_items.map((t) => h('tr', null, h('td', null, t.name || t.item_id), h('td', { class: 'num' }, String(t.qty)))),
              { 'aria-label': 'Top items', testid: 'reports-top' }) : empty('Nothing paid for in this range.')),
          h('section', { class: 'panel' }, h('h2', null, 'Cancellations'),
            Object.keys(r.cancellations).length ? table(['Reason', 'Orders'],
              Object.entries(r.cancellations).map(([why, n]) => h('tr', null, h('td', null, why.replace('_', ' ')), h('td', { class: 'num', testid: `reports-cancelled-${why}` }, String(n)))),
              { 'aria-label': 'Cancellations by reason' }) : empty('None in this range.')),
          h('section', { class: 'panel' }, h('h2', null, `Low stock (${r.low_stock_at_most} or fewer)`),
            r.low_stock === null ? empty('The stock could not be asked just now.')
              : r.low_stock.length ? table(['Item', 'Available'],
                r.low_stock.map((l) => h('tr', null, h('td', null, l.name || l.item_id), h('td', { class: 'num' }, String(l.available)))),
                { 'aria-label': 'Low stock', testid: 'reports-low' }) : empty('Every item has enough.'))));
      return out;
    });
  }
  range.addEventListener('change', load);
  load();
}

// views/orders.js: every order (status filter) and the kitchen board, both live.
import { api, listAll } from '../api.js';
import {
  h, clear, money, when, shortId, statusBadge, orderRowUpdater, loading, empty, toast, actionButton, inlineError, thead, scrollBox,
} from '../ui.js';

const STATUSES = ['pending_payment', 'paid', 'preparing', 'ready', 'completed', 'cancelled'];

export function renderAllOrders(body, ctx) {
  const filter = h('select', { testid: 'orders-filter', 'aria-label': 'status' },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s }, s.replace('_', ' '))));
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  filter.value = params.get('status') || '';
  const count = h('span', { class: 'muted', testid: 'orders-count' });
  const box = h('div');
  body.append(h('div', { class: 'toolbar' }, h('label', null, 'Status ', filter), count,
    h('button', { type: 'button', class: 'secondary small', onclick: () => load() }, 'Refresh')), box);
  const rows = new Map();
  let customers = new Map();

  function orderRow(o) {
    const err = inlineError(`order-error-${o.id}`);
    const cust = customers.get(o.customer_id);
    return h('tr', { testid: 'order-row', dataset: { orderId: o.id, status: o.status } },
      h('td', { class: 'mono' }, shortId(o.id)),
      h('td', null, when(o.created_at)),
      h('td', null, cust ? cust.name : shortId(o.customer_id)),
      h('td', null, o.lines.map((l) => `${l.qty} × ${l.name}`).join(', ')),
      h('td', { class: 'num' }, money(o.total_cents, o.currency)),
      h('td', null, statusBadge(o.status, `order-status-${o.id}`), o.cancel_reason ? h('small', { class: 'muted' }, ` (${o.cancel_reason.replace('_', ' ')})`) : null),
      h('td', null, h('div', { class: 'actions' },
        o.status === 'ready' ? actionButton('Hand over', { class: 'primary small', testid: `order-complete-${o.id}` }, async () => {
          await api('POST', `/api/kitchen/tickets/${o.id}/complete`);
        }, err) : null,
        ['pending_payment', 'paid', 'preparing'].includes(o.status) ? actionButton('Cancel', { class: 'secondary small', testid: `order-cancel-${o.id}` }, async () => {
          const u = await api('POST', `/api/orders/${o.id}/cancel`);
          update(u.id, u.status, u);
        }, err) : null), err));
  }

  const update = orderRowUpdater(rows, orderRow, (order, el) => {
    if (filter.value && order.status !== filter.value) el.classList.add('leaving');
  });

  function load() {
    return loading(box, async () => {
      const q = filter.value ? `?status=${encodeURIComponent(filter.value)}` : '';
      const [orders, custs] = await Promise.all([listAll(`/api/orders${q}`), customers.size ? null : listAll('/api/customers').catch(() => [])]);
      if (custs) customers = new Map(custs.map((c) => [c.id, c]));
      orders.reverse();
      rows.clear();
      count.textContent = `${orders.length} order${orders.length === 1 ? '' : 's'}`;
      if (!orders.length) return empty('No orders with this status.');
      const trs = orders.map((o) => {
        const el = orderRow(o);
        rows.set(o.id, { order: o, el });
        return el;
      });
      return h('div', { class: 'panel flush' }, scrollBox('Orders', h('table', { testid: 'orders-table', 'aria-label': 'Orders' },
        thead(['Order', 'Placed', 'Customer', 'Items', 'Total', 'Status', '']),
        h('tbody', null, trs))));
    });
  }
  filter.addEventListener('change', () => {
    history.replaceState(null, '', `#/staff/orders${filter.value ? `?status=${filter.value}` : ''}`);
    load();
  });
  load();
  let pending = null;
  ctx.onLive((ev, o) => {
    if (!o.id) return;
    const known = update(o.id, o.status);
    const fits = !filter.value || filter.value === o.status;
    if (!known && fits && !pending) pending = setTimeout(() => { pending = null; load(); }, 300);
  });
  ctx.onReconnect(load);
}

const COLUMNS = [
  ['paid', 'Paid — waiting'],
  ['preparing', 'Preparing'],
  ['ready', 'Ready to hand over'],
];

export function renderKitchen(body, ctx) {
  const board = h('div', { class: 'board', testid: 'kitchen-board' });
  const cols = {};
  for (const [status, title] of COLUMNS) {
    const list = h('div', { class: 'col-list', testid: `kitchen-col-${status}` });
    const n = h('span', { class: 'count', testid: `kitchen-count-${status}` }, '0');
    cols[status] = { list, n };
    board.appendChild(h('section', { class: `col col-${status}`, 'aria-label': title }, h('h2', null, statusBadge(status), ' ', title, ' ', n), list));
  }
  const err = h('div', { class: 'form-error', role: 'alert', hidden: true, testid: 'kitchen-error' });
  body.append(err, board);

  function ticketCard(t) {
    const e = inlineError(`ticket-error-${t.id}`);
    return h('article', { class: `ticket ticket-${t.status}`, testid: 'ticket', dataset: { ticketId: t.id, orderId: t.order_id || t.id } },
      h('header', null, h('strong', { class: 'mono' }, shortId(t.order_id || t.id)), h('span', { class: 'muted small' }, when(t.ready_at || t.started_at || t.created_at))),
      h('ul', null, (t.lines || []).map((l) => h('li', null, h('strong', null, `${l.qty} ×`), ` ${l.name}`))),
      t.cook ? h('p', { class: 'muted small' }, `cook: ${t.cook}`) : null,
      t.status === 'ready' ? actionButton('Hand over', { class: 'primary wide', testid: `handover-${t.id}` }, async () => {
        await api('POST', `/api/kitchen/tickets/${t.id}/complete`);
        toast(`Order ${shortId(t.order_id || t.id)} handed over.`, 'success');
        refresh();
      }, e) : null, e);
  }

  let inflight = false;
  let again = false;
  async function refresh() {
    if (inflight) {
      again = true;
      return;
    }
    inflight = true;
    try {
      const lists = await Promise.all(COLUMNS.map(([s]) => listAll(`/api/kitchen/tickets?status=${s}`, 5)));
      err.hidden = true;
      COLUMNS.forEach(([s], i) => {
        clear(cols[s].list);
        const ts = lists[i];
        cols[s].n.textContent = String(ts.length);
        if (!ts.length) cols[s].list.appendChild(empty('Nothing here.'));
        ts.forEach((t) => cols[s].list.appendChild(ticketCard(t)));
      });
    } catch (e) {
      err.textContent = `Could not load the board: ${e.message}`;
      err.hidden = false;
    } finally {
      inflight = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }
  for (const [s] of COLUMNS) cols[s].list.appendChild(h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…'));
  refresh();
  let t = null;
  ctx.onLive(() => {
    clearTimeout(t);
    t = setTimeout(refresh, 150);
  });
  ctx.onReconnect(refresh);
}

// views/orders.js: every order (status filter) and the kitchen board, both live.
import { api, listAll } from '../api.js';
import {
  h, clear, money, when, shortId, statusBadge, orderRowUpdater, loading, empty, toast, actionButton, inlineError, thead, scrollBox,
} from '../ui.js';

const STATUSES = ['pending_payment', 'paid', 'preparing', 'ready', 'completed', 'cancelled'];

const PAGE = 50;

// Every order, a page at a time by id (oldest first, as the API pages: "More orders" asks
// for the next page with the last one's cursor), filtered by status, supplier, a part of
// the customer's name and the start of the order's id; rows follow the live events.
export function renderAllOrders(body, ctx) {
  const filter = h('select', { testid: 'orders-filter', 'aria-label': 'status' },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s }, s.replace('_', ' '))));
  const supplier = h('select', { testid: 'orders-supplier', 'aria-label': 'supplier' },
    h('option', { value: '' }, 'All suppliers'));
  const name = h('input', { type: 'search', testid: 'orders-customer', 'aria-label': 'customer name', placeholder: 'Customer name', maxlength: 60 });
  const idPrefix = h('input', { type: 'search', testid: 'orders-id', 'aria-label': 'order id', placeholder: 'Order id starts with', maxlength: 24, spellcheck: 'false' });
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  filter.value = params.get('status') || '';
  name.value = params.get('customer_name') || '';
  idPrefix.value = params.get('id_prefix') || '';
  const count = h('span', { class: 'muted', testid: 'orders-count' });
  const box = h('div');
  const more = h('button', { type: 'button', class: 'secondary', testid: 'orders-more', hidden: true }, 'More orders');
  body.append(h('div', { class: 'toolbar' },
    h('label', null, 'Status ', filter), h('label', null, 'Supplier ', supplier),
    h('label', null, 'Customer ', name), h('label', null, 'Order ', idPrefix), count,
    h('button', { type: 'button', class: 'secondary small', onclick: () => load() }, 'Refresh')), box,
    h('div', { class: 'toolbar' }, more));
  const rows = new Map();
  let customers = new Map();
  let next = null;
  let tbody = null;

  function orderRow(o) {
    const err = inlineError(`order-error-${o.id}`);
    const cust = customers.get(o.customer_id);
    return h('tr', { testid: 'order-row', dataset: { orderId: o.id, status: o.status } },
      h('td', { class: 'mono' }, shortId(o.id)),
      h('td', null, when(o.created_at)),
      h('td', null, o.customer_name || (cust ? cust.name : shortId(o.customer_id))),
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

  // The filters as the API's query (and the view's address), without the page.
  function filters() {
    const q = new URLSearchParams();
    if (filter.value) q.set('status', filter.value);
    if (supplier.value) q.set('supplier_id', supplier.value);
    if (name.value.trim()) q.set('customer_name', name.value.trim());
    const id = idPrefix.value.trim().replace(/^#/, '').toLowerCase();
    if (id) q.set('id_prefix', id);
    return q;
  }
  const searching = () => supplier.value || name.value.trim() || idPrefix.value.trim();

  function addRows(orders) {
    return orders.map((o) => {
      const el = orderRow(o);
      rows.set(o.id, { order: o, el });
      return el;
    });
  }
  function shown() {
    count.textContent = `${rows.size} order${rows.size === 1 ? '' : 's'}${next ? ' so far' : ''}`;
    more.hidden = !next;
  }

  function load() {
    const q = filters();
    history.replaceState(null, '', `#/staff/orders${[...q.keys()].length ? `?${q}` : ''}`);
    q.set('limit', PAGE);
    return loading(box, async () => {
      const [first, custs, sups] = await Promise.all([api('GET', `/api/orders?${q}`),
        customers.size ? null : listAll('/api/customers').catch(() => []),
        supplier.options.length > 1 ? null : listAll('/api/suppliers').catch(() => [])]);
      // A page may be empty with a next (ids the server skipped): "no orders" only at the end.
      let page = first;
      for (let i = 0; i < 5 && !page.items.length && page.next; i++) {
        q.set('after', page.next);
        page = await api('GET', `/api/orders?${q}`);
      }
      if (custs) customers = new Map(custs.map((c) => [c.id, c]));
      if (sups) {
        const want = params.get('supplier_id') || supplier.value;
        supplier.append(...sups.map((x) => h('option', { value: x.id }, x.name)));
        supplier.value = want || '';
      }
      rows.clear();
      next = page.next;
      const trs = addRows(page.items);
      shown();
      if (!trs.length) return empty(searching() || filter.value ? 'No orders match.' : 'No orders yet.');
      tbody = h('tbody', null, trs);
      return h('div', { class: 'panel flush' }, scrollBox('Orders', h('table', { testid: 'orders-table', 'aria-label': 'Orders' },
        thead(['Order', 'Placed', 'Customer', 'Items', 'Total', 'Status', '']), tbody)));
    });
  }
  // The page after the last order shown (next, or the last row's id for orders that came
  // since the last page was read), appended.
  async function appendPage(after) {
    const q = filters();
    q.set('limit', PAGE);
    if (after) q.set('after', after);
    const page = await api('GET', `/api/orders?${q}`);
    next = page.next;
    if (tbody) tbody.append(...addRows(page.items.filter((o) => !rows.has(o.id))));
    else if (page.items.length) return load();
    shown();
    return null;
  }
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await appendPage(next);
    } catch (e) {
      toast(e.message || String(e), 'error');
    } finally {
      more.disabled = false;
    }
  });
  let typing = null;
  const later = () => {
    clearTimeout(typing);
    typing = setTimeout(load, 300);
  };
  filter.addEventListener('change', load);
  supplier.addEventListener('change', load);
  name.addEventListener('input', later);
  idPrefix.addEventListener('input', later);
  load();
  let pending = null;
  ctx.onLive((ev, o) => {
    if (!o.id) return;
    const known = update(o.id, o.status);
    // A new order comes after the last page: added when that page is shown, and no search is on.
    const fits = (!filter.value || filter.value === o.status) && !searching() && !next;
    if (!known && fits && !pending) {
      pending = setTimeout(() => {
        pending = null;
        appendPage([...rows.keys()].pop()).catch(() => load());
      }, 300);
    }
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

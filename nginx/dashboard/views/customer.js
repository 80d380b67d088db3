// views/customer.js: the menu with a cart, checkout (place + pay), "My orders", live, and
// "My details".
import { api, listAll } from '../api.js';
import {
  h, clear, money, when, shortId, statusBadge, orderRowUpdater, busy, formError, showError, clearErrors,
  loading, empty, toast, actionButton, inlineError, thead, scrollBox,
} from '../ui.js';

const CART_KEY = 'galley.cart';
export const PAYMENT_METHODS = [
  ['pm_card_visa', 'Visa (pays)'],
  ['pm_card_chargeDeclined', 'Declined card'],
];

function loadCart() {
  try {
    return JSON.parse(sessionStorage.getItem(CART_KEY) || '{}') || {};
  } catch {
    return {};
  }
}
function saveCart(cart) {
  sessionStorage.setItem(CART_KEY, JSON.stringify(cart));
}

function paymentSelect(testid, label) {
  return h('select', { testid, name: 'payment_method', id: testid, 'aria-label': label },
    PAYMENT_METHODS.map(([v, l]) => h('option', { value: v }, l)));
}

async function pay(orderId, method) {
  return api('POST', '/api/payments', { body: { order_id: orderId, payment_method: method } });
}

export function renderMenu(body, ctx) {
  const layout = h('div', { class: 'menu-layout' });
  const grid = h('section', { class: 'menu-grid', testid: 'menu-grid', 'aria-label': 'Dishes' });
  const side = h('aside', { class: 'cart panel', testid: 'cart', 'aria-label': 'Your order' });
  layout.append(grid, side);
  body.appendChild(layout);

  let cart = loadCart();
  let menuById = new Map();
  let checkout = null; // the order placed, awaiting payment

  function drawCart() {
    clear(side);
    if (checkout) return drawCheckout();
    side.appendChild(h('h2', null, 'Your order'));
    const ids = Object.keys(cart);
    if (!ids.length) {
      side.appendChild(empty('The cart is empty: add something from the menu.'));
      return;
    }
    const err = formError('cart-error');
    const list = h('ul', { class: 'cart-lines', testid: 'cart-lines' });
    let total = 0;
    let currency = 'EUR';
    ids.forEach((id, i) => {
      const line = cart[id];
      const item = menuById.get(id);
      const price = item ? item.price_cents : line.price_cents;
      currency = (item && item.currency) || line.currency || currency;
      total += price * line.qty;
      const setQty = (q) => {
        if (q <= 0) delete cart[id];
        else cart[id].qty = q;
        saveCart(cart);
        drawCart();
      };
      list.appendChild(
        h(
          'li',
          { class: 'cart-line', testid: `cart-line-${id}`, dataset: { field: `lines[${i}]` } },
          h('div', { class: 'cart-line-main' },
            h('span', { class: 'cart-name' }, item ? item.name : line.name),
            h('span', { class: 'cart-price' }, money(price * line.qty, currency))),
          h('div', { class: 'qty' },
            h('button', { type: 'button', class: 'icon', 'aria-label': 'one less', testid: `cart-dec-${id}`, onclick: () => setQty(line.qty - 1) }, '−'),
            h('span', { testid: `cart-qty-${id}` }, String(line.qty)),
            h('button', { type: 'button', class: 'icon', 'aria-label': 'one more', testid: `cart-inc-${id}`, onclick: () => setQty(line.qty + 1) }, '+'),
            h('button', { type: 'button', class: 'link danger', testid: `cart-remove-${id}`, onclick: () => setQty(0) }, 'Remove')),
          h('div', { class: 'field-error', role: 'alert', hidden: true }),
        ),
      );
    });
    side.appendChild(list);
    side.appendChild(h('div', { class: 'cart-total' }, h('span', null, 'Total'), h('strong', { testid: 'cart-total' }, money(total, currency))));
    side.appendChild(err);
    const place = h('button', { type: 'button', class: 'primary wide', testid: 'place-order' }, 'Place order');
    place.addEventListener('click', async () => {
      clearErrors(side);
      try {
        const order = await busy(place, () =>
          api('POST', '/api/orders', {
            headers: { 'Idempotency-Key': `cart-${ctx.me.id}-${Date.now()}` },
            body: { lines: Object.keys(cart).map((item_id) => ({ item_id, qty: cart[item_id].qty })) },
          }),
        );
        checkout = order;
        cart = {};
        saveCart(cart);
        drawCart();
      } catch (e) {
        showError(side, e, err);
      }
    });
    side.appendChild(place);
  }

  function drawCheckout() {
    const order = checkout;
    side.appendChild(h('h2', null, 'Pay your order'));
    side.appendChild(
      h('div', { class: 'checkout', testid: 'checkout', dataset: { orderId: order.id } },
        h('p', null, 'Order ', h('strong', { testid: 'checkout-order-id' }, shortId(order.id)), ' is placed. ', statusBadge(order.status, 'checkout-status')),
        h('ul', { class: 'cart-lines' }, order.lines.map((l) =>
          h('li', { class: 'cart-line' }, h('div', { class: 'cart-line-main' }, h('span', null, `${l.qty} × ${l.name}`), h('span', null, money(l.price_cents * l.qty, order.currency)))))),
        h('div', { class: 'cart-total' }, h('span', null, 'Total'), h('strong', { testid: 'checkout-total' }, money(order.total_cents, order.currency))),
        order.expires_at ? h('p', { class: 'muted small' }, `Pay before ${when(order.expires_at)} or the order lapses.`) : null,
      ),
    );
    const sel = paymentSelect('pay-method', null);
    const err = formError('pay-error');
    const payBtn = h('button', { type: 'button', class: 'primary wide', testid: 'pay-submit' }, `Pay ${money(order.total_cents, order.currency)}`);
    payBtn.addEventListener('click', async () => {
      clearErrors(side);
      try {
        await busy(payBtn, () => pay(order.id, sel.value));
        toast('Payment succeeded: the kitchen has your order.', 'success');
        checkout = null;
        ctx.navigate('orders');
      } catch (e) {
        showError(side, e, err);
        if (e.code === 'payment_failed') {
          payBtn.disabled = true;
          payBtn.hidden = true;
          again.hidden = false;
        }
      }
    });
    const again = h('button', { type: 'button', class: 'secondary wide', testid: 'checkout-back', hidden: true, onclick: () => { checkout = null; drawCart(); } }, 'Back to the menu');
    side.appendChild(h('div', { class: 'field' }, h('label', { for: sel.id }, 'Card'), sel));
    side.appendChild(err);
    side.appendChild(payBtn);
    side.appendChild(again);
    side.appendChild(h('p', { class: 'muted small' }, h('a', { href: '#/orders' }, 'Pay later from My orders')));
  }

  loading(grid, async () => {
    const data = await api('GET', '/api/menu');
    const items = (data && data.items) || [];
    menuById = new Map(items.map((i) => [i.id, i]));
    drawCart();
    if (!items.length) return empty('Nothing on the menu right now.');
    return h('div', { class: 'cards' }, items.map((item) =>
      h('article', { class: 'card menu-item', testid: 'menu-item', dataset: { itemId: item.id } },
        h('div', { class: 'card-head' },
          h('h2', { testid: `menu-name-${item.id}` }, item.name),
          h('span', { class: 'price', testid: `menu-price-${item.id}`, dataset: { cents: String(item.price_cents) } }, money(item.price_cents, item.currency))),
        item.description ? h('p', { class: 'muted' }, item.description) : null,
        item.tags && item.tags.length ? h('div', { class: 'tags' }, item.tags.map((t) => h('span', { class: 'tag' }, t))) : null,
        h('button', {
          type: 'button', class: 'primary', testid: `add-${item.id}`,
          onclick: () => {
            const line = cart[item.id] || { qty: 0, name: item.name, price_cents: item.price_cents, currency: item.currency };
            line.qty += 1;
            cart[item.id] = line;
            saveCart(cart);
            checkout = null;
            drawCart();
          },
        }, 'Add to order'))));
  });
  drawCart();
}

export function renderMyOrders(body, ctx) {
  const box = h('div');
  body.appendChild(box);
  const rows = new Map(); // order id → {order, el}

  function actions(order, row) {
    const err = inlineError(`order-error-${order.id}`);
    const out = h('div', { class: 'actions' });
    if (order.status === 'pending_payment') {
      const sel = paymentSelect(`order-pay-method-${order.id}`, `Card for order ${shortId(order.id)}`);
      out.append(sel, actionButton('Pay', { class: 'primary small', testid: `order-pay-${order.id}` }, async () => {
        await pay(order.id, sel.value);
        toast('Payment succeeded.', 'success');
      }, err));
    }
    if (['pending_payment', 'paid', 'preparing'].includes(order.status)) {
      out.append(actionButton('Cancel', { class: 'secondary small', testid: `order-cancel-${order.id}` }, async () => {
        const o = await api('POST', `/api/orders/${order.id}/cancel`);
        update(o.id, o.status, o);
      }, err));
    }
    out.append(err);
    return out;
  }

  function orderRow(order) {
    const tr = h('tr', { testid: 'order-row', dataset: { orderId: order.id, status: order.status } },
      h('td', { class: 'mono' }, shortId(order.id)),
      h('td', null, when(order.created_at)),
      h('td', null, order.lines.map((l) => `${l.qty} × ${l.name}`).join(', ')),
      h('td', { class: 'num' }, money(order.total_cents, order.currency)),
      h('td', null, statusBadge(order.status, `order-status-${order.id}`),
        order.cancel_reason ? h('small', { class: 'muted' }, ` (${order.cancel_reason.replace('_', ' ')})`) : null),
      h('td', null, actions(order)));
    return tr;
  }

  const update = orderRowUpdater(rows, orderRow);

  let reloading = null;
  function load() {
    return loading(box, async () => {
      const orders = (await listAll('/api/orders')).reverse();
      rows.clear();
      if (!orders.length) return h('div', null, empty('No orders yet.'), h('a', { href: '#/menu', class: 'button primary' }, 'See the menu'));
      const trs = orders.map((o) => {
        const el = orderRow(o);
        rows.set(o.id, { order: o, el });
        return el;
      });
      return h('div', { class: 'panel' }, scrollBox('My orders', h('table', { testid: 'my-orders', 'aria-label': 'My orders' },
        thead(['Order', 'Placed', 'Items', 'Total', 'Status', '']),
        h('tbody', null, trs))));
    });
  }
  load();
  ctx.onLive((ev, o) => {
    if (!o.id) return;
    if (!update(o.id, o.status) && !reloading) {
      reloading = setTimeout(() => { reloading = null; load(); }, 300);
    }
  });
  ctx.onReconnect(load);
}

// "My details": the customer record of this account (a customer's GET /api/customers lists
// its own record only) — the one staff keep, when the account was made with their invitation.
export function renderMyDetails(body) {
  const box = h('section', { class: 'panel', testid: 'my-details' });
  body.appendChild(box);
  loading(box, async () => {
    const page = await api('GET', '/api/customers');
    const c = page && page.items && page.items[0];
    if (!c) return empty('No customer record belongs to this account yet.');
    const item = (label, key) => [h('dt', null, label), h('dd', { testid: `my-${key}` }, c[key] || '—')];
    return h('dl', { class: 'details' }, item('Name', 'name'), item('Email', 'email'), item('Phone', 'phone'), item('Address', 'address'));
  });
}

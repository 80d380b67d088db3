// views/staff.js: menu items, suppliers, customers and stock, for staff and admins.
import { api, listAll } from '../api.js';
import {
  h, clear, shortId, when, field, formError, submitForm, loading, empty, toast, inlineError, toCents, euros,
  clearErrors, showError, busy, table, actionButton,
} from '../ui.js';

// GET /api/menu lists available items only: items made unavailable here are remembered
// (this browser) so that they stay in the list and can be offered again.
const HIDDEN_KEY = 'galley.unavailableItems';
function hiddenIds() {
  try {
    return new Set(JSON.parse(localStorage.getItem(HIDDEN_KEY) || '[]'));
  } catch {
    return new Set();
  }
}
function setHidden(id, on) {
  const s = hiddenIds();
  if (on) s.add(id);
  else s.delete(id);
  localStorage.setItem(HIDDEN_KEY, JSON.stringify([...s]));
}

export async function allItems() {
  const data = await api('GET', '/api/menu');
  const items = (data && data.items) || [];
  const seen = new Set(items.map((i) => i.id));
  for (const id of hiddenIds()) {
    if (seen.has(id)) continue;
    try {
      items.push(await api('GET', `/api/menu/items/${id}`));
    } catch (e) {
      if (e.status === 404) setHidden(id, false);
    }
  }
  return items;
}

function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

export function renderItems(body) {
  const createBox = h('div');
  const listBox = h('div');
  body.append(section('Add an item', createBox), section('Items', listBox));
  let suppliers = [];

  function createForm() {
    const name = h('input', { type: 'text', testid: 'new-item-name' });
    const desc = h('input', { type: 'text', testid: 'new-item-description' });
    const price = h('input', { type: 'text', inputmode: 'decimal', placeholder: '0.00', testid: 'new-item-price' });
    const supplier = h('select', { testid: 'new-item-supplier' },
      suppliers.length ? null : h('option', { value: '' }, '— add a supplier first —'),
      suppliers.map((s) => h('option', { value: s.id }, s.name)));
    const available = h('input', { type: 'checkbox', checked: true, testid: 'new-item-available' });
    const form = h('form', { class: 'grid-form', testid: 'new-item-form' },
      field('Name', 'name', name),
      field('Description', 'description', desc),
      field('Price (EUR)', 'price_cents', price),
      field('Supplier', 'supplier_id', supplier),
      h('div', { class: 'field check', dataset: { field: 'available' } }, h('label', null, available, ' Available'), h('div', { class: 'field-error', hidden: true })),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', testid: 'new-item-submit' }, 'Add item'), formError('new-item-error')));
    submitForm(form, async () => {
      const body = { name: name.value.trim(), price_cents: toCents(price.value), supplier_id: supplier.value, available: available.checked };
      if (desc.value.trim()) body.description = desc.value.trim();
      const item = await api('POST', '/api/menu/items', { body });
      if (!item.available) setHidden(item.id, true);
      toast(`${item.name} added.`, 'success');
      form.reset();
      available.checked = true;
      loadList();
    });
    return form;
  }

  function itemRow(item) {
    const name = h('input', { type: 'text', value: item.name, testid: `item-name-${item.id}`, 'aria-label': `name of ${item.name}` });
    const price = h('input', { type: 'text', inputmode: 'decimal', class: 'narrow', value: euros(item.price_cents), testid: `item-price-${item.id}`, 'aria-label': `price of ${item.name}` });
    const avail = h('input', { type: 'checkbox', checked: item.available, testid: `item-available-${item.id}`, 'aria-label': `${item.name} available` });
    const err = inlineError(`item-error-${item.id}`);
    const row = h('tr', { testid: 'item-row', dataset: { itemId: item.id }, class: item.available ? null : 'dim' });
    const save = h('button', { type: 'button', class: 'primary small', testid: `item-save-${item.id}` }, 'Save');
    save.addEventListener('click', async () => {
      clearErrors(row);
      const patch = {};
      if (name.value.trim() !== item.name) patch.name = name.value.trim();
      const cents = toCents(price.value);
      if (cents !== item.price_cents) patch.price_cents = cents;
      if (avail.checked !== item.available) patch.available = avail.checked;
      if (!Object.keys(patch).length) {
        toast('Nothing changed.', 'info');
        return;
      }
      try {
        const updated = await busy(save, () => api('PATCH', `/api/menu/items/${item.id}`, { headers: { 'If-Match': String(item.version) }, body: patch }));
        setHidden(updated.id, !updated.available);
        row.replaceWith(itemRow(updated));
        toast(`${updated.name} saved.`, 'success');
      } catch (e) {
        if (e.code === 'conflict') e.message = `${e.message} — someone else changed this item: reload to see it.`;
        showError(row, e, err);
      }
    });
    // A row is not a form (a form cannot span table cells): Enter in its fields saves it.
    row.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || !e.target.matches('input')) return;
      e.preventDefault();
      if (!save.disabled) save.click();
    });
    let armed = false;
    const del = h('button', { type: 'button', class: 'danger small', testid: `item-delete-${item.id}` }, 'Delete');
    del.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        del.textContent = 'Confirm delete';
        setTimeout(() => { armed = false; if (del.isConnected && !del.disabled) del.textContent = 'Delete'; }, 4000);
        return;
      }
      clearErrors(row);
      try {
        await busy(del, () => api('DELETE', `/api/menu/items/${item.id}`));
        setHidden(item.id, false);
        row.remove();
        toast(`${item.name} deleted.`, 'success');
      } catch (e) {
        showError(row, e, err);
      }
    });
    const supplier = suppliers.find((s) => s.id === item.supplier_id);
    row.append(
      h('td', { dataset: { field: 'name' } }, name, h('div', { class: 'field-error', hidden: true })),
      h('td', { dataset: { field: 'price_cents' } }, price, h('div', { class: 'field-error', hidden: true })),
      h('td', null, supplier ? supplier.name : shortId(item.supplier_id)),
      h('td', { dataset: { field: 'available' } }, avail, h('div', { class: 'field-error', hidden: true })),
      h('td', { class: 'muted mono', testid: `item-version-${item.id}` }, `v${item.version}`),
      h('td', null, h('div', { class: 'actions' }, save, del), err),
    );
    return row;
  }

  function loadList() {
    return loading(listBox, async () => {
      const items = await allItems();
      if (!items.length) return empty('No menu items yet.');
      items.sort((a, b) => a.name.localeCompare(b.name));
      return table(['Name', 'Price (EUR)', 'Supplier', 'Available', 'Version', ''], items.map(itemRow), { testid: 'items-table', 'aria-label': 'Menu items' });
    });
  }

  loading(createBox, async () => {
    suppliers = await listAll('/api/suppliers');
    loadList();
    return createForm();
  });
}

export function renderSuppliers(body) {
  const listBox = h('div');
  const name = h('input', { type: 'text', testid: 'new-supplier-name' });
  const email = h('input', { type: 'email', testid: 'new-supplier-email' });
  const phone = h('input', { type: 'text', testid: 'new-supplier-phone' });
  const address = h('input', { type: 'text', testid: 'new-supplier-address' });
  const form = h('form', { class: 'grid-form', testid: 'new-supplier-form' },
    field('Name', 'name', name), field('Email', 'email', email), field('Phone', 'phone', phone), field('Address', 'address', address),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', testid: 'new-supplier-submit' }, 'Add supplier'), formError('new-supplier-error')));
  submitForm(form, async () => {
    const b = { name: name.value.trim(), email: email.value.trim() };
    if (phone.value.trim()) b.phone = phone.value.trim();
    if (address.value.trim()) b.address = address.value.trim();
    const s = await api('POST', '/api/suppliers', { body: b });
    toast(`${s.name} added.`, 'success');
    form.reset();
    load();
  });
  body.append(section('Add a supplier', form), section('Suppliers', listBox));
  function load() {
    return loading(listBox, async () => {
      const items = await listAll('/api/suppliers');
      if (!items.length) return empty('No suppliers yet.');
      return table(['Name', 'Email', 'Phone', 'Address'], items.map((s) =>
        h('tr', { testid: 'supplier-row', dataset: { supplierId: s.id } }, h('td', null, s.name), h('td', null, s.email), h('td', null, s.phone || '—'), h('td', null, s.address || '—'))), { testid: 'suppliers-table', 'aria-label': 'Suppliers' });
    });
  }
  load();
}

export function renderCustomers(body) {
  const listBox = h('div');
  body.append(section('Customers', listBox));

  const registered = () => h('span', { class: 'badge status-completed' }, 'registered');

  // Invite: POST /api/customers/{id}/invitations. The code is shown here once, in a row
  // under the customer's, to pass on; the API keeps only its hash.
  function customerRow(c) {
    const row = h('tr', { testid: 'customer-row', dataset: { customerId: c.id } });
    const account = h('td');
    const err = inlineError(`invite-error-${c.id}`);
    let inviteRow = null;
    if (c.user_id) {
      account.append(registered());
    } else {
      const invite = actionButton('Invite', { class: 'secondary small', testid: `invite-${c.id}` }, async () => {
        try {
          const inv = await api('POST', `/api/customers/${c.id}/invitations`);
          const shown = invitationRow(c, inv);
          if (inviteRow) inviteRow.replaceWith(shown);
          else row.after(shown);
          inviteRow = shown;
        } catch (e) {
          if (e.code === 'invalid_state') {
            // 422: the customer registered with an invitation since this list was loaded.
            e.message = `${e.message} — ${c.name} signs in with that account: no invitation is needed.`;
            if (inviteRow) inviteRow.remove();
            inviteRow = null;
            invite.replaceWith(registered());
          }
          throw e;
        }
      }, err);
      account.append(invite);
    }
    account.append(err);
    row.append(h('td', null, c.name), h('td', null, c.email), h('td', null, c.phone || '—'), h('td', null, c.address || '—'), account);
    return row;
  }

  function invitationRow(c, inv) {
    return h('tr', { class: 'invite-row', testid: `invitation-${c.id}` },
      h('td', { colspan: 5 },
        h('div', { class: 'invite' },
          h('span', null, `Invitation for ${c.name}: `),
          h('code', { class: 'mono invite-code', testid: `invitation-code-${c.id}` }, inv.code),
          h('span', null, ' valid until '),
          h('time', { datetime: inv.expires_at, testid: `invitation-expires-${c.id}` }, when(inv.expires_at)),
          h('p', { class: 'hint', testid: `invitation-note-${c.id}` },
            'Pass this code on to the customer, who enters it when creating an account; it links one account to this record. '
            + 'It is shown only now: if it is lost, invite again.'))));
  }

  loading(listBox, async () => {
    const items = await listAll('/api/customers');
    if (!items.length) return empty('No customers yet.');
    return table(['Name', 'Email', 'Phone', 'Address', 'Account'], items.map(customerRow), { testid: 'customers-table', 'aria-label': 'Customers' });
  });
}

export const LOW_STOCK = 5;

export function renderStock(body) {
  const listBox = h('div');
  body.append(section('Stock levels', h('p', { class: 'muted' }, `Items with fewer than ${LOW_STOCK} available are highlighted.`), listBox));

  function stockRow(item, level, levelErr) {
    const row = h('tr', { testid: 'stock-row', dataset: { itemId: item.id } });
    const fill = (lv) => {
      clear(row);
      const low = lv && lv.available < LOW_STOCK;
      row.className = low ? 'low' : '';
      row.dataset.low = low ? 'true' : 'false';
      const input = h('input', { type: 'number', class: 'narrow', value: lv ? String(lv.on_hand) : '', testid: `stock-input-${item.id}`, 'aria-label': `on hand for ${item.name}` });
      const err = inlineError(`stock-error-${item.id}`);
      const form = h('form', { class: 'inline-form', dataset: { field: 'on_hand' } }, input,
        h('button', { type: 'submit', class: 'primary small', testid: `stock-save-${item.id}` }, 'Set'), err);
      form.noValidate = true;
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearErrors(form);
        const t = input.value.trim();
        const n = /^-?\d+$/.test(t) ? parseInt(t, 10) : t;
        try {
          const updated = await busy(form.querySelector('button'), () => api('PUT', `/api/stock/${item.id}`, { body: { on_hand: n } }));
          fill(updated);
          toast(`${item.name}: ${updated.on_hand} on hand.`, 'success');
        } catch (ex) {
          showError(form, ex, err);
        }
      });
      row.append(
        h('td', null, item.name, item.available ? null : h('small', { class: 'muted' }, ' (unavailable)')),
        h('td', { class: 'num', testid: `stock-on-hand-${item.id}` }, lv ? String(lv.on_hand) : '—'),
        h('td', { class: 'num', testid: `stock-reserved-${item.id}` }, lv ? String(lv.reserved) : '—'),
        h('td', { class: 'num', testid: `stock-available-${item.id}` }, lv ? h('span', { class: low ? 'badge low-badge' : 'badge ok-badge' }, String(lv.available)) : h('span', { class: 'inline-error' }, levelErr || '—')),
        h('td', null, form),
      );
    };
    fill(level);
    return row;
  }

  loading(listBox, async () => {
    const items = await allItems();
    if (!items.length) return empty('No menu items yet.');
    items.sort((a, b) => a.name.localeCompare(b.name));
    const levels = await Promise.all(items.map((i) => api('GET', `/api/stock/${i.id}`).then((l) => [l, null], (e) => [null, e.message])));
    return table(['Item', 'On hand', 'Reserved', 'Available', 'Set on hand'], items.map((i, k) => stockRow(i, levels[k][0], levels[k][1])), { testid: 'stock-table', 'aria-label': 'Stock levels' });
  });
}

// ui.js: DOM helpers. Everything is built with createElement/textContent: API data never
// goes through innerHTML. No inline styles or handlers (the CSP forbids them).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function money(cents, currency = 'EUR') {
  if (typeof cents !== 'number') return '—';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function shortId(id) {
  return id ? `#${String(id).slice(-6)}` : '—';
}

const STATUS_LABELS = {
  pending_payment: 'awaiting payment',
  paid: 'paid',
  preparing: 'preparing',
  ready: 'ready',
  completed: 'completed',
  cancelled: 'cancelled',
};

export function statusBadge(status, testid) {
  return h(
    'span',
    { class: `badge status-${status || 'unknown'}`, testid, dataset: { status: status || '' } },
    STATUS_LABELS[status] || status || 'unknown',
  );
}

export function setStatusBadge(el, status) {
  el.className = `badge status-${status}`;
  el.dataset.status = status;
  el.textContent = STATUS_LABELS[status] || status;
}

const RANK = { pending_payment: 0, paid: 1, preparing: 2, ready: 3, completed: 4, cancelled: 5 };
// Events can arrive twice or late: a status only moves forward.
export function isNewer(next, current) {
  if (!next) return false;
  if (!current) return true;
  if (current === 'cancelled' || current === 'completed') return false;
  return (RANK[next] ?? -1) > (RANK[current] ?? -1);
}

// Run fn while the button shows progress: disabled, "…" after its label.
export async function busy(button, fn) {
  const label = button.textContent;
  button.disabled = true;
  button.classList.add('busy');
  button.textContent = `${label}…`;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.classList.remove('busy');
    button.textContent = label;
    button.removeAttribute('aria-busy');
  }
}

// A labelled input with an error slot named by the API field it feeds.
export function field(label, name, input, hint) {
  input.name = input.name || name;
  if (!input.id) input.id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: input.id }, label),
    input,
    hint ? h('small', { class: 'hint' }, hint) : null,
    h('div', { class: 'field-error', testid: `error-${name}`, role: 'alert', hidden: true }),
  );
}

export function formError(testid = 'form-error') {
  return h('div', { class: 'form-error', testid, role: 'alert', hidden: true });
}

export function clearErrors(root) {
  root.querySelectorAll('.field-error, .form-error, .inline-error').forEach((e) => {
    e.textContent = '';
    e.hidden = true;
  });
  root.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
}

function cssEscape(s) {
  return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
}

// Show an API error next to the field it names (if the root has that field), else in the
// root's form-level error slot (or the given fallback element).
export function showError(root, err, fallback) {
  const message = err && err.message ? err.message : String(err);
  if (err && err.field) {
    const candidates = [err.field, err.field.replace(/\.[^.[\]]+$/, ''), err.field.split(/[.[]/)[0]];
    for (const name of candidates) {
      const slot = root.querySelector(`[data-field="${cssEscape(name)}"]`);
      if (slot) {
        const box = slot.querySelector('.field-error');
        const input = slot.querySelector('input, select, textarea');
        if (input) input.classList.add('invalid');
        if (box) {
          box.textContent = message;
          box.hidden = false;
          if (input) input.focus();
          return;
        }
      }
    }
  }
  const box = fallback || root.querySelector('.form-error');
  if (box) {
    box.textContent = message;
    box.hidden = false;
  } else {
    toast(message, 'error');
  }
}

// A form whose submit runs fn(form) with progress on its submit button and errors shown
// where they belong. fn may return a message to show as success.
export function submitForm(form, fn) {
  form.noValidate = true;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    try {
      if (button) await busy(button, () => fn(form));
      else await fn(form);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      showError(form, err);
    }
  });
  return form;
}

// An action button: fn runs with progress; an error shows in errBox (or a toast).
export function actionButton(label, attrs, fn, errBox) {
  const b = h('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', async () => {
    if (errBox) {
      errBox.textContent = '';
      errBox.hidden = true;
    }
    try {
      await busy(b, fn);
    } catch (err) {
      if (errBox) {
        errBox.textContent = err.message || String(err);
        errBox.hidden = false;
      } else {
        toast(err.message || String(err), 'error');
      }
    }
  });
  return b;
}

export function inlineError(testid) {
  return h('span', { class: 'inline-error', testid, role: 'alert', hidden: true });
}

let toastBox = null;
export function toast(message, kind = 'info') {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(toastBox);
  }
  const t = h('div', { class: `toast toast-${kind}`, testid: `toast-${kind}` }, message);
  toastBox.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// A panel that loads: shows a spinner, then the content, or the error with a retry.
export async function loading(container, fn) {
  clear(container);
  container.appendChild(h('div', { class: 'loading', testid: 'loading' }, h('span', { class: 'spinner' }), 'Loading…'));
  try {
    const content = await fn();
    clear(container);
    if (content) container.appendChild(content);
  } catch (err) {
    clear(container);
    container.appendChild(
      h(
        'div',
        { class: 'load-error', testid: 'load-error', role: 'alert' },
        h('strong', null, 'Could not load: '),
        err.message || String(err),
        ' ',
        h('button', { type: 'button', class: 'link', onclick: () => loading(container, fn) }, 'Retry'),
      ),
    );
  }
}

// A table's head; an empty header (a column of actions) is named for screen readers.
export function thead(headers) {
  return h('thead', null, h('tr', null, headers.map((x) => h('th', null, x === '' ? h('span', { class: 'sr-only' }, 'Actions') : x))));
}

// A table's box. On a phone (style.css) each row shows as a card, each cell under its
// column's name: the cells carry it as data-label, kept up as rows are drawn again. A table
// still wider than its box scrolls inside it, never the page; while it is wider, the box is
// a region named label in the Tab order, so that the keyboard can scroll it too.
export function scrollBox(label, tableEl) {
  const box = h('div', { class: 'table-wrap' }, tableEl);
  const name = () => {
    const heads = [...tableEl.querySelectorAll('thead th')].map((th) => (th.querySelector('.sr-only') ? '' : th.textContent.trim()));
    for (const body of tableEl.tBodies) {
      for (const tr of body.rows) {
        [...tr.cells].forEach((td, i) => {
          const want = td.colSpan > 1 ? '' : heads[i] || '';
          if (td.dataset.label !== want) td.dataset.label = want;
        });
      }
    }
  };
  name();
  new MutationObserver(name).observe(tableEl, { childList: true, subtree: true });
  const fit = () => {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.tabIndex = 0;
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', label);
    } else {
      box.removeAttribute('tabindex');
      box.removeAttribute('role');
      box.removeAttribute('aria-label');
    }
  };
  const watch = new ResizeObserver(fit);
  watch.observe(box);
  watch.observe(tableEl);
  return box;
}

// attrs['aria-label'] names the table (and its scroll box).
export function table(headers, rows, attrs = {}) {
  return scrollBox(attrs['aria-label'] || 'Table', h('table', attrs, thead(headers), h('tbody', null, rows)));
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// Euros typed by a person → cents; a value that is not a number goes to the API as typed,
// so that its validation (and message) is the one the user sees.
export function toCents(text) {
  const t = String(text).trim().replace(',', '.');
  if (t === '' || !/^-?\d+(\.\d{1,2})?$/.test(t)) return t;
  return Math.round(parseFloat(t) * 100);
}

export function euros(cents) {
  return typeof cents === 'number' ? (cents / 100).toFixed(2) : '';
}

// Orders shown as rows kept by id (rows: Map id → {order, el}): the returned
// update(id, status, full) re-renders a row when its status moves forward (or with the
// whole order); false when no row has that id. onChange(order, el) runs after.
export function orderRowUpdater(rows, render, onChange) {
  return function update(id, status, full) {
    const r = rows.get(id);
    if (!r) return false;
    if (full) r.order = full;
    else if (isNewer(status, r.order.status)) r.order = { ...r.order, status };
    else return true;
    const el = render(r.order);
    r.el.replaceWith(el);
    r.el = el;
    if (onChange) onChange(r.order, el);
    return true;
  };
}

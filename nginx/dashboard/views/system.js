// views/system.js: each service's healthz and readyz (no token needed).
import { api } from '../api.js';
import { h, clear, scrollBox } from '../ui.js';

export const SERVICES = ['auth', 'customers', 'menu', 'stock', 'orders', 'payments', 'kitchen', 'suppliers', 'reports'];

async function probe(path) {
  try {
    await api('GET', path, { anonymous: true });
    return { ok: true, text: 'ok' };
  } catch (e) {
    return { ok: false, text: e.message || String(e) };
  }
}

export function renderSystem(body) {
  const tbody = h('tbody');
  const stamp = h('span', { class: 'muted small', testid: 'system-checked' });
  const refresh = h('button', { type: 'button', class: 'secondary small', testid: 'system-refresh' }, 'Check again');
  body.append(
    h('div', { class: 'toolbar' }, refresh, stamp),
    h('section', { class: 'panel flush' }, scrollBox('Services', h('table', { testid: 'system-table', 'aria-label': 'Services' },
      h('thead', null, h('tr', null, h('th', null, 'Service'), h('th', null, 'Process (healthz)'), h('th', null, 'Dependencies (readyz)'))), tbody))),
  );
  const cell = (r, up, down, testid) =>
    h('td', { testid }, r.ok ? h('span', { class: 'badge status-completed' }, up)
      : h('span', null, h('span', { class: 'badge status-cancelled' }, down), ' ', h('span', { class: 'small' }, r.text)));
  async function run() {
    refresh.disabled = true;
    refresh.textContent = 'Checking…';
    clear(tbody);
    const rows = SERVICES.map((s) => {
      const tr = h('tr', { testid: `system-${s}` }, h('td', null, h('strong', null, s)), h('td', null, h('span', { class: 'spinner' })), h('td', null, h('span', { class: 'spinner' })));
      tbody.appendChild(tr);
      return tr;
    });
    await Promise.all(SERVICES.map(async (s, i) => {
      const [hz, rz] = await Promise.all([probe(`/api/${s}/healthz`), probe(`/api/${s}/readyz`)]);
      clear(rows[i]);
      rows[i].append(h('td', null, h('strong', null, s)), cell(hz, 'up', 'down', `health-${s}`), cell(rz, 'ready', 'not ready', `ready-${s}`));
    }));
    stamp.textContent = `checked ${new Date().toLocaleTimeString()}`;
    refresh.disabled = false;
    refresh.textContent = 'Check again';
  }
  refresh.addEventListener('click', run);
  run();
}

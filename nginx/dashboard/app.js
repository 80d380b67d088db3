// app.js: the shell — sign-in state, the top bar, navigation (hash routes), the live
// stream, and which view shows where.
import { api, getToken, setToken, setUnauthenticatedHandler } from './api.js';
import { LiveOrders, orderOfEvent, isStale } from './live.js';
import { h, clear, toast } from './ui.js';
import { renderAuth } from './views/auth.js';
import { renderMenu, renderMyOrders, renderMyDetails } from './views/customer.js';
import { renderItems, renderSuppliers, renderCustomers, renderStock } from './views/staff.js';
import { renderAllOrders, renderKitchen } from './views/orders.js';
import { renderSystem } from './views/system.js';
import { renderReports } from './views/reports.js';

const root = document.getElementById('app');

// The skip link (index.html) focuses the main content. It cannot just be followed: the hash
// is the route.
document.querySelector('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  const main = document.getElementById('main');
  if (main) {
    main.focus();
    main.scrollIntoView();
  }
});

const state = {
  me: null,
  liveHandlers: new Set(),
  reconnectHandlers: new Set(),
  liveState: 'off',
  versions: new Map(), // order id → the newest version a live event showed
};

const ROUTES = {
  menu: { title: 'Menu', roles: ['customer'], render: renderMenu },
  orders: { title: 'My orders', roles: ['customer'], render: renderMyOrders },
  account: { title: 'My details', roles: ['customer'], render: renderMyDetails },
  'staff/orders': { title: 'Orders', roles: ['staff', 'admin'], render: renderAllOrders },
  'staff/kitchen': { title: 'Kitchen', roles: ['staff', 'admin'], render: renderKitchen },
  'staff/items': { title: 'Menu items', roles: ['staff', 'admin'], render: renderItems },
  'staff/stock': { title: 'Stock', roles: ['staff', 'admin'], render: renderStock },
  'staff/suppliers': { title: 'Suppliers', roles: ['staff', 'admin'], render: renderSuppliers },
  'staff/customers': { title: 'Customers', roles: ['staff', 'admin'], render: renderCustomers },
  'staff/reports': { title: 'Reports', roles: ['staff', 'admin'], render: renderReports },
  system: { title: 'System', roles: ['staff', 'admin'], render: renderSystem },
};

function isStaff() {
  return state.me && (state.me.role === 'staff' || state.me.role === 'admin');
}

function homeRoute() {
  return isStaff() ? 'staff/orders' : 'menu';
}

function currentRoute() {
  const r = location.hash.replace(/^#\/?/, '').split('?')[0];
  return r;
}

export function navigate(route) {
  if (currentRoute() === route) render();
  else location.hash = `#/${route}`;
}

const live = new LiveOrders({
  getToken,
  onEvent: (ev) => {
    const o = orderOfEvent(ev);
    if (isStale(state.versions, o)) return;
    for (const fn of state.liveHandlers) {
      try {
        fn(ev, o);
      } catch (e) {
        console.error(e);
      }
    }
  },
  onState: (s) => {
    state.liveState = s;
    const ind = document.querySelector('[data-testid="live-indicator"]');
    if (ind) paintLive(ind);
  },
  onConnect: (n) => {
    // After a gap, views reload what they show: events sent meanwhile were missed.
    if (n > 1) for (const fn of state.reconnectHandlers) fn();
  },
});

function paintLive(ind) {
  const s = state.liveState;
  ind.className = `live live-${s}`;
  ind.dataset.state = s;
  ind.title = s === 'live' ? 'Order updates arrive live' : 'Live updates: reconnecting';
  ind.textContent = s === 'live' ? 'live' : s === 'off' ? 'offline' : 'reconnecting';
}

const ctx = {
  get me() {
    return state.me;
  },
  isStaff,
  navigate,
  // Views subscribe for the life of the current page.
  onLive(fn) {
    state.liveHandlers.add(fn);
  },
  onReconnect(fn) {
    state.reconnectHandlers.add(fn);
  },
  async signedIn(token) {
    setToken(token);
    await loadMe();
    live.start();
    navigate(homeRoute());
  },
};

async function loadMe() {
  state.me = await api('GET', '/api/auth/me');
}

async function signOut() {
  try {
    await api('POST', '/api/auth/logout');
  } catch {
    /* the token is dropped here either way */
  }
  live.stop();
  setToken('');
  state.me = null;
  sessionStorage.removeItem('galley.cart');
  location.hash = '#/signin';
  render();
}

setUnauthenticatedHandler(() => {
  live.stop();
  setToken('');
  state.me = null;
  toast('Your session has ended: sign in again.', 'error');
  location.hash = '#/signin';
  render();
});

function topBar(route) {
  const me = state.me;
  const links = Object.entries(ROUTES)
    .filter(([, r]) => r.roles.includes(me.role))
    .map(([key, r]) =>
      h(
        'a',
        {
          href: `#/${key}`,
          class: key === route ? 'active' : null,
          'aria-current': key === route ? 'page' : null,
          testid: `nav-${key.replace('/', '-')}`,
        },
        r.title,
      ),
    );
  const ind = h('span', { testid: 'live-indicator' });
  paintLive(ind);
  return h(
    'header',
    { class: 'topbar' },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'G'), 'galley'),
    h('nav', { class: 'nav', 'aria-label': 'Main', testid: 'nav' }, links),
    h(
      'div',
      { class: 'who' },
      ind,
      h('span', { class: 'user', testid: 'user-name' }, me.name || me.email),
      h('span', { class: `role role-${me.role}`, testid: 'user-role' }, me.role),
      h('button', { type: 'button', class: 'secondary small', testid: 'sign-out', onclick: signOut }, 'Sign out'),
    ),
  );
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  // A link of the top bar followed from the keyboard keeps the focus where it was, on the
  // bar's link to the page now shown (the bar is drawn anew).
  const fromNav = !!(document.activeElement && document.activeElement.closest('.nav'));
  state.liveHandlers.clear();
  state.reconnectHandlers.clear();
  let route = currentRoute();
  if (!getToken()) {
    clear(root);
    root.appendChild(renderAuth(ctx, route === 'register' ? 'register' : 'signin'));
    return;
  }
  if (!state.me) {
    try {
      await loadMe();
    } catch (err) {
      if (seq !== renderSeq) return;
      if (!getToken()) return; // the 401 handler took over
      clear(root);
      root.appendChild(
        h('main', { id: 'main', tabindex: '-1' }, h('div', { class: 'auth-card', role: 'alert' }, h('h1', null, 'Cannot reach galley'), h('p', null, err.message),
          h('button', { type: 'button', onclick: () => render() }, 'Try again'))),
      );
      return;
    }
    if (seq !== renderSeq) return;
    live.start();
  }
  const def = ROUTES[route];
  if (!def || !def.roles.includes(state.me.role)) {
    route = homeRoute();
    history.replaceState(null, '', `#/${route}`);
  }
  const view = ROUTES[route];
  document.title = `${view.title} · galley`;
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1', testid: `view-${route.replace('/', '-')}` });
  clear(root);
  root.appendChild(topBar(route));
  root.appendChild(main);
  if (fromNav) root.querySelector('.nav a[aria-current="page"]').focus();
  main.appendChild(h('h1', { class: 'page-title' }, view.title));
  const body = h('div', { class: 'page-body' });
  main.appendChild(body);
  view.render(body, ctx);
}

window.addEventListener('hashchange', render);
render();

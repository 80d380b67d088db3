// views/system.js: what an operator checks first. Per service: is the process up (healthz)
// and are its dependencies (readyz); its pools and workers (GET /api/system/pools, each
// pool's manager); its request rate, 5xx rate and p95 time, event lag and open circuits
// (GET /api/system/metrics, the Prometheus totals). Rates are the difference between two
// readings, so the first reading shows totals since start; the page reads again every 5 s
// while it is open.
import { api } from '../api.js';
import { h, clear, scrollBox, thead } from '../ui.js';
import { parseMetrics, serviceRates } from './system-metrics.js';

export const SERVICES = ['auth', 'customers', 'menu', 'stock', 'orders', 'payments', 'kitchen', 'suppliers', 'reports'];
const EVERY_MS = 5000;

async function probe(path) {
  try {
    await api('GET', path, { anonymous: true });
    return { ok: true, text: 'ok' };
  } catch (e) {
    return { ok: false, text: e.message || String(e) };
  }
}

async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: e.message || String(e) };
  }
}

const num = (v) => (typeof v === 'number' ? String(v) : '–');
const badge = (ok, up, down) => h('span', { class: `badge ${ok ? 'status-completed' : 'status-cancelled'}` }, ok ? up : down);

function fixed(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

function ms(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds === Infinity) return '> 10 s';
  return seconds < 1 ? `≤ ${Math.round(seconds * 1000)} ms` : `≤ ${seconds} s`;
}

export function renderSystem(body) {
  const services = h('tbody');
  const pools = h('tbody');
  const busy = h('tbody');
  const stamp = h('span', { class: 'muted small', testid: 'system-checked', 'aria-live': 'polite' });
  const note = h('p', { class: 'muted small', testid: 'system-note', hidden: true });
  const refresh = h('button', { type: 'button', class: 'secondary small', testid: 'system-refresh' }, 'Check again');
  body.append(
    h('div', { class: 'toolbar' }, refresh, stamp),
    note,
    h('section', { class: 'panel flush' }, scrollBox('Services', h('table', { testid: 'system-table', 'aria-label': 'Services' },
      thead(['Service', 'Process (healthz)', 'Dependencies (readyz)', 'Pools up', 'Workers busy', 'Queue', 'Requests/s', '5xx/s', 'p95', 'Event lag', 'Circuits']),
      services))),
    h('h2', null, 'Pools'),
    h('section', { class: 'panel flush' }, scrollBox('Pools', h('table', { testid: 'pools-table', 'aria-label': 'Pools' },
      thead(['Pool', 'State', 'Busy / workers', 'Queue (max)', 'Accepted', 'All busy', 'Slow', 'Timed out', 'Recycled', 'Respawned']),
      pools))),
    h('h2', null, 'Requests running now'),
    h('section', { class: 'panel flush' }, scrollBox('Requests running now', h('table', { testid: 'busy-table', 'aria-label': 'Requests running now' },
      thead(['Pool', 'Worker', 'Route', 'Request id', 'Running', 'Waiting on']),
      busy))),
  );

  let previous = null; // the last metrics reading, for rates
  let timer = null;
  let running = false;

  function paintServices(checks, poolsAnswer, rates) {
    clear(services);
    SERVICES.forEach((s, i) => {
      const [hz, rz] = checks[i];
      const p = poolsAnswer && poolsAnswer.services ? poolsAnswer.services[s] : null;
      const r = rates ? rates[s] : null;
      const cell = (c, up, down, testid) => h('td', { testid },
        c.ok ? badge(true, up) : h('span', null, badge(false, up, down), ' ', h('span', { class: 'small' }, c.text)));
      const circuits = r && r.circuits.length > 0
        ? h('span', null, badge(false, '', 'open'), ' ', h('span', { class: 'small' }, r.circuits.join(', ')))
        : r ? badge(true, 'closed') : '–';
      services.appendChild(h('tr', { testid: `system-${s}` },
        h('td', null, h('strong', null, s)),
        cell(hz, 'up', 'down', `health-${s}`),
        cell(rz, 'ready', 'not ready', `ready-${s}`),
        h('td', { testid: `pools-up-${s}` }, p ? `${p.pools_up} of ${p.pools_up + p.pools_down}` : '–'),
        h('td', { testid: `workers-${s}` }, p ? `${p.active} of ${p.workers}` : '–'),
        h('td', null, p ? `${p.listen_queue} (max ${p.max_listen_queue})` : '–'),
        h('td', { testid: `rate-${s}` }, r ? fixed(r.rate, 1) : '–'),
        h('td', { testid: `errors-${s}` }, r ? fixed(r.errors, 2) : '–'),
        h('td', { testid: `p95-${s}` }, r ? ms(r.p95) : '–'),
        h('td', { testid: `lag-${s}` }, r ? `${r.lag} behind, ${r.pending} pending` : '–'),
        h('td', { testid: `circuits-${s}` }, circuits)));
    });
  }

  function paintPools(poolsAnswer) {
    clear(pools);
    clear(busy);
    if (!poolsAnswer || !poolsAnswer.services) return;
    for (const s of SERVICES) {
      const svc = poolsAnswer.services[s];
      if (!svc) continue;
      for (const p of svc.pools) {
        const name = p.name; // <service>/<number>, or <service>/<host:port> on another host
        if (!p.up) {
          pools.appendChild(h('tr', { testid: `pool-${name}` }, h('td', null, h('strong', null, name)),
            h('td', { colspan: 9 }, badge(false, '', 'down'), ' ', h('span', { class: 'small' }, p.error || ''))));
          continue;
        }
        const full = p.active === p.workers;
        pools.appendChild(h('tr', { testid: `pool-${name}` },
          h('td', null, h('strong', null, name)),
          h('td', null, full ? h('span', { class: 'badge status-cancelled' }, 'all busy') : badge(true, 'serving')),
          h('td', null, `${p.active} / ${p.workers}`),
          h('td', null, `${p.listen_queue === null ? '–' : p.listen_queue} (${num(p.max_listen_queue)})`),
          h('td', { testid: `pool-accepted-${name}` }, num(p.accepted)),
          h('td', null, num(p.max_children_reached)),
          h('td', null, num(p.slow_requests)),
          h('td', null, num(p.timed_out)),
          h('td', null, num(p.recycled)),
          h('td', null, num(p.respawned))));
        for (const w of p.processes || []) {
          if (w.state !== 'busy' || !w.request) continue;
          busy.appendChild(h('tr', { testid: 'busy-row' },
            h('td', null, name), h('td', null, String(w.pid)),
            h('td', null, h('code', null, `${w.request.method} ${w.request.route}`)),
            h('td', { class: 'small' }, w.request.request_id || '–'),
            h('td', null, `${w.request.running_ms} ms`),
            h('td', null, w.request.waiting_on || '–')));
        }
      }
    }
    if (busy.rows.length === 0) busy.appendChild(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No request is running.')));
  }

  async function run() {
    if (running) return;
    running = true;
    refresh.disabled = true;
    const [checks, poolsAnswer, metricsAnswer] = await Promise.all([
      Promise.all(SERVICES.map((s) => Promise.all([probe(`/api/${s}/healthz`), probe(`/api/${s}/readyz`)]))),
      attempt(() => api('GET', '/api/system/pools')),
      attempt(() => api('GET', '/api/system/metrics', { text: true })),
    ]);
    if (!body.isConnected) return; // the page was left meanwhile
    const now = Date.now();
    let rates = null;
    if (metricsAnswer.value !== undefined) {
      const reading = { at: now, samples: parseMetrics(metricsAnswer.value) };
      rates = serviceRates(reading, previous);
      previous = reading;
    }
    paintServices(checks, poolsAnswer.value, rates);
    paintPools(poolsAnswer.value);
    const problems = [poolsAnswer.error && `pools: ${poolsAnswer.error}`, metricsAnswer.error && `metrics: ${metricsAnswer.error}`].filter(Boolean);
    note.hidden = problems.length === 0;
    note.textContent = problems.join('; ');
    stamp.textContent = `checked ${new Date(now).toLocaleTimeString()}${rates && rates.since ? ', rates from the next reading' : ', rates since the last reading'}`;
    refresh.disabled = false;
    running = false;
    clearTimeout(timer);
    timer = setTimeout(() => { if (body.isConnected) run(); }, EVERY_MS);
  }
  refresh.addEventListener('click', run);
  run();
}

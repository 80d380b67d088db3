// views/system-metrics.js: the System page's reading of GET /api/system/metrics (Prometheus
// text, lib/metrics_text.c) into per-service numbers: requests and 5xx per second, p95 time
// from the duration histogram, event lag, open circuits.

// parseMetrics(text) → [{name, labels: {k: v}, value}]; comments and bad lines are skipped.
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([-+0-9.eEInfNa]+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[2] || '')) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function perService(samples) {
  const by = {};
  const svc = (s) => {
    if (by[s] === undefined) by[s] = { requests: 0, errors: 0, buckets: new Map(), lag: 0, pending: 0, circuits: [] };
    return by[s];
  };
  for (const x of samples) {
    const s = x.labels.service;
    if (s === undefined) continue;
    switch (x.name) {
      case 'galley_http_requests_total':
        svc(s).requests += x.value;
        if (Number(x.labels.status) >= 500) svc(s).errors += x.value;
        break;
      case 'galley_http_request_duration_seconds_bucket': {
        const b = svc(s).buckets;
        const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
        b.set(le, (b.get(le) || 0) + x.value);
        break;
      }
      case 'galley_events_consumer_lag': svc(s).lag += x.value; break;
      case 'galley_events_pending': svc(s).pending += x.value; break;
      case 'galley_breaker_open':
        if (x.value > 0) svc(s).circuits.push(x.labels.target || 'a dependency');
        break;
      default:
    }
  }
  return by;
}

// The smallest bucket bound holding 95% of the requests counted (cumulative buckets, as
// Prometheus's histogram_quantile would bound it); null when there were none.
function p95(buckets) {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  const total = les.length ? buckets.get(les[les.length - 1]) : 0;
  if (!(total > 0)) return null;
  for (const le of les) if (buckets.get(le) >= 0.95 * total) return le;
  return Infinity;
}

// serviceRates(now, before) → {since: bool, <service>: {rate, errors, p95, lag, pending,
// circuits}}: per second between the two readings, or since start when there is no earlier
// one (or a counter went back: a restart of the metrics store).
export function serviceRates(now, before) {
  const cur = perService(now.samples);
  const old = before ? perService(before.samples) : null;
  const out = { since: true };
  let since = old === null;
  const seconds = old ? Math.max((now.at - before.at) / 1000, 0.001) : null;
  for (const [s, c] of Object.entries(cur)) {
    const o = old && old[s];
    const back = o && (c.requests < o.requests);
    const useOld = o && !back;
    if (!useOld) since = true;
    const buckets = new Map();
    for (const [le, n] of c.buckets) buckets.set(le, n - (useOld ? (o.buckets.get(le) || 0) : 0));
    out[s] = {
      rate: useOld ? (c.requests - o.requests) / seconds : null,
      errors: useOld ? (c.errors - o.errors) / seconds : null,
      p95: p95(buckets),
      lag: c.lag,
      pending: c.pending,
      circuits: c.circuits,
    };
  }
  out.since = since;
  return out;
}

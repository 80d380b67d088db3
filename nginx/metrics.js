// GET /metrics/nginx on the internal listener: this nginx's own counters (its stub_status)
// as Prometheus text. They are not in /metrics, which any pool answers with galley's totals
// from Redis: with several nginx replicas, each scrape of /metrics through a Service would
// report one replica or another, so each replica is scraped here, on its own address
// (docker/README.md, "Several nginx replicas").

import pools from 'pools.js';

const FAMILIES = [
    ['nginx_connections_accepted_total', 'counter', 'Client connections accepted.', 'accepted'],
    ['nginx_connections_active', 'gauge', 'Open client connections.', 'active'],
    ['nginx_connections_handled_total', 'counter', 'Client connections handled.', 'handled'],
    ['nginx_connections_reading', 'gauge', 'Connections whose request is being read.', 'reading'],
    ['nginx_connections_waiting', 'gauge', 'Idle keep-alive connections.', 'waiting'],
    ['nginx_connections_writing', 'gauge', 'Connections being answered.', 'writing'],
    ['nginx_http_requests_total', 'counter', 'Client requests.', 'requests'],
];

// "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1
// Waiting: 0 \n" → its numbers, or null when it does not read that way.
function parse(text) {
    const m = /^Active connections: (\d+)\s+server accepts handled requests\s+(\d+) (\d+) (\d+)\s+Reading: (\d+) Writing: (\d+) Waiting: (\d+)/.exec(text);
    if (m === null)
        return null;
    return {
        active: m[1], accepted: m[2], handled: m[3], requests: m[4],
        reading: m[5], writing: m[6], waiting: m[7],
    };
}

async function nginx(r) {
    if (pools.refused(r))
        return;
    const reply = await r.subrequest('/.galley/nginx-status');
    const v = reply.status === 200 ? parse(reply.responseText) : null;
    if (v === null) {
        r.headersOut['Content-Type'] = 'application/json';
        r.return(502, '{"error":{"code":"upstream_error","message":"nginx\'s stub_status could not be read"}}\n');
        return;
    }
    const text = FAMILIES.map((f) => `# HELP ${f[0]} ${f[2]}\n# TYPE ${f[0]} ${f[1]}\n${f[0]} ${v[f[3]]}\n`).join('');
    r.headersOut['Content-Type'] = 'text/plain; version=0.0.4; charset=utf-8';
    r.return(200, text);
}

export default { nginx };

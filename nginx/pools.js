// GET /pools on the internal listener (API.md): every pool's status, grouped by service with
// the service's sums. Each pool's manager (galley-pool) answers its own status as JSON on its
// status socket; bin/galley renders one internal location per pool (pools.conf,
// /.galley/pool/<svc>-<n>) and their names in $galley_pools, and this asks them all at once.
// A pool that does not answer is listed as down rather than left out: a dead pool is what an
// operator opens this page to find.

// Summed per service; max_* are maxima of each pool's own, so they are summed too (the
// service's worst case when every pool peaks together), and said so in README.
const SUMS = ['workers', 'active', 'idle', 'accepted', 'max_active', 'max_children_reached',
    'listen_queue', 'max_listen_queue', 'slow_requests', 'timed_out', 'recycled', 'respawned'];

// A pool's name in $galley_pools: "<service>/<label>", the label its number on this host
// ("menu/1") or the address of a pool on another host ("menu/10.0.0.7:9000").
function name_parts(name) {
    const slash = name.indexOf('/');
    return { service: name.slice(0, slash), label: name.slice(slash + 1) };
}

async function ask(r, name) {
    try {
        const reply = await r.subrequest('/.galley/pool/' + name + '/');
        if (reply.status !== 200)
            return { error: 'its status answered ' + reply.status };
        return { status: JSON.parse(reply.responseText) };
    } catch (e) {
        return { error: 'its status could not be read: ' + e.message };
    }
}

// Anything but GET (and HEAD): 405 with Allow, as every route of the API answers it.
function refused(r) {
    if (r.method === 'GET' || r.method === 'HEAD')
        return false;
    r.headersOut['Allow'] = 'GET, HEAD';
    r.headersOut['Content-Type'] = 'application/json';
    r.return(405, '{"error":{"code":"method_not_allowed","message":"this route answers GET only"}}\n');
    return true;
}

async function all(r) {
    if (refused(r))
        return;
    const names = (r.variables.galley_pools || '').split(' ').filter((n) => n.length > 0);
    const answers = await Promise.all(names.map((n) => ask(r, n)));
    const services = {};

    names.forEach((name, i) => {
        const at = name_parts(name);
        let svc = services[at.service];
        if (svc === undefined) {
            svc = services[at.service] = { pools_up: 0, pools_down: 0, pools: [] };
            SUMS.forEach((k) => { svc[k] = 0; });
        }
        const a = answers[i];
        if (a.status === undefined) {
            svc.pools_down++;
            svc.pools.push({ name: name, service: at.service, up: false, error: a.error });
            return;
        }
        const st = a.status;
        st.name = name;
        st.up = true;
        svc.pools_up++;
        svc.pools.push(st);
        // A pool that reports null (a queue length it could not read) adds nothing.
        SUMS.forEach((k) => { if (typeof st[k] === 'number') svc[k] += st[k]; });
    });
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Cache-Control'] = 'no-store';
    r.return(200, JSON.stringify({ services: services }));
}

// GET /metrics/pools: every pool's own Prometheus text (its manager's GET /metrics), merged
// into one exposition: each family's HELP and TYPE once, its samples together, as the format
// requires. A pool that does not answer is left out (its absence is the signal: the
// galley_pool_up series of the others stay, and `up` of a direct scrape says the rest).
async function metrics(r) {
    if (refused(r))
        return;
    const names = (r.variables.galley_pools || '').split(' ').filter((n) => n.length > 0);
    const texts = await Promise.all(names.map(async (n) => {
        try {
            const reply = await r.subrequest('/.galley/pool/' + n + '/metrics');
            return reply.status === 200 ? reply.responseText : '';
        } catch (e) {
            return '';
        }
    }));
    // njs 0.7 (Debian's): no for...of and no Map, so an object and an array of its keys.
    const families = {}; // name → {head: [HELP, TYPE lines], samples: []}
    const order = [];
    const family = (name) => {
        if (families[name] === undefined) {
            families[name] = { head: [], samples: [] };
            order.push(name);
        }
        return families[name];
    };
    texts.forEach((text) => text.split('\n').forEach((line) => {
        const head = /^# (HELP|TYPE) (\S+)/.exec(line);
        if (head !== null) {
            const f = family(head[2]);
            if (!f.head.some((h) => h.indexOf('# ' + head[1] + ' ') === 0))
                f.head.push(line);
        } else if (line !== '' && line[0] !== '#') {
            family(/^[^{ ]+/.exec(line)[0]).samples.push(line);
        }
    }));
    const out = order.map((name) => families[name].head.concat(families[name].samples).join('\n') + '\n').join('');
    r.headersOut['Content-Type'] = 'text/plain; version=0.0.4; charset=utf-8';
    r.return(200, out);
}

export default { all, metrics, refused };

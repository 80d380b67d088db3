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

function name_parts(name) {
    const dash = name.lastIndexOf('-');
    return { service: name.slice(0, dash), pool: Number(name.slice(dash + 1)) };
}

async function ask(r, name) {
    try {
        const reply = await r.subrequest('/.galley/pool/' + name);
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
            svc.pools.push({ service: at.service, pool: at.pool, up: false, error: a.error });
            return;
        }
        const st = a.status;
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

export default { all, refused };

// The live server's fan-out (live.conf.in, /pub): the orders service posts the order
// events it has followed, several at a time, as a JSON array of {"user": <owner's id,
// when the order has one>, "event": {...}} (fcgi/orders/live.c). Each event is published
// here, in the array's order, to the staff's channel ("orders") and, when it names an
// owner, to the owner's ("orders-u-<user id>"): nchan publishes as subrequests inside this
// nginx, not HTTP round trips. An owner's id is checked before it names a channel; a
// body that is not such an array is refused whole (400), and nothing of it is published.

const POST_MAX = 64; // events in one post: fcgi/orders/live.c's LIVE_POST_MAX

function items(body, user) {
    let list;
    try {
        list = JSON.parse(body);
    } catch (e) {
        return null;
    }
    // One event alone, its owner in ?user=: how orders posted before it posted in batches,
    // still taken while a rolling upgrade runs old orders processes beside this server.
    if (!Array.isArray(list) && typeof list === 'object' && list !== null &&
        typeof list.id === 'string' && typeof list.type === 'string') {
        list = [user !== undefined ? { user: user, event: list } : { event: list }];
    }
    if (!Array.isArray(list) || list.length === 0 || list.length > POST_MAX) {
        return null;
    }
    for (let i = 0; i < list.length; i++) {
        const it = list[i];
        if (typeof it !== 'object' || it === null || typeof it.event !== 'object' ||
            it.event === null ||
            (it.user !== undefined && !/^[0-9a-f]{24}$/.test(it.user))) {
            return null;
        }
    }
    return list;
}

async function fan(r) {
    // The body is in memory (client_body_buffer_size is the body's limit): never a file.
    const body = r.requestText;
    if (body === undefined) {
        r.return(413);
        return;
    }
    const list = items(body, r.args.user);
    if (list === null) {
        r.return(400);
        return;
    }
    let status = 0;
    for (let i = 0; i < list.length; i++) {
        const it = list[i];
        const text = JSON.stringify(it.event);
        const sent = [r.subrequest('/publish/orders', { method: 'POST', body: text })];
        if (it.user !== undefined) {
            sent.push(r.subrequest('/publish/orders-u-' + it.user, { method: 'POST', body: text }));
        }
        const replies = await Promise.all(sent);
        for (let j = 0; j < replies.length; j++) {
            status = Math.max(status, replies[j].status);
        }
    }
    r.return(status < 300 ? 201 : 502);
}

export default { fan };

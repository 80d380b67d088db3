// The live server's fan-out (live.conf.in, /pub): the orders service posts each order
// event once, and it is published here to the staff's channel ("orders") and, when the
// order has an owner, to the owner's ("orders-u-<user id>"): two nchan publishes as
// subrequests inside this nginx, where they were two HTTP round trips through two nginx.
// The owner's id is checked before it names a channel.

async function fan(r) {
    const user = r.args.user;

    if (user !== undefined && !/^[0-9a-f]{24}$/.test(user)) {
        r.return(400);
        return;
    }
    // The body is in memory (client_body_buffer_size is the body's limit): never a file.
    const body = r.requestText;
    if (body === undefined) {
        r.return(413);
        return;
    }
    let status = (await r.subrequest('/publish/orders', { method: 'POST', body: body })).status;
    if (user !== undefined) {
        const own = await r.subrequest('/publish/orders-u-' + user, { method: 'POST', body: body });
        status = Math.max(status, own.status);
    }
    r.return(status < 300 ? 201 : 502);
}

export default { fan };

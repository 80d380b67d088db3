// live.js: GET /live/orders as Server-Sent Events, read with fetch() (EventSource cannot
// send the Authorization header). Parses the text/event-stream framing itself, hands each
// event's JSON to onEvent, and reconnects by itself with a 1 s → 5 s backoff.

export class LiveOrders {
  constructor({ url = '/live/orders', getToken, onEvent, onState, onConnect }) {
    this.url = url;
    this.getToken = getToken;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.onConnect = onConnect || (() => {});
    this.controller = null;
    this.stopped = true;
    this.delay = 1000;
    this.timer = null;
    this.connects = 0;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.delay = 1000;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.onState('off');
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.onState('reconnecting');
    clearTimeout(this.timer);
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, 5000);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  async connect() {
    if (this.stopped) return;
    const token = this.getToken();
    if (!token) return;
    const controller = new AbortController();
    this.controller = controller;
    this.onState(this.connects === 0 ? 'connecting' : 'reconnecting');
    try {
      const res = await fetch(this.url, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (!res.ok) throw new Error(`live stream answered ${res.status}`);
      const type = res.headers.get('Content-Type') || '';
      this.connects += 1;
      if (!type.includes('text/event-stream') || !res.body) {
        // Not a stream (e.g. a long-poll answer): one message, then ask again.
        const text = await res.text();
        this.dispatch(text);
        this.delay = 1000;
        this.scheduleReconnect();
        return;
      }
      this.onState('live');
      this.onConnect(this.connects);
      await this.read(res.body, controller.signal);
      this.delay = 1000; // a stream that ran and ended: come back quickly
    } catch (e) {
      if (controller.signal.aborted && this.stopped) return;
    }
    if (this.controller === controller) this.controller = null;
    this.scheduleReconnect();
  }

  async read(body, signal) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let data = [];
    let sawData = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (data.length) this.dispatch(data.join('\n'));
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') {
          data.push(val);
          if (!sawData) {
            sawData = true;
            this.delay = 1000;
          }
        }
      }
    }
    if (data.length) this.dispatch(data.join('\n'));
  }

  dispatch(text) {
    if (!text) return;
    let ev;
    try {
      ev = JSON.parse(text);
    } catch {
      return;
    }
    if (ev && typeof ev === 'object' && typeof ev.type === 'string') this.onEvent(ev);
  }
}

// The order an event is about, and the status it moves it to.
export function orderOfEvent(ev) {
  const d = ev.data || {};
  const id = d.order_id || (ev.type === 'order.created' ? d.id : null) || d.id || null;
  let status = d.status || null;
  if (!status && typeof ev.type === 'string' && ev.type.startsWith('order.')) {
    const t = ev.type.slice(6);
    status = t === 'created' ? 'pending_payment' : t;
  }
  const version = Number.isInteger(d.version) ? d.version : null;
  return { id, status, version };
}

// Two events of one order may arrive in either order (the services follow the stream in
// parallel); each carries the order's version once it was followed. Whether ev is older
// than what was seen already for its order (then it is dropped, so a status never goes
// back); remembers the newest version seen.
export function isStale(seen, o) {
  if (!o.id || o.version === null) return false;
  const last = seen.get(o.id);
  if (last !== undefined && o.version <= last) return true;
  seen.set(o.id, o.version);
  if (seen.size > 5000) seen.delete(seen.keys().next().value); // a long session stays small
  return false;
}

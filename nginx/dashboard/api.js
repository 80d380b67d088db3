// api.js: the REST client. Every call sends the bearer token kept in sessionStorage;
// every error comes back as an ApiError carrying the API's {code, message, field}.

const TOKEN_KEY = 'galley.token';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

// 32 random hex digits: crypto.getRandomValues works on plain http too (randomUUID needs a
// secure context, and a shop's dashboard may be reached at a LAN address).
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// api('GET', '/api/menu') → parsed JSON (or null for 204).
// opts: {body, headers, anonymous, signal, text}; text: the answer's body as text, not parsed.
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const token = getToken();
  if (token && !opts.anonymous) headers.Authorization = `Bearer ${token}`;
  // Reads go through the browser's HTTP cache in 'no-cache' mode: it keeps each answer with
  // its ETag and asks again every time with If-None-Match; a 304 (no body on the wire) comes
  // back here as the kept 200, so callers see no difference and data is never stale. The API
  // marks user data "Cache-Control: private, no-cache" to the same end (lib/etag.h) and
  // everything else no-store. Writes are never kept.
  const init = { method, headers, signal: opts.signal, cache: method === 'GET' ? 'no-cache' : 'no-store' };
  // Every POST carries an Idempotency-Key, the same on its retry below: a create the API
  // already made answers the first response again instead of making a second (API.md).
  if (method === 'POST' && !headers['Idempotency-Key']) headers['Idempotency-Key'] = newKey();
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res;
  // A read is asked twice when no pool answered the first time (502/503/504: a pool being
  // restarted, a dependency back a moment later). A write is asked again only after a 503
  // with Retry-After: mostly the service was busy and refused it before doing anything
  // (README, Overload), but a service also answers 503 when Redis's replica did not confirm
  // a write it made, so a POST is retried with its Idempotency-Key; any other failed write
  // may have happened and is not asked again.
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network_error', `The server cannot be reached (${e.message || e}).`);
    }
    const busy = res.status === 503 && res.headers.has('Retry-After');
    if (attempt > 0 || !(busy || (method === 'GET' && [502, 503, 504].includes(res.status)))) break;
    const after = Number(res.headers.get('Retry-After'));
    const ms = busy && after > 0 ? Math.min(after, 5) * 1000 : 500;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : null;
    const apiErr = new ApiError(
      res.status,
      err && err.code ? err.code : `http_${res.status}`,
      err && err.message ? err.message : `${res.status} ${res.statusText || 'error'}`.trim(),
      err && err.field ? err.field : null,
    );
    if (res.status === 401 && !opts.anonymous && token) onUnauthenticated(apiErr);
    throw apiErr;
  }
  return opts.text ? text : data;
}

// Every page of a list route: {items, next} pages followed up to maxPages.
export async function listAll(path, maxPages = 20) {
  const items = [];
  let after = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=200${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const page = await api('GET', url);
    items.push(...((page && page.items) || []));
    if (!page || !page.next) break;
    after = page.next;
  }
  return items;
}

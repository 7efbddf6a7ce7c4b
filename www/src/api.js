// api.js — the dashboard's only way to the broker: fetch() on /v1 (and
// /metrics), the bearer token (docs/SECURITY.md), problem+json errors.
//
// The token lives in sessionStorage (or localStorage when the person asks
// to remember it). A 401 answer raises the token prompt (main.js listens
// for 'strand-unauthorized') and the call fails with ApiError; the views
// retry on their next poll once a token is set.

const KEY = 'strand.token';

export function getToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}

export function setToken(token, remember) {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  if (token) (remember ? localStorage : sessionStorage).setItem(KEY, token);
  window.dispatchEvent(new Event('strand-token'));
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || '';
  }
}

let unauthorized = false;   // a prompt is up: stop polling the broker meanwhile

export function isUnauthorized() { return unauthorized; }

window.addEventListener('strand-token', () => { unauthorized = false; });

function headers(extra) {
  const h = { ...extra };
  const t = getToken();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

// One request. body: an object (sent as JSON) or undefined. Returns the
// parsed JSON (or text for non-JSON answers, null for 204).
export async function request(method, path, body, opts = {}) {
  const init = { method, headers: headers(opts.headers), signal: opts.signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  const type = res.headers.get('Content-Type') || '';
  if (!res.ok) {
    let problem = null;
    if (type.includes('json')) problem = await res.json().catch(() => null);
    if (res.status === 401 && !unauthorized) {
      unauthorized = true;
      window.dispatchEvent(new CustomEvent('strand-unauthorized', { detail: problem }));
    }
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

export const enc = encodeURIComponent;

// A URL for EventSource, which cannot send headers: the token goes in the
// access_token query parameter (RFC 6750 §2.3), as the broker accepts.
export function streamUrl(path) {
  const t = getToken();
  if (!t) return path;
  return path + (path.includes('?') ? '&' : '?') + 'access_token=' + enc(t);
}

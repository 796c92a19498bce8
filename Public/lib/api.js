// The gateway's HTTP side, in one place: every request carries the token if one is
// stored, and every error answer becomes an HttpError with the server's own message
// (the gateway answers errors as JSON {"error": "..."}).

const TOKEN_KEY = 'pulsegate.token';

export const token = {
  get() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  },
  set(value) {
    try {
      if (value) localStorage.setItem(TOKEN_KEY, value);
      else localStorage.removeItem(TOKEN_KEY);
    } catch { /* storage disabled (private mode): the token lasts this page only */ }
  },
};

export class HttpError extends Error {
  /** status 0 means the request never got an answer (network down, blocked, CORS). */
  constructor(status, message, url) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.url = url;
  }
  /** 401: no token, or one the server does not know; 403: a token without the scope asked
   *  for (a write-only token, say). Either way another token is the remedy. */
  get unauthorized() { return this.status === 401 || this.status === 403; }
}

/** params: [name, value] pairs, so that a name may repeat (metric=a&metric=b). */
export function url(path, params = []) {
  const u = new URL(path, location.href);
  for (const [name, value] of params) u.searchParams.append(name, String(value));
  return u;
}

export async function getJSON(path, params = [], { signal } = {}) {
  const target = url(path, params);
  const headers = { Accept: 'application/json' };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    // no-store: history and the series list change every second; a cached answer
    // would claim a complete_until that is no longer true.
    response = await fetch(target, { headers, cache: 'no-store', signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new HttpError(0, `no answer from ${target.pathname} (${error.message})`, target.href);
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw new HttpError(response.status, `${target.pathname} answered ${response.status}: ${message}`, target.href);
  }
  return response.json();
}

/** The WebSocket URL: browsers cannot set headers on a WebSocket, so the token goes in the query. */
export function liveURL(params) {
  const u = url('/ws/metrics', params);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const bearer = token.get();
  if (bearer) u.searchParams.set('token', bearer);
  return u.href;
}

/** Whether the server answers at all: tells "down" from "up but refused the upgrade". */
export async function serverIsUp() {
  try {
    const response = await fetch(url('/healthz'), { cache: 'no-store' });
    return response.ok;
  } catch {
    return false;
  }
}

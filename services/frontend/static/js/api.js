// The API client and the browser side of the token policy (design.md §6):
// access and refresh tokens in localStorage; a background refresh before the
// access token's safety margin runs out (every 20 minutes with 30-minute
// tokens); a failed refresh or any 401 ends the session cleanly.

const STORE_KEY = 'cl.session';
const SAFETY_MARGIN_S = 600; // refresh 10 minutes before the access token expires
const CHECK_EVERY_MS = 15_000;

export const auth = new EventTarget(); // events: 'logout' (detail: {message}), 'change'

export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail || '';
    this.retryAfter = retryAfter;
  }
}

// ---- session storage ----------------------------------------------------

export function getSession() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    return s && s.access_token && s.refresh_token ? s : null;
  } catch {
    return null;
  }
}

export function currentUser() {
  const s = getSession();
  return s ? s.user : null;
}

function saveSession(tokens, previous) {
  const s = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_in: Number(tokens.expires_in) || 1800,
    obtained_at: Date.now(),
    user: tokens.user || (previous && previous.user) || null,
  };
  localStorage.setItem(STORE_KEY, JSON.stringify(s));
  auth.dispatchEvent(new Event('change'));
  return s;
}

export function updateUser(user) {
  const s = getSession();
  if (!s) return;
  s.user = user;
  localStorage.setItem(STORE_KEY, JSON.stringify(s));
  auth.dispatchEvent(new Event('change'));
}

/** Seconds after which the access token is refreshed: 20 min for 30-min tokens. */
export function refreshAfterSeconds(expiresIn) {
  const ttl = Number(expiresIn) || 1800;
  return ttl - Math.min(SAFETY_MARGIN_S, ttl / 3);
}

function needsRefresh(s) {
  return (Date.now() - s.obtained_at) / 1000 >= refreshAfterSeconds(s.expires_in);
}

/** End the session locally and tell the app to show the sign-in page. */
export function endSession(message) {
  const had = localStorage.getItem(STORE_KEY) !== null;
  localStorage.removeItem(STORE_KEY);
  if (had || message) auth.dispatchEvent(new CustomEvent('logout', { detail: { message: message || '' } }));
}

// Another tab signed out (or its refresh failed): follow it.
window.addEventListener('storage', (e) => {
  if (e.key !== STORE_KEY && e.key !== null) return;
  if (!getSession()) auth.dispatchEvent(new CustomEvent('logout', { detail: { message: 'You were signed out.' } }));
  else auth.dispatchEvent(new Event('change'));
});

// ---- token refresh ------------------------------------------------------

let refreshing = null;

async function doRefresh(force) {
  const run = async () => {
    const s = getSession();
    if (!s) return null;
    // Another tab may have refreshed already while we waited for the lock.
    if (!force && !needsRefresh(s)) return s;
    let res;
    try {
      res = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh_token }),
        cache: 'no-store',
      });
    } catch {
      return s; // offline for a moment: the next check tries again
    }
    if (!res.ok) {
      if (res.status >= 500 || res.status === 429) return s;
      endSession('Your session has expired. Please sign in again.');
      return null;
    }
    return saveSession(await res.json(), s);
  };
  // Web Locks serialise refreshes across tabs, so a rotated refresh token is never reused.
  if (navigator.locks && navigator.locks.request) return navigator.locks.request('cl-refresh', run);
  return run();
}

export function refreshNow(force = false) {
  if (!refreshing) refreshing = doRefresh(force).finally(() => { refreshing = null; });
  return refreshing;
}

let timer = null;
/** Start the background refresh loop (idempotent). */
export function startSessionKeeper() {
  if (timer) return;
  const tick = () => {
    const s = getSession();
    if (s && needsRefresh(s)) refreshNow();
  };
  timer = setInterval(tick, CHECK_EVERY_MS);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') tick(); });
  tick();
}

// ---- requests -----------------------------------------------------------

async function parseError(res) {
  let detail = '';
  try {
    const body = await res.json();
    detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail ?? '');
  } catch { /* not JSON */ }
  const ra = Number(res.headers.get('Retry-After'));
  return new ApiError(res.status, detail, Number.isFinite(ra) && ra > 0 ? ra : undefined);
}

/** Headers for an authenticated request, refreshing the token first when due. */
export async function authHeaders() {
  let s = getSession();
  if (s && needsRefresh(s)) s = await refreshNow();
  if (!s) throw new ApiError(401, 'not signed in');
  return { Authorization: `Bearer ${s.access_token}` };
}

/** Handle the statuses that change the session; call for every failed response. */
export function handleAuthFailure(err) {
  if (err.status === 401) endSession('Your session has ended. Please sign in again.');
  else if (err.status === 403 && /password change required/i.test(err.detail)) {
    auth.dispatchEvent(new CustomEvent('password-change-required'));
  }
}

/**
 * api('GET', '/api/projects') -> parsed JSON (null for 204).
 * Options: {signal, blob: true} (return a Blob), {anonymous: true} (no token).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (!opts.anonymous) Object.assign(headers, await authHeaders());
  const init = { method, headers, signal: opts.signal, cache: 'no-store' };
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network');
  }
  if (!res.ok) {
    const err = await parseError(res);
    if (!opts.anonymous) handleAuthFailure(err);
    throw err;
  }
  if (opts.blob) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export async function login(email, password) {
  const tokens = await api('POST', '/api/auth/login', { email, password }, { anonymous: true });
  return saveSession(tokens, null);
}

export async function changePassword(currentPassword, newPassword) {
  const tokens = await api('POST', '/api/auth/change-password',
    { current_password: currentPassword, new_password: newPassword });
  return saveSession(tokens, getSession());
}

export async function logout() {
  const s = getSession();
  if (s) {
    try {
      await fetch('/api/auth/logout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${s.access_token}` },
        body: JSON.stringify({ refresh_token: s.refresh_token }),
      });
    } catch { /* signing out locally is what matters */ }
  }
  endSession('You have signed out.');
}

/** Download a protected file: fetch with the token, then save it via a blob link. */
export async function download(path, fallbackName) {
  const res = await api('GET', path, null, { blob: true });
  const blob = await res.blob();
  let name = fallbackName;
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(cd);
  if (m) name = decodeURIComponent(m[1] || m[2]);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name || 'download';
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---- errors in plain words ----------------------------------------------

/** A sentence a person understands, for any error thrown by api(). */
export function describeError(err, what) {
  if (!(err instanceof ApiError)) return 'Something unexpected happened. Please reload the page and try again.';
  switch (err.status) {
    case 0: return 'We could not reach the server. Check your connection and try again.';
    case 400: return err.detail ? `The request was not accepted: ${err.detail}.` : 'The request was not accepted.';
    case 401: return 'Your session has ended. Please sign in again.';
    case 403:
      if (/password change required/i.test(err.detail)) return 'Please change your password before continuing.';
      return 'You do not have permission to do this. Ask a project or system admin for access.';
    case 404: return `We could not find ${what || 'that'}. It may have been deleted, or you may not have access to it.`;
    case 409: return err.detail ? `That conflicts with existing data: ${err.detail}.` : 'That conflicts with existing data.';
    case 413: return 'The file is larger than the upload limit.';
    case 415: return 'This file type is not accepted. Check the list of supported file types.';
    case 422: return err.detail ? `Please check what you entered: ${err.detail}.` : 'Please check what you entered.';
    case 429: return err.retryAfter
      ? `Too many requests. Please wait ${err.retryAfter} seconds and try again.`
      : 'Too many requests. Please wait a minute and try again.';
    default:
      if (err.status >= 500) return 'The server had a problem handling this. Please try again in a moment.';
      return err.detail || `The request failed (${err.status}).`;
  }
}

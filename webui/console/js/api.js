// The REST API (docs/api.md) as the console uses it: JSON in and out, the CSRF double-submit
// header on every unsafe request, and errors as ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

// The readable CSRF cookie exists exactly while a session does, so the console knows whether
// to ask /me at all (it never provokes a 401 on a first visit).
export function haveSession() {
  return cookie('pkr_csrf') !== '';
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

const FRIENDLY = {
  unauthenticated: 'Please log in again.',
  session_expired: 'Your session has expired. Please log in again.',
  csrf_failed: 'The request was refused for security reasons (CSRF). Reload the page and try again.',
  forbidden: 'Only an administrator may do this.',
  too_many_attempts: 'Too many attempts.',
  busy: 'The relay is busy. Please try again in a moment.',
  too_large: 'What you sent is too large.',
  internal: 'The relay hit an internal error (it has been logged).',
};

async function parseError(res) {
  let code = 'http_' + res.status, message = `${res.status} ${res.statusText}`;
  try {
    const j = await res.json();
    if (j && j.error) { code = j.error.code || code; message = j.error.message || message; }
  } catch { /* not JSON */ }
  if (FRIENDLY[code] && !message) message = FRIENDLY[code];
  if (code === 'too_many_attempts') {
    const after = res.headers.get('Retry-After');
    message = `${FRIENDLY[code]}${after ? ` Try again in ${after} seconds.` : ''}`;
  }
  return new ApiError(res.status, code, message);
}

export async function api(method, path, body, { raw = false, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const opts = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = cookie('pkr_csrf');
  let res;
  try {
    res = await fetch('/api/v1' + path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', 'The relay cannot be reached. Check your connection and try again.');
  }
  if (!res.ok) {
    const err = await parseError(res);
    if (res.status === 401 && !quiet401 && (err.code === 'unauthenticated' || err.code === 'session_expired'))
      onUnauthenticated(err);
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const put = (p, b, o) => api('PUT', p, b, o);
export const patch = (p, b, o) => api('PATCH', p, b, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

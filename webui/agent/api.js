// The agent's JSON API: same-origin requests with the session cookie, the CSRF header on every
// unsafe method, and errors turned into exceptions that carry the API's message.
export class ApiError extends Error {
  constructor(status, code, message, retries) {
    super(message);
    this.status = status;
    this.code = code;
    this.retries = retries;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)iothsm_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (res.status === 401) {
    window.location.assign("/login.html");
    throw new ApiError(401, "unauthenticated", "Your session has ended; log in again.");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error || {};
    throw new ApiError(res.status, e.code || "error", e.message || `HTTP ${res.status}`, e.retries);
  }
  return data;
}

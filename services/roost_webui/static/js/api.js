// The JSON API as the page uses it: the session's CSRF token on every change.
let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "failed";
    this.body = body;
  }
}

async function call(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrf || "";
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { error: { code: "unreachable", message: "the web UI is not reachable" } });
  }
  if (response.status === 401) {
    location.href = "/login?next=" + encodeURIComponent("/" + location.hash);
    throw new ApiError(401, { error: { code: "unauthorized", message: "log in first" } });
  }
  const parsed = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const api = {
  async session() {
    const session = await call("GET", "/api/session");
    csrf = session.csrf;
    return session;
  },
  get: (path) => call("GET", path),
  post: (path, body) => call("POST", path, body),
  del: (path) => call("DELETE", path),
  // A command: resolves to the owner's verdict {status, applied, adjusted, state, error};
  // never throws for a rejection, so the control can show the reason next to itself.
  async set(ref, values) {
    try {
      return await call("POST", `/api/devices/${ref}/set`, values);
    } catch (err) {
      if (err.body && err.body.status) return err.body;
      return { status: "failed", error: { code: err.code, message: err.message } };
    }
  },
  async logout() {
    await fetch("/logout", { method: "POST", headers: { "x-csrf-token": csrf || "" }, credentials: "same-origin" });
    location.href = "/login";
  },
};

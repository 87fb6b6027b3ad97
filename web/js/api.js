// The one place that talks to the API: base URL, bearer token, JSON, and the contract's errors
// ({message, code, details?}; 429 with Retry-After).

import { keeper, session } from "./state.js";
import { RefreshRefused } from "./tokens.js";

function configuredBase() {
  const fromWindow = typeof window.SHOP_API_BASE === "string" ? window.SHOP_API_BASE.trim() : "";
  const fromMeta = document.querySelector('meta[name="shop-api-base"]')?.getAttribute("content")?.trim() ?? "";
  return (fromWindow || fromMeta).replace(/\/+$/, "");
}

export const API_BASE = configuredBase();

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.code = body?.code ?? null;
    this.details = Array.isArray(body?.details) ? body.details : [];
    this.retryAfter = retryAfter;
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(API_BASE + path, init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, { message: "The shop could not be reached. Check your connection and try again." });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  return { response, data };
}

/**
 * fetch + JSON. Sends the session's bearer token when there is one (or `auth: false` to never),
 * refreshed first when it ran out; a 401 refreshes the session once and tries again.
 * Throws ApiError for any non-2xx answer and for a network failure (status 0).
 */
export async function api(path, { method = "GET", body, headers = {}, auth = true, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let token = auth ? await session.freshToken() : null;
  for (let attempt = 0; ; attempt += 1) {
    if (token) init.headers.Authorization = `Bearer ${token}`;
    const { response, data } = await send(path, init);
    if (response.ok) return data;
    if (response.status === 401 && token && attempt === 0 && (await keeper.renewAfter401(token))) {
      token = session.token();
      if (token) continue;
    }
    const error = new ApiError(response.status, data, parseRetryAfter(response.headers.get("Retry-After")));
    // A session the server no longer accepts: end it, the app sends the user to the login page.
    if (response.status === 401 && token) session.expire();
    throw error;
  }
}

// POST /auth/refresh for the session (tokens.js decides when, and keeps the tabs in step).
session.useRefresher(async (refreshToken) => {
  const { response, data } = await send("/auth/refresh", {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  if (response.ok && data?.access_token && data?.refresh_token) return data;
  if (response.status === 401 || response.status === 422) throw new RefreshRefused(data?.message ?? "refused");
  throw new ApiError(response.status, data, null);
});

// Human wording for errors lives in messages.js (pure, unit-tested); re-exported for the views.
export { describeError } from "./messages.js";

/** A random Idempotency-Key; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The one place that talks to the API: base URL, bearer token, JSON, and the contract's errors
// ({message, code, details?}; 429 with Retry-After).

import { session } from "./state.js";

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

/**
 * fetch + JSON. Sends the session's bearer token when there is one (or `auth: false` to never).
 * Throws ApiError for any non-2xx answer and for a network failure (status 0).
 */
export async function api(path, { method = "GET", body, headers = {}, auth = true, signal } = {}) {
  const token = auth ? session.token() : null;
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
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
  if (!response.ok) {
    const error = new ApiError(response.status, data, parseRetryAfter(response.headers.get("Retry-After")));
    // A token the server no longer accepts: forget it, the app sends the user to the login page.
    if (response.status === 401 && token) session.expire();
    throw error;
  }
  return data;
}

// Human wording for errors lives in messages.js (pure, unit-tested); re-exported for the views.
export { describeError } from "./messages.js";

/** A random Idempotency-Key; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The staff work queue's rules, without DOM or fetch (tests/js checks them in node): which
// statuses are queues and in what order, how a queue is asked for (GET /orders), how counts and
// ages read, and what an order number typed by a person means.

/** The queues, in the order staff work them: what needs doing first. */
export const QUEUE_STATUSES = ["pending", "confirmed", "shipped", "delivered", "cancelled"];
export const ALL = "all";
export const QUEUE_PAGE = 20;
/** Counting stops here: a count is one request (`limit` = this), shown as "100+" beyond it. */
export const COUNT_LIMIT = 100;

/**
 * The view's state from the address (`#/staff?status=confirmed&sort=newest`): a known status
 * (default pending) or "all", and the sort. The API serves a status queue oldest first and
 * "all" newest first; either can be turned around.
 */
export function queueState(query) {
  const raw = query?.get?.("status") ?? "";
  const status = raw === ALL || QUEUE_STATUSES.includes(raw) ? raw : "pending";
  const natural = status === ALL ? "newest" : "oldest";
  const sort = ["newest", "oldest"].includes(query?.get?.("sort")) ? query.get("sort") : natural;
  return { status, sort, natural: sort === natural };
}

/** The address of a queue view, for links and the toggle. */
export function queueHref({ status, sort }) {
  const params = new URLSearchParams();
  if (status && status !== "pending") params.set("status", status);
  const natural = status === ALL ? "newest" : "oldest";
  if (sort && sort !== natural) params.set("sort", sort);
  const qs = params.toString();
  return `#/staff${qs ? `?${qs}` : ""}`;
}

/**
 * GET /orders query for one page of a queue. `sort` is sent only when it is not the API's own
 * order for that listing (a status queue oldest first, all orders newest first).
 */
export function queuePath(status, { limit = QUEUE_PAGE, next = null, sort = null } = {}) {
  const params = new URLSearchParams();
  if (status && status !== ALL) params.set("status", status);
  const natural = status && status !== ALL ? "oldest" : "newest";
  if (sort && sort !== natural) params.set("sort", sort);
  params.set("limit", String(limit));
  if (next) params.set("next", next);
  return `/orders?${params}`;
}

/** "7", or "100+" when the counting page came back full with more behind it. */
export function countLabel(orders, next) {
  const n = Array.isArray(orders) ? orders.length : 0;
  return next && n >= COUNT_LIMIT ? `${COUNT_LIMIT}+` : String(n);
}

/** How long an order has waited, as staff say it: "just now", "12 min", "3 h", "2 days". */
export function ageText(createdAt, now = Date.now()) {
  const then = Date.parse(createdAt);
  if (Number.isNaN(then)) return "";
  const minutes = Math.floor(Math.max(0, now - then) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

/**
 * An order number as a person types it ("ord-2026-42", " ORD-2026-000042 ", or the number alone:
 * "44", "000044", "#44", read as `year`'s order) in the API's form ("ORD-2026-000044"), or null
 * when it cannot be one.
 */
export function normaliseOrderNumber(text, year = new Date().getFullYear()) {
  const value = String(text ?? "");
  const full = /^\s*(?:ORD)?[-\s]*(\d{4})[-\s]+(\d{1,6})\s*$/i.exec(value);
  const alone = full ? null : /^\s*#?\s*(\d{1,6})\s*$/.exec(value);
  const [orderYear, sequence] = full ? [full[1], full[2]] : alone ? [String(year), alone[1]] : [null, null];
  if (!sequence || Number(sequence) === 0) return null;
  return `ORD-${orderYear}-${sequence.padStart(6, "0")}`;
}

/** A customer search term: at least 2 characters, so a search is never "everyone". */
export function customerQuery(text) {
  const q = String(text ?? "").trim();
  return q.length >= 2 ? q : null;
}

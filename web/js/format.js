// How values read on the page: money, dates, statuses, addresses.

import { h } from "./dom.js";

const moneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

export function money(value) {
  const n = Number(value);
  return Number.isFinite(n) ? moneyFormat.format(n) : "—";
}

export function moneyFromCents(cents) {
  return moneyFormat.format(cents / 100);
}

export function dateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value ?? "");
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export const STATUS_LABELS = {
  pending: "Pending",
  confirmed: "Confirmed",
  shipped: "Shipped",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

/** The order life cycle: which statuses an admin may move an order to next. */
export const NEXT_STATUSES = {
  pending: ["confirmed", "cancelled"],
  confirmed: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  cancelled: [],
};

/** The owner may only cancel, and only before shipping. */
export function ownerCanCancel(status) {
  return status === "pending" || status === "confirmed";
}

/**
 * The statuses `viewer` ({isAdmin, userId}) may move the order to: staff follow the life cycle,
 * the owner may only cancel, and only before shipping. Everyone else: none.
 */
export function nextStatuses(order, viewer) {
  if (!order) return [];
  if (viewer?.isAdmin) return NEXT_STATUSES[order.status] ?? [];
  if (viewer?.userId && order.user_id === viewer.userId && ownerCanCancel(order.status)) return ["cancelled"];
  return [];
}

/** The order page's heading: thanks right after checkout, while the order still stands. */
export function orderHeadline(order, justPlaced) {
  if (justPlaced && order?.status === "pending") return "Thank you for your order";
  return `Order ${order?.order_number ?? ""}`.trim();
}

const WHO = { admin: "by the shop", customer: "by the customer" };

/**
 * The order's timeline, oldest first: {status, label, at, by, note}. From `history` when the API
 * sends it; otherwise what the order itself tells (placed, and the current status).
 * `ownerView`: the customer reads "by you" for their own steps.
 */
export function timeline(order, { ownerView = false } = {}) {
  const history = Array.isArray(order?.history) && order.history.length ? order.history : null;
  const steps = history ?? [
    { status: "pending", at: order?.created_at, by: "customer" },
    ...(order?.status && order.status !== "pending" ? [{ status: order.status, at: order.updated_at }] : []),
  ];
  return steps.map((step) => ({
    status: String(step.status ?? ""),
    label: step.status === "pending" ? "Placed" : (STATUS_LABELS[step.status] ?? String(step.status ?? "")),
    at: step.at ?? null,
    by: step.by === "customer" && ownerView ? "by you" : (WHO[step.by] ?? ""),
    note: typeof step.note === "string" && step.note.trim() ? step.note.trim() : null,
  }));
}

/** "DHL · 00340434161234567890", or null before the order shipped with tracking. */
export function trackingText(tracking) {
  const carrier = String(tracking?.carrier ?? "").trim();
  const number = String(tracking?.tracking_number ?? "").trim();
  if (!number) return null;
  return carrier ? `${carrier} · ${number}` : number;
}

export const ACTION_LABELS = {
  confirmed: "Confirm",
  shipped: "Mark as shipped",
  delivered: "Mark as delivered",
  cancelled: "Cancel order",
};

/** A status badge: the word is always there, colour is only a second cue. */
export function statusBadge(status) {
  return h("span", { class: `badge status-${String(status).replace(/[^a-z]/g, "")}` }, STATUS_LABELS[status] ?? status);
}

/** Labels for every payment method an order may carry (older orders may have any of these). */
export const PAYMENT_METHODS = [
  { value: "cash_on_delivery", label: "Cash on delivery" },
  { value: "credit_card", label: "Credit card" },
  { value: "debit_card", label: "Debit card" },
  { value: "paypal", label: "PayPal" },
  { value: "bank_transfer", label: "Bank transfer" },
];

/**
 * What checkout offers: the shop collects no payment online, so only what it really does.
 * (The API still accepts the other values; offering them would promise a payment nobody takes.)
 */
export const CHECKOUT_PAYMENT_METHODS = [
  { value: "cash_on_delivery", label: "Cash on delivery", hint: "You pay the courier when the parcel arrives. Nothing is charged now." },
];

export function paymentLabel(value) {
  return PAYMENT_METHODS.find((method) => method.value === value)?.label ?? String(value ?? "");
}

const joined = (separator, ...parts) => parts.filter(Boolean).join(separator);

// The lines after the street, in the order the country's post reads them (the US Postal Service:
// "CITY, ST 12345"; Canada Post and Australia Post: "CITY PROV CODE"; Royal Mail: the postcode on a
// line of its own); elsewhere, as in most of Europe, the postcode before the city.
const LOCALITY_LINES = {
  US: (a) => [joined(" ", joined(", ", a.city, a.state), a.postal_code)],
  CA: (a) => [joined(" ", a.city, a.state, a.postal_code)],
  AU: (a) => [joined(" ", a.city, a.state, a.postal_code)],
  GB: (a) => [a.city, a.state, a.postal_code],
};
const POSTCODE_FIRST = (a) => [joined(" ", a.postal_code, a.city), a.state];

export function addressLines(address) {
  if (!address) return [];
  const locality = LOCALITY_LINES[String(address.country ?? "").toUpperCase()] ?? POSTCODE_FIRST;
  return [address.street, ...locality(address), address.country].filter(Boolean);
}

export function addressBlock(address) {
  return h(
    "address",
    { class: "address" },
    addressLines(address).map((line, i) => (i === 0 ? line : [h("br"), line])),
  );
}

/** The catalog's category slugs as a shop shows them ("tv" → "TV"). */
const CATEGORY_LABELS = {
  tv: "TV",
  audio: "Audio",
  laptop: "Laptops",
  mobile: "Mobile phones",
  gaming: "Gaming",
  appliances: "Appliances",
};

/** "tv" → "TV"; an unknown slug in words ("smart-home" → "Smart home"). */
export function categoryLabel(category) {
  const text = String(category ?? "").trim();
  if (!text) return "";
  const known = CATEGORY_LABELS[text.toLowerCase()];
  if (known) return known;
  const words = text.replace(/[-_]+/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Brands the catalog sends in lower case, spelt as the brands spell themselves. */
const BRAND_NAMES = {
  hp: "HP",
  lg: "LG",
  jbl: "JBL",
  tcl: "TCL",
  irobot: "iRobot",
  oneplus: "OnePlus",
  kitchenaid: "KitchenAid",
};

/** "samsung" → "Samsung", "lg" → "LG"; a name that already has capitals is left as it is. */
export function brandLabel(brand) {
  const text = String(brand ?? "").trim();
  if (!text) return "";
  const known = BRAND_NAMES[text.toLowerCase()];
  if (known) return known;
  if (text !== text.toLowerCase()) return text;
  return text.replace(/(^|[\s-])(\p{L})/gu, (_, sep, letter) => sep + letter.toUpperCase());
}

/**
 * The price before the discount, when the product is on sale: the catalog's `price` is what the
 * shopper pays and `discount` the percentage taken off, so before = price / (1 - discount/100),
 * in whole cents. Null when there is no sale or the discount makes no sense (≤ 0 or ≥ 100).
 */
export function priceBeforeDiscount(product) {
  if (!product?.onSale) return null;
  const discount = Number(product.discount);
  const price = Number(product.price);
  if (!Number.isFinite(discount) || !Number.isFinite(price) || discount <= 0 || discount >= 100) return null;
  const cents = Math.round((price * 100) / (1 - discount / 100));
  return cents / 100;
}

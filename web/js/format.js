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

export const PAYMENT_METHODS = [
  { value: "cash_on_delivery", label: "Cash on delivery" },
  { value: "credit_card", label: "Credit card" },
  { value: "debit_card", label: "Debit card" },
  { value: "paypal", label: "PayPal" },
  { value: "bank_transfer", label: "Bank transfer" },
];

export function paymentLabel(value) {
  return PAYMENT_METHODS.find((method) => method.value === value)?.label ?? String(value ?? "");
}

export function addressLines(address) {
  if (!address) return [];
  return [
    address.street,
    [address.postal_code, address.city].filter(Boolean).join(" "),
    [address.state, address.country].filter(Boolean).join(", "),
  ].filter(Boolean);
}

export function addressBlock(address) {
  return h(
    "address",
    { class: "address" },
    addressLines(address).map((line, i) => (i === 0 ? line : [h("br"), line])),
  );
}

export function categoryLabel(category) {
  const text = String(category ?? "");
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

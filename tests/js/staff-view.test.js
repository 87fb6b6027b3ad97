// The staff queue page (web/js/views/staff.js) rendered in linkedom against a fake GET /orders.
import { requests, routes, text } from "./dom-env.js";

import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

const { session } = await import("../../web/js/state.js");
const { staffView } = await import("../../web/js/views/staff.js");

const ADMIN = { user_id: "admin-1", username: "admin", role: "admin" };

function order(n, status, createdAt) {
  return {
    id: `o${n}`,
    order_number: `ORD-2026-${String(n).padStart(6, "0")}`,
    user_id: "u1",
    status,
    total_amount: "10.00",
    items: [{ product_id: 1, product_name: "Thing", product_price: "10.00", quantity: 1, subtotal: "10.00" }],
    created_at: createdAt,
    updated_at: createdAt,
  };
}

const PENDING = [order(1, "pending", "2026-11-30T09:00:00Z"), order(2, "pending", "2026-11-30T10:00:00Z"), order(3, "pending", "2026-11-30T11:00:00Z")];

function serveQueues() {
  routes["GET /orders"] = ({ path }) => {
    const query = new URLSearchParams(path.split("?")[1]);
    const status = query.get("status");
    const limit = Number(query.get("limit"));
    let all = status === "pending" ? PENDING : status === "confirmed" ? [order(9, "confirmed", "2026-11-29T10:00:00Z")] : status ? [] : [...PENDING].reverse();
    const natural = status ? "oldest" : "newest";
    if ((query.get("sort") ?? natural) !== natural) all = [...all].reverse();
    const start = Number(query.get("next") ?? 0);
    const next = start + limit < all.length ? String(start + limit) : null;
    return { orders: all.slice(start, start + limit), next };
  };
}

const ctx = (query) => ({ params: {}, query: new URLSearchParams(query), navigate() {}, isCurrent: () => true });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const numbers = (page) => [...page.querySelectorAll(".order-row .order-number")].map(text);

beforeEach(() => {
  for (const key of Object.keys(routes)) delete routes[key];
  requests.length = 0;
  session.setUser(ADMIN);
  serveQueues();
});

describe("the staff queue", () => {
  it("opens on the pending queue, oldest first, each order a link to its page", async () => {
    const page = await staffView(ctx(""));
    assert.deepEqual(numbers(page), ["ORD-2026-000001", "ORD-2026-000002", "ORD-2026-000003"]);
    assert.equal(page.querySelector(".order-row a").getAttribute("href"), "#/orders/o1");
    assert.ok(requests.some((r) => r.path === "/orders?status=pending&limit=20"));
  });

  it("lists the queues pending first, with their counts", async () => {
    const page = await staffView(ctx(""));
    await settle();
    const tabs = [...page.querySelectorAll(".queue-tabs a")].map(text);
    assert.deepEqual(tabs, ["Pending 3", "Confirmed 1", "Shipped 0", "Delivered 0", "Cancelled 0", "All orders"]);
    assert.equal(page.querySelector(".queue-tabs a[aria-current='page']").dataset.queue, "pending");
  });

  it("turns a queue around: newest first, one page asked of the API with sort", async () => {
    const page = await staffView(ctx("sort=newest"));
    assert.deepEqual(numbers(page), ["ORD-2026-000003", "ORD-2026-000002", "ORD-2026-000001"]);
    assert.equal(text(page.querySelector(".sort-toggle [aria-current='true']")), "Newest first");
    const queueReads = requests.filter((r) => r.path.startsWith("/orders?status=pending") && !r.path.includes("limit=100"));
    assert.deepEqual(queueReads.map((r) => r.path), ["/orders?status=pending&sort=newest&limit=20"]);
  });

  it("follows the cursor in the direction asked", async () => {
    routes["GET /orders"] = ({ path }) => {
      const query = new URLSearchParams(path.split("?")[1]);
      if (query.get("limit") === "100") return { orders: [], next: null }; // the counts
      assert.equal(query.get("sort"), "newest");
      return query.get("next") ? { orders: [PENDING[0]], next: null } : { orders: [PENDING[2], PENDING[1]], next: "n2" };
    };
    const page = await staffView(ctx("sort=newest"));
    const more = [...page.querySelectorAll("button")].find((b) => text(b) === "Show older orders");
    more.dispatchEvent(new window.Event("click"));
    await settle();
    assert.deepEqual(numbers(page), ["ORD-2026-000003", "ORD-2026-000002", "ORD-2026-000001"]);
    assert.ok(requests.some((r) => r.path === "/orders?status=pending&sort=newest&limit=20&next=n2"));
  });

  it("pages with the API's cursor", async () => {
    routes["GET /orders"] = ({ path }) => {
      const query = new URLSearchParams(path.split("?")[1]);
      return query.get("next") ? { orders: [PENDING[2]], next: null } : { orders: PENDING.slice(0, 2), next: "page-2" };
    };
    const page = await staffView(ctx(""));
    const more = [...page.querySelectorAll("button")].find((b) => text(b) === "Show newer orders");
    assert.ok(more && !more.hidden, "a button to see the rest");
    more.dispatchEvent(new window.Event("click"));
    await settle();
    assert.deepEqual(numbers(page), ["ORD-2026-000001", "ORD-2026-000002", "ORD-2026-000003"]);
    assert.ok(requests.some((r) => r.path === "/orders?status=pending&limit=20&next=page-2"));
  });

  it("says when a queue is empty", async () => {
    const page = await staffView(ctx("status=shipped"));
    assert.match(text(page), /No shipped orders\. Nothing to do here\./);
  });

  it("shows an error instead of the list when the API refuses", async () => {
    routes["GET /orders"] = { status: 405, body: { message: "Method GET is not allowed on /orders", code: "method_not_allowed" } };
    const page = await staffView(ctx(""));
    assert.equal(page.querySelectorAll(".order-row").length, 0);
    assert.ok(page.querySelector("[role='alert']"));
  });
});

describe("the customer search", () => {
  it("lists the customers the API finds, and pages with its cursor", async () => {
    routes["GET /auth/users"] = ({ path }) => {
      const query = new URLSearchParams(path.split("?")[1]);
      assert.equal(query.get("query"), "ada");
      return query.get("next") === "c2"
        ? { users: [{ id: "u3", username: "ada_3", email: "ada3@example.com" }], next: null }
        : { users: [{ id: "u1", username: "ada_1", email: "ada1@example.com", first_name: "Ada" }, { id: "u2", username: "ada_2", email: "ada2@example.com" }], next: "c2" };
    };
    const page = await staffView(ctx(""));
    document.body.append(page);
    const form = page.querySelector('form[aria-label="Search by customer"]');
    form.querySelector('[name="query"]').value = "  ada ";
    form.dispatchEvent(new window.Event("submit", { cancelable: true }));
    await settle();
    const found = () => [...page.querySelectorAll(".customer-results li")].map(text);
    assert.deepEqual(found(), ["ada_1 · Ada · ada1@example.com", "ada_2 · ada2@example.com"]);
    assert.equal(page.querySelector(".customer-results a").getAttribute("href"), "#/staff/users/u1");
    const more = [...page.querySelectorAll("button")].find((b) => text(b) === "Show more customers");
    assert.equal(more.hidden, false);
    more.dispatchEvent(new window.Event("click"));
    await settle();
    assert.deepEqual(found().length, 3);
    assert.equal(more.hidden, true);
  });
});

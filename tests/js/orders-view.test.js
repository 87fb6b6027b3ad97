// The order page (web/js/views/orders.js) rendered in linkedom with a fake API.
import { requests, routes, text } from "./dom-env.js";

import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

const { session } = await import("../../web/js/state.js");
const { orderView } = await import("../../web/js/views/orders.js");

const OWNER = { user_id: "u1", username: "ada", role: "customer" };
const ADMIN = { user_id: "admin-1", username: "admin", role: "admin" };

function order(status, extra = {}) {
  return {
    id: "o1",
    order_number: "ORD-2026-000007",
    user_id: "u1",
    status,
    total_amount: "59.98",
    payment_method: "cash_on_delivery",
    shipping_address: { street: "1 Main St", city: "Springfield", state: "IL", postal_code: "62701", country: "US" },
    items: [{ product_id: 3, product_name: "Headphones", product_price: "29.99", quantity: 2, subtotal: "59.98" }],
    created_at: "2026-11-30T10:00:00Z",
    updated_at: "2026-11-30T11:00:00Z",
    ...extra,
  };
}

async function render(status, { as = OWNER, placed = false, extra = {} } = {}) {
  session.setUser(as);
  routes["GET /orders/o1"] = order(status, extra);
  const query = new URLSearchParams(placed ? "placed=1" : "");
  return orderView({ params: { id: "o1" }, query });
}

function click(el) {
  el.dispatchEvent(new window.Event("click", { bubbles: true }));
}

beforeEach(() => {
  for (const key of Object.keys(routes)) delete routes[key];
  requests.length = 0;
});

describe("the shopper's order page", () => {
  for (const status of ["pending", "confirmed", "shipped", "delivered", "cancelled"]) {
    it(`shows no stray "null" when the order is ${status}`, async () => {
      const page = await render(status);
      assert.doesNotMatch(text(page), /\bnull\b|\bundefined\b/);
      assert.doesNotMatch(text(page.querySelector(".status-line")), /null/);
    });
  }

  it("offers no status button once shipped", async () => {
    const page = await render("shipped");
    assert.equal(page.querySelectorAll(".status-line button").length, 0);
  });

  it("asks before cancelling: the first click sends nothing", async () => {
    const page = await render("pending");
    const cancel = page.querySelector('.status-actions [data-status="cancelled"]');
    assert.equal(text(cancel), "Cancel order");
    click(cancel);
    assert.equal(requests.filter((r) => r.method === "PUT").length, 0);
    const step = page.querySelector(".status-step");
    assert.ok(step, "a confirmation step appears");
    assert.match(text(step), /Cancel order ORD-2026-000007\?/);
    assert.match(text(step), /Yes, cancel the order/);
    assert.match(text(step), /No, keep the order/);
  });

  it("thanks for a new order, but not for a cancelled one", async () => {
    assert.equal(text((await render("pending", { placed: true })).querySelector("h1")), "Thank you for your order");
    assert.equal(text((await render("cancelled", { placed: true })).querySelector("h1")), "Order ORD-2026-000007");
  });

  it("shows the timeline and the tracking number", async () => {
    const page = await render("shipped", {
      extra: {
        history: [
          { status: "pending", at: "2026-11-30T10:00:00Z", by: "customer" },
          { status: "confirmed", at: "2026-11-30T10:30:00Z", by: "admin" },
          { status: "shipped", at: "2026-11-30T11:00:00Z", by: "admin", note: "Two parcels" },
        ],
        tracking: { carrier: "DHL", tracking_number: "JD014600006281230704" },
      },
    });
    const steps = [...page.querySelectorAll(".timeline li")].map((li) => text(li.querySelector(".step-label")));
    assert.deepEqual(steps, ["Placed", "Confirmed", "Shipped"]);
    assert.match(text(page.querySelector(".timeline")), /by you.*by the shop.*“Two parcels”/);
    assert.equal(text(page.querySelector("#tracking")), "DHL · JD014600006281230704");
  });
});

describe("the staff view of an order", () => {
  it("offers only the allowed next steps", async () => {
    const labels = async (status) =>
      [...(await render(status, { as: ADMIN })).querySelectorAll(".status-actions button")].map(text);
    assert.deepEqual(await labels("pending"), ["Confirm", "Cancel order"]);
    assert.deepEqual(await labels("confirmed"), ["Mark as shipped", "Cancel order"]);
    assert.deepEqual(await labels("shipped"), ["Mark as delivered"]);
    assert.deepEqual(await labels("delivered"), []);
  });

  it("confirms with the optional note the API accepts, and without one when none is given", async () => {
    routes["PUT /orders/o1/status"] = ({ body }) => order(body.status, { history: [] });
    const page = await render("pending", { as: ADMIN });
    const note = page.querySelector('.status-control input[name="note"]');
    assert.ok(note, "a note field beside the one-click steps");
    assert.equal(note.getAttribute("maxlength"), "500");
    note.value = "  packed by Sam  ";
    click(page.querySelector('.status-actions [data-status="confirmed"]'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const puts = requests.filter((r) => r.method === "PUT");
    assert.deepEqual(puts.map((r) => r.body), [{ status: "confirmed", note: "packed by Sam" }]);

    requests.length = 0;
    const again = await render("pending", { as: ADMIN });
    click(again.querySelector('.status-actions [data-status="confirmed"]'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(requests.filter((r) => r.method === "PUT").map((r) => r.body), [{ status: "confirmed" }]);
  });

  it("asks for the carrier and tracking number before shipping", async () => {
    const page = await render("confirmed", { as: ADMIN });
    click(page.querySelector('.status-actions [data-status="shipped"]'));
    assert.equal(requests.filter((r) => r.method === "PUT").length, 0);
    const step = page.querySelector(".status-step");
    assert.ok(step.querySelector('input[name="carrier"]'));
    assert.ok(step.querySelector('input[name="tracking_number"]'));
    assert.equal(step.querySelector('input[name="note"]').getAttribute("maxlength"), "500");
  });
});

// The staff queue's rules (web/js/queue.js).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  ageText,
  countLabel,
  customerQuery,
  normaliseOrderNumber,
  QUEUE_STATUSES,
  queueHref,
  queuePath,
  queueState,
} from "../../web/js/queue.js";

const q = (text) => new URLSearchParams(text);

describe("queue state", () => {
  it("starts with the pending queue, oldest first", () => {
    assert.equal(QUEUE_STATUSES[0], "pending");
    assert.deepEqual(queueState(q("")), { status: "pending", sort: "oldest", natural: true });
  });

  it("reads status and sort, and ignores what it does not know", () => {
    assert.deepEqual(queueState(q("status=shipped&sort=newest")), { status: "shipped", sort: "newest", natural: false });
    assert.deepEqual(queueState(q("status=all")), { status: "all", sort: "newest", natural: true });
    assert.deepEqual(queueState(q("status=lost&sort=sideways")), { status: "pending", sort: "oldest", natural: true });
  });

  it("links to a queue with only what differs from the default", () => {
    assert.equal(queueHref({ status: "pending", sort: "oldest" }), "#/staff");
    assert.equal(queueHref({ status: "confirmed", sort: "newest" }), "#/staff?status=confirmed&sort=newest");
    assert.equal(queueHref({ status: "all", sort: "newest" }), "#/staff?status=all");
    assert.equal(queueHref({ status: "all", sort: "oldest" }), "#/staff?status=all&sort=oldest");
  });
});

describe("asking the API", () => {
  it("asks GET /orders per status, with limit and the cursor", () => {
    assert.equal(queuePath("pending"), "/orders?status=pending&limit=20");
    assert.equal(queuePath("all", { limit: 5 }), "/orders?limit=5");
    assert.equal(queuePath("shipped", { next: "abc+/=" }), "/orders?status=shipped&limit=20&next=abc%2B%2F%3D");
    // the other direction is the API's `sort`; the natural one is not sent
    assert.equal(queuePath("pending", { sort: "newest" }), "/orders?status=pending&sort=newest&limit=20");
    assert.equal(queuePath("pending", { sort: "oldest" }), "/orders?status=pending&limit=20");
    assert.equal(queuePath("all", { sort: "oldest", next: "c" }), "/orders?sort=oldest&limit=20&next=c");
    assert.equal(queuePath("all", { sort: "newest" }), "/orders?limit=20");
  });

  it("counts up to the page it asked for", () => {
    assert.equal(countLabel([], null), "0");
    assert.equal(countLabel(new Array(7).fill({}), null), "7");
    assert.equal(countLabel(new Array(100).fill({}), "cursor"), "100+");
    assert.equal(countLabel(undefined, null), "0");
  });
});

describe("orders and time", () => {
  it("says how long an order has waited", () => {
    const now = Date.parse("2026-11-30T12:00:00Z");
    assert.equal(ageText("2026-11-30T11:59:40Z", now), "just now");
    assert.equal(ageText("2026-11-30T11:48:00Z", now), "12 min");
    assert.equal(ageText("2026-11-30T09:00:00Z", now), "3 h");
    assert.equal(ageText("2026-11-27T12:00:00Z", now), "3 days");
    assert.equal(ageText("not a date", now), "");
  });
});

describe("search input", () => {
  it("understands order numbers as people type them", () => {
    assert.equal(normaliseOrderNumber("ORD-2026-000042"), "ORD-2026-000042");
    assert.equal(normaliseOrderNumber(" ord-2026-42 "), "ORD-2026-000042");
    assert.equal(normaliseOrderNumber("2026-42"), "ORD-2026-000042");
    assert.equal(normaliseOrderNumber("ORD-2026-1234567"), null);
    assert.equal(normaliseOrderNumber("hello"), null);
    assert.equal(normaliseOrderNumber(""), null);
  });

  it("takes the number alone, as staff type it, as this year's order", () => {
    assert.equal(normaliseOrderNumber("44", 2026), "ORD-2026-000044");
    assert.equal(normaliseOrderNumber(" 000044 ", 2026), "ORD-2026-000044");
    assert.equal(normaliseOrderNumber("#44", 2026), "ORD-2026-000044");
    assert.equal(normaliseOrderNumber("44", 2027), "ORD-2027-000044");
    assert.equal(normaliseOrderNumber("44"), `ORD-${new Date().getFullYear()}-000044`);
    assert.equal(normaliseOrderNumber("0", 2026), null);
  });

  it("searches customers from two characters on", () => {
    assert.equal(customerQuery(" a "), null);
    assert.equal(customerQuery(" ad "), "ad");
  });
});

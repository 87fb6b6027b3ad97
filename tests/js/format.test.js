// How values read on the page (web/js/format.js).
import "./dom-env.js";

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  addressLines,
  brandLabel,
  categoryLabel,
  CHECKOUT_PAYMENT_METHODS,
  money,
  nextStatuses,
  orderHeadline,
  paymentLabel,
  priceBeforeDiscount,
  timeline,
  trackingText,
} from "../../web/js/format.js";

describe("catalog wording", () => {
  it("shows categories as a shop would", () => {
    assert.equal(categoryLabel("tv"), "TV");
    assert.equal(categoryLabel("mobile"), "Mobile phones");
    assert.equal(categoryLabel("smart-home"), "Smart home");
    assert.equal(categoryLabel(""), "");
    assert.equal(categoryLabel(null), "");
  });

  it("spells brands as the brands do", () => {
    assert.equal(brandLabel("samsung"), "Samsung");
    assert.equal(brandLabel("lg"), "LG");
    assert.equal(brandLabel("jbl"), "JBL");
    assert.equal(brandLabel("irobot"), "iRobot");
    assert.equal(brandLabel("bang & olufsen"), "Bang & Olufsen");
    assert.equal(brandLabel("DeLonghi"), "DeLonghi");
    assert.equal(brandLabel(undefined), "");
  });

  it("computes the price before the discount from price and percentage", () => {
    assert.equal(priceBeforeDiscount({ price: 429.99, discount: 14, onSale: true }), 499.99);
    assert.equal(priceBeforeDiscount({ price: 90, discount: 10, onSale: true }), 100);
    assert.equal(money(priceBeforeDiscount({ price: 1799.99, discount: 10, onSale: true })), "$1,999.99");
  });

  it("shows no original price without a real sale", () => {
    assert.equal(priceBeforeDiscount({ price: 100, discount: 10, onSale: false }), null);
    assert.equal(priceBeforeDiscount({ price: 100, onSale: true }), null);
    assert.equal(priceBeforeDiscount({ price: 100, discount: 0, onSale: true }), null);
    assert.equal(priceBeforeDiscount({ price: 100, discount: 100, onSale: true }), null);
    assert.equal(priceBeforeDiscount({ price: 100, discount: "abc", onSale: true }), null);
  });
});

describe("checkout payment", () => {
  it("offers only what the shop really does: cash on delivery", () => {
    assert.deepEqual(CHECKOUT_PAYMENT_METHODS.map((m) => m.value), ["cash_on_delivery"]);
  });

  it("still names the methods older orders carry", () => {
    assert.equal(paymentLabel("cash_on_delivery"), "Cash on delivery");
    assert.equal(paymentLabel("paypal"), "PayPal");
  });
});

describe("order life cycle", () => {
  const admin = { isAdmin: true, userId: "admin-1" };
  const owner = { isAdmin: false, userId: "u1" };
  const stranger = { isAdmin: false, userId: "u2" };
  const order = (status) => ({ id: "o1", order_number: "ORD-2026-000001", user_id: "u1", status });

  it("offers staff only the allowed next steps", () => {
    assert.deepEqual(nextStatuses(order("pending"), admin), ["confirmed", "cancelled"]);
    assert.deepEqual(nextStatuses(order("confirmed"), admin), ["shipped", "cancelled"]);
    assert.deepEqual(nextStatuses(order("shipped"), admin), ["delivered"]);
    assert.deepEqual(nextStatuses(order("delivered"), admin), []);
    assert.deepEqual(nextStatuses(order("cancelled"), admin), []);
    assert.deepEqual(nextStatuses(order("lost"), admin), []);
  });

  it("lets the owner cancel before shipping, and nobody else anything", () => {
    assert.deepEqual(nextStatuses(order("pending"), owner), ["cancelled"]);
    assert.deepEqual(nextStatuses(order("confirmed"), owner), ["cancelled"]);
    assert.deepEqual(nextStatuses(order("shipped"), owner), []);
    assert.deepEqual(nextStatuses(order("pending"), stranger), []);
    assert.deepEqual(nextStatuses(order("pending"), null), []);
  });

  it("thanks for the order only while it stands", () => {
    assert.equal(orderHeadline(order("pending"), true), "Thank you for your order");
    assert.equal(orderHeadline(order("cancelled"), true), "Order ORD-2026-000001");
    assert.equal(orderHeadline(order("pending"), false), "Order ORD-2026-000001");
  });

  it("reads the timeline from history, with who did what and their note", () => {
    const steps = timeline(
      {
        ...order("cancelled"),
        history: [
          { status: "pending", at: "2026-11-30T10:00:00Z", by: "customer" },
          { status: "confirmed", at: "2026-11-30T10:05:00Z", by: "admin" },
          { status: "cancelled", at: "2026-11-30T10:07:00Z", by: "customer", note: " Ordered twice " },
        ],
      },
      { ownerView: true },
    );
    assert.deepEqual(
      steps.map((s) => [s.label, s.by, s.note]),
      [
        ["Placed", "by you", null],
        ["Confirmed", "by the shop", null],
        ["Cancelled", "by you", "Ordered twice"],
      ],
    );
    assert.equal(timeline({ ...order("pending"), history: [{ status: "pending", by: "customer" }] })[0].by, "by the customer");
  });

  it("makes a timeline from the order itself when the API sends no history", () => {
    const steps = timeline({ ...order("shipped"), created_at: "2026-11-30T10:00:00Z", updated_at: "2026-11-30T12:00:00Z" });
    assert.deepEqual(steps.map((s) => [s.label, s.at]), [["Placed", "2026-11-30T10:00:00Z"], ["Shipped", "2026-11-30T12:00:00Z"]]);
  });

  it("shows tracking only when there is a number", () => {
    assert.equal(trackingText({ carrier: "DHL", tracking_number: "00340434" }), "DHL · 00340434");
    assert.equal(trackingText({ carrier: "", tracking_number: "1Z999" }), "1Z999");
    assert.equal(trackingText({ carrier: "DHL" }), null);
    assert.equal(trackingText(undefined), null);
  });
});

describe("addresses", () => {
  const at = (country, extra = {}) => ({ street: "742 Evergreen Terrace", city: "Springfield", state: "OR", postal_code: "97403", country, ...extra });

  it("prints a US address as the US Postal Service does: city, state postcode", () => {
    assert.deepEqual(addressLines(at("US")), ["742 Evergreen Terrace", "Springfield, OR 97403", "US"]);
  });

  it("prints other countries in their own order", () => {
    assert.deepEqual(addressLines(at("CA", { city: "Toronto", state: "ON", postal_code: "M5V 2T6" })), ["742 Evergreen Terrace", "Toronto ON M5V 2T6", "CA"]);
    assert.deepEqual(addressLines(at("GB", { city: "London", state: "", postal_code: "SW1A 1AA" })), ["742 Evergreen Terrace", "London", "SW1A 1AA", "GB"]);
    assert.deepEqual(addressLines(at("DE", { city: "Berlin", state: "", postal_code: "10115" })), ["742 Evergreen Terrace", "10115 Berlin", "DE"]);
    assert.deepEqual(addressLines(at("FR", { city: "Paris", state: "Île-de-France", postal_code: "75001" })), ["742 Evergreen Terrace", "75001 Paris", "Île-de-France", "FR"]);
  });

  it("leaves out what is missing, and reads the country code in any case", () => {
    assert.deepEqual(addressLines(at("us", { state: "" })), ["742 Evergreen Terrace", "Springfield 97403", "us"]);
    assert.deepEqual(addressLines(null), []);
  });
});

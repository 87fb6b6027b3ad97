// The links the shop e-mails, and which page of the storefront each one opens (web/js/links.js).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { linkRoute, linksIn } from "../../web/js/links.js";

describe("mailed links", () => {
  it("the path form the backend sends and the hash form both open the page with the token", () => {
    assert.equal(linkRoute("http://127.0.0.1:3000/verify-email?token=abc_-1"), "/verify-email?token=abc_-1");
    assert.equal(linkRoute("http://127.0.0.1:3000/#/verify-email?token=abc"), "/verify-email?token=abc");
    assert.equal(linkRoute("https://shop.example/reset-password?token=t%2B1"), "/reset-password?token=t%2B1");
    assert.equal(linkRoute("https://shop.example/#/reset-password?token=xyz"), "/reset-password?token=xyz");
    assert.equal(linkRoute("https://cdn.example/shop/verify-email?token=q"), "/verify-email?token=q");
  });

  it("other links are not pages for a token", () => {
    assert.equal(linkRoute("http://127.0.0.1:3000/#/orders/1"), null);
    assert.equal(linkRoute("http://127.0.0.1:3000/"), null);
    assert.equal(linkRoute("not a url at all", "also not"), null);
    assert.equal(linkRoute("http://127.0.0.1:3000/verify-email"), "/verify-email");
  });

  it("finds the links in an e-mail's text part", () => {
    const text = "Hello,\n\nOpen this link:\n\nhttp://127.0.0.1:3000/verify-email?token=abc\n\nBye (see https://x.test/a).";
    assert.deepEqual(linksIn(text), ["http://127.0.0.1:3000/verify-email?token=abc", "https://x.test/a"]);
    assert.deepEqual(linksIn(null), []);
  });
});

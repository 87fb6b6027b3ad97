// The dev mailbox (web/js/views/mailbox.js) rendered in linkedom with a fake /_dev/emails.
import { routes } from "./dom-env.js";

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

const { mailboxView } = await import("../../web/js/views/mailbox.js");

const MAIL = {
  to: ["ada@example.com"],
  from: "shop@example.com",
  subject: "Verify your e-mail address",
  html: '<p><a href="http://127.0.0.1:3000/verify-email?token=abc">Verify my e-mail address</a></p>',
  text: "Open http://127.0.0.1:3000/verify-email?token=abc",
  time: "2026-12-07T10:00:00Z",
};

const leave = [];
after(() => leave.forEach((handler) => handler()));

async function render() {
  routes["GET /_dev/emails"] = { emails: [MAIL] };
  return mailboxView({ onLeave: (handler) => leave.push(handler) });
}

describe("the dev mailbox", () => {
  it("opens an e-mail's own links in the top window, not inside the sandboxed preview", async () => {
    const page = await render();
    const frame = page.querySelector("iframe.mail-html");
    assert.match(frame.getAttribute("srcdoc"), /^<base target="_top">/);
    // top navigation on a click only; still no scripts and no same-origin access
    assert.equal(frame.getAttribute("sandbox"), "allow-top-navigation-by-user-activation");
  });

  it("says that a collapsed e-mail opens, and that an open one closes", async () => {
    const page = await render();
    const details = page.querySelector("details.mail");
    assert.equal(details.hasAttribute("open"), false);
    assert.match(details.querySelector("summary").textContent, /Open/);
    details.setAttribute("open", ""); // what a click on the summary does
    details.dispatchEvent(new window.Event("toggle"));
    assert.match(details.querySelector("summary").textContent, /Close/);
  });
});

// The account pages' logic (web/js/views/auth.js, account.js) and the wording of the account
// errors (messages.js): weak passwords, unverified e-mail, used or expired links, a wrong current
// password. Rendered in linkedom against a fake API.
import { requests, routes, text } from "./dom-env.js";

import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

const { ApiError } = await import("../../web/js/api.js");
const { describeError, LINK_TOKEN_MESSAGE } = await import("../../web/js/messages.js");
const { showErrors } = await import("../../web/js/forms.js");
const { alertBox, field, h } = await import("../../web/js/dom.js");
const { session } = await import("../../web/js/state.js");
const auth = await import("../../web/js/views/auth.js");
const { accountView } = await import("../../web/js/views/account.js");

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const ctx = (query = "") => {
  const seen = { flashes: [], navigated: [] };
  return Object.assign(seen, {
    params: {},
    query: new URLSearchParams(query),
    navigate: (path) => seen.navigated.push(path),
    flash: (message) => seen.flashes.push(message),
    onLeave() {},
    isCurrent: () => true,
  });
};
const submit = async (form) => {
  form.dispatchEvent(new window.Event("submit", { cancelable: true }));
  await settle();
};
const errorOf = (form, name) => text(form.querySelector(`.field-error[data-for="${name}"]`));
const input = (root, name) => root.querySelector(`[name="${name}"]`);
const type = (root, name, value) => {
  input(root, name).value = value;
};

const USER = {
  user_id: "u1",
  id: "u1",
  username: "ada",
  email: "ada@example.com",
  first_name: "Ada",
  last_name: "L",
  role: "customer",
  email_verified: false,
};

beforeEach(() => {
  for (const key of Object.keys(routes)) delete routes[key];
  requests.length = 0;
  session.setUser(null);
});

describe("account error wording", () => {
  it("has the shop's words for the account codes", () => {
    assert.match(describeError(new ApiError(422, { code: "weak_password", message: "Password is too common" })), /too easy to guess/);
    assert.match(describeError(new ApiError(403, { code: "email_not_verified", message: "Verify…" })), /confirm your e-mail address before you order/);
    assert.equal(describeError(new ApiError(403, { code: "wrong_password", message: "Current password is wrong" })), "That is not your current password.");
    assert.match(
      describeError(new ApiError(429, { code: "too_many_verification_emails", message: "x" }, 1800)),
      /several confirmation e-mails.*try again in 30 minutes/,
    );
  });

  it("a used or expired link (400 invalid_token) is not a session problem (401 invalid_token)", () => {
    assert.equal(describeError(new ApiError(400, { code: "invalid_token", message: "Invalid or expired token" })), LINK_TOKEN_MESSAGE);
    assert.notEqual(describeError(new ApiError(401, { code: "invalid_token", message: "Invalid token" })), LINK_TOKEN_MESSAGE);
  });

  it("puts a weak new password next to the new password, a wrong current one next to the current one", () => {
    const box = alertBox();
    const form = h(
      "form",
      null,
      box,
      field({ label: "Current password", name: "current_password" }),
      field({ label: "New password", name: "new_password" }),
    );
    document.body.append(form);
    showErrors(form, box, new ApiError(422, { code: "weak_password", message: "Password is too common" }));
    assert.match(errorOf(form, "new_password"), /too easy to guess/);
    assert.equal(errorOf(form, "current_password"), "");
    showErrors(form, box, new ApiError(403, { code: "wrong_password", message: "Current password is wrong" }));
    assert.equal(errorOf(form, "current_password"), "That is not your current password.");
    assert.equal(errorOf(form, "new_password"), "");
  });
});

describe("the verification page", () => {
  it("confirms with the link's token and says so", async () => {
    routes["POST /auth/verify-email"] = ({ body }) =>
      body.token === "good" ? { ...USER, email_verified: true } : { status: 400, body: { code: "invalid_token", message: "x" } };
    const page = await auth.verifyEmailView(ctx("token=good"));
    assert.match(text(page), /E-mail address confirmed/);
    assert.match(text(page), /ada@example\.com is confirmed/);
    assert.deepEqual(requests.map((r) => [r.method, r.path, r.body]), [["POST", "/auth/verify-email", { token: "good" }]]);
  });

  it("a used link says so and offers a new one to a logged-in, unconfirmed user", async () => {
    session.setUser(USER);
    routes["POST /auth/verify-email"] = { status: 400, body: { code: "invalid_token", message: "Invalid or expired token" } };
    routes["POST /auth/verify-email/resend"] = { status: 202, body: null };
    const page = await auth.verifyEmailView(ctx("token=used"));
    assert.match(text(page.querySelector("[role=alert]")), /no longer works/);
    const resend = [...page.querySelectorAll("button")].find((b) => text(b) === "Send the e-mail again");
    assert.ok(resend, "a button to send a new link");
    resend.dispatchEvent(new window.Event("click"));
    await settle();
    assert.ok(requests.some((r) => r.method === "POST" && r.path === "/auth/verify-email/resend"));
    assert.match(text(page), /We sent a new link to ada@example\.com/);
  });

  it("the banner's notice is only for a logged-in user whose e-mail is not confirmed", () => {
    assert.equal(auth.verifyNotice(), null);
    session.setUser({ ...USER, email_verified: true });
    assert.equal(auth.verifyNotice(), null);
    session.setUser({ ...USER, email_verified: false });
    assert.match(text(auth.verifyNotice()), /Please confirm your e-mail address\. We sent a link to ada@example\.com/);
  });
});

describe("the password pages", () => {
  it("forgot password: the same answer whether or not the address has an account", async () => {
    routes["POST /auth/password-reset"] = { status: 202, body: null };
    const page = await auth.forgotPasswordView(ctx());
    const form = page.querySelector("form");
    type(form, "email", "who@example.com");
    await submit(form);
    assert.match(text(page), /If an account uses who@example\.com, we have sent it a link/);
    assert.equal(form.hidden, true);
  });

  it("reset: the two passwords must match before anything is sent", async () => {
    const c = ctx("token=t1");
    const page = await auth.resetPasswordView(c);
    const form = page.querySelector("form");
    type(form, "new_password", "one horse battery");
    type(form, "new_password_again", "two horse battery");
    await submit(form);
    assert.equal(errorOf(form, "new_password_again"), "The two passwords are not the same.");
    assert.equal(requests.length, 0);
  });

  it("reset: a used link says so and offers a new one; a good one logs in anew", async () => {
    routes["POST /auth/password-reset/confirm"] = ({ body }) =>
      body.token === "t1" ? { status: 204, body: null } : { status: 400, body: { code: "invalid_token", message: "x" } };
    let c = ctx("token=t0");
    let page = await auth.resetPasswordView(c);
    let form = page.querySelector("form");
    type(form, "new_password", "one horse battery");
    type(form, "new_password_again", "one horse battery");
    await submit(form);
    assert.match(text(page.querySelector("[role=alert]")), /no longer works/);
    assert.equal(page.querySelector('a[href="#/forgot-password"]').parentElement.hidden, false);

    c = ctx("token=t1");
    page = await auth.resetPasswordView(c);
    form = page.querySelector("form");
    type(form, "new_password", "one horse battery");
    type(form, "new_password_again", "one horse battery");
    await submit(form);
    assert.deepEqual(requests.at(-1).body, { token: "t1", new_password: "one horse battery" });
    assert.deepEqual(c.navigated, ["/login"]);
  });
});

describe("the account page", () => {
  const ADDRESSES = [
    { id: "a1", street: "1 Old Road", city: "Berlin", state: "BE", postal_code: "10115", country: "DE", is_default: true },
    { id: "a2", street: "2 New Road", city: "Berlin", state: "BE", postal_code: "10115", country: "DE", is_default: false },
  ];

  beforeEach(() => {
    session.setUser({ ...USER, email_verified: true });
    let addresses = ADDRESSES.map((a) => ({ ...a }));
    routes["GET /auth/user/u1/addresses"] = () => ({ addresses });
    routes["DELETE /auth/user/u1/addresses/a1"] = () => {
      addresses = [{ ...addresses[1], is_default: true }];
      return { status: 204, body: null };
    };
    routes["PUT /auth/user/u1/addresses/a2"] = ({ body }) => {
      addresses[1] = { ...addresses[1], ...body };
      return addresses[1];
    };
  });

  it("edits an address with PUT, the form filled in with it", async () => {
    const page = await accountView(ctx());
    document.body.append(page);
    page.querySelector('button[aria-label="Edit address 2 New Road"]').dispatchEvent(new window.Event("click"));
    const form = page.querySelector("form.address-form");
    assert.equal(input(form, "street").value, "2 New Road");
    type(form, "street", "3 Changed Street");
    await submit(form);
    await settle();
    const put = requests.find((r) => r.method === "PUT");
    assert.equal(put.path, "/auth/user/u1/addresses/a2");
    assert.equal(put.body.street, "3 Changed Street");
    assert.match(text(page.querySelector(".address-list")), /3 Changed Street/);
  });

  it("deletes an address only after asking", async () => {
    const page = await accountView(ctx());
    document.body.append(page);
    page.querySelector('button[aria-label="Delete address 1 Old Road"]').dispatchEvent(new window.Event("click"));
    assert.equal(requests.filter((r) => r.method === "DELETE").length, 0, "nothing deleted before the answer");
    assert.match(text(page), /Delete your default address\? Your newest other address becomes the default\./);
    const yes = [...page.querySelectorAll("button")].find((b) => text(b) === "Yes, delete it");
    yes.dispatchEvent(new window.Event("click"));
    await settle();
    assert.ok(requests.some((r) => r.method === "DELETE" && r.path === "/auth/user/u1/addresses/a1"));
    const cards = [...page.querySelectorAll(".address-card")].map(text);
    assert.equal(cards.length, 1);
    assert.match(cards[0], /2 New Road.*Default/);
  });

  it("a profile change sends only what changed; a new e-mail is unconfirmed until its link is opened", async () => {
    routes["PATCH /auth/user/u1"] = ({ body }) => ({ ...USER, email: body.email, email_verified: !body.email });
    const c = ctx();
    const page = await accountView(c);
    document.body.append(page);
    [...page.querySelectorAll("button")].find((b) => text(b) === "Edit profile").dispatchEvent(new window.Event("click"));
    const form = page.querySelector('form[aria-label="Edit profile"]');
    type(form, "email", "ada@new.example");
    type(form, "current_password", "my-password-1"); // an e-mail change needs it (issue 26)
    await submit(form);
    assert.deepEqual(requests.find((r) => r.method === "PATCH").body, {
      email: "ada@new.example",
      current_password: "my-password-1",
    });
    assert.equal(session.user().email, "ada@new.example");
    assert.equal(session.user().email_verified, false);
    assert.match(c.flashes[0], /We sent a link to ada@new\.example/);
  });
});

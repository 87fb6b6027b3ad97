// Account: register, log in, and the account page with the shipping addresses.

import { api } from "../api.js";
import { alertBox, field, fill, h, uid } from "../dom.js";
import { addressBlock } from "../format.js";
import { busy, clearErrors, formValues, showErrors } from "../forms.js";
import { session } from "../state.js";

/** Only in-app paths as a post-login destination. */
function safeNext(value) {
  return typeof value === "string" && /^\/(?!\/)/.test(value) ? value : "/";
}

export async function loginView(ctx) {
  const next = safeNext(ctx.query.get("next"));
  const user = session.user();
  if (user) {
    return h(
      "section",
      { class: "narrow" },
      h("h1", null, "Log in"),
      h("p", null, `You are signed in as ${user.username}.`),
      h("p", null, h("a", { href: `#${next}` }, "Continue")),
    );
  }
  const box = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "login-title" },
    box,
    field({
      label: "Username",
      name: "username",
      value: ctx.query.get("username") ?? "",
      required: true,
      autocomplete: "username",
      autocapitalize: "none",
      spellcheck: "false",
    }),
    field({ label: "Password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
    h("button", { type: "submit", class: "button" }, "Log in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { username, password } = formValues(form);
    await busy(form.querySelector("button[type=submit]"), "Logging in…", async () => {
      try {
        const token = await api("/auth/login", { method: "POST", body: { username, password }, auth: false });
        session.start(token);
        const me = await api("/auth/verify-token", { method: "POST" });
        session.setUser(me);
        ctx.flash(`Welcome, ${me.first_name || me.username}!`, { keep: true });
        ctx.navigate(next);
      } catch (error) {
        session.logout();
        showErrors(form, box, error);
      }
    });
  });
  return h(
    "section",
    { class: "narrow" },
    h("h1", { id: "login-title" }, "Log in"),
    form,
    h(
      "p",
      null,
      "New here? ",
      h("a", { href: `#/register${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}` }, "Create an account"),
      ".",
    ),
  );
}

export async function registerView(ctx) {
  const next = safeNext(ctx.query.get("next"));
  const box = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "register-title" },
    box,
    field({
      label: "Username",
      name: "username",
      required: true,
      autocomplete: "username",
      autocapitalize: "none",
      spellcheck: "false",
      hint: "3 to 32 letters, digits, dots, dashes or underscores.",
    }),
    field({ label: "E-mail", name: "email", type: "email", required: true, autocomplete: "email" }),
    h(
      "div",
      { class: "row" },
      field({ label: "First name", name: "first_name", required: true, autocomplete: "given-name" }),
      field({ label: "Last name", name: "last_name", required: true, autocomplete: "family-name" }),
    ),
    field({
      label: "Password",
      name: "password",
      type: "password",
      required: true,
      autocomplete: "new-password",
      hint: "8 to 128 characters; not a common password, and not your username.",
    }),
    h("button", { type: "submit", class: "button" }, "Create account"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    await busy(form.querySelector("button[type=submit]"), "Creating account…", async () => {
      try {
        const user = await api("/auth/register", { method: "POST", body: values, auth: false });
        ctx.flash(`Your account “${user.username}” is ready. Log in to continue.`, { keep: true });
        const query = new URLSearchParams({ username: user.username });
        if (next !== "/") query.set("next", next);
        ctx.navigate(`/login?${query}`);
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return h(
    "section",
    { class: "narrow" },
    h("h1", { id: "register-title" }, "Create an account"),
    form,
    h("p", null, "Already registered? ", h("a", { href: "#/login" }, "Log in"), "."),
  );
}

/** The new-address form; calls onSaved(address) after the server stored it. */
export function addressForm({ onSaved, onCancel, makeDefault = false }) {
  const box = alertBox();
  const titleId = uid("address-title");
  const cancel = onCancel
    ? h("button", { type: "button", class: "button button-secondary", onclick: onCancel }, "Cancel")
    : null;
  const form = h(
    "form",
    { class: "stack address-form", novalidate: true, "aria-labelledby": titleId },
    h("h3", { id: titleId }, "New address"),
    box,
    field({ label: "Street and number", name: "street", required: true, autocomplete: "street-address" }),
    h(
      "div",
      { class: "row" },
      field({ label: "Postal code", name: "postal_code", required: true, autocomplete: "postal-code" }),
      field({ label: "City", name: "city", required: true, autocomplete: "address-level2" }),
    ),
    h(
      "div",
      { class: "row" },
      field({ label: "State or region", name: "state", required: true, autocomplete: "address-level1" }),
      field({ label: "Country", name: "country", required: true, autocomplete: "country-name" }),
    ),
    h(
      "div",
      { class: "check" },
      h("input", { type: "checkbox", name: "is_default", id: `${titleId}-default`, checked: makeDefault }),
      h("label", { for: `${titleId}-default` }, "Make this my default address"),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "Save address"), cancel),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    const userId = session.user()?.user_id;
    await busy(form.querySelector("button[type=submit]"), "Saving…", async () => {
      try {
        const address = await api(`/auth/user/${encodeURIComponent(userId)}/addresses`, {
          method: "POST",
          body: formValues(form),
        });
        onSaved(address);
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return form;
}

export async function loadAddresses() {
  const userId = session.user()?.user_id;
  const body = await api(`/auth/user/${encodeURIComponent(userId)}/addresses`);
  return Array.isArray(body?.addresses) ? body.addresses : [];
}

export async function accountView(ctx) {
  const user = session.user();
  let addresses = await loadAddresses();
  const list = h("ul", { class: "address-list" });
  const addButton = h("button", { type: "button", class: "button button-secondary" }, "Add an address");
  const formSlot = h("div");

  function renderList() {
    fill(list, 
      ...(addresses.length
        ? addresses.map((a) =>
            h("li", { class: "address-card" }, addressBlock(a), a.is_default ? h("span", { class: "badge" }, "Default") : null),
          )
        : [h("li", { class: "muted" }, "No addresses yet.")]),
    );
  }
  function closeForm() {
    formSlot.replaceChildren();
    addButton.hidden = false;
    addButton.focus();
  }
  addButton.addEventListener("click", () => {
    addButton.hidden = true;
    const form = addressForm({
      makeDefault: addresses.length === 0,
      onCancel: closeForm,
      onSaved: async (address) => {
        addresses = await loadAddresses().catch(() => [...addresses, address]);
        renderList();
        ctx.flash("Address saved.");
        closeForm();
      },
    });
    fill(formSlot, form);
    form.querySelector("input")?.focus();
  });
  renderList();

  return h(
    "section",
    null,
    h("h1", null, "Your account"),
    h(
      "dl",
      { class: "facts profile" },
      h("dt", null, "Username"),
      h("dd", null, user.username ?? ""),
      h("dt", null, "Name"),
      h("dd", null, [user.first_name, user.last_name].filter(Boolean).join(" ")),
      h("dt", null, "E-mail"),
      h("dd", null, user.email ?? ""),
      h("dt", null, "Customer id"),
      h("dd", null, h("code", { id: "customer-id" }, user.user_id)),
    ),
    h("h2", null, "Shipping addresses"),
    list,
    addButton,
    formSlot,
  );
}

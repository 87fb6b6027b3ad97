// Account: register, log in, and the account page with the shipping addresses.

import { api, describeError } from "../api.js";
import { alertBox, field, fill, h, showAlert, uid } from "../dom.js";
import { addressBlock } from "../format.js";
import { busy, clearErrors, formValues, showErrors } from "../forms.js";
import { session } from "../state.js";
import { newPasswordFields, passwordsMatch } from "./auth.js";

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
    h("p", null, h("a", { href: "#/forgot-password" }, "Forgot your password?")),
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
        ctx.flash(
          `Your account “${user.username}” is ready. We sent a link to ${user.email}: open it to confirm your address before you order. Log in to continue.${
            ctx.devMailbox?.() ? " (Local stack: the e-mail is in the Mailbox, in the menu.)" : ""
          }`,
          { keep: true },
        );
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

/** The new-address form, or the edit form for `address`; calls onSaved(address) once stored. */
export function addressForm({ onSaved, onCancel, makeDefault = false, address = null }) {
  const v = (name) => (address ? String(address[name] ?? "") : "");
  const box = alertBox();
  const titleId = uid("address-title");
  const cancel = onCancel
    ? h("button", { type: "button", class: "button button-secondary", onclick: onCancel }, "Cancel")
    : null;
  const form = h(
    "form",
    { class: "stack address-form", novalidate: true, "aria-labelledby": titleId },
    h("h3", { id: titleId }, address ? "Change address" : "New address"),
    box,
    field({ label: "Street and number", name: "street", value: v("street"), required: true, autocomplete: "street-address" }),
    h(
      "div",
      { class: "row" },
      field({ label: "Postal code", name: "postal_code", value: v("postal_code"), required: true, autocomplete: "postal-code" }),
      field({ label: "City", name: "city", value: v("city"), required: true, autocomplete: "address-level2" }),
    ),
    h(
      "div",
      { class: "row" },
      field({ label: "State or region", name: "state", value: v("state"), required: true, autocomplete: "address-level1" }),
      field({ label: "Country", name: "country", value: v("country"), required: true, autocomplete: "country-name" }),
    ),
    h(
      "div",
      { class: "check" },
      h("input", { type: "checkbox", name: "is_default", id: `${titleId}-default`, checked: address ? Boolean(address.is_default) : makeDefault }),
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
        const base = `/auth/user/${encodeURIComponent(userId)}/addresses`;
        const saved = address
          ? await api(`${base}/${encodeURIComponent(address.id)}`, { method: "PUT", body: formValues(form) })
          : await api(base, { method: "POST", body: formValues(form) });
        onSaved(saved);
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

/** A section that shows `summary` until its button opens `makeForm(close)` in its place. */
function editable({ button, makeForm }) {
  const slot = h("div");
  const open = h("button", { type: "button", class: "button button-secondary" }, button);
  function close() {
    fill(slot);
    open.hidden = false;
    open.focus();
  }
  open.addEventListener("click", () => {
    open.hidden = true;
    const form = makeForm(close);
    fill(slot, form);
    form.querySelector("input")?.focus();
  });
  return { open, slot, close };
}

function profileFacts(user) {
  return [
    h("dt", null, "Username"),
    h("dd", null, user.username ?? ""),
    h("dt", null, "Name"),
    h("dd", null, [user.first_name, user.last_name].filter(Boolean).join(" ")),
    h("dt", null, "E-mail"),
    h(
      "dd",
      null,
      user.email ?? "",
      user.email_verified === false ? h("span", { class: "badge badge-warning" }, "Not confirmed") : null,
      user.email_verified === true ? h("span", { class: "badge" }, "Confirmed") : null,
    ),
    h("dt", null, "Customer id"),
    h("dd", null, h("code", { id: "customer-id" }, user.user_id)),
  ];
}

function profileForm(ctx, close) {
  const user = session.user();
  const box = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-label": "Edit profile" },
    box,
    h(
      "div",
      { class: "row" },
      field({ label: "First name", name: "first_name", value: user.first_name ?? "", required: true, autocomplete: "given-name" }),
      field({ label: "Last name", name: "last_name", value: user.last_name ?? "", required: true, autocomplete: "family-name" }),
    ),
    field({
      label: "E-mail",
      name: "email",
      type: "email",
      value: user.email ?? "",
      required: true,
      autocomplete: "email",
      hint: "A new address must be confirmed through the link we send to it before you can order again.",
    }),
    field({
      label: "Current password",
      name: "current_password",
      type: "password",
      autocomplete: "current-password",
      hint: "Needed only to change the e-mail address.",
    }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "button" }, "Save profile"),
      h("button", { type: "button", class: "button button-secondary", onclick: close }, "Cancel"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    const values = formValues(form);
    // Send only what changed: an unchanged e-mail must not start a new verification.
    const body = {};
    for (const name of ["first_name", "last_name", "email"]) {
      if (values[name].trim() !== String(user[name] ?? "")) body[name] = values[name];
    }
    if (body.email) body.current_password = values.current_password;
    if (Object.keys(body).length === 0) {
      close();
      return;
    }
    await busy(form.querySelector("button[type=submit]"), "Saving…", async () => {
      try {
        const updated = await api(`/auth/user/${encodeURIComponent(user.user_id)}`, { method: "PATCH", body });
        session.setUser({ ...updated, user_id: user.user_id });
        ctx.flash(
          body.email
            ? `Profile saved. We sent a link to ${updated.email}: open it to confirm the new address.`
            : "Profile saved.",
          { keep: true },
        );
        ctx.navigate("/account");
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return form;
}

function passwordForm(ctx, close) {
  const user = session.user();
  const box = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-label": "Change password" },
    box,
    field({ label: "Current password", name: "current_password", type: "password", required: true, autocomplete: "current-password" }),
    ...newPasswordFields(),
    h("p", { class: "muted small" }, "Changing the password logs you out everywhere, on this device too."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "button" }, "Change password"),
      h("button", { type: "button", class: "button button-secondary", onclick: close }, "Cancel"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    if (!passwordsMatch(form)) return;
    const { current_password, new_password } = formValues(form);
    await busy(form.querySelector("button[type=submit]"), "Saving…", async () => {
      try {
        await api(`/auth/user/${encodeURIComponent(user.user_id)}/password`, {
          method: "PUT",
          body: { current_password, new_password },
        });
        // The server ended every session, this one included.
        session.logout();
        ctx.flash("Your password is changed, and you are logged out everywhere. Log in with the new password.", {
          keep: true,
        });
        ctx.navigate(`/login?${new URLSearchParams({ username: user.username ?? "", next: "/account" })}`);
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return form;
}

export async function accountView(ctx) {
  const user = session.user();
  let addresses = await loadAddresses();
  const list = h("ul", { class: "address-list" });
  const addButton = h("button", { type: "button", class: "button button-secondary" }, "Add an address");
  const formSlot = h("div");
  const listBox = alertBox();

  async function reload() {
    addresses = await loadAddresses().catch(() => addresses);
    renderList();
  }

  function deleteQuestion(card, address) {
    const yes = h("button", { type: "button", class: "button button-danger button-small" }, "Yes, delete it");
    const no = h("button", { type: "button", class: "button button-secondary button-small" }, "Keep it");
    const question = h(
      "div",
      { class: "confirm", role: "group", "aria-label": "Delete this address?" },
      h("p", null, address.is_default && addresses.length > 1 ? "Delete your default address? Your newest other address becomes the default." : "Delete this address? Orders already placed keep their copy."),
      h("div", { class: "actions" }, yes, no),
    );
    no.addEventListener("click", () => {
      question.remove();
      card.querySelector(".address-actions")?.removeAttribute("hidden");
      card.querySelector("button")?.focus();
    });
    yes.addEventListener("click", () =>
      busy(yes, "Deleting…", async () => {
        try {
          await api(`/auth/user/${encodeURIComponent(user.user_id)}/addresses/${encodeURIComponent(address.id)}`, {
            method: "DELETE",
          });
          ctx.flash("Address deleted.");
          await reload();
          addButton.focus();
        } catch (error) {
          showAlert(listBox, describeError(error));
        }
      }),
    );
    return question;
  }

  function addressCard(address) {
    const edit = h("button", { type: "button", class: "link-button" }, "Edit");
    const remove = h("button", { type: "button", class: "link-button" }, "Delete");
    const actions = h("div", { class: "address-actions" }, edit, remove);
    const card = h(
      "li",
      { class: "address-card" },
      addressBlock(address),
      address.is_default ? h("span", { class: "badge" }, "Default") : null,
      actions,
    );
    edit.setAttribute("aria-label", `Edit address ${address.street}`);
    remove.setAttribute("aria-label", `Delete address ${address.street}`);
    edit.addEventListener("click", () => {
      const editing = h("li", { class: "address-card address-editing" });
      const form = addressForm({
        address,
        onCancel: () => {
          editing.replaceWith(card);
          edit.focus();
        },
        onSaved: async () => {
          ctx.flash("Address saved.");
          await reload();
        },
      });
      fill(editing, form);
      card.replaceWith(editing);
      form.querySelector("input")?.focus();
    });
    remove.addEventListener("click", () => {
      actions.hidden = true;
      card.append(deleteQuestion(card, address));
      card.querySelector(".confirm button")?.focus();
    });
    return card;
  }

  function renderList() {
    showAlert(listBox, "");
    fill(list, ...(addresses.length ? addresses.map(addressCard) : [h("li", { class: "muted" }, "No addresses yet.")]));
  }
  function closeForm() {
    fill(formSlot);
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

  const profile = editable({ button: "Edit profile", makeForm: (close) => profileForm(ctx, close) });
  const password = editable({ button: "Change password", makeForm: (close) => passwordForm(ctx, close) });

  return h(
    "section",
    null,
    h("h1", null, "Your account"),
    h("dl", { class: "facts profile" }, ...profileFacts(user)),
    h("div", { class: "actions" }, profile.open, password.open),
    profile.slot,
    password.slot,
    h("h2", null, "Shipping addresses"),
    listBox,
    list,
    addButton,
    formSlot,
  );
}

// The pages behind the e-mailed links and around the password: confirm an e-mail address,
// forgot password, choose a new password with the reset link; and the "please confirm your
// e-mail" notice with its "send it again" button (the banner, the checkout).

import { ApiError, api, describeError } from "../api.js";
import { alertBox, field, h, showAlert } from "../dom.js";
import { busy, clearErrors, formValues, showErrors } from "../forms.js";
import { session } from "../state.js";

/** Ask for a new verification e-mail (POST /auth/verify-email/resend); the answer goes in `box`. */
export async function resendVerification(box) {
  try {
    await api("/auth/verify-email/resend", { method: "POST" });
    showAlert(box, `We sent a new link to ${session.user()?.email ?? "your e-mail address"}. It may take a minute to arrive.`, "success");
  } catch (error) {
    if (error instanceof ApiError && error.code === "email_already_verified") {
      session.setUser({ ...session.user(), email_verified: true });
    }
    showAlert(box, describeError(error), error?.code === "email_already_verified" ? "success" : "error");
  }
}

/** "Please confirm your e-mail address" with a resend button; null when there is nothing to say. */
export function verifyNotice({ className = "verify-notice" } = {}) {
  const user = session.user();
  if (!user || user.email_verified !== false) return null;
  const box = alertBox();
  const resend = h("button", { type: "button", class: "button button-secondary button-small" }, "Send the e-mail again");
  resend.addEventListener("click", () => busy(resend, "Sending…", () => resendVerification(box)));
  return h(
    "div",
    { class: className, role: "region", "aria-label": "Confirm your e-mail address" },
    h(
      "p",
      null,
      h("strong", null, "Please confirm your e-mail address. "),
      `We sent a link to ${user.email ?? "your address"}; open it to be able to place orders.`,
    ),
    h("div", { class: "actions" }, resend),
    box,
  );
}

/** `#/verify-email?token=…`: the link in the verification e-mail. */
export async function verifyEmailView(ctx) {
  const token = ctx.query.get("token") ?? "";
  const box = alertBox();
  const title = h("h1", null, "Confirm your e-mail address");
  const section = h("section", { class: "narrow" }, title, box);
  // The token is single-use: keep it out of the history once it has been read.
  globalThis.history?.replaceState(null, "", "#/verify-email");
  if (!token) {
    showAlert(box, "This link is incomplete. Open the link from the e-mail again, or copy all of it.");
    section.append(verifyNotice() ?? h("p", null, h("a", { href: "#/login" }, "Log in"), " to have a new link sent."));
    return section;
  }
  try {
    const user = await api("/auth/verify-email", { method: "POST", body: { token }, auth: false });
    const me = session.user();
    if (me && String(me.user_id) === String(user.id)) {
      session.setUser({ ...me, ...user, user_id: me.user_id });
      // The gateway remembers "not verified" for the current access token for up to a minute:
      // a new one lets the customer order at once.
      await session.renew();
    }
    title.textContent = "E-mail address confirmed";
    section.append(
      h("p", { class: "alert alert-success", role: "status" }, `Thank you: ${user.email} is confirmed. You can place orders now.`),
      h(
        "p",
        null,
        session.user() ? h("a", { href: "#/cart", class: "button" }, "Go to your cart") : h("a", { href: `#/login?${new URLSearchParams({ username: user.username })}`, class: "button" }, "Log in"),
      ),
    );
  } catch (error) {
    showAlert(box, describeError(error));
    if (session.user()?.email_verified) {
      section.append(h("p", null, "Your e-mail address is confirmed already: nothing more to do."));
    } else {
      section.append(verifyNotice() ?? h("p", null, h("a", { href: "#/login" }, "Log in"), " to have a new link sent."));
    }
  }
  return section;
}

/** `#/forgot-password`: ask for a reset link. The answer never says whether the address has an account. */
export async function forgotPasswordView(ctx) {
  const box = alertBox();
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "forgot-title" },
    box,
    field({ label: "E-mail", name: "email", type: "email", required: true, autocomplete: "email", value: ctx.query.get("email") ?? "" }),
    h("button", { type: "submit", class: "button" }, "Send me a link"),
  );
  const done = h("div", { hidden: true, role: "status", class: "alert alert-success" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    const { email } = formValues(form);
    await busy(form.querySelector("button[type=submit]"), "Sending…", async () => {
      try {
        await api("/auth/password-reset", { method: "POST", body: { email }, auth: false });
        done.textContent = `If an account uses ${email}, we have sent it a link to choose a new password. The link works once, for 30 minutes.`;
        done.hidden = false;
        form.hidden = true;
        done.setAttribute("tabindex", "-1");
        done.focus();
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return h(
    "section",
    { class: "narrow" },
    h("h1", { id: "forgot-title" }, "Forgot your password?"),
    h("p", null, "Enter the e-mail address of your account, and we will send you a link to choose a new password."),
    form,
    done,
    h("p", null, h("a", { href: "#/login" }, "Back to log in")),
  );
}

/** The two password fields of a "new password" form, checked to match before sending. */
export function newPasswordFields() {
  return [
    field({
      label: "New password",
      name: "new_password",
      type: "password",
      required: true,
      autocomplete: "new-password",
      hint: "8 to 128 characters; not a common password, and not your username.",
    }),
    field({ label: "New password again", name: "new_password_again", type: "password", required: true, autocomplete: "new-password" }),
  ];
}

/** The "again" field must match; true when it does (else it says so next to the field). */
export function passwordsMatch(form) {
  const { new_password: first, new_password_again: second } = formValues(form);
  if (first === second) return true;
  const slot = form.querySelector('.field-error[data-for="new_password_again"]');
  const input = form.elements.namedItem("new_password_again");
  slot.textContent = "The two passwords are not the same.";
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return false;
}

/** `#/reset-password?token=…`: the link in the password reset e-mail. */
export async function resetPasswordView(ctx) {
  const token = ctx.query.get("token") ?? "";
  globalThis.history?.replaceState(null, "", "#/reset-password");
  const box = alertBox();
  const again = h("p", { hidden: true }, h("a", { href: "#/forgot-password" }, "Ask for a new link"));
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "reset-title" },
    box,
    ...newPasswordFields(),
    h("button", { type: "submit", class: "button" }, "Save the new password"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    if (!passwordsMatch(form)) return;
    const { new_password } = formValues(form);
    await busy(form.querySelector("button[type=submit]"), "Saving…", async () => {
      try {
        await api("/auth/password-reset/confirm", { method: "POST", body: { token, new_password }, auth: false });
        // A reset ends every session, this browser's too.
        session.logout();
        ctx.flash("Your password is changed, and you are logged out everywhere. Log in with the new password.", { keep: true });
        ctx.navigate("/login");
      } catch (error) {
        showErrors(form, box, error);
        again.hidden = !(error instanceof ApiError && error.code === "invalid_token");
      }
    });
  });
  if (!token) {
    showAlert(box, "This link is incomplete. Open the link from the e-mail again, or ask for a new one.");
    again.hidden = false;
  }
  return h(
    "section",
    { class: "narrow" },
    h("h1", { id: "reset-title" }, "Choose a new password"),
    form,
    again,
  );
}

// What the shopper reads when something goes wrong. The API answers with stable codes and, for a
// 422, pydantic's `details` ({loc, msg, type}); those are written for developers, so this module
// turns them into one short sentence per field, and one sentence for everything else.
// Pure functions only (no DOM, no fetch), so tests/js can check them in node.

/** Per API field: its name in a sentence, and sentences for the rules a person can break. */
const FIELDS = {
  username: {
    missing: "Choose a username.",
    pattern: "Use 3 to 32 characters: letters, digits, dots, dashes or underscores.",
  },
  email: { missing: "Enter your e-mail address.", invalid: "Enter an e-mail address like name@example.com." },
  first_name: { missing: "Enter your first name." },
  last_name: { missing: "Enter your last name." },
  password: { missing: "Choose a password." },
  new_password: { missing: "Choose a new password." },
  current_password: { missing: "Enter your current password." },
  new_password_again: {},
  street: { missing: "Enter the street and house number." },
  city: { missing: "Enter the city." },
  state: { missing: "Enter the state or region." },
  postal_code: { missing: "Enter the postal code." },
  country: { missing: "Enter the country." },
  carrier: { missing: "Enter the carrier (e.g. DHL)." },
  tracking_number: { missing: "Enter the tracking number." },
  note: {},
  query: { missing: "Enter a username or the start of an e-mail address." },
  order_number: { pattern: "An order number looks like ORD-2026-000042." },
};

/** Codes whose message belongs next to one field rather than on top of the form. */
export const FIELD_FOR_CODE = {
  username_taken: "username",
  email_taken: "email",
  weak_password: "password",
  wrong_password: "current_password",
  current_password_required: "current_password",
};

/**
 * On a form that sets a new password (change, reset), the weak-password complaint belongs to
 * the new password's field.
 */
export function fieldForCode(code, hasField) {
  const name = FIELD_FOR_CODE[code];
  if (name === "password" && !hasField("password") && hasField("new_password")) return "new_password";
  return name;
}

/** Our own words for the API's codes; the API's message is kept for codes not listed here. */
const CODE_MESSAGES = {
  username_taken: "This username is taken. Choose another one.",
  email_taken: "An account with this e-mail address already exists. Log in instead, or use another address.",
  weak_password:
    "This password is too easy to guess (a common password, or too close to your username or e-mail). Choose another one.",
  invalid_credentials: "Wrong username or password.",
  email_not_verified:
    "Please confirm your e-mail address before you order: open the link in the e-mail we sent you (or have a new one sent).",
  email_already_verified: "Your e-mail address is already confirmed.",
  wrong_password: "That is not your current password.",
  invalid_refresh_token: "Your session has ended. Please log in again.",
  refresh_token_reused: "Your session has ended. Please log in again.",
  cannot_change_own_admin: "You cannot take away your own staff rights or deactivate yourself.",
  address_not_found: "That shipping address is no longer in your address book. Choose or add another one.",
  unknown_product: "A product in your cart is no longer sold. Remove it from the cart and try again.",
  quantity_too_large: "At most 100 of one product fit in one order.",
  invalid_transition: "This order has moved on in the meantime. Reload the page to see its current status.",
  status_conflict: "This order was changed by someone else just now. Reload the page to see its current status.",
  order_not_found: "There is no such order.",
  user_not_found: "There is no such customer.",
  product_not_found: "There is no such product.",
  forbidden: "You are not allowed to do that.",
  payload_too_large: "That is more than the shop can take in one go.",
  unsupported_media_type: "The shop could not read that request. Reload the page and try again.",
};

/** A verification or reset link that was used already, expired, or was mangled on the way. */
export const LINK_TOKEN_MESSAGE =
  "This link no longer works: it was used already, or it has expired. Ask for a new one below.";

const RATE_LIMITS = {
  order_rate_limited: "You have placed several orders in a short time.",
  too_many_login_attempts: "Too many failed log-ins for this username.",
  too_many_verification_emails: "We have sent you several confirmation e-mails in a short time.",
};

/** "283" → "5 minutes": how long to wait, rounded up to what a person would say. */
export function waitText(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  if (s < 3600) {
    const minutes = Math.ceil(s / 60);
    return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  }
  const hours = Math.ceil(s / 3600);
  return `${hours} hour${hours === 1 ? "" : "s"}`;
}

function sentence(text) {
  const t = String(text ?? "").trim();
  if (!t) return "";
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function limitIn(msg) {
  const match = /(\d+)/.exec(String(msg ?? ""));
  return match ? Number(match[1]) : null;
}

/** The API field a 422 detail is about (`loc: ["body", "street"]`), or null for the whole request. */
export function detailField(detail) {
  const loc = Array.isArray(detail?.loc) ? detail.loc.map(String) : [];
  const parts = ["body", "query", "path", "header"].includes(loc[0]) ? loc.slice(1) : loc;
  return parts.length === 1 ? parts[0] : null;
}

/**
 * One human sentence for one 422 detail. `label` is the field's visible label ("Postal code"),
 * used when this module has no words of its own for the field.
 */
export function fieldMessage(detail, label) {
  const name = detailField(detail);
  const own = FIELDS[name] ?? {};
  const loc = Array.isArray(detail?.loc) ? detail.loc.map(String) : [];
  const last = [...loc].reverse().find((part) => !/^\d+$/.test(part) && !["body", "query", "path", "header"].includes(part));
  const what = label ? label.toLowerCase() : last ? last.replace(/_/g, " ") : null;
  const the = what ? `the ${what}` : "this field";
  const type = String(detail?.type ?? "");
  const limit = limitIn(detail?.msg);
  const missing = own.missing ?? (what ? `Enter the ${what}.` : "Fill in this field.");
  if (type === "missing" || (type === "string_too_short" && (limit === null || limit <= 1))) return missing;
  if (type === "string_too_short") return `Use at least ${limit} characters.`;
  if (type === "string_too_long") return `Use at most ${limit} characters.`;
  if (type === "greater_than") return `Use a number greater than ${limit}.`;
  if (type === "greater_than_equal") return `Use ${limit} or more.`;
  if (type === "less_than") return `Use a number less than ${limit}.`;
  if (type === "less_than_equal") return `Use ${limit} or less.`;
  if (type === "string_pattern_mismatch") return own.pattern ?? own.invalid ?? `Check ${the}: it is not in the expected form.`;
  if (type === "value_error") return own.invalid ?? sentence(String(detail?.msg ?? "").replace(/^Value error, /, ""));
  if (type.startsWith("int_") || type.startsWith("float_")) return "Enter a number.";
  if (type === "enum" || type === "literal_error") return `Choose one of the offered values for ${the}.`;
  return own.invalid ?? `Check ${the}.`;
}

/**
 * A 422's details as {field: message} for the fields the form has (`hasField(name)`), plus the
 * sentences for the rest. Each field gets one message, and no sentence is said twice.
 */
export function fieldErrors(details, hasField = () => true, labelOf = () => null) {
  const fields = {};
  const rest = [];
  for (const detail of Array.isArray(details) ? details : []) {
    const name = detailField(detail);
    if (name && hasField(name)) {
      if (!(name in fields)) fields[name] = fieldMessage(detail, labelOf(name));
    } else {
      const text = fieldMessage(detail, null);
      if (!rest.includes(text)) rest.push(text);
    }
  }
  return { fields, rest };
}

/**
 * One sentence for any failed request: `error` is an ApiError ({status, code, message,
 * retryAfter}) or anything else thrown.
 */
export function describeError(error) {
  if (!error || typeof error.status !== "number") return "Something went wrong. Please try again.";
  if (error.status === 0) return error.message || "The shop could not be reached. Check your connection and try again.";
  if (error.status === 429) {
    const why = RATE_LIMITS[error.code] ?? "Too many attempts in a short time.";
    const when = error.retryAfter == null ? "in a few minutes" : `in ${waitText(error.retryAfter)}`;
    return `${why} Please try again ${when}.`;
  }
  // A 400 invalid_token is a link from an e-mail (verification, password reset); a 401 is the session.
  if (error.code === "invalid_token" && error.status === 400) return LINK_TOKEN_MESSAGE;
  if (CODE_MESSAGES[error.code]) return CODE_MESSAGES[error.code];
  if (error.status >= 500) return "The shop is having trouble right now. Please try again in a moment.";
  if (error.status === 422 && Array.isArray(error.details) && error.details.length) {
    return fieldErrors(error.details, () => false).rest.join(" ");
  }
  return sentence(error.message) || "Something went wrong. Please try again.";
}

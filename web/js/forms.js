// Showing the server's answer on a form: 422 `details` next to their fields, the rest on top.

import { describeError } from "./api.js";
import { showAlert } from "./dom.js";

function readable(detail, form, name) {
  // A regex in a message helps nobody: the field's hint says what is allowed.
  if (detail.type === "string_pattern_mismatch" && name) {
    const hint = form.elements.namedItem(name)?.closest?.(".field")?.querySelector(".hint")?.textContent;
    if (hint) return `Not valid here. ${hint}`;
  }
  // pydantic prefixes custom validators' messages; the user only needs the reason.
  const text = String(detail.msg ?? "").replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function clearErrors(form, box) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (box) showAlert(box, "");
}

function markField(form, name, message) {
  const input = form.elements.namedItem(name);
  const slot = form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
  if (!input || !slot || typeof input.setAttribute !== "function") return false;
  slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
  input.setAttribute("aria-invalid", "true");
  return true;
}

/**
 * Put an API error on a form. `guess` maps a 409's code/message to a field (e.g. a taken e-mail).
 * Focuses the first field in error, or the alert box.
 */
export function showErrors(form, box, error, guess) {
  clearErrors(form, box);
  const unplaced = [];
  let placed = 0;
  for (const detail of error?.details ?? []) {
    const loc = Array.isArray(detail.loc) ? detail.loc : [];
    const name = loc[0] === "body" ? loc[1] : loc[loc.length - 1];
    if (loc.length <= 2 && typeof name === "string" && markField(form, name, readable(detail, form, name))) placed += 1;
    else unplaced.push(readable(detail, form, null));
  }
  if (placed === 0 && guess) {
    const name = guess(error);
    if (name && markField(form, name, error.message)) placed += 1;
  }
  if (placed > 0) {
    showAlert(box, unplaced.length ? unplaced.join(" ") : "Please correct the fields marked below.");
    form.querySelector("[aria-invalid='true']")?.focus();
  } else {
    showAlert(box, describeError(error));
    box.setAttribute("tabindex", "-1");
    box.focus();
  }
}

/** The form's fields as an object (checkboxes as booleans). */
export function formValues(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") values[el.name] = el.checked;
    else if (el.type === "radio") {
      if (el.checked) values[el.name] = el.value;
    } else values[el.name] = el.value;
  }
  return values;
}

/** Disable a form's submit button while a request runs, so a double click sends once. */
export async function busy(button, label, work) {
  const original = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (label) button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = original;
  }
}

// Showing the server's answer on a form: each 422 detail as one human sentence next to its field
// (messages.js has the words), a code that belongs to a field (e.g. a taken e-mail) next to that
// field, and everything else once, on top.

import { describeError, fieldErrors, fieldForCode } from "./messages.js";
import { showAlert } from "./dom.js";

function slotFor(form, name) {
  return form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
}

function inputFor(form, name) {
  const input = form.elements.namedItem(name);
  return input && typeof input.setAttribute === "function" ? input : null;
}

function labelFor(form, name) {
  const input = inputFor(form, name);
  const label = input?.id ? form.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
  return label?.textContent?.trim() || null;
}

export function clearErrors(form, box) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (box) showAlert(box, "");
}

function markField(form, name, message) {
  const input = inputFor(form, name);
  const slot = slotFor(form, name);
  if (!input || !slot) return false;
  slot.textContent = message;
  input.setAttribute("aria-invalid", "true");
  // Once the person changes the field, the old complaint about it no longer holds.
  input.addEventListener(
    "input",
    () => {
      slot.textContent = "";
      input.removeAttribute("aria-invalid");
    },
    { once: true },
  );
  return true;
}

/**
 * Put an API error on a form. Focuses the first field in error, or the alert box.
 */
export function showErrors(form, box, error) {
  clearErrors(form, box);
  const hasField = (name) => Boolean(inputFor(form, name) && slotFor(form, name));
  const { fields, rest } = fieldErrors(error?.details, hasField, (name) => labelFor(form, name));
  const codeField = fieldForCode(error?.code, hasField);
  if (codeField && hasField(codeField) && !(codeField in fields)) fields[codeField] = describeError(error);
  let placed = 0;
  for (const [name, message] of Object.entries(fields)) if (markField(form, name, message)) placed += 1;
  if (placed > 0) {
    // The fields say what is wrong; on top only what belongs to no field (never a repeat).
    showAlert(box, rest.length ? rest.join(" ") : `Please correct the ${placed === 1 ? "field" : "fields"} marked below.`);
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

// Putting an API error on a form (web/js/forms.js): each field says its own thing once, the box
// on top says only what belongs to no field.
import { text } from "./dom-env.js";

import assert from "node:assert/strict";
import { describe, it } from "node:test";

const { ApiError } = await import("../../web/js/api.js");
const { alertBox, field, h } = await import("../../web/js/dom.js");
const { showErrors } = await import("../../web/js/forms.js");

function addressForm() {
  const box = alertBox();
  const form = h(
    "form",
    null,
    box,
    field({ label: "Street and number", name: "street" }),
    field({ label: "Postal code", name: "postal_code" }),
    field({ label: "City", name: "city" }),
    field({ label: "State or region", name: "state" }),
    field({ label: "Country", name: "country" }),
  );
  document.body.append(form);
  return { form, box };
}

const errorOf = (form, name) => text(form.querySelector(`.field-error[data-for="${name}"]`));
const tooShort = (name) => ({ loc: ["body", name], msg: "String should have at least 1 character", type: "string_too_short" });

describe("showErrors", () => {
  it("gives each empty field its own sentence and says on top only to look below", () => {
    const { form, box } = addressForm();
    const details = ["street", "city", "state", "postal_code", "country"].map(tooShort);
    showErrors(form, box, new ApiError(422, { message: "Invalid request: street: String should…", code: "validation_error", details }));
    const messages = ["street", "postal_code", "city", "state", "country"].map((name) => errorOf(form, name));
    assert.deepEqual(messages, [
      "Enter the street and house number.",
      "Enter the postal code.",
      "Enter the city.",
      "Enter the state or region.",
      "Enter the country.",
    ]);
    assert.equal(text(box), "Please correct the fields marked below.");
    assert.equal(form.querySelectorAll("[aria-invalid='true']").length, 5);
    assert.doesNotMatch(text(form), /String should|Invalid request/);
  });

  it("puts a detail for a field the form lacks on top, once", () => {
    const { form, box } = addressForm();
    const details = [tooShort("city"), { loc: ["body", "items", "0", "quantity"], msg: "Input should be greater than 0", type: "greater_than" }, { loc: ["body", "items", "1", "quantity"], msg: "Input should be greater than 0", type: "greater_than" }];
    showErrors(form, box, new ApiError(422, { details }));
    assert.equal(errorOf(form, "city"), "Enter the city.");
    assert.equal(text(box), "Use a number greater than 0.");
  });

  it("places a code that belongs to a field next to it", () => {
    const box = alertBox();
    const form = h("form", null, box, field({ label: "E-mail", name: "email" }));
    document.body.append(form);
    showErrors(form, box, new ApiError(409, { message: "E-mail address is already registered", code: "email_taken" }));
    assert.match(errorOf(form, "email"), /already exists/);
    assert.equal(text(box), "Please correct the field marked below.");
  });

  it("says a refusal that belongs to no field on top, in the shop's words", () => {
    const { form, box } = addressForm();
    showErrors(form, box, new ApiError(429, { message: "Too many orders… Try again in 283 seconds.", code: "order_rate_limited" }, 283));
    assert.equal(text(box), "You have placed several orders in a short time. Please try again in 5 minutes.");
    assert.equal(form.querySelectorAll("[aria-invalid='true']").length, 0);
  });

  it("drops a field's complaint once the person edits that field", () => {
    const { form, box } = addressForm();
    showErrors(form, box, new ApiError(422, { details: [tooShort("city"), tooShort("country")] }));
    const city = form.querySelector('[name="city"]');
    city.dispatchEvent(new window.Event("input"));
    assert.equal(errorOf(form, "city"), "");
    assert.equal(city.hasAttribute("aria-invalid"), false);
    assert.equal(errorOf(form, "country"), "Enter the country.");
  });
});

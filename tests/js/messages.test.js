// The wording a shopper reads for an API error (web/js/messages.js).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { describeError, detailField, fieldErrors, fieldMessage, waitText } from "../../web/js/messages.js";

const tooShort = (field, n) => ({ loc: ["body", field], msg: `String should have at least ${n} character${n === 1 ? "" : "s"}`, type: "string_too_short" });

describe("field messages", () => {
  it("says what to do, not how pydantic puts it", () => {
    assert.equal(fieldMessage(tooShort("password", 8)), "Use at least 8 characters.");
    assert.equal(fieldMessage({ loc: ["body", "note"], msg: "String should have at most 500 characters", type: "string_too_long" }), "Use at most 500 characters.");
    assert.equal(
      fieldMessage({ loc: ["body", "username"], msg: "String should match pattern '^[A-Za-z0-9_.-]{3,32}$'", type: "string_pattern_mismatch" }),
      "Use 3 to 32 characters: letters, digits, dots, dashes or underscores.",
    );
    assert.equal(
      fieldMessage({ loc: ["body", "email"], msg: "Value error, must be a valid e-mail address", type: "value_error" }),
      "Enter an e-mail address like name@example.com.",
    );
  });

  it("names the empty field instead of 'at least 1 character'", () => {
    assert.equal(fieldMessage(tooShort("street", 1)), "Enter the street and house number.");
    assert.equal(fieldMessage(tooShort("city", 1)), "Enter the city.");
    assert.equal(fieldMessage(tooShort("nickname", 1), "Nick name"), "Enter the nick name.");
    assert.equal(fieldMessage({ loc: ["body", "carrier"], msg: "Field required", type: "missing" }), "Enter the carrier (e.g. DHL).");
  });

  it("finds the field in loc", () => {
    assert.equal(detailField({ loc: ["body", "street"] }), "street");
    assert.equal(detailField({ loc: ["query", "limit"] }), "limit");
    assert.equal(detailField({ loc: ["body", "items", "0", "quantity"] }), null);
    assert.equal(detailField({}), null);
  });
});

describe("fieldErrors", () => {
  it("gives the empty address form five different messages, one per field, and nothing on top", () => {
    const details = ["street", "city", "state", "postal_code", "country"].map((f) => tooShort(f, 1));
    const { fields, rest } = fieldErrors(details);
    assert.deepEqual(Object.keys(fields), ["street", "city", "state", "postal_code", "country"]);
    assert.equal(new Set(Object.values(fields)).size, 5);
    assert.deepEqual(rest, []);
  });

  it("says each thing once: one message per field, no repeated sentence on top", () => {
    const details = [tooShort("password", 8), { ...tooShort("password", 8), type: "string_too_long" }, tooShort("zip", 1), tooShort("zip", 1)];
    const { fields, rest } = fieldErrors(details, (name) => name === "password");
    assert.deepEqual(fields, { password: "Use at least 8 characters." });
    assert.deepEqual(rest, ["Enter the zip."]);
  });

  it("words number limits and nested fields without pydantic's phrasing", () => {
    const gt = { loc: ["body", "items", "0", "quantity"], msg: "Input should be greater than 0", type: "greater_than" };
    const le = { loc: ["body", "items", "1", "quantity"], msg: "Input should be less than or equal to 100", type: "less_than_equal" };
    assert.equal(fieldMessage(gt), "Use a number greater than 0.");
    assert.equal(fieldMessage(le), "Use 100 or less.");
    assert.equal(fieldMessage({ loc: ["body", "items", "0", "product_id"], type: "int_parsing" }), "Enter a number.");
    assert.equal(fieldMessage({ loc: ["body"], msg: "something", type: "model_attributes_type" }), "Check this field.");
    assert.equal(fieldMessage({ loc: ["body", "status"], type: "enum" }), "Choose one of the offered values for the status.");
  });

  it("uses the form's label for fields it has no words of its own for", () => {
    const { fields } = fieldErrors([tooShort("nickname", 1)], () => true, () => "Display name");
    assert.equal(fields.nickname, "Enter the display name.");
  });
});

describe("describeError", () => {
  const error = (status, body = {}, retryAfter = null) => ({ status, code: body.code ?? null, message: body.message ?? "", details: body.details ?? [], retryAfter });

  it("says the wait once, in words a person uses", () => {
    const text = describeError(error(429, { code: "order_rate_limited", message: "Too many orders: at most 3 every 300 seconds. Try again in 283 seconds." }, 283));
    assert.equal(text, "You have placed several orders in a short time. Please try again in 5 minutes.");
    assert.doesNotMatch(text, /283|seconds/);
    assert.equal((text.match(/try again/gi) ?? []).length, 1);
  });

  it("rounds waits up to seconds, minutes or hours", () => {
    assert.equal(waitText(1), "1 second");
    assert.equal(waitText(45), "45 seconds");
    assert.equal(waitText(60), "1 minute");
    assert.equal(waitText(61), "2 minutes");
    assert.equal(waitText(283), "5 minutes");
    assert.equal(waitText(7200), "2 hours");
  });

  it("has its own words for the codes a shopper meets", () => {
    assert.equal(describeError(error(401, { code: "invalid_credentials", message: "Invalid username or password" })), "Wrong username or password.");
    assert.match(describeError(error(409, { code: "email_taken" })), /already exists/);
    assert.match(describeError(error(403, { code: "email_not_verified" })), /confirm your e-mail/i);
  });

  it("never shows a server error's internals", () => {
    assert.equal(describeError(error(500, { message: "Internal server error", code: "internal_error" })), "The shop is having trouble right now. Please try again in a moment.");
    assert.equal(describeError(new TypeError("x is undefined")), "Something went wrong. Please try again.");
  });

  it("turns a 422 without a form into sentences, not 'Invalid request: street: String should…'", () => {
    const text = describeError(error(422, { message: "Invalid request: street: String should have at least 1 character", details: [tooShort("street", 1)] }));
    assert.equal(text, "Enter the street and house number.");
  });

  it("keeps the API's own message, as a sentence, for other codes", () => {
    assert.equal(describeError(error(400, { code: "something_new", message: "the thing is off" })), "The thing is off.");
  });
});

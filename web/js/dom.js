// Building the page without innerHTML: every piece of data becomes a text node or an attribute
// value, so nothing a user or the catalog supplies is ever parsed as HTML.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "indeterminate"]);
const URL_ATTRIBUTES = new Set(["href", "src", "action"]);

/** Only URLs that cannot run code: http(s), relative paths and in-page hashes, raster data: images. */
export function safeUrl(value) {
  const text = String(value ?? "").trim();
  if (text === "") return "";
  if (/^data:image\/(png|jpe?g|gif|webp);/i.test(text)) return text;
  try {
    const url = new URL(text, document.baseURI);
    return url.protocol === "http:" || url.protocol === "https:" ? text : "";
  } catch {
    return "";
  }
}

/** h("a", {href: "#/"}, "Home", child, [more]) — strings become text nodes, never markup. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) el[key] = value;
    else if (URL_ATTRIBUTES.has(key)) el.setAttribute(key, safeUrl(value));
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/**
 * Replace el's children. Like append(), null/undefined/false are left out: the DOM's own
 * replaceChildren(null) shows the word "null" (eslint.config.js points here instead).
 */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = "f") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * A labelled form field with a slot for its error message (aria-describedby points at it).
 * `name` is the API's field name, so the server's 422 details land next to the right input.
 */
export function field({ label, name, type = "text", value = "", required = false, hint, ...rest }) {
  const id = uid(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input =
    type === "select"
      ? h("select", { id, name, required, "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") })
      : h("input", {
          id,
          name,
          type,
          value,
          required,
          "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
          ...rest,
        });
  if (type === "select") {
    for (const option of rest.options ?? []) {
      input.append(h("option", { value: option.value, selected: option.value === value }, option.label));
    }
  }
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input,
    h("p", { class: "field-error", id: errorId, dataset: { for: name } }),
  );
}

/** A status/alert box; `role=alert` so screen readers announce errors at once. */
export function alertBox(kind = "error") {
  return h("div", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status", hidden: true });
}

export function showAlert(box, message, kind = "error") {
  if (kind) {
    box.className = `alert alert-${kind}`;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
  }
  box.textContent = message;
  box.hidden = !message;
}

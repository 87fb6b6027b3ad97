// A browser-like global scope for the storefront's modules in node: linkedom's DOM, web storage,
// CSS.escape and a fetch the test answers. Import this module before any module from web/js.

import { parseHTML } from "linkedom";

const { window, document } = parseHTML(
  '<!doctype html><html><head><meta name="shop-api-base" content=""></head><body><div id="flash"></div><main id="main"></main></body></html>',
);

class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
  clear() {
    this.#items.clear();
  }
}

/** Answers for fetch: `routes["GET /orders/o1"] = body` (200) or `{status, body, headers}`. */
export const routes = {};
export const requests = [];

async function fakeFetch(url, init = {}) {
  const method = init.method ?? "GET";
  const path = String(url).replace(/^https?:\/\/[^/]+/, "");
  requests.push({ method, path, body: init.body ? JSON.parse(init.body) : undefined });
  const key = `${method} ${path.split("?")[0]}`;
  let answer = routes[`${method} ${path}`] ?? routes[key];
  if (typeof answer === "function") answer = answer({ method, path, body: init.body ? JSON.parse(init.body) : undefined });
  if (answer === undefined) answer = { status: 404, body: { message: "Not found", code: "not_found" } };
  const full = answer && typeof answer.status === "number" && "body" in answer ? answer : { status: 200, body: answer };
  return new Response(full.body === null ? null : JSON.stringify(full.body), {
    status: full.status,
    headers: { "Content-Type": "application/json", ...(full.headers ?? {}) },
  });
}

// linkedom's forms have no `elements`; forms.js reads fields through it.
// (linkedom makes a <form> a plain HTMLElement, so the getter sits there and answers for forms only.)
Object.defineProperty(window.HTMLElement.prototype, "elements", {
  get() {
    if (this.localName !== "form") return undefined;
    const list = [...this.querySelectorAll("input, select, textarea, button")];
    list.namedItem = (name) => list.find((el) => el.getAttribute("name") === name) ?? null;
    return list;
  },
});
// linkedom has no address; dom.js resolves links against it.
Object.defineProperty(document, "baseURI", { value: "http://shop.test/" });
window.SHOP_API_BASE = "";
Object.assign(globalThis, {
  window,
  document,
  Node: window.Node,
  HTMLElement: window.HTMLElement,
  Element: window.Element,
  CustomEvent: window.CustomEvent,
  sessionStorage: new MemoryStorage(),
  localStorage: new MemoryStorage(),
  CSS: { escape: (value) => String(value).replace(/["\\]/g, "\\$&") },
  fetch: fakeFetch,
});
// node's own BroadcastChannel would keep the test process alive; the views' tests run one tab
// (tokens.test.js wires tabs together itself).
globalThis.BroadcastChannel = undefined;

/** The visible words of a node, whitespace collapsed. */
export function text(node) {
  return String(node?.textContent ?? "").replace(/\s+/g, " ").trim();
}

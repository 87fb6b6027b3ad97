// Browsing: the product grid with a category filter and paging, and the product page.

import { ApiError, api } from "../api.js";
import { field, h } from "../dom.js";
import { brandLabel, categoryLabel, money, priceBeforeDiscount } from "../format.js";
import { cart, MAX_QUANTITY, session } from "../state.js";

export const PAGE_SIZE = 12;
let categoriesCache = null;

async function categories() {
  if (!categoriesCache) {
    const body = await api("/products/categories", { auth: false });
    categoriesCache = (body?.categories ?? [])
      .map((c) => (typeof c === "string" ? c : (c?.name ?? c?.slug ?? "")))
      .filter(Boolean);
  }
  return categoriesCache;
}

function positiveInt(value, fallback) {
  const n = Number.parseInt(value ?? "", 10);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The price, and on sale also the price before the discount (struck through) and the percentage:
 * a sale badge without the old price tells the shopper nothing.
 */
function priceLine(product, className) {
  const before = priceBeforeDiscount(product);
  if (before === null) return h("p", { class: className }, h("span", { class: "price-now" }, money(product.price)));
  const off = Number(product.discount);
  return h(
    "p",
    { class: `${className} on-sale` },
    h("span", { class: "price-now" }, money(product.price)),
    " ",
    h("s", { class: "price-before" }, h("span", { class: "sr-only" }, "was "), money(before)),
    " ",
    h("span", { class: "badge badge-sale" }, `Sale: ${off}% off`),
  );
}

export function productImage(product, className) {
  const img = h("img", {
    class: className,
    src: product.image,
    alt: "",
    loading: "lazy",
    decoding: "async",
  });
  // A broken or offline image leaves a tidy placeholder instead of a broken-image icon.
  img.addEventListener("error", () => img.replaceWith(h("div", { class: `${className} img-missing` })), {
    once: true,
  });
  if (!img.getAttribute("src")) return h("div", { class: `${className} img-missing` });
  return img;
}

// Staff do not shop (only customers may order): no cart for them.
const STAFF_NOTE = "Staff accounts do not order: log in as a customer to buy.";

function addToCartButton(product, ctx) {
  if (session.isAdmin()) return null;
  return h(
    "button",
    {
      type: "button",
      class: "button",
      onclick: () => {
        cart.add(product, 1);
        ctx.flash(`Added “${product.title}” to your cart.`);
      },
    },
    "Add to cart",
    h("span", { class: "sr-only" }, `: ${product.title}`),
  );
}

function productCard(product, ctx) {
  const href = `#/products/${encodeURIComponent(product.id)}`;
  return h(
    "li",
    { class: "card", dataset: { productId: String(product.id) } },
    h("a", { href, class: "card-media", tabindex: "-1", "aria-hidden": "true" }, productImage(product, "card-img")),
    h(
      "div",
      { class: "card-body" },
      h("h2", { class: "card-title" }, h("a", { href }, product.title)),
      h(
        "p",
        { class: "muted card-meta" },
        product.brand ? [h("span", { class: "card-brand" }, brandLabel(product.brand)), " · "] : null,
        h("span", { class: "card-category" }, categoryLabel(product.category)),
      ),
      priceLine(product, "price"),
      addToCartButton(product, ctx),
    ),
  );
}

function pageLink(label, page, category, enabled, rel) {
  const query = new URLSearchParams();
  if (category) query.set("category", category);
  if (page > 1) query.set("page", String(page));
  const qs = query.toString();
  return enabled
    ? h("a", { class: "button button-secondary", href: `#/${qs ? `?${qs}` : ""}`, rel }, label)
    : h("span", { class: "button button-secondary is-disabled", "aria-disabled": "true" }, label);
}

export async function listView(ctx) {
  const page = positiveInt(ctx.query.get("page"), 1);
  const category = ctx.query.get("category") ?? "";
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(page) });
  if (category) query.set("category", category);

  const [allCategories, listing] = await Promise.all([
    categories().catch(() => []),
    api(`/products?${query}`, { auth: false }),
  ]);
  const products = Array.isArray(listing?.products) ? listing.products : [];

  const select = field({
    label: "Category",
    name: "category",
    type: "select",
    value: category,
    options: [{ value: "", label: "All categories" }, ...allCategories.map((c) => ({ value: c, label: categoryLabel(c) }))],
  });
  const filter = h(
    "form",
    { class: "filter", role: "search", "aria-label": "Filter products" },
    select,
    h("button", { type: "submit", class: "button button-secondary" }, "Show"),
  );
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = filter.elements.namedItem("category").value;
    ctx.navigate(chosen ? `/?category=${encodeURIComponent(chosen)}` : "/");
  });

  // No totals in the API: "next" stays enabled while a page comes back full.
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    pageLink("← Previous", page - 1, category, page > 1, "prev"),
    h("span", { class: "page-number", "aria-current": "page" }, `Page ${page}`),
    pageLink("Next →", page + 1, category, products.length >= PAGE_SIZE, "next"),
  );

  return h(
    "section",
    { class: "catalog" },
    h("div", { class: "page-head" }, h("h1", null, category ? categoryLabel(category) : "Products"), filter),
    products.length
      ? h("ul", { class: "grid", "aria-label": "Products" }, products.map((p) => productCard(p, ctx)))
      : h("p", { class: "empty" }, page > 1 ? "No more products." : "No products found."),
    pager,
  );
}

export async function productView(ctx) {
  const id = ctx.params.id;
  if (!/^\d+$/.test(id)) throw new ApiError(404, { message: "There is no such product." });
  let product;
  try {
    product = await api(`/products/${id}`, { auth: false });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new ApiError(404, { message: "There is no such product." });
    }
    throw error;
  }

  const quantity = field({
    label: "Quantity",
    name: "quantity",
    type: "number",
    value: "1",
    min: "1",
    max: String(MAX_QUANTITY),
    inputmode: "numeric",
  });
  const form = h(
    "form",
    { class: "add-form", novalidate: true },
    quantity,
    h("button", { type: "submit", class: "button" }, "Add to cart"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const n = Number.parseInt(form.elements.namedItem("quantity").value, 10);
    const slot = form.querySelector(".field-error");
    if (!Number.isInteger(n) || n < 1 || n > MAX_QUANTITY) {
      slot.textContent = `Enter a quantity from 1 to ${MAX_QUANTITY}.`;
      form.elements.namedItem("quantity").setAttribute("aria-invalid", "true");
      form.elements.namedItem("quantity").focus();
      return;
    }
    slot.textContent = "";
    form.elements.namedItem("quantity").removeAttribute("aria-invalid");
    cart.add(product, n);
    ctx.flash(`Added ${n} × “${product.title}” to your cart.`);
  });

  const facts = [
    ["Brand", brandLabel(product.brand)],
    ["Model", product.model],
    ["Color", product.color ? String(product.color).charAt(0).toUpperCase() + String(product.color).slice(1) : ""],
    ["Category", categoryLabel(product.category)],
  ].filter(([, value]) => value);

  return h(
    "article",
    { class: "product" },
    h(
      "p",
      { class: "breadcrumb" },
      h("a", { href: product.category ? `#/?category=${encodeURIComponent(product.category)}` : "#/" }, "← ", categoryLabel(product.category) || "Products"),
    ),
    h(
      "div",
      { class: "product-layout" },
      h("div", { class: "product-media" }, productImage(product, "product-img")),
      h(
        "div",
        { class: "product-info" },
        h("h1", null, product.title),
        priceLine(product, "price price-large"),
        session.isAdmin() ? h("p", { class: "muted staff-note" }, STAFF_NOTE) : form,
        facts.length ? h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])) : null,
        h("p", { class: "description" }, product.description ?? ""),
      ),
    ),
  );
}

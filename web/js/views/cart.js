// The cart and the checkout.

import { ApiError, api, describeError, newIdempotencyKey } from "../api.js";
import { alertBox, fill, h, showAlert, uid } from "../dom.js";
import { verifyNotice } from "./auth.js";
import { addressLines, CHECKOUT_PAYMENT_METHODS, moneyFromCents } from "../format.js";
import { cart, MAX_QUANTITY, session, toCents } from "../state.js";
import { addressForm, loadAddresses } from "./account.js";
import { productImage } from "./catalog.js";

function emptyCart() {
  return h(
    "section",
    null,
    h("h1", null, "Your cart"),
    h("p", { class: "empty" }, "Your cart is empty."),
    h("p", null, h("a", { class: "button", href: "#/" }, "Browse products")),
  );
}

/** Bring titles and prices up to date with the catalog; mark products that are gone. */
async function refreshFromCatalog(items) {
  const gone = new Set();
  await Promise.all(
    items.map(async (item) => {
      try {
        const product = await api(`/products/${item.product_id}`, { auth: false });
        if (Number(product?.id) === item.product_id) cart.refresh(product);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) gone.add(item.product_id);
      }
    }),
  );
  return gone;
}

export async function cartView(ctx) {
  if (cart.items().length === 0) return emptyCart();
  const gone = await refreshFromCatalog(cart.items());
  const items = cart.items();

  const total = h("strong", { id: "cart-total" }, moneyFromCents(cart.totalCents()));
  const heading = h("h1", null, "Your cart");
  const list = h("ul", { class: "cart-lines", "aria-label": "Items in your cart" });

  function updateTotal() {
    total.textContent = moneyFromCents(cart.totalCents());
  }

  for (const item of items) {
    const subtotal = h("span", { class: "line-subtotal" }, moneyFromCents(toCents(item.price) * item.quantity));
    const inputId = uid("qty");
    const input = h("input", {
      id: inputId,
      type: "number",
      min: "1",
      max: String(MAX_QUANTITY),
      inputmode: "numeric",
      value: String(item.quantity),
      class: "qty",
    });
    const apply = (final) => {
      const n = Number.parseInt(input.value, 10);
      if (Number.isInteger(n) && n >= 1 && n <= MAX_QUANTITY) {
        cart.setQuantity(item.product_id, n);
      } else if (final) {
        cart.setQuantity(item.product_id, Number.isInteger(n) && n > MAX_QUANTITY ? MAX_QUANTITY : 1);
      } else {
        return;
      }
      const now = cart.items().find((entry) => entry.product_id === item.product_id);
      if (final) input.value = String(now.quantity);
      subtotal.textContent = moneyFromCents(toCents(now.price) * now.quantity);
      updateTotal();
    };
    input.addEventListener("input", () => apply(false));
    input.addEventListener("change", () => apply(true));

    const line = h(
      "li",
      { class: "cart-line", dataset: { productId: String(item.product_id) } },
      h("a", { href: `#/products/${item.product_id}`, class: "thumb", tabindex: "-1", "aria-hidden": "true" }, productImage(item, "thumb-img")),
      h(
        "div",
        { class: "line-info" },
        h("a", { href: `#/products/${item.product_id}`, class: "line-title" }, item.title),
        h("span", { class: "muted" }, `${moneyFromCents(toCents(item.price))} each`),
        gone.has(item.product_id) ? h("span", { class: "alert-inline" }, "No longer available: please remove it.") : null,
      ),
      h(
        "div",
        { class: "line-qty" },
        h("label", { for: inputId }, "Quantity", h("span", { class: "sr-only" }, ` of ${item.title}`)),
        input,
      ),
      subtotal,
      h(
        "button",
        {
          type: "button",
          class: "button button-secondary button-small",
          onclick: () => {
            cart.remove(item.product_id);
            if (cart.items().length === 0) {
              ctx.flash(`Removed “${item.title}”. Your cart is empty.`, { keep: true });
              ctx.navigate("/cart");
              return;
            }
            line.remove();
            updateTotal();
            ctx.flash(`Removed “${item.title}” from your cart.`);
            heading.setAttribute("tabindex", "-1");
            heading.focus();
          },
        },
        "Remove",
        h("span", { class: "sr-only" }, ` ${item.title}`),
      ),
    );
    list.append(line);
  }

  return h(
    "section",
    null,
    heading,
    list,
    h(
      "div",
      { class: "cart-footer" },
      h("p", { class: "total" }, "Total: ", total),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button button-secondary", href: "#/" }, "Continue shopping"),
        h("a", { class: "button", href: "#/checkout", id: "to-checkout" }, "Checkout"),
      ),
    ),
  );
}

function addressLabel(address) {
  return addressLines(address).join(", ");
}

export async function checkoutView(ctx) {
  if (cart.items().length === 0) return emptyCart();
  let addresses = await loadAddresses();
  const box = alertBox();

  // ---- shipping address: the user's addresses as radios, plus an inline "new address" form
  const addressGroup = h("div", { class: "radio-list" });
  const addButton = h("button", { type: "button", class: "button button-secondary" }, "Add a new address");
  const formSlot = h("div");
  let selected = (addresses.find((a) => a.is_default) ?? addresses[0])?.id ?? null;

  function renderAddresses() {
    fill(addressGroup, 
      ...(addresses.length
        ? addresses.map((a) => {
            const id = uid("addr");
            const radio = h("input", { type: "radio", name: "shipping_address_id", id, value: a.id, checked: a.id === selected });
            radio.addEventListener("change", () => {
              selected = a.id;
            });
            return h(
              "div",
              { class: "radio" },
              radio,
              h("label", { for: id }, addressLabel(a), a.is_default ? h("span", { class: "badge" }, "Default") : null),
            );
          })
        : [h("p", { class: "muted" }, "You have no saved address yet: add one to ship to.")]),
    );
  }
  function openForm() {
    addButton.hidden = true;
    const form = addressForm({
      makeDefault: addresses.length === 0,
      onCancel: addresses.length ? closeForm : null,
      onSaved: async (address) => {
        addresses = await loadAddresses().catch(() => [...addresses, address]);
        selected = address.id;
        renderAddresses();
        closeForm();
        ctx.flash("Address saved and selected.");
      },
    });
    fill(formSlot, form);
    return form;
  }
  function closeForm() {
    formSlot.replaceChildren();
    addButton.hidden = false;
    addButton.focus();
  }
  addButton.addEventListener("click", () => openForm().querySelector("input")?.focus());
  renderAddresses();
  if (addresses.length === 0) openForm();

  // ---- payment: the shop takes no payment online, so it offers what it really does (format.js).
  const methods = CHECKOUT_PAYMENT_METHODS;
  const payment =
    methods.length === 1
      ? h(
          "div",
          { class: "payment-only", id: "payment-method", dataset: { value: methods[0].value } },
          h("p", { class: "payment-name" }, h("strong", null, methods[0].label)),
          h("p", { class: "muted" }, methods[0].hint),
        )
      : h(
          "div",
          { class: "radio-list" },
          methods.map((method, i) => {
            const id = uid("pay");
            return h(
              "div",
              { class: "radio" },
              h("input", { type: "radio", name: "payment_method", id, value: method.value, checked: i === 0 }),
              h("label", { for: id }, method.label, method.hint ? h("span", { class: "hint" }, ` ${method.hint}`) : null),
            );
          }),
        );

  // ---- summary and the order button
  const items = cart.items();
  const place = h("button", { type: "button", class: "button button-large", id: "place-order" }, "Place order");
  // An unverified e-mail cannot order (403 email_not_verified): say so before the click.
  const verifySlot = h("div", { class: "checkout-verify" }, verifyNotice());
  // One Idempotency-Key per checkout attempt: a double click, or a retry after a network error,
  // sends the same key with the same body, so the server creates one order.
  let attempt = null;
  let inFlight = false;

  /** A 403 email_not_verified: confirmed meanwhile (another tab, another device)? Else say so. */
  async function emailNotVerified() {
    const me = await api("/auth/verify-token", { method: "POST" }).catch(() => null);
    if (me?.email_verified) {
      // Confirmed, but the gateway still remembers the old answer for this access token.
      session.setUser(me);
      await session.renew();
      showAlert(box, "Your e-mail address is confirmed now. Please place the order again.");
      return;
    }
    session.setUser({ ...session.user(), ...(me ?? {}), email_verified: false });
    fill(verifySlot, verifyNotice());
  }

  place.addEventListener("click", async () => {
    if (inFlight) return;
    showAlert(box, "");
    const paymentMethod = payment.querySelector("input:checked")?.value ?? payment.dataset.value ?? methods[0].value;
    if (!selected) {
      showAlert(box, "Choose a shipping address, or add one, before placing the order.");
      box.setAttribute("tabindex", "-1");
      box.focus();
      return;
    }
    const body = {
      items: cart.items().map(({ product_id, quantity }) => ({ product_id, quantity })),
      shipping_address_id: selected,
      payment_method: paymentMethod,
    };
    const bodyText = JSON.stringify(body);
    if (!attempt || attempt.body !== bodyText) attempt = { key: newIdempotencyKey(), body: bodyText };

    inFlight = true;
    place.disabled = true;
    place.setAttribute("aria-busy", "true");
    place.textContent = "Placing order…";
    try {
      const order = await api("/orders", { method: "POST", body, headers: { "Idempotency-Key": attempt.key } });
      cart.clear();
      ctx.navigate(`/orders/${encodeURIComponent(order.id)}?placed=1`);
    } catch (error) {
      // A definite refusal (4xx) created nothing: the next try is a new attempt. After a network
      // error or a 5xx the order may exist, so a retry reuses the key.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) attempt = null;
      showAlert(box, describeError(error));
      if (error instanceof ApiError && error.code === "email_not_verified") {
        await emailNotVerified();
      }
      box.setAttribute("tabindex", "-1");
      box.focus();
    } finally {
      inFlight = false;
      place.disabled = false;
      place.removeAttribute("aria-busy");
      place.textContent = "Place order";
    }
  });

  const user = session.user();
  return h(
    "section",
    { class: "checkout" },
    h("h1", null, "Checkout"),
    box,
    verifySlot,
    h(
      "div",
      { class: "checkout-layout" },
      h(
        "div",
        { class: "checkout-main" },
        h("fieldset", null, h("legend", null, "Shipping address"), addressGroup, addButton, formSlot),
        h("fieldset", null, h("legend", null, "Payment"), payment),
      ),
      h(
        "aside",
        { class: "summary", "aria-labelledby": "summary-title" },
        h("h2", { id: "summary-title" }, "Order summary"),
        h(
          "ul",
          { class: "summary-lines" },
          items.map((item) =>
            h(
              "li",
              null,
              h("span", null, `${item.quantity} × ${item.title}`),
              h("span", null, moneyFromCents(toCents(item.price) * item.quantity)),
            ),
          ),
        ),
        h("p", { class: "total" }, "Total: ", h("strong", null, moneyFromCents(cart.totalCents()))),
        h("p", { class: "muted small" }, `Ordering as ${user.username}. The shop confirms the final prices.`),
        place,
        h("p", null, h("a", { href: "#/cart" }, "Back to the cart")),
      ),
    ),
  );
}

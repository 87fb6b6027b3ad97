// Staff pages (admin only): there is no "all orders" route, so staff look orders up per customer.

import { ApiError, api } from "../api.js";
import { alertBox, field, h, showAlert } from "../dom.js";
import { fetchUserOrders, orderRow, pagedOrderList, statusActions } from "./orders.js";
import { STATUS_LABELS } from "../format.js";

const RECENT_KEY = "shop.staff.recent";
const RECENT_MAX = 8;

function recentCustomers() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((c) => c && typeof c.user_id === "string") : [];
  } catch {
    return [];
  }
}

function remember(user) {
  const entry = { user_id: String(user.id ?? user.user_id), username: String(user.username ?? "") };
  const list = [entry, ...recentCustomers().filter((c) => c.user_id !== entry.user_id)].slice(0, RECENT_MAX);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
}

function lookupForm({ label, name, button, hint, onValue }) {
  const form = h(
    "form",
    { class: "inline-form", novalidate: true },
    field({ label, name, hint, autocomplete: "off", spellcheck: "false", autocapitalize: "none" }),
    h("button", { type: "submit", class: "button" }, button),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.elements.namedItem(name);
    const value = input.value.trim();
    const slot = form.querySelector(".field-error");
    if (!value) {
      slot.textContent = `Enter the ${label.toLowerCase()}.`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    onValue(value);
  });
  return form;
}

export async function staffView(ctx) {
  const recent = recentCustomers();
  return h(
    "section",
    null,
    h("h1", null, "Staff: orders"),
    h(
      "p",
      { class: "muted" },
      "Orders are looked up per customer. A customer finds their id on their account page; it is also on every order page.",
    ),
    lookupForm({
      label: "Customer id",
      name: "user_id",
      button: "Show orders",
      onValue: (value) => ctx.navigate(`/staff/users/${encodeURIComponent(value)}`),
    }),
    lookupForm({
      label: "Order id",
      name: "order_id",
      button: "Open order",
      onValue: (value) => ctx.navigate(`/orders/${encodeURIComponent(value)}`),
    }),
    h("h2", null, "Recent customers"),
    recent.length
      ? h(
          "ul",
          { class: "link-list" },
          recent.map((c) =>
            h(
              "li",
              null,
              h("a", { href: `#/staff/users/${encodeURIComponent(c.user_id)}` }, c.username || c.user_id),
              " ",
              h("code", { class: "muted" }, c.user_id),
            ),
          ),
        )
      : h("p", { class: "muted" }, "Customers you look up appear here."),
  );
}

export async function staffUserView(ctx) {
  const userId = ctx.params.id;
  let user;
  try {
    user = await api(`/auth/user/${encodeURIComponent(userId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new ApiError(404, { message: `There is no customer with the id “${userId}”.` });
    throw error;
  }
  remember(user);
  const first = await fetchUserOrders(userId);
  const box = alertBox();

  function row(order) {
    const li = orderRow(order, {
      actions: statusActions(order, {
        box,
        onChanged: (updated) => {
          const replacement = row(updated);
          li.replaceWith(replacement);
          showAlert(box, `Order ${updated.order_number} is now ${STATUS_LABELS[updated.status]?.toLowerCase() ?? updated.status}.`, "success");
          (replacement.querySelector(".status-actions button") ?? replacement.querySelector("a"))?.focus();
        },
      }),
    });
    return li;
  }

  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return h(
    "section",
    null,
    h("p", { class: "breadcrumb" }, h("a", { href: "#/staff" }, "← Staff")),
    h("h1", null, `Orders of ${user.username}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Name"),
      h("dd", null, name),
      h("dt", null, "E-mail"),
      h("dd", null, user.email ?? ""),
      h("dt", null, "Customer id"),
      h("dd", null, h("code", null, String(user.id ?? userId))),
      h("dt", null, "Active"),
      h("dd", null, user.is_active === false ? "No" : "Yes"),
    ),
    box,
    first.orders.length
      ? pagedOrderList(first, (cursor) => fetchUserOrders(userId, cursor), row)
      : h("p", { class: "empty" }, "This customer has no orders."),
  );
}

// The staff area (admin only): the work queues per status (GET /orders?status=…), search by
// order number and by customer, and a customer's orders. The order page itself is orders.js,
// which offers staff the allowed next steps.

import { ApiError, api, describeError } from "../api.js";
import { alertBox, field, fill, h, showAlert } from "../dom.js";
import { STATUS_LABELS } from "../format.js";
import {
  ageText,
  ALL,
  COUNT_LIMIT,
  countLabel,
  customerQuery,
  normaliseOrderNumber,
  QUEUE_PAGE,
  QUEUE_STATUSES,
  queueHref,
  queuePath,
  queueState,
} from "../queue.js";
import { fetchUserOrders, orderRow, pagedOrderList, statusActions } from "./orders.js";

async function fetchQueue(status, { limit = QUEUE_PAGE, next = null, sort = null } = {}) {
  const body = await api(queuePath(status, { limit, next, sort }));
  return { orders: Array.isArray(body?.orders) ? body.orders : [], next: body?.next ?? null };
}

function queueLabel(status) {
  return status === ALL ? "All orders" : STATUS_LABELS[status];
}

function waiting(order) {
  if (order.status !== "pending" && order.status !== "confirmed") return null;
  const age = ageText(order.created_at);
  return age ? h("span", { class: "age" }, age === "just now" ? "new" : `waiting ${age}`) : null;
}

/** The queue tabs; counts arrive after the page is shown (one request per status), and again on refresh(). */
function queueTabs(state, ctx) {
  const counts = new Map();
  const tabs = h(
    "ul",
    { class: "queue-tabs" },
    [...QUEUE_STATUSES, ALL].map((status) => {
      const count = h("span", { class: "count", dataset: { count: status } }, status === ALL ? null : "…");
      counts.set(status, count);
      return h(
        "li",
        null,
        h(
          "a",
          { href: queueHref({ status, sort: null }), "aria-current": state.status === status ? "page" : null, dataset: { queue: status } },
          queueLabel(status),
          status === ALL ? null : [" ", count],
        ),
      );
    }),
  );
  const refresh = () =>
    Promise.all(
      QUEUE_STATUSES.map(async (status) => {
        try {
          const page = await fetchQueue(status, { limit: COUNT_LIMIT });
          if (!ctx.isCurrent()) return;
          const label = countLabel(page.orders, page.next);
          const el = counts.get(status);
          el.textContent = label;
          el.setAttribute("aria-label", `${label} ${label === "1" ? "order" : "orders"}`);
        } catch {
          counts.get(status).textContent = "";
        }
      }),
    );
  refresh();
  return { nav: h("nav", { class: "queues", "aria-label": "Order queues" }, tabs), refresh };
}

function sortToggle(state) {
  const link = (sort, label) =>
    h("a", { href: queueHref({ status: state.status, sort }), class: "toggle", "aria-current": state.sort === sort ? "true" : null }, label);
  return h(
    "p",
    { class: "sort-toggle", role: "group", "aria-label": "Order" },
    h("span", { class: "muted" }, "Show: "),
    link("oldest", "Oldest first"),
    link("newest", "Newest first"),
  );
}

async function queueList(state, { box, onChanged }) {
  // Each row carries the order's next steps, so a queue can be worked without opening every order.
  const row = (order) => {
    const li = orderRow(order, {
      extra: waiting(order),
      actions: statusActions(order, {
        box,
        onChanged: (updated) => {
          const replacement = row(updated);
          li.replaceWith(replacement);
          onChanged(updated);
          (replacement.querySelector(".status-actions button") ?? replacement.querySelector("a"))?.focus();
        },
      }),
    });
    return li;
  };
  const empty = () =>
    h("p", { class: "empty" }, state.status === ALL ? "There are no orders yet." : `No ${queueLabel(state.status).toLowerCase()} orders. Nothing to do here.`);
  const older = state.sort === "newest" ? "Show older orders" : "Show newer orders";
  // The API serves either direction (`sort`), and its `next` keeps it.
  const first = await fetchQueue(state.status, { sort: state.sort });
  return first.orders.length
    ? pagedOrderList(first, (next) => fetchQueue(state.status, { next, sort: state.sort }), row, { moreLabel: older })
    : empty();
}

// ---------------------------------------------------------------- search

function searchForm({ label, name, button, hint, onValue }) {
  const form = h(
    "form",
    { class: "inline-form", novalidate: true, role: "search", "aria-label": `Search by ${label.toLowerCase()}` },
    field({ label, name, hint, autocomplete: "off", spellcheck: "false", autocapitalize: "none" }),
    h("button", { type: "submit", class: "button button-secondary" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.elements.namedItem(name);
    const slot = form.querySelector(".field-error");
    slot.textContent = "";
    input.removeAttribute("aria-invalid");
    const problem = await onValue(input.value);
    if (problem) {
      slot.textContent = problem;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
  return form;
}

function searchArea(ctx) {
  const results = h("div", { class: "search-results", "aria-live": "polite" });
  const box = alertBox();

  const byNumber = searchForm({
    label: "Order number",
    name: "order_number",
    button: "Find order",
    hint: "E.g. ORD-2026-000042, or 42 for this year's.",
    onValue: async (value) => {
      const number = normaliseOrderNumber(value);
      if (!number) return "An order number looks like ORD-2026-000042 (or just 42).";
      showAlert(box, "");
      try {
        const body = await api(`/orders?${new URLSearchParams({ order_number: number })}`);
        const found = Array.isArray(body?.orders) ? body.orders[0] : null;
        if (found) ctx.navigate(`/orders/${encodeURIComponent(found.id)}`);
        else fill(results, h("p", { class: "empty" }, `No order ${number}.`));
      } catch (error) {
        showAlert(box, describeError(error));
      }
      return null;
    },
  });

  const byCustomer = searchForm({
    label: "Customer",
    name: "query",
    button: "Find customer",
    hint: "The start of a username or an e-mail address.",
    onValue: async (value) => {
      const query = customerQuery(value);
      if (!query) return "Enter at least two characters of a username or e-mail address.";
      showAlert(box, "");
      try {
        const body = await api(`/auth/users?${new URLSearchParams({ query, limit: "20" })}`);
        const users = Array.isArray(body?.users) ? body.users : [];
        fill(results, users.length ? customerList(users, body?.next, query) : h("p", { class: "empty" }, `No customer starts with “${query}”.`));
      } catch (error) {
        showAlert(box, describeError(error));
      }
      return null;
    },
  });

  return h(
    "section",
    { class: "staff-search", "aria-label": "Find an order or a customer" },
    h("div", { class: "search-forms" }, byNumber, byCustomer),
    box,
    results,
  );
}

function customerItem(user) {
  const id = String(user.id ?? user.user_id ?? "");
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return h(
    "li",
    null,
    h("a", { href: `#/staff/users/${encodeURIComponent(id)}` }, user.username ?? id),
    name ? ` · ${name}` : null,
    user.email ? h("span", { class: "muted" }, ` · ${user.email}`) : null,
  );
}

/** The customers found, and "Show more customers" while the API has a `next` page. */
function customerList(users, next, query) {
  const list = h("ul", { class: "link-list customer-results", "aria-label": "Customers found" }, users.map(customerItem));
  const box = alertBox();
  const more = h("button", { type: "button", class: "button button-secondary", hidden: !next }, "Show more customers");
  let cursor = next;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const body = await api(`/auth/users?${new URLSearchParams({ query, limit: "20", next: cursor })}`);
      const page = Array.isArray(body?.users) ? body.users : [];
      list.append(...page.map(customerItem));
      cursor = body?.next ?? null;
      more.hidden = !cursor;
      showAlert(box, "");
    } catch (error) {
      showAlert(box, describeError(error));
    } finally {
      more.disabled = false;
    }
  });
  return h("div", null, list, box, more);
}

// ---------------------------------------------------------------- pages

export async function staffView(ctx) {
  const state = queueState(ctx.query);
  const box = alertBox();
  const tabs = queueTabs(state, ctx);
  let list;
  try {
    list = await queueList(state, {
      box,
      onChanged: (updated) => {
        const moved = state.status !== ALL && updated.status !== state.status;
        showAlert(
          box,
          `Order ${updated.order_number} is now ${STATUS_LABELS[updated.status]?.toLowerCase() ?? updated.status}${moved ? ": it has left this queue" : ""}.`,
          "success",
        );
        tabs.refresh();
      },
    });
  } catch (error) {
    list = h("p", { class: "alert alert-error", role: "alert" }, describeError(error));
  }
  return h(
    "section",
    { class: "staff" },
    h("h1", null, "Staff: orders"),
    searchArea(ctx),
    tabs.nav,
    h("h2", { id: "queue-title" }, queueLabel(state.status), h("span", { class: "muted" }, state.sort === "oldest" ? " · oldest first" : " · newest first")),
    sortToggle(state),
    box,
    list,
  );
}

export async function staffUserView(ctx) {
  const userId = ctx.params.id;
  let user;
  try {
    user = await api(`/auth/user/${encodeURIComponent(userId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new ApiError(404, { message: "There is no such customer." });
    throw error;
  }
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
    h("p", { class: "breadcrumb" }, h("a", { href: "#/staff" }, "← Order queue")),
    h("h1", null, `Orders of ${user.username}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Name"),
      h("dd", null, name),
      h("dt", null, "E-mail"),
      h("dd", null, user.email ?? ""),
      h("dt", null, "Active"),
      h("dd", null, user.is_active === false ? "No" : "Yes"),
    ),
    box,
    first.orders.length
      ? pagedOrderList(first, (cursor) => fetchUserOrders(userId, cursor), row)
      : h("p", { class: "empty" }, "This customer has no orders."),
  );
}

// My orders, the order page, and the status buttons shared with the staff pages.

import { ApiError, api, describeError } from "../api.js";
import { alertBox, h, showAlert } from "../dom.js";
import {
  ACTION_LABELS,
  addressBlock,
  dateTime,
  money,
  NEXT_STATUSES,
  ownerCanCancel,
  paymentLabel,
  STATUS_LABELS,
  statusBadge,
} from "../format.js";
import { session } from "../state.js";

export const ORDERS_PAGE = 20;

/** GET /users/{id}/orders, one page; `cursor` is the previous answer's `next`. */
export async function fetchUserOrders(userId, cursor) {
  const query = new URLSearchParams({ limit: String(ORDERS_PAGE) });
  if (cursor) query.set("next", cursor);
  const body = await api(`/users/${encodeURIComponent(userId)}/orders?${query}`);
  return { orders: Array.isArray(body?.orders) ? body.orders : [], next: body?.next ?? null };
}

function itemCount(order) {
  return (order.items ?? []).reduce((sum, item) => sum + Number(item.quantity || 0), 0);
}

/** The statuses this viewer may move the order to: admins follow the life cycle, owners may cancel. */
export function allowedStatuses(order) {
  if (session.isAdmin()) return NEXT_STATUSES[order.status] ?? [];
  if (order.user_id === session.user()?.user_id && ownerCanCancel(order.status)) return ["cancelled"];
  return [];
}

/** Buttons for the allowed next statuses; calls onChanged(updatedOrder) after the server agreed. */
export function statusActions(order, { box, onChanged }) {
  const statuses = allowedStatuses(order);
  if (statuses.length === 0) return null;
  const group = h("div", { class: "actions status-actions", role: "group", "aria-label": `Change the status of ${order.order_number}` });
  for (const status of statuses) {
    const button = h(
      "button",
      { type: "button", class: status === "cancelled" ? "button button-danger" : "button", dataset: { status } },
      ACTION_LABELS[status] ?? STATUS_LABELS[status],
    );
    button.addEventListener("click", async () => {
      for (const b of group.querySelectorAll("button")) b.disabled = true;
      showAlert(box, "");
      try {
        const updated = await api(`/orders/${encodeURIComponent(order.id)}/status`, { method: "PUT", body: { status } });
        onChanged(updated?.status ? updated : { ...order, status });
      } catch (error) {
        showAlert(box, describeError(error), "error");
        box.setAttribute("tabindex", "-1");
        box.focus();
        for (const b of group.querySelectorAll("button")) b.disabled = false;
      }
    });
    group.append(button);
  }
  return group;
}

/** One order in a list: number, date, status, items, total, and optional action buttons. */
export function orderRow(order, { actions } = {}) {
  return h(
    "li",
    { class: "order-row", dataset: { orderId: order.id, status: order.status } },
    h(
      "div",
      { class: "order-main" },
      h("a", { href: `#/orders/${encodeURIComponent(order.id)}`, class: "order-number" }, order.order_number),
      h("span", { class: "muted" }, dateTime(order.created_at)),
    ),
    h("div", { class: "order-status" }, statusBadge(order.status)),
    h(
      "div",
      { class: "order-sum" },
      h("span", null, `${itemCount(order)} item${itemCount(order) === 1 ? "" : "s"}`),
      h("strong", null, money(order.total_amount)),
    ),
    actions ?? null,
  );
}

/** A list with a "Show more" button that follows the `next` cursor. */
export function pagedOrderList(first, load, rowFor) {
  const list = h("ul", { class: "order-list", "aria-label": "Orders" }, first.orders.map(rowFor));
  const more = h("button", { type: "button", class: "button button-secondary" }, "Show older orders");
  const box = alertBox();
  let next = first.next;
  more.hidden = !next;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await load(next);
      const rows = page.orders.map(rowFor);
      list.append(...rows);
      next = page.next;
      more.hidden = !next;
      rows[0]?.querySelector("a")?.focus();
    } catch (error) {
      showAlert(box, describeError(error));
    } finally {
      more.disabled = false;
    }
  });
  return h("div", null, list, box, more);
}

export async function ordersView() {
  const userId = session.user().user_id;
  const first = await fetchUserOrders(userId);
  return h(
    "section",
    null,
    h("h1", null, "My orders"),
    first.orders.length
      ? pagedOrderList(first, (cursor) => fetchUserOrders(userId, cursor), (order) => orderRow(order))
      : h("p", { class: "empty" }, "You have no orders yet. ", h("a", { href: "#/" }, "Start shopping"), "."),
  );
}

export async function orderView(ctx) {
  let order;
  try {
    order = await api(`/orders/${encodeURIComponent(ctx.params.id)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new ApiError(404, { message: "There is no such order." });
    throw error;
  }
  const justPlaced = ctx.query.get("placed") === "1";
  const box = alertBox();
  const statusSlot = h("div", { class: "status-line" });
  const isStaffView = session.isAdmin() && order.user_id !== session.user()?.user_id;

  function renderStatus() {
    statusSlot.replaceChildren(
      h("p", null, "Status: ", statusBadge(order.status), h("span", { class: "muted" }, ` · updated ${dateTime(order.updated_at)}`)),
      statusActions(order, {
        box,
        onChanged: (updated) => {
          order = updated;
          renderStatus();
          showAlert(box, `Order ${order.order_number} is now ${STATUS_LABELS[order.status]?.toLowerCase() ?? order.status}.`, "success");
          statusSlot.querySelector("button")?.focus();
        },
      }),
    );
  }
  renderStatus();

  const rows = (order.items ?? []).map((item) =>
    h(
      "tr",
      null,
      h("th", { scope: "row" }, h("a", { href: `#/products/${encodeURIComponent(item.product_id)}` }, item.product_name)),
      h("td", { class: "num" }, money(item.product_price)),
      h("td", { class: "num" }, String(item.quantity)),
      h("td", { class: "num" }, money(item.subtotal)),
    ),
  );

  return h(
    "article",
    { class: "order" },
    justPlaced
      ? h(
          "div",
          { class: "confirmation" },
          h("h1", null, "Thank you for your order"),
          h("p", null, "Your order number is ", h("strong", { id: "order-number" }, order.order_number), ". A confirmation e-mail is on its way."),
        )
      : h("h1", null, "Order ", h("span", { id: "order-number" }, order.order_number)),
    box,
    statusSlot,
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Placed"),
      h("dd", null, dateTime(order.created_at)),
      h("dt", null, "Payment"),
      h("dd", null, paymentLabel(order.payment_method)),
      isStaffView ? [h("dt", null, "Customer"), h("dd", null, h("a", { href: `#/staff/users/${encodeURIComponent(order.user_id)}` }, order.user_id))] : null,
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "items" },
        h("caption", null, "Items"),
        h(
          "thead",
          null,
          h("tr", null, h("th", { scope: "col" }, "Product"), h("th", { scope: "col", class: "num" }, "Price"), h("th", { scope: "col", class: "num" }, "Qty"), h("th", { scope: "col", class: "num" }, "Subtotal")),
        ),
        h("tbody", null, rows),
        h("tfoot", null, h("tr", null, h("th", { scope: "row", colspan: "3" }, "Total"), h("td", { class: "num" }, h("strong", { id: "order-total" }, money(order.total_amount))))),
      ),
    ),
    h("h2", null, "Shipping address"),
    addressBlock(order.shipping_address),
    h("p", null, isStaffView ? h("a", { href: `#/staff/users/${encodeURIComponent(order.user_id)}` }, "← This customer's orders") : h("a", { href: "#/orders" }, "← My orders")),
  );
}

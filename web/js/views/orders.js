// My orders, the order page (shopper and staff), and the status controls shared with the staff
// pages: only the allowed next steps, a question before cancelling, carrier and tracking number
// before shipping.

import { ApiError, api, describeError } from "../api.js";
import { alertBox, field, fill, h, showAlert } from "../dom.js";
import {
  ACTION_LABELS,
  addressBlock,
  dateTime,
  money,
  nextStatuses,
  orderHeadline,
  paymentLabel,
  STATUS_LABELS,
  statusBadge,
  timeline,
  trackingText,
} from "../format.js";
import { busy, clearErrors, formValues, showErrors } from "../forms.js";
import { session } from "../state.js";

export const ORDERS_PAGE = 20;
export const NOTE_MAX = 500;
// The steps that ask for something first (a reason to cancel, the parcel's tracking): stepForm.
const FORM_STEPS = new Set(["cancelled", "shipped"]);

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

function viewer() {
  return { isAdmin: session.isAdmin(), userId: session.user()?.user_id ?? null };
}

/** The statuses this viewer may move the order to: admins follow the life cycle, owners may cancel. */
export function allowedStatuses(order) {
  return nextStatuses(order, viewer());
}

function statusWord(status) {
  return STATUS_LABELS[status]?.toLowerCase() ?? status;
}

/** The small form a step needs before it is sent: a reason to cancel, the parcel's tracking. */
function stepForm(order, status, { onSend, onBack }) {
  const box = alertBox();
  const staff = viewer().isAdmin;
  const cancelling = status === "cancelled";
  const title = cancelling ? `Cancel order ${order.order_number}?` : `Ship order ${order.order_number}`;
  const form = h(
    "form",
    { class: "stack status-step", novalidate: true, "aria-label": title, dataset: { step: status } },
    h("h2", { class: "step-title" }, title),
    cancelling
      ? h(
          "p",
          null,
          staff
            ? "The customer gets an e-mail that the order is cancelled. This cannot be undone."
            : "The order will not be sent. This cannot be undone.",
        )
      : null,
    box,
    status === "shipped"
      ? [
          field({ label: "Carrier", name: "carrier", required: true, autocomplete: "off", maxlength: "100", hint: "E.g. DHL, UPS, La Poste." }),
          field({ label: "Tracking number", name: "tracking_number", required: true, autocomplete: "off", spellcheck: "false", maxlength: "100" }),
        ]
      : null,
    field({
      label: cancelling ? (staff ? "Reason, for the customer (optional)" : "Reason (optional)") : "Note (optional)",
      name: "note",
      maxlength: String(NOTE_MAX),
      autocomplete: "off",
      hint: staff ? `The customer sees it in the order's history. At most ${NOTE_MAX} characters.` : `At most ${NOTE_MAX} characters.`,
    }),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "submit", class: cancelling ? "button button-danger" : "button" },
        cancelling ? "Yes, cancel the order" : "Mark as shipped",
      ),
      h("button", { type: "button", class: "button button-secondary", onclick: onBack }, cancelling ? "No, keep the order" : "Back"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, box);
    const values = formValues(form);
    const body = { status };
    const note = String(values.note ?? "").trim();
    if (note) body.note = note;
    if (status === "shipped") {
      const missing = [];
      for (const name of ["carrier", "tracking_number"]) {
        const value = String(values[name] ?? "").trim();
        if (value) body[name] = value;
        else missing.push({ loc: ["body", name], type: "missing" });
      }
      if (missing.length) {
        showErrors(form, box, new ApiError(422, { message: "", details: missing }));
        return;
      }
    }
    await busy(form.querySelector("button[type=submit]"), cancelling ? "Cancelling…" : "Saving…", async () => {
      try {
        await onSend(body);
      } catch (error) {
        showErrors(form, box, error);
      }
    });
  });
  return form;
}

/**
 * The allowed next steps as buttons; calls onChanged(updatedOrder) after the server agreed.
 * Cancelling asks first, shipping asks for the carrier and tracking number. Null when no step is left.
 */
export function statusActions(order, { box, onChanged, withNote = false }) {
  const statuses = allowedStatuses(order);
  if (statuses.length === 0) return null;
  const group = h("div", { class: "actions status-actions", role: "group", "aria-label": `Change the status of ${order.order_number}` });
  const panel = h("div", { class: "status-panel" });
  // The API takes a note with every step; the steps without a form of their own (confirm,
  // deliver) take it from here. Only on the order page: a field per queue row would crowd the queue.
  const oneClick = statuses.filter((status) => !FORM_STEPS.has(status));
  const noteField =
    withNote && viewer().isAdmin && oneClick.length
      ? field({
          label: `Note with “${oneClick.map((status) => ACTION_LABELS[status] ?? STATUS_LABELS[status]).join("” or “")}” (optional)`,
          name: "note",
          maxlength: String(NOTE_MAX),
          autocomplete: "off",
          hint: `The customer sees it in the order's history. At most ${NOTE_MAX} characters.`,
        })
      : null;
  const control = h("div", { class: "status-control" }, noteField, group, panel);

  const buttons = () => group.querySelectorAll("button");
  const setBusy = (on) => {
    for (const b of buttons()) b.disabled = on;
  };

  async function send(body) {
    const updated = await api(`/orders/${encodeURIComponent(order.id)}/status`, { method: "PUT", body });
    onChanged(updated?.status ? updated : { ...order, status: body.status });
  }

  function closePanel(focusStatus) {
    fill(panel);
    setBusy(false);
    group.querySelector(`[data-status="${focusStatus}"]`)?.focus();
  }

  for (const status of statuses) {
    const button = h(
      "button",
      { type: "button", class: status === "cancelled" ? "button button-danger" : "button", dataset: { status } },
      ACTION_LABELS[status] ?? STATUS_LABELS[status],
    );
    button.addEventListener("click", async () => {
      showAlert(box, "");
      if (FORM_STEPS.has(status)) {
        setBusy(true);
        const form = stepForm(order, status, { onSend: send, onBack: () => closePanel(status) });
        fill(panel, form);
        form.querySelector("input")?.focus();
        return;
      }
      setBusy(true);
      const note = String(noteField?.querySelector("input")?.value ?? "").trim();
      try {
        await send(note ? { status, note } : { status });
      } catch (error) {
        showAlert(box, describeError(error), "error");
        box.setAttribute("tabindex", "-1");
        box.focus();
        setBusy(false);
      }
    });
    group.append(button);
  }
  return control;
}

/** One order in a list: number, date, status, items, total, and optional action buttons. */
export function orderRow(order, { actions, extra } = {}) {
  return h(
    "li",
    { class: "order-row", dataset: { orderId: order.id, status: order.status } },
    h(
      "div",
      { class: "order-main" },
      h("a", { href: `#/orders/${encodeURIComponent(order.id)}`, class: "order-number" }, order.order_number),
      h("span", { class: "muted" }, dateTime(order.created_at)),
      extra ?? null,
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
export function pagedOrderList(first, load, rowFor, { moreLabel = "Show older orders" } = {}) {
  const list = h("ul", { class: "order-list", "aria-label": "Orders" }, first.orders.map(rowFor));
  const more = h("button", { type: "button", class: "button button-secondary" }, moreLabel);
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

/** The order's steps, oldest first, with who did each and the note they left. */
export function timelineList(order, { ownerView }) {
  return h(
    "ol",
    { class: "timeline", "aria-label": "Order history" },
    timeline(order, { ownerView }).map((step) =>
      h(
        "li",
        { class: `timeline-step step-${step.status.replace(/[^a-z]/g, "")}` },
        h("strong", { class: "step-label" }, step.label),
        " ",
        step.at ? h("time", { datetime: step.at, class: "muted" }, dateTime(step.at)) : null,
        step.by ? h("span", { class: "muted" }, ` · ${step.by}`) : null,
        step.note ? h("p", { class: "step-note" }, `“${step.note}”`) : null,
      ),
    ),
  );
}

function trackingFacts(order) {
  const text = trackingText(order.tracking);
  if (!text) return null;
  return h("p", { class: "tracking" }, "Tracking: ", h("strong", { id: "tracking" }, text));
}

function itemsTable(order) {
  // Explicit roles: on a phone the table is laid out as blocks (styles.css), which would otherwise
  // drop its table meaning for screen readers.
  const cell = (props, ...children) => h("td", { role: "cell", ...props }, ...children);
  const rows = (order.items ?? []).map((item) =>
    h(
      "tr",
      { role: "row" },
      h("th", { scope: "row", role: "rowheader" }, h("a", { href: `#/products/${encodeURIComponent(item.product_id)}` }, item.product_name)),
      cell({ class: "num", dataset: { label: "Price" } }, money(item.product_price)),
      cell({ class: "num", dataset: { label: "Qty" } }, String(item.quantity)),
      cell({ class: "num subtotal", dataset: { label: "Subtotal" } }, money(item.subtotal)),
    ),
  );
  const col = (label, cls) => h("th", { scope: "col", role: "columnheader", class: cls }, label);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "items", role: "table" },
      h("caption", null, "Items"),
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, col("Product"), col("Price", "num"), col("Qty", "num"), col("Subtotal", "num"))),
      h("tbody", { role: "rowgroup" }, rows),
      h(
        "tfoot",
        { role: "rowgroup" },
        h(
          "tr",
          { role: "row" },
          h("th", { scope: "row", role: "rowheader", colspan: "3" }, "Total"),
          cell({ class: "num" }, h("strong", { id: "order-total" }, money(order.total_amount))),
        ),
      ),
    ),
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
  const headSlot = h("div", { class: "order-head" });
  const statusSlot = h("div", { class: "status-line" });
  const historySlot = h("div", { class: "history" });
  const ownerView = order.user_id === session.user()?.user_id;
  const isStaffView = session.isAdmin() && !ownerView;
  if (isStaffView) ctx.setSection?.("staff");
  // Staff see who ordered; the order itself only carries the customer's id.
  const customer = isStaffView ? await api(`/auth/user/${encodeURIComponent(order.user_id)}`).catch(() => null) : null;

  function renderHead() {
    const headline = orderHeadline(order, justPlaced);
    if (headline === "Thank you for your order") {
      fill(
        headSlot,
        h(
          "div",
          { class: "confirmation" },
          h("h1", null, headline),
          h("p", null, "Your order number is ", h("strong", { id: "order-number" }, order.order_number), ". A confirmation e-mail is on its way."),
        ),
      );
    } else {
      fill(headSlot, h("h1", null, "Order ", h("span", { id: "order-number" }, order.order_number)));
    }
  }

  function render() {
    renderHead();
    fill(
      statusSlot,
      h("p", null, "Status: ", statusBadge(order.status), h("span", { class: "muted" }, ` · updated ${dateTime(order.updated_at)}`)),
      trackingFacts(order),
      statusActions(order, {
        box,
        withNote: true,
        onChanged: (updated) => {
          order = updated;
          render();
          showAlert(box, `Order ${order.order_number} is now ${statusWord(order.status)}.`, "success");
          box.setAttribute("tabindex", "-1");
          box.focus();
        },
      }),
    );
    fill(historySlot, h("h2", null, "History"), timelineList(order, { ownerView }));
  }
  render();

  return h(
    "article",
    { class: "order" },
    isStaffView ? h("p", { class: "breadcrumb" }, h("a", { href: "#/staff" }, "← Staff: order queue")) : null,
    headSlot,
    box,
    statusSlot,
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Placed"),
      h("dd", null, dateTime(order.created_at)),
      h("dt", null, "Payment"),
      h("dd", null, paymentLabel(order.payment_method)),
      isStaffView
        ? [
            h("dt", null, "Customer"),
            h(
              "dd",
              { id: "customer" },
              customer ? [customer.username, customer.email ? h("span", { class: "muted" }, ` · ${customer.email}`) : null, h("br")] : null,
              h("a", { href: `#/staff/users/${encodeURIComponent(order.user_id)}` }, "All orders of this customer"),
            ),
          ]
        : null,
    ),
    itemsTable(order),
    h("h2", null, "Shipping address"),
    addressBlock(order.shipping_address),
    historySlot,
    h("p", null, isStaffView ? h("a", { href: "#/staff" }, "← Order queue") : h("a", { href: "#/orders" }, "← My orders")),
  );
}

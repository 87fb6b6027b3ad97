// The local stack's mailbox: every e-mail SES accepted (GET /_dev/emails), newest first.
// The HTML part is shown in a sandboxed iframe (no scripts, no same-origin access); its links open
// in the top window (`<base target="_top">`, allowed on a click only), not inside the preview,
// where the shop's own page would find no JavaScript.

import { api, describeError } from "../api.js";
import { alertBox, field, fill, h, showAlert } from "../dom.js";
import { dateTime } from "../format.js";
import { linkRoute, linksIn } from "../links.js";

const POLL_MS = 2000;

function when(value) {
  // Accept ISO strings and epoch seconds or milliseconds.
  if (typeof value === "number") return dateTime(value < 1e12 ? value * 1000 : value);
  return dateTime(value);
}

function recipients(mail) {
  const to = mail.to ?? mail.destination ?? "";
  return Array.isArray(to) ? to.join(", ") : String(to);
}

/**
 * The links of an e-mail, as sent; a link to one of the storefront's token pages (verify an
 * e-mail, reset a password) also opens that page here, whatever STOREFRONT_URL the stack mails
 * (the local stack may run on another port than the one the links name).
 */
function mailLinks(text) {
  const links = linksIn(text);
  if (!links.length) return null;
  return [
    h("h3", null, "Links"),
    h(
      "ul",
      { class: "mail-links" },
      links.map((link) => {
        const route = linkRoute(link);
        return h(
          "li",
          null,
          h("code", { class: "mail-link" }, link),
          route ? [" ", h("a", { href: `#${route}`, class: "button button-small" }, "Open in this shop")] : null,
        );
      }),
    ),
  ];
}

/** The e-mail's HTML with its links aimed at the top window (a `<base>` before its own markup). */
export function previewDocument(html) {
  return `<base target="_top">${html}`;
}

function toggleLabel(open) {
  return open ? "▾ Close" : "▸ Open";
}

function mailItem(mail, index, open) {
  const subject = String(mail.subject ?? "(no subject)");
  const html = mail.html ?? mail.body ?? "";
  const text = mail.text ?? "";
  const details = h(
    "details",
    { class: "mail", open, dataset: { index: String(index) } },
    h(
      "summary",
      { title: "Show or hide this e-mail" },
      h("span", { class: "mail-toggle", "aria-hidden": "true" }, toggleLabel(open)),
      " ",
      h("span", { class: "mail-subject" }, subject),
      h("span", { class: "mail-meta" }, `To ${recipients(mail)} · ${when(mail.time ?? mail.timestamp)}`),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "From"),
      h("dd", null, String(mail.from ?? mail.source ?? "")),
      h("dt", null, "To"),
      h("dd", null, recipients(mail)),
      h("dt", null, "Sent"),
      h("dd", null, when(mail.time ?? mail.timestamp)),
    ),
    html
      ? [
          h("h3", null, "HTML version"),
          h("iframe", {
            class: "mail-html",
            sandbox: "allow-top-navigation-by-user-activation",
            srcdoc: previewDocument(String(html)),
            title: `HTML version of “${subject}”`,
          }),
        ]
      : null,
    mailLinks(text),
    text ? [h("h3", null, "Text version"), h("pre", { class: "mail-text" }, String(text))] : null,
  );
  details.addEventListener("toggle", () => {
    details.querySelector(".mail-toggle").textContent = toggleLabel(details.hasAttribute("open"));
  });
  return details;
}

export async function mailboxView(ctx) {
  let mails = await api("/_dev/emails", { auth: false });
  if (!Array.isArray(mails)) mails = mails?.emails ?? [];
  const box = alertBox();
  const count = h("p", { class: "muted", role: "status" });
  const list = h("div", { class: "mail-list" });
  const filterField = field({ label: "Show e-mails to", name: "recipient", type: "search", hint: "Part of an e-mail address.", autocomplete: "off" });
  const filter = filterField.querySelector("input");

  function render() {
    const open = new Set([...list.querySelectorAll("details[open]")].map((d) => d.dataset.index));
    const needle = filter.value.trim().toLowerCase();
    const shown = mails
      .map((mail, index) => ({ mail, index }))
      .filter(({ mail }) => !needle || recipients(mail).toLowerCase().includes(needle))
      .reverse();
    fill(list, 
      ...(shown.length
        ? shown.map(({ mail, index }) => mailItem(mail, index, open.has(String(index))))
        : [h("p", { class: "empty" }, mails.length ? "No e-mail matches." : "No e-mails yet.")]),
    );
    count.textContent = `${shown.length} of ${mails.length} e-mail${mails.length === 1 ? "" : "s"}`;
  }
  filter.addEventListener("input", render);

  // New mail arrives asynchronously (order events go through the queue): poll while the page is open.
  const timer = setInterval(async () => {
    try {
      let fresh = await api("/_dev/emails", { auth: false });
      if (!Array.isArray(fresh)) fresh = fresh?.emails ?? [];
      showAlert(box, "");
      if (fresh.length !== mails.length) {
        mails = fresh;
        render();
      }
    } catch (error) {
      showAlert(box, describeError(error));
    }
  }, POLL_MS);
  ctx.onLeave(() => clearInterval(timer));
  render();

  return h(
    "section",
    { class: "mailbox" },
    h("h1", null, "Mailbox"),
    h("p", { class: "muted" }, "E-mails the shop sent during this local run. Nothing here leaves your machine; the page refreshes itself."),
    h("form", { class: "filter", role: "search", onsubmit: (e) => e.preventDefault() }, filterField),
    box,
    count,
    list,
  );
}

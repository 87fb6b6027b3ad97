// The storefront: a hash router, the header navigation and the flash messages. Views live in
// ./views and return DOM nodes; nothing here parses HTML.

import { API_BASE, ApiError, api } from "./api.js";
import { clear, fill, h } from "./dom.js";
import { linkRoute } from "./links.js";
import { cart, keeper, session } from "./state.js";
import * as account from "./views/account.js";
import * as auth from "./views/auth.js";
import * as catalog from "./views/catalog.js";
import * as cartViews from "./views/cart.js";
import * as mailbox from "./views/mailbox.js";
import * as orders from "./views/orders.js";
import * as staff from "./views/staff.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const flashArea = document.getElementById("flash");
const bannerArea = document.getElementById("banner");

const routes = [
  { pattern: /^\/$/, view: catalog.listView },
  { pattern: /^\/products\/(?<id>[^/]+)$/, view: catalog.productView },
  { pattern: /^\/cart$/, view: cartViews.cartView },
  { pattern: /^\/checkout$/, view: cartViews.checkoutView, auth: true },
  { pattern: /^\/login$/, view: account.loginView },
  { pattern: /^\/register$/, view: account.registerView },
  { pattern: /^\/forgot-password$/, view: auth.forgotPasswordView },
  { pattern: /^\/reset-password$/, view: auth.resetPasswordView },
  { pattern: /^\/verify-email$/, view: auth.verifyEmailView },
  { pattern: /^\/account$/, view: account.accountView, auth: true },
  { pattern: /^\/orders$/, view: orders.ordersView, auth: true },
  { pattern: /^\/orders\/(?<id>[^/]+)$/, view: orders.orderView, auth: true },
  { pattern: /^\/staff$/, view: staff.staffView, admin: true },
  { pattern: /^\/staff\/users\/(?<id>[^/]+)$/, view: staff.staffUserView, admin: true },
  { pattern: /^\/mailbox$/, view: mailbox.mailboxView },
];

let devMailbox = false;
let navigationSeq = 0;
let firstRender = true;
let leaveHandlers = [];
let flashKeep = false;
// A page may say which part of the site it belongs to when its path does not tell (an order
// page opened by staff belongs to "staff", not to "My orders").
let navSection = null;

// ---------------------------------------------------------------- navigation helpers

export function navigate(path, { replace = false } = {}) {
  const hash = `#${path}`;
  if (location.hash === hash) {
    route();
  } else if (replace) {
    history.replaceState(null, "", hash);
    route();
  } else {
    location.hash = hash;
  }
}

function currentLocation() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, queryString = ""] = raw.split("?");
  return { path: decodeURI(path) || "/", query: new URLSearchParams(queryString), raw };
}

const FLASH_SECONDS = 6;
let flashTimer = null;

/**
 * A message in the toast at the bottom of the window (a live region, so it is read out too);
 * `keep` lets it survive the navigation that follows. Success messages go away by themselves,
 * errors stay until dismissed.
 */
export function flash(message, { kind = "success", keep = false } = {}) {
  flashKeep = keep;
  clearTimeout(flashTimer);
  clear(flashArea);
  if (!message) return;
  const close = h("button", { type: "button", class: "link-button", "aria-label": "Dismiss message" }, "×");
  const box = h("div", { class: `flash flash-${kind}` }, h("p", null, message), close);
  close.addEventListener("click", () => {
    box.remove();
    main.focus();
  });
  flashArea.append(box);
  if (kind === "success") flashTimer = setTimeout(() => box.remove(), FLASH_SECONDS * 1000);
}

// ---------------------------------------------------------------- header

function navLink(href, label, active, extra = {}) {
  return h("li", null, h("a", { href, "aria-current": active ? "page" : null, ...extra }, label));
}

function renderNav() {
  const user = session.user();
  const { path } = currentLocation();
  const under = (prefix) =>
    navSection ? prefix === `/${navSection}` : path === prefix || path.startsWith(`${prefix}/`);
  const count = cart.count();
  const items = [navLink("#/", "Products", path === "/" || under("/products"))];
  // Staff do not shop (only customers may order): no cart for them.
  if (!session.isAdmin()) {
    items.push(
      navLink("#/cart", ["Cart ", h("span", { class: "count", "aria-hidden": "true" }, String(count))], under("/cart") || under("/checkout"), {
        "aria-label": `Cart, ${count} item${count === 1 ? "" : "s"}`,
        id: "nav-cart",
      }),
    );
  }
  if (user) {
    items.push(navLink("#/orders", "My orders", under("/orders")));
    if (session.isAdmin()) items.push(navLink("#/staff", "Staff", under("/staff")));
    items.push(navLink("#/account", "Account", under("/account")));
  }
  if (devMailbox) items.push(navLink("#/mailbox", "Mailbox", under("/mailbox")));
  if (user) {
    const logout = h("button", { type: "button", class: "nav-button" }, "Log out");
    logout.addEventListener("click", async () => {
      logout.disabled = true;
      await logOut();
      flash("You are logged out.", { keep: true });
      navigate("/");
    });
    items.push(h("li", { class: "nav-user" }, h("span", { class: "who" }, user.username ?? ""), logout));
  } else {
    items.push(navLink("#/login", "Log in", under("/login")), navLink("#/register", "Register", under("/register")));
  }
  fill(nav, ...items);
}

/** End the session on the server (its refresh token stops working), then here and in every tab. */
async function logOut() {
  // A fresh access token first, so that no refresh rotates the token this request sends.
  await session.freshToken().catch(() => null);
  const refreshToken = session.refreshToken();
  if (refreshToken) {
    try {
      await api("/auth/logout", { method: "POST", body: { refresh_token: refreshToken } });
    } catch {
      // Already ended (401) or the shop is unreachable: forget it here all the same; the refresh
      // token dies with the session on the server at the latest after its lifetime.
    }
  }
  session.logout();
}

/** The "please confirm your e-mail address" banner, for a logged-in user who has not yet. */
function renderBanner() {
  if (!bannerArea) return;
  // Not on the pages that say it themselves (the checkout has its own notice, next to the button).
  const own = ["/verify-email", "/checkout"].includes(currentLocation().path);
  const notice = own ? null : auth.verifyNotice({ className: "verify-banner" });
  fill(bannerArea, notice ? h("div", { class: "banner-inner" }, notice) : null);
}

// ---------------------------------------------------------------- router

function errorPage(error) {
  const notFound = error instanceof ApiError && error.status === 404;
  return h(
    "section",
    null,
    h("h1", { tabindex: "-1" }, notFound ? "Not found" : "Something went wrong"),
    h("p", { class: "alert alert-error", role: "alert" }, error?.message || "The page could not be shown."),
    h("p", null, h("a", { href: "#/" }, "Back to the products")),
  );
}

async function route() {
  const seq = ++navigationSeq;
  for (const handler of leaveHandlers) handler();
  leaveHandlers = [];
  if (flashKeep) flashKeep = false;
  else clear(flashArea);

  navSection = null;
  const location_ = currentLocation();
  let match = null;
  let spec = null;
  for (const candidate of routes) {
    match = candidate.pattern.exec(location_.path);
    if (match) {
      spec = candidate;
      break;
    }
  }
  renderNav();
  renderBanner();
  let node;
  if (!spec) {
    node = errorPage(new ApiError(404, { message: "There is no such page." }));
  } else if ((spec.auth || spec.admin) && !session.user()) {
    navigate(`/login?next=${encodeURIComponent(location_.raw)}`, { replace: true });
    return;
  } else if (spec.admin && !session.isAdmin()) {
    node = h(
      "section",
      null,
      h("h1", { tabindex: "-1" }, "Staff only"),
      h("p", null, "This page is for shop staff. Log in with a staff account to use it."),
    );
  } else {
    main.setAttribute("aria-busy", "true");
    main.classList.add("is-loading");
    const ctx = {
      params: match.groups ?? {},
      query: location_.query,
      navigate,
      flash,
      onLeave: (handler) => leaveHandlers.push(handler),
      isCurrent: () => seq === navigationSeq,
      devMailbox: () => devMailbox,
      setSection: (section) => {
        if (seq !== navigationSeq) return;
        navSection = section;
        renderNav();
      },
    };
    try {
      node = await spec.view(ctx);
    } catch (error) {
      if (error?.name === "AbortError") return;
      node = errorPage(error);
    }
  }
  if (seq !== navigationSeq) return;
  fill(main, node);
  main.removeAttribute("aria-busy");
  main.classList.remove("is-loading");
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · Shop` : "Shop";
  if (!firstRender) {
    // Move focus to the new page's heading, as a full page load would for screen readers.
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
  firstRender = false;
}

// ---------------------------------------------------------------- start

async function start() {
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener("hashchange", route);
  // A link to the page already shown fires no hashchange: reload that page's data instead.
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[href^='#/']") : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    if (link.getAttribute("href") === location.hash) {
      event.preventDefault();
      route();
    }
  });
  window.addEventListener("shop:cart-changed", renderNav);
  window.addEventListener("shop:session-changed", () => {
    renderNav();
    renderBanner();
  });

  // A link from an e-mail in its path form (/verify-email?token=…): the same page as a hash route.
  const mailed = location.hash.startsWith("#/") ? null : linkRoute(location.href);
  if (mailed) history.replaceState(null, "", `${location.pathname.replace(/[^/]*$/, "")}#${mailed}`);

  // The session: from the other open tabs, else the refresh token this tab kept over a reload.
  let keptSessionEnded = false;
  if (await keeper.join()) {
    try {
      if (!(await session.freshToken())) throw new Error("session over");
      session.setUser(await api("/auth/verify-token", { method: "POST" }));
    } catch {
      // A refused session has ended already (api() and tokens.js); after a network failure the
      // tokens stay, for the other tabs and the next reload, and this page shows no user.
    }
    // Refused while nobody was looking (the local stack restarted, the session ran out or was
    // ended elsewhere): said on the login page, as when it ends in use.
    keptSessionEnded = !session.user() && !keeper.hasSession();
  }
  // New tokens from another tab: logged in there while this one was open, show this one logged in too.
  window.addEventListener("shop:tokens-changed", async () => {
    if (!session.token()) return;
    if (session.user() && session.tokenUserId() === session.user().user_id) return;
    try {
      session.setUser(await api("/auth/verify-token", { method: "POST" }));
    } catch {
      // the next request says what is wrong
    }
  });
  // Back to this tab: the e-mail may have been confirmed meanwhile (in another tab or device).
  document.addEventListener("visibilitychange", async () => {
    if (document.visibilityState !== "visible" || session.user()?.email_verified !== false) return;
    try {
      const me = await api("/auth/verify-token", { method: "POST" });
      session.setUser(me);
      // The gateway remembers "not verified" for the old access token for up to a minute.
      if (me?.email_verified) await session.renew();
    } catch {
      // the next request says what is wrong
    }
  });
  // From now on a refused token means the session ended while in use: say so, and offer to log in.
  const sessionEnded = (reason, message = "Your session has ended. Please log in again.") => {
    const elsewhere = reason === "elsewhere";
    flash(elsewhere ? "You logged out in another window." : message, {
      kind: elsewhere ? "success" : "error",
      keep: true,
    });
    const { raw } = currentLocation();
    const spec = routes.find((candidate) => candidate.pattern.test(currentLocation().path));
    if (elsewhere && !(spec?.auth || spec?.admin)) route();
    else if (!raw.startsWith("/login")) navigate(`/login?next=${encodeURIComponent(raw)}`);
  };
  window.addEventListener("shop:session-expired", (event) => sessionEnded(event.detail));
  // The dev mailbox exists only in the local stack; show its link when it answers.
  fetch(`${API_BASE}/_dev/emails`, { headers: { Accept: "application/json" } })
    .then((response) => {
      devMailbox = response.ok && (response.headers.get("Content-Type") ?? "").includes("json");
      renderNav();
    })
    .catch(() => {});
  if (keptSessionEnded) {
    // Straight to the login page (no hashchange to wait for), and the message once it is shown.
    const { raw } = currentLocation();
    if (!raw.startsWith("/login")) history.replaceState(null, "", `#/login?next=${encodeURIComponent(raw)}`);
    await route();
    flash("Your session has ended (the shop was restarted, or the session ran out). Please log in again.", { kind: "error" });
    return;
  }
  await route();
}

start();

// Client state: the session (tokens.js: the access token in memory, the refresh token in this
// tab's sessionStorage, shared with the other tabs) and the cart (localStorage, so it survives
// reloads). Changes are announced as window events.

import { localLocks, RefreshRefused, TokenKeeper } from "./tokens.js";

const CART_KEY = "shop.cart";
export const MAX_QUANTITY = 100;

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

/** The JWT's claims, for display only: the server checks the token on every request. */
function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

let currentUser = null;
// POST /auth/refresh; api.js provides it (it knows the API's address).
let refresher = async () => {
  throw new RefreshRefused("no refresher");
};

function makeKeeper() {
  let channel;
  try {
    channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("shop.session") : null;
  } catch {
    channel = null;
  }
  // Web Locks need a secure context (https, or http://127.0.0.1 / localhost); without them the
  // refreshes are still one at a time within the tab.
  const locks = typeof navigator !== "undefined" && navigator.locks ? navigator.locks : localLocks();
  return new TokenKeeper({
    storage: sessionStorage,
    channel,
    locks,
    requestRefresh: (token) => refresher(token),
    onEnded: (reason) => {
      const hadUser = currentUser !== null;
      currentUser = null;
      // A logout in this tab says so itself; anything else is news to the person.
      if (hadUser && reason !== "logout") emit("shop:session-expired", reason);
      emit("shop:session-changed", null);
    },
    onChanged: ({ remote }) => {
      if (remote) emit("shop:tokens-changed");
    },
  });
}

export const keeper = makeKeeper();

export const session = {
  /** The access token while it is valid (synchronous; api() uses freshToken()). */
  token() {
    return keeper.accessToken();
  },

  /** An access token for a request, refreshed first when it ran out. */
  freshToken() {
    return keeper.freshAccessToken();
  },

  refreshToken() {
    return keeper.refreshToken();
  },

  /** How api.js calls POST /auth/refresh: `(refreshToken) => pair`, throwing RefreshRefused on 401. */
  useRefresher(fn) {
    refresher = fn;
  },

  /**
   * A new access token now (rotating the refresh token). After the account changed (e-mail
   * confirmed), because the gateway caches what the authorizer said about the old token for up to
   * a minute.
   */
  renew() {
    return keeper.refresh();
  },

  /** Store a login answer {access_token, refresh_token, token_type, expires_in}. */
  start(login) {
    keeper.start(login);
  },

  /** The user from POST /auth/verify-token (or a user object), normalised with user_id and role. */
  setUser(user) {
    if (!user) {
      currentUser = null;
    } else {
      const claims = tokenClaims(keeper.accessToken() ?? "");
      currentUser = {
        ...currentUser,
        ...user,
        user_id: String(user.user_id ?? user.id ?? claims.user_id ?? currentUser?.user_id ?? ""),
        role: user.role ?? claims.role ?? currentUser?.role ?? "customer",
      };
    }
    emit("shop:session-changed", currentUser);
  },

  user() {
    return currentUser;
  },

  /** The user id the current access token is for (claims, display only), or null. */
  tokenUserId() {
    const id = tokenClaims(keeper.accessToken() ?? "").user_id;
    return id == null ? null : String(id);
  },

  isAdmin() {
    return currentUser?.role === "admin";
  },

  /** Forget the session here and in the other tabs (the caller told the server: POST /auth/logout). */
  logout() {
    if (keeper.hasSession()) keeper.end("logout");
    else if (currentUser) this.setUser(null);
  },

  /** The server refused the session (expired, revoked): end it and tell the app. */
  expire() {
    if (keeper.hasSession()) {
      keeper.end("expired"); // onEnded tells the app
    } else if (currentUser) {
      currentUser = null;
      emit("shop:session-expired", "expired");
      emit("shop:session-changed", null);
    }
  },
};

function clampQuantity(value) {
  const n = Math.trunc(Number(value));
  if (!Number.isFinite(n) || n < 1) return 1;
  return Math.min(n, MAX_QUANTITY);
}

/** Money as integer cents, so totals add up exactly. */
export function toCents(price) {
  return Math.round(Number(price) * 100);
}

function readCart() {
  try {
    const items = JSON.parse(localStorage.getItem(CART_KEY) || "[]");
    if (!Array.isArray(items)) return [];
    return items
      .filter((item) => item && Number.isInteger(item.product_id) && item.product_id > 0)
      .map((item) => ({
        product_id: item.product_id,
        quantity: clampQuantity(item.quantity),
        title: String(item.title ?? `Product ${item.product_id}`),
        price: Number(item.price) || 0,
        image: String(item.image ?? ""),
      }));
  } catch {
    return [];
  }
}

function writeCart(items) {
  localStorage.setItem(CART_KEY, JSON.stringify(items));
  emit("shop:cart-changed", items);
}

export const cart = {
  items: readCart,

  count() {
    return readCart().reduce((sum, item) => sum + item.quantity, 0);
  },

  totalCents() {
    return readCart().reduce((sum, item) => sum + toCents(item.price) * item.quantity, 0);
  },

  add(product, quantity = 1) {
    const items = readCart();
    const id = Number(product.id);
    const existing = items.find((item) => item.product_id === id);
    if (existing) {
      existing.quantity = clampQuantity(existing.quantity + quantity);
    } else {
      items.push({
        product_id: id,
        quantity: clampQuantity(quantity),
        title: product.title,
        price: Number(product.price),
        image: product.image ?? "",
      });
    }
    writeCart(items);
  },

  setQuantity(productId, quantity) {
    const items = readCart();
    const item = items.find((entry) => entry.product_id === productId);
    if (!item) return;
    item.quantity = clampQuantity(quantity);
    writeCart(items);
  },

  /** Refresh the remembered title and price from the catalog. */
  refresh(product) {
    const items = readCart();
    const item = items.find((entry) => entry.product_id === Number(product.id));
    if (!item) return;
    item.title = product.title;
    item.price = Number(product.price);
    item.image = product.image ?? item.image;
    writeCart(items);
  },

  remove(productId) {
    writeCart(readCart().filter((item) => item.product_id !== productId));
  },

  clear() {
    writeCart([]);
  },
};

// Another tab changed the cart: keep this one in step.
window.addEventListener("storage", (event) => {
  if (event.key === CART_KEY) emit("shop:cart-changed", readCart());
});

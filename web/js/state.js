// Client state: the session (token in sessionStorage only, so it dies with the tab) and the cart
// (localStorage, so it survives reloads). Changes are announced as window events.

const TOKEN_KEY = "shop.token";
const EXPIRES_KEY = "shop.token.expires";
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

export const session = {
  token() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const expires = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
    if (token && expires && Date.now() >= expires) {
      this.expire();
      return null;
    }
    return token;
  },

  /** Store a login answer {access_token, token_type, expires_in}. */
  start(login) {
    sessionStorage.setItem(TOKEN_KEY, login.access_token);
    const seconds = Number(login.expires_in);
    if (Number.isFinite(seconds) && seconds > 0) {
      sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + seconds * 1000));
    } else {
      sessionStorage.removeItem(EXPIRES_KEY);
    }
  },

  /** The user from POST /auth/verify-token, normalised to carry user_id and role. */
  setUser(user) {
    if (!user) {
      currentUser = null;
    } else {
      const claims = tokenClaims(sessionStorage.getItem(TOKEN_KEY) ?? "");
      currentUser = {
        ...user,
        user_id: String(user.user_id ?? user.id ?? claims.user_id ?? ""),
        role: user.role ?? claims.role ?? "customer",
      };
    }
    emit("shop:session-changed", currentUser);
  },

  user() {
    return currentUser;
  },

  isAdmin() {
    return currentUser?.role === "admin";
  },

  logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
    this.setUser(null);
  },

  /** The server refused the token (expired, revoked): log out and tell the app. */
  expire() {
    const hadUser = currentUser !== null || sessionStorage.getItem(TOKEN_KEY) !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
    currentUser = null;
    if (hadUser) emit("shop:session-expired");
    emit("shop:session-changed", null);
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

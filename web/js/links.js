// The links the shop e-mails (verify an e-mail address, reset a password) and the pages that
// handle them. The backend builds them from STOREFRONT_URL; this page is static (one index.html,
// hash routes), so it accepts both forms:
//   {STOREFRONT_URL}/#/verify-email?token=…   (works on any static host)
//   {STOREFRONT_URL}/verify-email?token=…     (needs the host to answer index.html for that path)
// Pure functions: tests/js/links.test.js.

export const LINK_PAGES = ["verify-email", "reset-password"];

/** The in-app route ("/verify-email?token=…") a mailed link leads to, or null for other links. */
export function linkRoute(href, base = "http://localhost/") {
  let url;
  try {
    url = new URL(href, base);
  } catch {
    return null;
  }
  const hashRoute = url.hash.startsWith("#/") ? url.hash.slice(1) : null;
  const [path, query] = hashRoute
    ? [hashRoute.split("?")[0], hashRoute.split("?").slice(1).join("?")]
    : [url.pathname, url.search.slice(1)];
  const page = LINK_PAGES.find((name) => path === `/${name}` || path.endsWith(`/${name}`));
  if (!page) return null;
  const token = new URLSearchParams(query).get("token");
  return token ? `/${page}?${new URLSearchParams({ token })}` : `/${page}`;
}

/** The http(s) links in an e-mail's text. */
export function linksIn(text) {
  return [...String(text ?? "").matchAll(/https?:\/\/[^\s<>"')]+/g)].map((match) => match[0]);
}

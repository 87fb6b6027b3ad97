// Deployment setting: the API's base URL when the page is not served by the API's own origin
// (e.g. "https://abc123.execute-api.us-east-1.amazonaws.com/dev"). Empty: same origin.
// The deploy step overwrites this file; see web/README.md.
window.SHOP_API_BASE = window.SHOP_API_BASE || "";

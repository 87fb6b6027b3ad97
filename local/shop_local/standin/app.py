"""An offline stand-in for fakestoreapi.in: the same paths under `/api`, the same envelopes, status
codes and quirks, over a catalog of our own (`catalog.json`).

Quirks reproduced on purpose, because our client must cope with them:
- `GET /api/products/{id}` with an unknown numeric id answers 200 with the LAST product.
- `GET /api/products?page=N` past the end answers the LAST page, not an empty list.
- a non-numeric id (or page/limit) is a 400 `{"status": "BAD-REQUEST", "message": ...}`.

Dev controls on paths the real API does not have (for tests and the local stack):
- `GET /_standin/stats`: requests received per `/api` path; `DELETE` resets them.
- `GET|POST /_standin/faults` `{"mode": "down"|"slow"|"ok", "seconds": S}`: `down` answers 503 to
  every `/api` request, `slow` sleeps S seconds before answering.
Product images are SVGs generated here, so the storefront works without the internet.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

CATALOG_FILE = Path(__file__).with_name("catalog.json")
# One line per API request, so `make run` shows when a read reached the "upstream" (a cache miss).
log = logging.getLogger("shop_local.standin")
DEFAULT_LIMIT = 50
FAULT_MODES = ("ok", "down", "slow")
MAX_SLOW_SECONDS = 60.0

# Upstream's own order of the categories.
CATEGORY_ORDER = ("tv", "audio", "laptop", "mobile", "gaming", "appliances")
CATEGORY_COLOURS = {
    "tv": ("#1e3a5f", "#4f8cc9"),
    "audio": ("#3b1f4f", "#9b59b6"),
    "laptop": ("#1f3d2e", "#3fa36b"),
    "mobile": ("#4f2a1f", "#e07a4f"),
    "gaming": ("#2b2b3b", "#e0405f"),
    "appliances": ("#3d3a1f", "#c9a43f"),
}


def load_catalog(path: Path = CATALOG_FILE) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return sorted(products, key=lambda product: int(product["id"]))


class _BadRequest(Exception):
    pass


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _bad_request(message: str) -> Response:
    return _json(400, {"status": "BAD-REQUEST", "message": message})


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _BadRequest(f"Invalid {name} '{raw}': it must be a number") from exc
    if value < 1:
        raise _BadRequest(f"Invalid {name} '{raw}': it must be 1 or more")
    return value


def _page_of(items: list[dict[str, Any]], page: int, limit: int) -> list[dict[str, Any]]:
    # Upstream answers a page past the end with the last page.
    last_page = max(1, math.ceil(len(items) / limit))
    page = min(page, last_page)
    return items[(page - 1) * limit : page * limit]


class StandIn:
    """The WSGI app. State (stats, faults) belongs to the instance, so each test can have its own."""

    def __init__(self, catalog: Iterable[dict[str, Any]] | None = None) -> None:
        self.catalog = list(catalog) if catalog is not None else load_catalog()
        self.by_id = {int(product["id"]): product for product in self.catalog}
        present = {str(product["category"]) for product in self.catalog}
        self.categories = [name for name in CATEGORY_ORDER if name in present] + sorted(
            present - set(CATEGORY_ORDER)
        )
        self._lock = threading.Lock()
        self._stats: Counter[str] = Counter()
        self._fault_mode = "ok"
        self._fault_seconds = 0.0
        self.url_map = Map(
            [
                Rule("/api/products", endpoint="list_products", methods=["GET"]),
                Rule("/api/products/category", endpoint="category", methods=["GET"]),
                Rule("/api/products/<product_id>", endpoint="get_product", methods=["GET"]),
                Rule("/images/products/<int:product_id>.svg", endpoint="image", methods=["GET"]),
                Rule("/_standin/stats", endpoint="stats", methods=["GET", "DELETE"]),
                Rule("/_standin/faults", endpoint="faults", methods=["GET", "POST"]),
                Rule("/", endpoint="index", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        if request.path.startswith("/api"):
            log.info(
                "product API stand-in: %s %s %s",
                request.method,
                request.full_path.rstrip("?"),
                response.status_code,
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        is_api = request.path.startswith("/api/") or request.path == "/api"
        if is_api:
            with self._lock:
                self._stats[request.path] += 1
                mode, seconds = self._fault_mode, self._fault_seconds
            if mode == "down":
                return _json(503, {"status": "ERROR", "message": "Service temporarily unavailable"})
            if mode == "slow":
                time.sleep(seconds)
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            handler = getattr(self, f"on_{endpoint}")
            response: Response = handler(request, **values)
        except _BadRequest as exc:
            return _bad_request(str(exc))
        except NotFound:
            return _json(404, {"status": "NOT-FOUND", "message": f"Cannot {request.method} {request.path}"})
        except MethodNotAllowed:
            return _json(405, {"status": "BAD-REQUEST", "message": f"Method {request.method} not allowed"})
        except HTTPException as exc:
            return _json(exc.code or 500, {"status": "ERROR", "message": exc.description or "error"})
        return response

    # ------------------------------------------------------------------ the real API's paths
    def _public(self, product: dict[str, Any], request: Request) -> dict[str, Any]:
        # Like upstream, `image` is an absolute URL; ours points back at this server.
        return {**product, "image": f"{request.host_url}images/products/{product['id']}.svg"}

    def on_list_products(self, request: Request) -> Response:
        page = _int_arg(request, "page", 1)
        limit = _int_arg(request, "limit", DEFAULT_LIMIT)
        products = [self._public(p, request) for p in _page_of(self.catalog, page, limit)]
        message = (
            f"Here you go! You've received {len(products)} products. "
            "If you need more, add a 'limit' query parameter, like ?limit=150"
        )
        return _json(200, {"status": "SUCCESS", "message": message, "products": products})

    def on_category(self, request: Request) -> Response:
        name = request.args.get("type")
        if name is None:
            message = "We have for you the following categories to choose from"
            return _json(200, {"status": "SUCCESS", "message": message, "categories": self.categories})
        sort = (request.args.get("sort") or "asc").lower()
        if sort not in ("asc", "desc"):
            raise _BadRequest(f"Invalid sort '{sort}': use asc or desc")
        page = _int_arg(request, "page", 1)
        limit = _int_arg(request, "limit", DEFAULT_LIMIT)
        matching = [p for p in self.catalog if p["category"] == name.lower()]
        matching.sort(key=lambda p: int(p["id"]), reverse=sort == "desc")
        products = [self._public(p, request) for p in _page_of(matching, page, limit)]
        message = f"You've received {len(products)} products of the '{name}' category"
        return _json(200, {"status": "SUCCESS", "message": message, "products": products})

    def on_get_product(self, request: Request, product_id: str) -> Response:
        if not product_id.isdigit():
            raise _BadRequest(f"Invalid product id '{product_id}': it must be a number")
        # Upstream's quirk: an unknown id gets the last product (another id) with a 200.
        product = self.by_id.get(int(product_id), self.catalog[-1])
        message = f"Here you get the product with the id {product_id}"
        return _json(
            200, {"status": "SUCCESS", "message": message, "product": self._public(product, request)}
        )

    # ------------------------------------------------------------------ images
    def on_image(self, request: Request, product_id: int) -> Response:
        product = self.by_id.get(product_id)
        if product is None:
            raise NotFound()
        return Response(
            product_svg(product),
            mimetype="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # ------------------------------------------------------------------ dev controls
    def on_stats(self, request: Request) -> Response:
        with self._lock:
            if request.method == "DELETE":
                self._stats.clear()
            requests = dict(self._stats)
        return _json(200, {"requests": requests, "total": sum(requests.values())})

    def on_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
                mode = str(body.get("mode", "ok"))
                seconds = float(body.get("seconds", 0))
            except (ValueError, AttributeError) as exc:
                raise _BadRequest('Body must be {"mode": "down"|"slow"|"ok", "seconds": S}') from exc
            if mode not in FAULT_MODES or not 0 <= seconds <= MAX_SLOW_SECONDS:
                raise _BadRequest(f"mode must be one of {FAULT_MODES}, seconds 0-{MAX_SLOW_SECONDS:g}")
            with self._lock:
                self._fault_mode, self._fault_seconds = mode, seconds
        with self._lock:
            return _json(200, {"mode": self._fault_mode, "seconds": self._fault_seconds})

    def on_index(self, request: Request) -> Response:
        return _json(
            200,
            {
                "status": "SUCCESS",
                "message": "Product API stand-in (fakestoreapi.in paths under /api)",
                "products": len(self.catalog),
                "categories": self.categories,
            },
        )


def _wrap(text: str, width: int, lines: int) -> list[str]:
    words, out, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out


def product_svg(product: dict[str, Any]) -> str:
    """A 400x400 card: category colours, brand, model and the title (all text XML-escaped)."""
    dark, light = CATEGORY_COLOURS.get(str(product.get("category")), ("#333333", "#888888"))
    title_lines = _wrap(str(product.get("title", "")), 30, 3)
    initials = escape(str(product.get("brand", "")).upper()[:2])
    tspans = "".join(
        f'<tspan x="200" dy="{0 if i == 0 else 26}">{escape(line)}</tspan>'
        for i, line in enumerate(title_lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{light}"/>'
        f'<stop offset="1" stop-color="{dark}"/></linearGradient></defs>'
        '<rect width="400" height="400" rx="24" fill="url(#g)"/>'
        '<circle cx="200" cy="130" r="70" fill="#ffffff" fill-opacity="0.18"/>'
        '<text x="200" y="148" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="48" font-weight="700" fill="#ffffff">{initials}</text>'
        '<text x="200" y="250" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="20" fill="#ffffff">{tspans}</text>'
        '<text x="200" y="370" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="16" fill="#ffffff" fill-opacity="0.8">{escape(str(product.get("brand", "")))} · '
        f"{escape(str(product.get('model', '')))}</text>"
        "</svg>"
    )


def make_app(catalog: Iterable[dict[str, Any]] | None = None) -> StandIn:
    """The stand-in as a WSGI app (mount it anywhere; `image` URLs follow the request's host)."""
    return StandIn(catalog)

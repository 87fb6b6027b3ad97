"""ProductsFunction end to end in-process: API Gateway proxy events (events/products-*.json) into
`products_api.lambda_handler`, the stand-in over real HTTP behind it, and the real Redis."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import products_api
from shop_local.testing import lambda_context

EVENTS = Path(__file__).resolve().parents[2] / "events"
CATEGORIES = ["tv", "audio", "laptop", "mobile", "gaming", "appliances"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def event(
    name: str,
    *,
    path: str | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    ev = json.loads((EVENTS / f"products-{name}.json").read_text())
    if path is not None:
        ev["path"] = path
        ev["requestContext"]["path"] = f"/dev{path}"
    if query is not None:
        ev["queryStringParameters"] = query or None
        ev["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if path_params is not None:
        ev["pathParameters"] = path_params
    return ev


def call(ev: dict[str, Any]) -> Reply:
    raw = products_api.lambda_handler(ev, lambda_context("ProductsFunction"))
    headers = {
        k: v[-1] if isinstance(v, list) else v for k, v in (raw.get("multiValueHeaders") or {}).items()
    }
    headers.update(raw.get("headers") or {})
    return Reply(raw["statusCode"], headers, json.loads(raw["body"]))


def get_product(product_id: str) -> Reply:
    return call(event("get", path=f"/products/{product_id}", path_params={"product_id": product_id}))


def list_products(**query: str) -> Reply:
    return call(event("list", query=query))


def ids(reply: Reply) -> list[int]:
    return [product["id"] for product in reply.body["products"]]


# ------------------------------------------------------------------ the sample events


@pytest.mark.parametrize("name", ["list", "get", "categories"])
def test_the_sample_events_are_answered(product_api, name):
    reply = call(event(name))

    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"].startswith("public, max-age=")


# ------------------------------------------------------------------ GET /products


def test_list_with_the_sample_event_filters_by_category(product_api):
    reply = call(event("list"))  # ?limit=5&page=1&category=mobile

    assert reply.body["page"] == 1
    assert reply.body["limit"] == 5
    assert reply.body["category"] == "mobile"
    assert 0 < len(reply.body["products"]) <= 5
    assert {p["category"] for p in reply.body["products"]} == {"mobile"}


def test_list_defaults(product_api):
    reply = list_products()

    assert reply.status == 200
    assert (reply.body["page"], reply.body["limit"], reply.body["category"]) == (1, 20, None)
    assert ids(reply) == list(range(1, 21))


def test_list_pages(product_api):
    assert ids(list_products(page="2", limit="10")) == list(range(11, 21))


def test_a_page_past_the_end_is_empty(product_api):
    reply = list_products(page="40", limit="10")

    assert reply.status == 200
    assert reply.body["products"] == []
    assert reply.body["page"] == 40


def test_category_names_are_case_insensitive(product_api):
    reply = list_products(category="Gaming", limit="3")

    assert reply.status == 200
    assert reply.body["category"] == "gaming"
    assert {p["category"] for p in reply.body["products"]} == {"gaming"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "-2"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"category": "shoes"}, "category"),
        ({"category": "tv<script>"}, "category"),
    ],
)
def test_bad_list_parameters_are_422_json(product_api, query, field):
    reply = list_products(**query)

    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert field in reply.body["message"]
    assert "<script>" not in json.dumps(reply.body)
    assert product_api.calls("/api/products") == 0


def test_an_unknown_category_error_lists_the_known_ones(product_api):
    reply = list_products(category="shoes")

    assert all(name in reply.body["message"] for name in CATEGORIES)


# ------------------------------------------------------------------ GET /products/{product_id}


def test_get_one_product(product_api):
    reply = get_product("7")

    assert reply.status == 200
    product = reply.body
    assert product["id"] == 7
    assert product["title"].startswith("Sony WH-1000XM5")
    assert product["price"] == 399.99
    assert product["brand"] == "sony"
    assert product["category"] == "audio"
    assert product["image"].endswith("/images/products/7.svg")
    assert product["discount"] == 15
    assert product["onSale"] is True


def test_optional_fields_a_product_lacks_are_left_out(product_api):
    product = get_product("2").body  # no discount, no onSale

    assert "discount" not in product
    assert "onSale" not in product
    assert None not in product.values()


def test_an_unknown_product_is_404_not_the_product_upstream_sends(product_api):
    reply = get_product("9999")

    assert reply.status == 404
    assert reply.body["code"] == "product_not_found"
    assert "9999" in reply.body["message"]
    assert "title" not in reply.body


@pytest.mark.parametrize(
    "product_id", ["abc", "0", "-1", "1.5", "99999999999999999999", "2147483648", "9" * 4300]
)
def test_an_id_that_is_not_a_positive_integer_is_422(product_api, product_id):
    reply = get_product(product_id)

    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert product_api.stats() == {}


@pytest.mark.parametrize("product_id", ["01", "+1", "1.0", " 1", "1 ", "1_0", "٣"])
def test_an_id_is_accepted_only_in_its_one_canonical_form(product_api, product_id):
    # Pydantic's lax int parsing would read all of these as a product (issue 26, item 7): one
    # product, one URL, so a cache or a log never sees the same product under many names.
    reply = get_product(product_id)

    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert "product_id" in reply.body["message"]
    assert product_api.stats() == {}


def test_the_second_read_comes_from_redis(product_api):
    assert get_product("12").status == 200
    assert get_product("12").status == 200

    assert product_api.calls("/api/products/12") == 1


# ------------------------------------------------------------------ GET /products/categories


def test_categories(product_api):
    reply = call(event("categories"))

    assert reply.status == 200
    assert reply.body == {"categories": CATEGORIES}


# ------------------------------------------------------------------ dependencies failing


def test_upstream_down_serves_the_cache_and_503s_the_rest(product_api):
    assert get_product("1").status == 200
    product_api.fault("down")

    warm = get_product("1")
    cold = get_product("2")

    assert warm.status == 200
    assert warm.body["id"] == 1
    assert cold.status == 503
    assert cold.body["code"] == "product_catalog_unavailable"
    assert "unavailable" in cold.body["message"]
    assert int(cold.headers["Retry-After"]) > 0
    assert "Cache-Control" not in cold.headers


def test_redis_down_still_answers(product_api, monkeypatch, new_container):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    new_container()

    assert get_product("3").status == 200
    assert list_products(category="tv", limit="2").status == 200
    assert call(event("categories")).status == 200


# ------------------------------------------------------------------ the OpenAPI document


def test_the_openapi_document_describes_the_parameters():
    doc = json.loads(products_api.app.get_openapi_json_schema())
    paths = doc["paths"]

    params = {p["name"]: p for p in paths["/products"]["get"]["parameters"]}
    assert params["limit"]["in"] == "query"
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["limit"]["schema"]["default"] == 20
    assert params["page"]["schema"]["minimum"] == 1
    assert "category" in params
    product_id = paths["/products/{product_id}"]["get"]["parameters"][0]
    assert (product_id["name"], product_id["in"], product_id["required"]) == ("product_id", "path", True)
    assert product_id["schema"]["type"] == "integer"
    assert "/products/categories" in paths
    assert "404" in paths["/products/{product_id}"]["get"]["responses"]


# ------------------------------------------------------------------ the listing window


def test_the_listing_window_is_bounded_and_never_asked_upstream(product_api):
    """page * limit is what we ask upstream for; an anonymous request must not make it 100,000."""
    reply = list_products(page="1000", limit="100")

    assert reply.status == 422
    assert reply.body["code"] == "listing_window_too_large"
    assert str(products_api.MAX_LISTING_WINDOW) in reply.body["message"]
    assert product_api.stats() == {}
    assert list_products(page="6", limit="100").status == 422
    assert list_products(page="5", limit="100").status == 200  # the window's edge is still served

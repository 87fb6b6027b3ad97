"""The products API over real HTTP on the whole local stack (`stack`): the gateway, ProductsFunction,
the real Redis (the test database) and the product stand-in the stack serves."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
import requests

from shop_local.testing import ShopStack
from shop_shared.products_client import product_key

CATEGORIES = ["tv", "audio", "laptop", "mobile", "gaming", "appliances"]


class Upstream:
    """The stack's stand-in, seen from the test: how often it was asked for a path."""

    def __init__(self, stack: ShopStack) -> None:
        self.root = stack.product_api_url.removesuffix("/api")

    def calls(self, path: str) -> int:
        stats = requests.get(f"{self.root}/_standin/stats", timeout=5).json()["requests"]
        return int(stats.get(path, 0))


@pytest.fixture
def upstream(stack: ShopStack) -> Upstream:
    return Upstream(stack)


@pytest.fixture
def cache(stack: ShopStack) -> Iterator[redis.Redis]:
    """The Redis database the stack's functions use (never flushed here: the stack shares it)."""
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    client.close()


def forget(cache: redis.Redis, *product_ids: int) -> None:
    cache.delete(*[product_key(product_id) for product_id in product_ids])


def test_a_product_comes_from_upstream_once_then_from_redis(stack, upstream, cache):
    forget(cache, 17)
    before = upstream.calls("/api/products/17")

    first = stack.get("/products/17")
    second = stack.get("/products/17")

    assert first.status_code == 200, first.text
    assert first.json()["id"] == 17
    assert second.json() == first.json()
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert upstream.calls("/api/products/17") - before == 1
    assert cache.ttl(product_key(17)) > 3000


def test_list_by_category_and_categories(stack):
    listing = stack.get("/products", params={"category": "laptop", "limit": 3})
    categories = stack.get("/products/categories")

    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert (body["page"], body["limit"], body["category"]) == (1, 3, "laptop")
    assert len(body["products"]) == 3
    assert {p["category"] for p in body["products"]} == {"laptop"}
    assert categories.status_code == 200
    assert categories.json() == {"categories": CATEGORIES}


def test_pages_end_with_an_empty_page(stack):
    first = stack.get("/products", params={"page": 1, "limit": 10}).json()["products"]
    past = stack.get("/products", params={"page": 30, "limit": 10})

    assert [p["id"] for p in first] == list(range(1, 11))
    assert past.status_code == 200
    assert past.json()["products"] == []


def test_unknown_and_malformed_ids(stack):
    unknown = stack.get("/products/9999")
    malformed = stack.get("/products/abc")

    assert unknown.status_code == 404
    assert unknown.json()["code"] == "product_not_found"
    assert malformed.status_code == 422  # a path parameter of the wrong type, like every other
    assert malformed.json()["code"] == "validation_error"
    assert malformed.json()["message"]


def test_bad_query_values_are_422(stack):
    for params in ({"limit": 0}, {"limit": 1000}, {"page": "x"}, {"category": "shoes"}):
        response = stack.get("/products", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == "validation_error"


def test_product_images_are_served_offline(stack):
    image = stack.get("/products/5").json()["image"]

    response = requests.get(image, timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")


def test_concurrent_first_reads_of_one_product_make_one_upstream_call(stack, upstream, cache):
    forget(cache, 23)
    before = upstream.calls("/api/products/23")
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def read() -> None:
        barrier.wait()
        statuses.append(requests.get(f"{stack.url}/products/23", timeout=30).status_code)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200] * 6
    assert upstream.calls("/api/products/23") - before == 1


def test_upstream_down_serves_cached_products_and_503s_the_rest(no_faults, upstream, cache):
    stack = no_faults
    assert stack.get("/products/18").status_code == 200
    forget(cache, 19)
    stack.fail("products-api")

    warm = stack.get("/products/18")
    cold = stack.get("/products/19")

    assert warm.status_code == 200
    assert warm.json()["id"] == 18
    assert cold.status_code == 503
    assert cold.json()["code"] == "product_catalog_unavailable"
    assert "unavailable" in cold.json()["message"]
    assert int(cold.headers["Retry-After"]) > 0


def test_redis_down_still_answers_from_upstream(no_faults, cache):
    stack = no_faults
    forget(cache, 20)
    unavailable = stack.metric_total("RedisUnavailable", Use="product_cache")
    stack.fail("redis")

    product = stack.get("/products/20")
    listing = stack.get("/products", params={"category": "gaming", "limit": 2})

    assert product.status_code == 200, product.text
    assert product.json()["id"] == 20
    assert not cache.exists(product_key(20))  # the function really could not reach Redis
    # ... and counted it (the metric the RedisUnavailable alarm watches)
    stack.wait_until(lambda: stack.metric_total("RedisUnavailable", Use="product_cache") > unavailable)
    assert listing.status_code == 200, listing.text
    assert len(listing.json()["products"]) == 2


def test_the_openapi_document_describes_the_products_routes(stack):
    doc = stack.get("/openapi.json").json()

    products = doc["paths"]["/products"]["get"]
    assert {p["name"] for p in products["parameters"]} >= {"limit", "page", "category"}
    assert "/products/{product_id}" in doc["paths"]
    assert "/products/categories" in doc["paths"]

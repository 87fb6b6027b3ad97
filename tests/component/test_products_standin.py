"""The product API stand-in answers like fakestoreapi.in (paths, envelopes, status codes, quirks),
over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from xml.dom import minidom

import pytest
import requests

from shop_local.standin import load_catalog
from shop_shared.models import Product

CATEGORIES = ["tv", "audio", "laptop", "mobile", "gaming", "appliances"]


def get(product_api, path: str, **params) -> requests.Response:
    return requests.get(f"{product_api.url}{path}", params=params, timeout=5)


def ids(body: dict) -> list[int]:
    return [product["id"] for product in body["products"]]


def test_catalog_is_realistic_and_complete():
    catalog = load_catalog()
    products = [Product.model_validate(item) for item in catalog]

    assert len(products) >= 30
    assert [p.id for p in products] == list(range(1, len(products) + 1))
    assert {p.category for p in products} == set(CATEGORIES)
    assert all(p.title and p.brand and p.model and len(p.description) > 40 for p in products)
    assert all(Decimal("1") < p.price < Decimal("10000") for p in products)
    assert any(p.discount and p.onSale for p in products)
    assert any(p.popular for p in products)
    assert all(p.color for p in products)


def test_list_defaults_to_page_one_of_fifty(product_api):
    response = get(product_api, "/products")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "SUCCESS"
    assert isinstance(body["message"], str)
    assert ids(body) == list(range(1, len(load_catalog()) + 1))[:50]


def test_list_pages(product_api):
    assert ids(get(product_api, "/products", page=2, limit=10).json()) == list(range(11, 21))


def test_a_page_past_the_end_returns_the_last_page(product_api):
    total = len(load_catalog())
    last_page_start = (total - 1) // 10 * 10 + 1

    body = get(product_api, "/products", page=99, limit=10).json()

    assert ids(body) == list(range(last_page_start, total + 1))


def test_one_product(product_api):
    response = get(product_api, "/products/7")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "SUCCESS"
    product = body["product"]
    assert product["id"] == 7
    assert {"title", "price", "description", "brand", "model", "category", "image"} <= set(product)


def test_an_unknown_id_returns_the_last_product_with_200(product_api):
    response = get(product_api, "/products/9999")

    assert response.status_code == 200
    assert response.json()["product"]["id"] == len(load_catalog())


def test_a_non_numeric_id_is_a_bad_request(product_api):
    response = get(product_api, "/products/abc")

    assert response.status_code == 400
    assert response.json()["status"] == "BAD-REQUEST"
    assert "abc" in response.json()["message"]


def test_categories(product_api):
    body = get(product_api, "/products/category").json()

    assert body["status"] == "SUCCESS"
    assert body["categories"] == CATEGORIES


def test_category_filter_with_sort_and_limit(product_api):
    mobile = [p["id"] for p in load_catalog() if p["category"] == "mobile"]

    body = get(product_api, "/products/category", type="mobile", sort="desc", limit=2).json()

    assert body["status"] == "SUCCESS"
    assert [p["category"] for p in body["products"]] == ["mobile", "mobile"]
    assert ids(body) == sorted(mobile, reverse=True)[:2]
    assert ids(get(product_api, "/products/category", type="mobile").json()) == mobile


def test_images_are_served_offline_as_svg(product_api):
    image_url = get(product_api, "/products/3").json()["product"]["image"]
    assert image_url.startswith(product_api.root + "/")

    response = requests.get(image_url, timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    svg = minidom.parseString(response.text).documentElement
    assert svg.tagName == "svg"


def test_stats_count_requests_per_path_and_reset(product_api):
    get(product_api, "/products/5")
    get(product_api, "/products/5")
    get(product_api, "/products", limit=3)

    assert product_api.stats() == {"/api/products/5": 2, "/api/products": 1}
    product_api.reset_stats()
    assert product_api.stats() == {}


def test_down_fault_answers_503_until_ok(product_api):
    product_api.fault("down")
    assert get(product_api, "/products/1").status_code == 503
    assert get(product_api, "/products").status_code == 503

    product_api.fault("ok")
    assert get(product_api, "/products/1").status_code == 200


def test_slow_fault_still_answers(product_api):
    product_api.fault("slow", 0.05)

    assert get(product_api, "/products/2").json()["product"]["id"] == 2


@pytest.mark.parametrize("body", [{"mode": "broken"}, {"mode": "slow", "seconds": -1}])
def test_faults_reject_bad_settings(product_api, body):
    response = requests.post(f"{product_api.root}/_standin/faults", json=body, timeout=5)

    assert response.status_code == 400

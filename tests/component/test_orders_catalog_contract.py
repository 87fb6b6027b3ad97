"""The `Catalog` contract (products by id; unknown ids absent), run against the in-memory fake
holding the stand-in's catalog and the real client (`shop_shared.products_client`, through Redis)
calling the product API stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from shop_fakes.orders import InMemoryCatalog

from orders_ports import Catalog
from shop_local.standin.app import load_catalog
from shop_shared.models import Product

CATALOG = [Product.model_validate(product) for product in load_catalog()]


@pytest.fixture(params=["fake", "products_client"])
def catalog(request: pytest.FixtureRequest) -> Iterator[Catalog]:
    if request.param == "fake":
        yield InMemoryCatalog(CATALOG)
        return
    request.getfixturevalue("product_api")
    from shop_shared import products_client

    yield products_client


def test_known_products_come_keyed_by_id_with_the_catalogs_title_and_price(catalog: Catalog) -> None:
    first, last = CATALOG[0], CATALOG[-1]
    found = catalog.get_products([last.id, first.id])
    assert set(found) == {first.id, last.id}
    assert (found[first.id].title, found[first.id].price) == (first.title, first.price)
    assert isinstance(found[last.id].price, Decimal)


def test_unknown_ids_are_absent_and_a_repeated_id_is_one_product(catalog: Catalog) -> None:
    known = CATALOG[1].id
    unknown = max(product.id for product in CATALOG) + 1000
    assert list(catalog.get_products([known, unknown, known])) == [known]
    assert catalog.get_products([unknown]) == {}
    assert catalog.get_products([]) == {}

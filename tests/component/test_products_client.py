"""shop_shared.products_client against the stand-in over real HTTP and the real Redis."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import redis
from redis.connection import AbstractConnection

from shop_shared import products_client
from shop_shared.errors import ServiceUnavailable
from shop_shared.models import Product


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts this thread's Redis round trips (a pipeline is one; every command is sent through
    `send_packed_command`). Call the returned function to read and reset the count."""
    count = 0
    original = AbstractConnection.send_packed_command
    me = threading.get_ident()

    def counting(self, command, check_health=True):
        nonlocal count
        if threading.get_ident() == me:
            count += 1
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)

    def read() -> int:
        nonlocal count
        value, count = count, 0
        return value

    return read


@pytest.fixture
def redis_down(product_api, monkeypatch: pytest.MonkeyPatch, new_container) -> Iterator[None]:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    new_container()
    yield
    new_container()


def run_concurrently(count: int, call: Callable[[], object]) -> list[object]:
    """Run `call` in `count` threads released at the same moment; results (or exceptions) in order."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# ------------------------------------------------------------------ one product


def test_get_product_reads_upstream_once_then_redis(product_api):
    first = products_client.get_product(7)
    second = products_client.get_product(7)

    assert isinstance(first, Product)
    assert first.id == 7
    assert first.brand == "sony"
    assert first.price == Decimal("399.99")
    assert second == first
    assert product_api.calls("/api/products/7") == 1


def test_an_unknown_id_is_not_found_not_the_product_upstream_sent(product_api, redis_conn):
    assert products_client.get_product(9999) is None
    assert products_client.get_product(9999) is None

    # Remembered briefly as missing (one upstream call), never as upstream's wrong product.
    assert product_api.calls("/api/products/9999") == 1
    assert redis_conn.get(products_client.product_key(9999)) == products_client.MISSING
    assert 0 < redis_conn.ttl(products_client.product_key(9999)) <= products_client.MISSING_TTL_SECONDS


def test_ids_that_cannot_exist_cost_nothing(product_api):
    assert products_client.get_products([0, -3]) == {}
    assert product_api.stats() == {}


def test_cached_product_has_an_hour_ttl(product_api, redis_conn):
    products_client.get_product(3)

    assert 3500 < redis_conn.ttl(products_client.product_key(3)) <= products_client.PRODUCT_TTL_SECONDS


# ------------------------------------------------------------------ several products


def test_get_products_returns_the_existing_ones_keyed_by_id(product_api):
    found = products_client.get_products([3, 1, 9999, 2, 3])

    assert sorted(found) == [1, 2, 3]
    assert all(found[i].id == i for i in found)
    # One upstream request per distinct id, never two for the same product.
    assert product_api.stats() == {f"/api/products/{i}": 1 for i in (1, 2, 3, 9999)}


def test_a_warm_multi_product_read_is_one_redis_round_trip(product_api, round_trips):
    products_client.get_products([1, 2, 3, 4, 5, 9999])
    round_trips()
    product_api.reset_stats()

    found = products_client.get_products([1, 2, 3, 4, 5, 9999])

    assert sorted(found) == [1, 2, 3, 4, 5]
    assert round_trips() == 1
    assert product_api.stats() == {}


def test_a_cold_multi_product_read_costs_three_round_trips_whatever_the_count(product_api, round_trips):
    products_client.get_product(30)  # opens the connection
    round_trips()

    products_client.get_products([11, 12, 13, 14, 15, 16])

    # MGET; take the locks and re-read; write back and release. Not one per product.
    assert round_trips() == 3


def test_a_partly_cached_read_fetches_only_the_misses(product_api):
    products_client.get_products([1, 2])
    product_api.reset_stats()

    found = products_client.get_products([1, 2, 3])

    assert sorted(found) == [1, 2, 3]
    assert product_api.stats() == {"/api/products/3": 1}


# ------------------------------------------------------------------ single flight


def test_concurrent_misses_of_one_product_make_one_upstream_call(product_api):
    product_api.fault("slow", 0.3)  # the first fetch is still running when the others arrive

    results = run_concurrently(8, lambda: products_client.get_product(21))

    assert all(isinstance(result, Product) and result.id == 21 for result in results), results
    assert product_api.calls("/api/products/21") == 1


def test_overlapping_concurrent_reads_fetch_each_product_once(product_api):
    product_api.fault("slow", 0.2)
    batches = [[1, 2, 3], [2, 3, 4], [3, 4, 5], [1, 5, 9999]]
    lock = threading.Lock()
    turn = iter(batches)

    def read() -> dict[int, Product]:
        with lock:
            batch = next(turn)
        return products_client.get_products(batch)

    results = run_concurrently(len(batches), read)

    assert all(isinstance(result, dict) for result in results), results
    assert sorted({i for result in results for i in result}) == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert product_api.stats() == {f"/api/products/{i}": 1 for i in (1, 2, 3, 4, 5, 9999)}


def test_concurrent_waiters_get_503_when_the_fetch_they_wait_for_fails(product_api):
    product_api.fault("down")

    results = run_concurrently(4, lambda: products_client.get_product(22))

    assert all(isinstance(result, ServiceUnavailable) for result in results), results


# ------------------------------------------------------------------ listings


def test_list_pages_in_upstream_order(product_api):
    assert [p.id for p in products_client.list_products(page=1, limit=5)] == [1, 2, 3, 4, 5]
    assert [p.id for p in products_client.list_products(page=2, limit=5)] == [6, 7, 8, 9, 10]


def test_a_page_past_the_end_is_empty(product_api):
    # Upstream would answer with its last page again; a client paging until empty must stop.
    assert products_client.list_products(page=50, limit=10) == []


def test_list_by_category(product_api):
    products = products_client.list_products(page=1, limit=50, category="gaming")

    assert len(products) >= 5
    assert {p.category for p in products} == {"gaming"}
    assert products_client.list_products(page=2, limit=3, category="gaming")[0].id == products[3].id


def test_a_list_is_cached_and_warms_the_products(product_api, redis_conn):
    products_client.list_products(page=1, limit=4)
    products_client.list_products(page=1, limit=4)
    found = products_client.get_products([1, 2, 3, 4])

    assert sorted(found) == [1, 2, 3, 4]
    assert product_api.stats() == {"/api/products": 1}
    assert 0 < redis_conn.ttl("products:list:*:1:4") <= products_client.LIST_TTL_SECONDS


def test_categories_are_cached(product_api):
    assert products_client.list_categories() == ["tv", "audio", "laptop", "mobile", "gaming", "appliances"]
    assert products_client.list_categories() == ["tv", "audio", "laptop", "mobile", "gaming", "appliances"]
    assert product_api.calls("/api/products/category") == 1


# ------------------------------------------------------------------ upstream down


def test_upstream_down_still_serves_what_is_cached(product_api):
    products_client.get_products([1, 2])
    products_client.list_products(page=1, limit=3)
    products_client.list_categories()
    product_api.fault("down")

    assert sorted(products_client.get_products([1, 2])) == [1, 2]
    assert [p.id for p in products_client.list_products(page=1, limit=3)] == [1, 2, 3]
    assert len(products_client.list_categories()) == 6


def test_upstream_down_and_a_cold_product_is_503_after_retrying(product_api):
    product_api.fault("down")

    with pytest.raises(ServiceUnavailable) as caught:
        products_client.get_product(5)

    assert caught.value.status == 503
    assert "unavailable" in caught.value.message
    assert caught.value.headers["Retry-After"]
    assert product_api.calls("/api/products/5") >= 2  # 5xx is retried with backoff


def test_a_multi_product_read_needing_a_down_upstream_is_503(product_api):
    products_client.get_product(1)
    product_api.fault("down")

    with pytest.raises(ServiceUnavailable):
        products_client.get_products([1, 2])


def test_upstream_down_cold_listing_and_categories_are_503(product_api):
    product_api.fault("down")

    with pytest.raises(ServiceUnavailable):
        products_client.list_products(page=1, limit=5)
    with pytest.raises(ServiceUnavailable):
        products_client.list_categories()


def test_a_failed_fetch_is_not_remembered(product_api):
    product_api.fault("down")
    with pytest.raises(ServiceUnavailable):
        products_client.get_product(6)

    product_api.fault("ok")

    product = products_client.get_product(6)
    assert product is not None
    assert product.id == 6


def test_unreachable_upstream_is_503(product_api, monkeypatch, new_container):
    monkeypatch.setenv("PRODUCT_API_URL", "http://127.0.0.1:1/api")
    new_container()

    with pytest.raises(ServiceUnavailable):
        products_client.get_product(8)


def test_a_hanging_upstream_times_out_with_503(product_api, monkeypatch, new_container):
    monkeypatch.setenv("PRODUCT_API_TIMEOUT_SECONDS", "0.2")
    new_container()
    product_api.fault("slow", 2)

    with pytest.raises(ServiceUnavailable):
        products_client.get_product(9)


# ------------------------------------------------------------------ Redis down


def test_redis_down_goes_to_upstream_and_logs(redis_down, product_api, caplog):
    caplog.set_level(logging.WARNING, logger=products_client.log.name)

    product = products_client.get_product(4)
    found = products_client.get_products([1, 2, 9999])
    listing = products_client.list_products(page=1, limit=2, category="audio")
    categories = products_client.list_categories()

    assert product is not None
    assert product.id == 4
    assert sorted(found) == [1, 2]
    assert [p.category for p in listing] == ["audio", "audio"]
    assert "mobile" in categories
    assert any("Redis unavailable" in record.getMessage() for record in caplog.records)


def test_redis_errors_are_redis_errors(redis_down):
    # The premise of the test above: the client really cannot reach Redis.
    from shop_shared.redis_client import get_redis

    with pytest.raises(redis.RedisError):
        get_redis().ping()


def _redis_unavailable_metrics(output: str) -> list[str]:
    uses = []
    for line in output.splitlines():
        if line.startswith("{") and '"RedisUnavailable"' in line:
            uses.append(json.loads(line)["Use"])
    return uses


def test_redis_down_is_counted_for_the_alarm(redis_down, product_api, capsys):
    """The cache fails open, and says so in the metric the RedisUnavailable alarm watches."""
    assert products_client.get_product(4) is not None
    assert _redis_unavailable_metrics(capsys.readouterr().out) == ["product_cache"]


def test_without_redis_by_choice_nothing_is_reported(product_api, monkeypatch, new_container, capsys, caplog):
    monkeypatch.setenv("REDIS_URL", "none")
    new_container()
    try:
        assert products_client.get_product(4) is not None
        assert products_client.list_products(page=1, limit=2)
        assert _redis_unavailable_metrics(capsys.readouterr().out) == []
        assert not [r for r in caplog.records if "Redis" in r.getMessage()]
        assert product_api.calls("/api/products/4") == 1
    finally:
        new_container()

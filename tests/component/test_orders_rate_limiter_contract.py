"""The `RateLimiter` contract (a sliding window of reservations per key), run against the in-memory
fake and the Redis adapter (its Lua script on the real Redis, the test database): the same answers
for the same clock, so the unit tests' limits are the deployed ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from shop_fakes.orders import InMemorySlidingWindow

from orders_ports import RateLimiter
from orders_rate_limit import RedisSlidingWindow

WINDOW = 300_000
T0 = 1_800_000_000_000


@pytest.fixture(params=["fake", "redis"])
def limiter(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, new_container: Callable[[], None]
) -> Iterator[RateLimiter]:
    if request.param == "fake":
        yield InMemorySlidingWindow()
        return
    request.getfixturevalue("redis_conn")  # the test database, emptied after the test
    monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    monkeypatch.setenv("REDIS_CLUSTER", "false")
    new_container()
    yield RedisSlidingWindow()
    new_container()


def take(limiter: RateLimiter, slot: str, now_ms: int, key: str = "ratelimit:test:u1", limit: int = 3) -> int:
    return limiter.reserve(key, slot=slot, limit=limit, window_ms=WINDOW, now_ms=now_ms)


def test_the_limit_is_reserved_then_refused_with_the_wait_for_the_oldest_slot(
    limiter: RateLimiter,
) -> None:
    assert [take(limiter, s, T0 + i * 1000) for i, s in enumerate("abc")] == [0, 0, 0]
    assert take(limiter, "d", T0 + 10_000) == WINDOW - 10_000
    assert take(limiter, "e", T0 + 299_999) == 1


def test_a_refused_reservation_takes_no_slot(limiter: RateLimiter) -> None:
    for slot in "abc":
        take(limiter, slot, T0)
    for slot in "defg":
        assert take(limiter, slot, T0 + 1) > 0
    limiter.release("ratelimit:test:u1", "a")
    assert take(limiter, "h", T0 + 2) == 0


def test_a_released_slot_is_free_again_and_an_unknown_one_changes_nothing(limiter: RateLimiter) -> None:
    for slot in "abc":
        take(limiter, slot, T0)
    limiter.release("ratelimit:test:u1", "nope")
    limiter.release("ratelimit:test:other", "a")
    assert take(limiter, "d", T0) > 0
    limiter.release("ratelimit:test:u1", "b")
    assert take(limiter, "d", T0) == 0
    assert take(limiter, "e", T0) > 0


def test_the_window_slides_a_slot_one_window_old_is_free(limiter: RateLimiter) -> None:
    take(limiter, "a", T0)
    take(limiter, "b", T0 + 100_000)
    take(limiter, "c", T0 + 200_000)
    assert take(limiter, "d", T0 + WINDOW - 1) == 1
    assert take(limiter, "d", T0 + WINDOW) == 0  # `a` left the window
    assert take(limiter, "e", T0 + WINDOW) == 100_000


def test_each_key_has_its_own_window(limiter: RateLimiter) -> None:
    for slot in "ab":
        take(limiter, slot, T0, limit=2)
    assert take(limiter, "c", T0, limit=2) > 0
    assert take(limiter, "c", T0, key="ratelimit:test:u2", limit=2) == 0

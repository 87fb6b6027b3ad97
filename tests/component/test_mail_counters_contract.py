"""The mail counters' contract, run against the in-memory fake and the Redis adapter (the test
database): the same counts and windows, so the unit tests' limits are the deployed ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from shop_fakes.mail_limits import InMemoryMailCounters

from mail_counters import MailCounters, RedisMailCounters


@pytest.fixture(params=["fake", "redis"])
def counters(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, new_container: Callable[[], None]
) -> Iterator[MailCounters]:
    if request.param == "fake":
        yield InMemoryMailCounters()
        return
    request.getfixturevalue("redis_conn")  # the test database, emptied after the test
    monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    monkeypatch.setenv("REDIS_CLUSTER", "false")
    new_container()
    yield RedisMailCounters()
    new_container()


def test_each_request_counts_once_in_a_window_that_starts_with_the_first(counters: MailCounters) -> None:
    counts = [counters.count("mail:client:{203.0.113.7}", 3600) for _ in range(4)]
    assert [c.requests for c in counts] == [1, 2, 3, 4]
    assert all(3598 <= c.ttl <= 3600 for c in counts)


def test_later_requests_do_not_extend_the_window(counters: MailCounters) -> None:
    counters.count("mail:rcpt:{a}", 3600)
    assert counters.count("mail:rcpt:{a}", 60).ttl > 60  # the first request's window stands


def test_keys_are_counted_apart(counters: MailCounters) -> None:
    counters.count("mail:client:{203.0.113.7}", 3600)
    assert counters.count("mail:client:{198.51.100.1}", 3600).requests == 1

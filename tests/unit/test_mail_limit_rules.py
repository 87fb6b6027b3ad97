"""The e-mail limits (DESIGN part 5): the rule (`mail_limits`, pure) and the checks the routes call
(`mail_counters.admit_client`, `may_mail_recipient`) on the in-memory counters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shop_fakes.mail_limits import InMemoryMailCounters

import mail_counters
from mail_limits import Count, Policy, client_retry_after, normalized_recipient, recipient_may_be_mailed
from shop_shared.config import RateLimit
from shop_shared.errors import TooManyRequests

HOUR = RateLimit(limit=3, window_seconds=3600)
POLICY = Policy(per_client=RateLimit(limit=5, window_seconds=3600), per_recipient=HOUR)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_within_its_budget_goes_ahead_and_the_next_waits_for_its_window() -> None:
    limit = RateLimit(limit=5, window_seconds=3600)
    assert [client_retry_after(Count(n, 3600), limit) for n in range(1, 6)] == [None] * 5
    assert client_retry_after(Count(6, 1234), limit) == 1234


def test_a_counter_without_a_ttl_waits_the_whole_window() -> None:
    assert client_retry_after(Count(9, -1), HOUR) == 3600
    assert client_retry_after(Count(9, -2), HOUR) == 3600


def test_three_reset_mails_per_address_then_none() -> None:
    assert [recipient_may_be_mailed(Count(n, 3600), HOUR) for n in range(1, 6)] == [True] * 3 + [False] * 2


def test_one_counter_per_mailbox_whatever_the_case() -> None:
    assert normalized_recipient(" Ada@Example.COM ") == normalized_recipient("ada@example.com")


@given(requests=st.integers(min_value=0, max_value=10_000), ttl=st.integers(min_value=-2, max_value=10_000))
def test_a_wait_is_always_within_the_window(requests: int, ttl: int) -> None:
    wait = client_retry_after(Count(requests, ttl), HOUR)
    assert (wait is None) == (requests <= HOUR.limit)
    assert wait is None or 1 <= wait <= HOUR.window_seconds


def test_the_sixth_request_from_one_address_is_refused_with_retry_after_and_another_address_is_not() -> None:
    clock = Clock()
    store = InMemoryMailCounters(clock)
    for _ in range(5):
        mail_counters.admit_client("203.0.113.7", store, POLICY)
    clock.now += 600
    with pytest.raises(TooManyRequests) as refused:
        mail_counters.admit_client("203.0.113.7", store, POLICY)
    assert refused.value.status == 429
    assert refused.value.code == "too_many_requests"
    assert refused.value.headers["Retry-After"] == "3000"
    mail_counters.admit_client("198.51.100.1", store, POLICY)  # not refused


def test_a_client_may_send_again_once_its_window_is_over() -> None:
    clock = Clock()
    store = InMemoryMailCounters(clock)
    for _ in range(5):
        mail_counters.admit_client("203.0.113.7", store, POLICY)
    clock.now += 3600
    mail_counters.admit_client("203.0.113.7", store, POLICY)


def test_a_reset_address_gets_three_mails_an_hour_whatever_the_spelling() -> None:
    clock = Clock()
    store = InMemoryMailCounters(clock)
    spellings = ["ada@example.com", "ADA@example.com", " Ada@Example.com", "ada@example.com"]
    assert [mail_counters.may_mail_recipient(e, store, POLICY) for e in spellings] == [
        True,
        True,
        True,
        False,
    ]
    assert mail_counters.may_mail_recipient("grace@example.com", store, POLICY) is True
    clock.now += 3600
    assert mail_counters.may_mail_recipient("ada@example.com", store, POLICY) is True


def test_the_recipient_counter_holds_no_address() -> None:
    store = InMemoryMailCounters(Clock())
    mail_counters.may_mail_recipient("ada@example.com", store, POLICY)
    assert not any("ada" in key for key in store.windows)


class Down:
    def count(self, key: str, window_seconds: int) -> Count:
        raise mail_counters.Unavailable("ConnectionError")


def test_counters_down_means_not_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    monkeypatch.setattr("shop_shared.observability.redis_unavailable", counted.append)
    for _ in range(10):
        mail_counters.admit_client("203.0.113.7", Down(), POLICY)
        assert mail_counters.may_mail_recipient("ada@example.com", Down(), POLICY) is True
    assert counted == ["mail_limits"] * 20


def test_the_settings_come_from_the_environment_with_the_contracts_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAIL_CLIENT_LIMIT", raising=False)
    monkeypatch.delenv("MAIL_RECIPIENT_LIMIT", raising=False)
    assert mail_counters.policy().per_recipient == RateLimit(3, 3600)
    monkeypatch.setenv("MAIL_CLIENT_LIMIT", "7/60")
    assert mail_counters.policy().per_client == RateLimit(7, 60)

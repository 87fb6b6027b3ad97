"""The login throttle's decision (login_throttle.decide): pure, no Redis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from login_throttle import Counts, Policy, decide

POLICY = Policy(per_address=5, per_username=100, window_seconds=900)


def counts(address: int = 1, username: int = 0, address_ttl: int = 900, username_ttl: int = 900) -> Counts:
    return Counts(
        address_attempts=address,
        address_ttl=address_ttl,
        username_failures=username,
        username_ttl=username_ttl,
    )


def test_the_first_five_attempts_from_an_address_go_ahead() -> None:
    for attempt in range(1, 6):
        assert decide(counts(address=attempt), POLICY) is None


def test_the_sixth_attempt_from_an_address_waits_for_its_window() -> None:
    assert decide(counts(address=6, address_ttl=412), POLICY) == 412


def test_a_fresh_address_goes_ahead_whatever_other_addresses_did_below_the_ceiling() -> None:
    assert decide(counts(address=1, username=99), POLICY) is None


def test_the_username_ceiling_stops_every_address() -> None:
    assert decide(counts(address=1, username=100, username_ttl=30), POLICY) == 30


def test_an_address_limit_answers_its_own_wait_first() -> None:
    assert decide(counts(address=9, username=100, address_ttl=5, username_ttl=700), POLICY) == 5


def test_a_key_without_a_ttl_waits_the_whole_window() -> None:
    assert decide(counts(address=6, address_ttl=-1), POLICY) == 900
    assert decide(counts(username=100, username_ttl=-2), POLICY) == 900


@given(
    address=st.integers(min_value=0, max_value=10_000),
    username=st.integers(min_value=0, max_value=10_000),
    ttl=st.integers(min_value=-2, max_value=900),
)
def test_a_wait_is_always_within_the_window(address: int, username: int, ttl: int) -> None:
    wait = decide(counts(address=address, username=username, address_ttl=ttl, username_ttl=ttl), POLICY)
    assert wait is None or 1 <= wait <= POLICY.window_seconds
    assert (wait is None) == (address <= POLICY.per_address and username < POLICY.per_username)

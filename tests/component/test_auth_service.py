"""The auth domain functions on DynamoDB where the HTTP layer adds nothing: racing registrations
(Lambda runs them in separate containers, so threads calling the domain function are the faithful
model; only a real conditional transaction can lose such a race) and `ensure_admin`
(`shop_local.admin`), which the local stack calls directly. The rules themselves are unit-tested on
the fakes (tests/unit/test_auth_service_fakes.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

import auth_service
from shop_local.admin import ensure_admin
from shop_shared.errors import Conflict, Unauthorized
from shop_shared.models import RegisterRequest
from shop_shared.tokens import decode_token, jwt_secret

PASSWORD = "correct-horse-battery"


def request(username: str, email: str) -> RegisterRequest:
    return RegisterRequest(
        username=username, email=email, first_name="Jane", last_name="Doe", password=PASSWORD
    )


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; each outcome is a result or an exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_racing_registrations_of_one_username_make_one_user(aws: object) -> None:
    name = f"racer_{uuid.uuid4().hex[:8]}"
    outcomes = race(
        lambda: auth_service.register(request(name, f"one-{name}@example.com")),
        lambda: auth_service.register(request(name.upper(), f"two-{name}@example.com")),
    )
    winners = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], Conflict)
    assert losers[0].code == "username_taken"


def test_two_racing_registrations_of_one_email_make_one_user(aws: object) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    outcomes = race(
        lambda: auth_service.register(request(f"a_{uuid.uuid4().hex[:8]}", email)),
        lambda: auth_service.register(request(f"b_{uuid.uuid4().hex[:8]}", email.upper())),
    )
    assert sum(not isinstance(outcome, Exception) for outcome in outcomes) == 1
    (loser,) = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert isinstance(loser, Conflict)
    assert loser.code == "email_taken"


def test_ensure_admin_creates_the_admin_once_and_resets_its_password(
    aws: object, redis_conn: redis.Redis
) -> None:
    ensure_admin("admin", "first-password", "admin@example.com")
    claims = decode_token(auth_service.login("admin", "first-password").access_token, jwt_secret())
    assert claims.role == "admin"

    ensure_admin("admin", "second-password", "admin@example.com")
    with pytest.raises(Unauthorized):
        auth_service.login("admin", "first-password")
    again = decode_token(auth_service.login("admin", "second-password").access_token, jwt_secret())
    assert again.user_id == claims.user_id  # the same user, not a second one


def test_ensure_admin_promotes_an_existing_user(aws: object, redis_conn: redis.Redis) -> None:
    name = f"boss_{uuid.uuid4().hex[:8]}"
    user = auth_service.register(request(name, f"{name}@example.com"))
    ensure_admin(name, "new-admin-password", "ignored@example.com")
    claims = decode_token(auth_service.login(name, "new-admin-password").access_token, jwt_secret())
    assert (claims.user_id, claims.role) == (user.id, "admin")


def test_ensure_admin_refuses_an_email_of_another_user(aws: object) -> None:
    name = f"owner_{uuid.uuid4().hex[:8]}"
    auth_service.register(request(name, f"{name}@example.com"))
    with pytest.raises(Conflict) as raised:
        ensure_admin("admin", "admin-password", f"{name.upper()}@EXAMPLE.com")
    assert raised.value.code == "email_taken"


def test_ensure_admin_validates_the_password(aws: object) -> None:
    with pytest.raises(ValueError):
        ensure_admin("admin", "short", "admin@example.com")

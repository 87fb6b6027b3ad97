"""The `SessionStore` contract, run against the in-memory fake and the DynamoDB adapter on moto:
rotation only from the current refresh hash (and our own retried rotation as success), expiry,
ending one session or all of them, and the profile's `ended_sessions` as a string set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from shop_fakes.auth import InMemorySessions, InMemoryUsers, UsersTable

from auth_dynamodb import DynamoSessions, DynamoUsers
from auth_ports import SessionStore, UsersRepository

LATER = 4_000_000_000  # an expires_at far ahead
NOW = 1_800_000_000


@dataclass
class Store:
    sessions: SessionStore
    users: UsersRepository

    def new_user(self, username: str = "jane") -> str:
        user_id = str(uuid.uuid4())
        self.users.create_user(
            {
                "id": user_id,
                "username": username,
                "email": f"{username}@example.com",
                "is_active": True,
                "token_version": 0,
                "created_at": "2026-11-30T10:00:00+00:00",
            }
        )
        return user_id


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "fake":
        table = UsersTable()
        yield Store(InMemorySessions(table), InMemoryUsers(table))
    else:
        request.getfixturevalue("aws")
        yield Store(DynamoSessions(), DynamoUsers())


def session(user_id: str, refresh_hash: str = "h0", expires_at: int = LATER) -> dict[str, Any]:
    """A session as auth_sessions.start writes it."""
    return {
        "session_id": uuid.uuid4().hex,
        "user_id": user_id,
        "refresh_hash": refresh_hash,
        "token_version": 0,
        "created_at": NOW,
        "expires_at": expires_at,
    }


def test_a_session_reads_back_as_started(store: Store) -> None:
    user_id = store.new_user()
    started = session(user_id)
    store.sessions.start(started)
    store.sessions.start(dict(started))  # a retried put writes the same item again
    assert store.sessions.get(user_id, started["session_id"]) == started
    assert store.sessions.get(user_id, uuid.uuid4().hex) is None


def test_rotation_only_from_the_current_refresh_hash(store: Store) -> None:
    user_id = store.new_user()
    started = session(user_id)
    store.sessions.start(started)
    sid = started["session_id"]
    assert store.sessions.rotate(user_id, sid, presented="h0", following="h1", now=NOW)
    rotated = store.sessions.get(user_id, sid)
    assert rotated is not None
    assert (rotated["refresh_hash"], rotated["used_hashes"]) == ("h1", {"h0"})
    assert store.sessions.rotate(user_id, sid, presented="h0", following="h1", now=NOW)  # our own retry
    assert not store.sessions.rotate(user_id, sid, presented="h0", following="h2", now=NOW)  # reuse
    assert store.sessions.rotate(user_id, sid, presented="h1", following="h2", now=NOW)
    after = store.sessions.get(user_id, sid)
    assert after is not None and (after["refresh_hash"], after["used_hashes"]) == ("h2", {"h0", "h1"})


def test_an_expired_or_unknown_session_does_not_rotate(store: Store) -> None:
    user_id = store.new_user()
    expired = session(user_id, expires_at=NOW)
    store.sessions.start(expired)
    assert not store.sessions.rotate(user_id, expired["session_id"], presented="h0", following="h1", now=NOW)
    assert store.sessions.get(user_id, expired["session_id"]) == expired  # still readable until TTL
    assert not store.sessions.rotate(user_id, uuid.uuid4().hex, presented="h0", following="h1", now=NOW)


def test_ending_a_session_lists_it_in_the_profile_until_forgotten(store: Store) -> None:
    user_id = store.new_user()
    one, two = session(user_id), session(user_id)
    store.sessions.start(one)
    store.sessions.start(two)
    assert store.sessions.end(user_id, one["session_id"], ended=f"{one['session_id']}:100") == {
        f"{one['session_id']}:100"
    }
    assert store.sessions.get(user_id, one["session_id"]) is None
    ended = store.sessions.end(user_id, two["session_id"], ended=f"{two['session_id']}:{LATER}")
    assert ended == {f"{one['session_id']}:100", f"{two['session_id']}:{LATER}"}
    store.sessions.forget_ended(user_id, {f"{one['session_id']}:100"})
    assert store.users.get_profile(user_id, ("ended_sessions",)) == {
        "ended_sessions": {f"{two['session_id']}:{LATER}"}
    }
    store.sessions.forget_ended(user_id, {f"{two['session_id']}:{LATER}"})
    assert store.users.get_profile(user_id, ("ended_sessions",)) == {}  # no empty set is stored


def test_ending_all_sessions_leaves_the_rest_of_the_account(store: Store) -> None:
    jane, john = store.new_user("jane"), store.new_user("john")
    janes = [session(jane) for _ in range(3)]
    johns = session(john)
    for started in (*janes, johns):
        store.sessions.start(started)
    store.sessions.end_all(jane)
    assert all(store.sessions.get(jane, s["session_id"]) is None for s in janes)
    assert store.sessions.get(john, johns["session_id"]) == johns
    assert store.users.get_profile(jane, ("id",)) == {"id": jane}

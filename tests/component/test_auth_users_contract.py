"""The `UsersRepository` contract, run against the in-memory fake and the DynamoDB adapter on moto
(the users table provisioned from template.yaml by the `aws` fixture): the uniqueness guards, the
conditions, all-or-nothing transactions and the retry safety ("already exactly what I wrote") the
unit tests of the auth rules rely on hold for both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from shop_fakes.auth import InMemoryUsers

from auth_dynamodb import DynamoUsers
from auth_ports import DefaultMove, UsersRepository
from shop_local.testing import DEFAULT_ADDRESS as ADDRESS
from shop_shared.errors import Conflict, NotFound, ServiceUnavailable

FIELDS = ("id", "username", "email", "is_active", "email_verified", "token_version", "default_address_id")


@pytest.fixture(params=["fake", "dynamodb"])
def users(request: pytest.FixtureRequest) -> Iterator[UsersRepository]:
    if request.param == "fake":
        yield InMemoryUsers()
    else:
        request.getfixturevalue("aws")
        yield DynamoUsers()


def profile(username: str = "jane", email: str | None = None, **extra: Any) -> dict[str, Any]:
    """A profile as auth_service.register writes it."""
    return {
        "id": str(uuid.uuid4()),
        "username": username,
        "email": email or f"{username}@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "password_hash": "$argon2id$not-a-real-hash",
        "role": "customer",
        "is_active": True,
        "email_verified": False,
        "token_version": 0,
        "created_at": f"2026-11-30T10:00:00.{uuid.uuid4().int % 10**6:06d}+00:00",
        **extra,
    }


def new_user(users: UsersRepository, username: str = "jane", email: str | None = None) -> str:
    created = profile(username, email)
    users.create_user(created)
    return str(created["id"])


def address(created_at: str = "2026-11-30T10:00:00+00:00", **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), **ADDRESS, "is_default": False, "created_at": created_at, **fields}


# ------------------------------------------------------------------------------------ profiles


def test_a_new_profile_reads_back_numbers_as_decimals(users: UsersRepository) -> None:
    created = profile()
    users.create_user(created)
    stored = users.get_profile(created["id"], FIELDS, consistent=True)
    assert stored == {name: created[name] for name in FIELDS if name in created}
    assert stored is not None and isinstance(stored["token_version"], Decimal)
    assert users.get_profile(created["id"], ("no_such_field",)) == {}
    assert users.get_profile(str(uuid.uuid4()), FIELDS) is None


def test_creating_exactly_the_same_profile_again_is_success(users: UsersRepository) -> None:
    created = profile()
    users.create_user(created)
    users.create_user(dict(created))  # the retry of a write whose answer was lost
    assert users.user_id_for_username("jane") == created["id"]


def test_a_username_taken_in_any_case_is_409_and_writes_nothing(users: UsersRepository) -> None:
    first = new_user(users, "jane")
    second = profile("JANE", "other@example.com")
    with pytest.raises(Conflict) as refused:
        users.create_user(second)
    assert refused.value.code == "username_taken"
    assert users.get_profile(second["id"], FIELDS) is None
    assert users.user_id_for_email("other@example.com") is None
    assert users.user_id_for_username("Jane") == first


def test_an_email_taken_in_any_case_is_409_and_writes_nothing(users: UsersRepository) -> None:
    first = new_user(users, "jane", "jane@example.com")
    second = profile("john", "JANE@Example.com")
    with pytest.raises(Conflict) as refused:
        users.create_user(second)
    assert refused.value.code == "email_taken"
    assert users.get_profile(second["id"], FIELDS) is None
    assert users.user_id_for_username("john") is None
    assert users.user_id_for_email("jane@EXAMPLE.com") == first


def test_profile_updates_and_revoking_tokens(users: UsersRepository) -> None:
    user_id = new_user(users)
    users.update_profile(user_id, {"first_name": "Janet", "role": "admin"})
    assert users.get_profile(user_id, ("first_name", "role", "token_version")) == {
        "first_name": "Janet",
        "role": "admin",
        "token_version": 0,
    }
    users.update_profile(user_id, {"is_active": False}, revoke_tokens=True)
    assert users.get_profile(user_id, ("is_active", "token_version")) == {
        "is_active": False,
        "token_version": 1,
    }


def test_profiles_of_many_users_by_id(users: UsersRepository) -> None:
    jane, john = new_user(users, "jane"), new_user(users, "john")
    found = users.get_profiles([john, str(uuid.uuid4()), jane], ("id", "username"))
    assert found == {jane: {"id": jane, "username": "jane"}, john: {"id": john, "username": "john"}}
    assert users.get_profiles([], ("id",)) == {}


# ------------------------------------------------------------------------------------ e-mail change


def test_a_new_email_moves_the_guard(users: UsersRepository) -> None:
    user_id = new_user(users, "jane", "jane@example.com")
    users.change_email(
        user_id, username="jane", old="jane@example.com", new="janet@example.com", verified=False
    )
    assert users.get_profile(user_id, ("email", "email_verified")) == {
        "email": "janet@example.com",
        "email_verified": False,
    }
    assert users.user_id_for_email("JANET@example.com") == user_id
    assert users.user_id_for_email("jane@example.com") is None  # free for someone else now
    new_user(users, "john", "jane@example.com")


def test_a_new_spelling_of_the_same_email_keeps_the_guard(users: UsersRepository) -> None:
    user_id = new_user(users, "jane", "jane@example.com")
    users.change_email(
        user_id, username="jane", old="jane@example.com", new="Jane@Example.com", verified=True
    )
    assert users.get_profile(user_id, ("email", "email_verified")) == {
        "email": "Jane@Example.com",
        "email_verified": True,
    }
    assert users.user_id_for_email("jane@example.com") == user_id


def test_another_users_email_is_409_and_changes_nothing(users: UsersRepository) -> None:
    jane = new_user(users, "jane", "jane@example.com")
    john = new_user(users, "john", "john@example.com")
    with pytest.raises(Conflict) as refused:
        users.change_email(
            jane, username="jane", old="jane@example.com", new="JOHN@example.com", verified=False
        )
    assert refused.value.code == "email_taken"
    assert users.get_profile(jane, ("email",)) == {"email": "jane@example.com"}
    assert users.user_id_for_email("john@example.com") == john
    assert users.user_id_for_email("jane@example.com") == jane


def test_an_email_change_applied_already_is_success_and_a_stale_one_is_503(users: UsersRepository) -> None:
    user_id = new_user(users, "jane", "jane@example.com")
    change = {"username": "jane", "old": "jane@example.com", "new": "janet@example.com", "verified": False}
    users.change_email(user_id, **change)
    users.change_email(user_id, **change)  # our own retry: the profile is at the new address
    with pytest.raises(ServiceUnavailable):  # `old` is not the address any more
        users.change_email(
            user_id, username="jane", old="jane@example.com", new="j@example.com", verified=False
        )
    assert users.user_id_for_email("j@example.com") is None


# ------------------------------------------------------------------------------------ search


def test_search_finds_usernames_and_emails_by_prefix_each_user_once(users: UsersRepository) -> None:
    jane = new_user(users, "jane", "jane@example.com")  # matches "ja" by both: listed once
    bob = new_user(users, "bob", "jazz@example.com")  # matches "ja" by e-mail only
    new_user(users, "mary", "mary@example.com")
    found, last = users.search("ja", limit=10, after=None)
    assert found == [jane, bob]  # "jane" < "jazz@example.com"
    assert last is None
    assert users.search("jazz@", limit=10, after=None)[0] == [bob]
    assert users.search("zz", limit=10, after=None) == ([], None)


def test_an_empty_prefix_lists_every_user_once_by_username(users: UsersRepository) -> None:
    # Issue 26, item 7: DynamoDB refuses begins_with with an empty value (a 500 on GET /auth/users).
    mary = new_user(users, "mary", "a-mary@example.com")
    bob = new_user(users, "bob", "zed@example.com")
    jane = new_user(users, "jane", "jane@example.com")
    found, last = users.search("", limit=10, after=None)
    assert (found, last) == ([bob, jane, mary], None)
    first, after = users.search("", limit=2, after=None)
    assert first == [bob, jane] and after is not None
    assert users.search("", limit=2, after=after)[0] == [mary]


def test_search_pages_continue_where_they_stopped(users: UsersRepository) -> None:
    ids = [new_user(users, f"user{n}", f"u{n}@example.com") for n in range(5)]
    first, after = users.search("user", limit=2, after=None)
    assert first == ids[:2]
    assert after is not None and set(after) == {"pk", "sk", "search_pk", "search_sk"}
    second, after = users.search("user", limit=2, after=after)
    assert second == ids[2:4]
    third, _ = users.search("user", limit=2, after=after)
    assert third == ids[4:]


# ------------------------------------------------------------------------------------ addresses


def test_the_first_default_address_sets_the_pointer(users: UsersRepository) -> None:
    user_id = new_user(users)
    assert users.addresses_of(user_id, ("id",)) == []
    first = address(is_default=True)
    assert users.add_address(user_id, first, DefaultMove(old=None, new=first["id"]))
    assert users.get_profile(user_id, ("default_address_id",)) == {"default_address_id": first["id"]}
    assert users.get_address(user_id, first["id"]) == first
    assert users.addresses_of(user_id, ("id", "is_default")) == [{"id": first["id"], "is_default": True}]
    assert users.addresses_of(str(uuid.uuid4()), ("id",)) is None


def test_a_new_default_unsets_the_old_one_in_the_same_write(users: UsersRepository) -> None:
    user_id = new_user(users)
    first, second = address(is_default=True), address("2026-11-30T11:00:00+00:00")
    users.add_address(user_id, first, DefaultMove(old=None, new=first["id"]))
    assert users.add_address(user_id, second)  # not the default: no move
    third = address("2026-11-30T12:00:00+00:00", is_default=True)
    assert users.add_address(user_id, third, DefaultMove(old=first["id"], new=third["id"]))
    flags = {
        item["id"]: item["is_default"] for item in users.addresses_of(user_id, ("id", "is_default")) or []
    }
    assert flags == {first["id"]: False, second["id"]: False, third["id"]: True}
    assert users.get_profile(user_id, ("default_address_id",)) == {"default_address_id": third["id"]}


def test_a_default_that_moved_meanwhile_refuses_the_whole_write(users: UsersRepository) -> None:
    user_id = new_user(users)
    first = address(is_default=True)
    users.add_address(user_id, first, DefaultMove(old=None, new=first["id"]))
    late = address(is_default=True)
    assert not users.add_address(user_id, late, DefaultMove(old=None, new=late["id"]))  # read before `first`
    assert users.get_address(user_id, late["id"]) is None
    assert users.get_profile(user_id, ("default_address_id",)) == {"default_address_id": first["id"]}


def test_adding_exactly_the_same_address_again_is_success(users: UsersRepository) -> None:
    user_id = new_user(users)
    first = address(is_default=True)
    move = DefaultMove(old=None, new=first["id"])
    assert users.add_address(user_id, first, move)
    assert users.add_address(user_id, dict(first), move)  # our own retry: the move is applied already
    second = address()
    assert users.add_address(user_id, second)
    assert users.add_address(user_id, dict(second))
    assert len(users.addresses_of(user_id, ("id",)) or []) == 2


def test_updating_an_address_and_making_it_the_default(users: UsersRepository) -> None:
    user_id = new_user(users)
    first, second = address(is_default=True), address()
    users.add_address(user_id, first, DefaultMove(old=None, new=first["id"]))
    users.add_address(user_id, second)
    changed = {**ADDRESS, "street": "2 Side St"}
    move = DefaultMove(old=first["id"], new=second["id"])
    assert users.update_address(user_id, second["id"], changed, is_default=True, move=move)
    stored = users.get_address(user_id, second["id"], consistent=True)
    assert stored is not None and (stored["street"], stored["is_default"]) == ("2 Side St", True)
    assert users.get_address(user_id, first["id"]) == {**first, "is_default": False}
    assert not users.update_address(user_id, first["id"], changed, is_default=True, move=move)  # stale
    assert not users.update_address(user_id, str(uuid.uuid4()), changed, is_default=False)  # no such address


def test_deleting_the_default_promotes_the_one_named(users: UsersRepository) -> None:
    user_id = new_user(users)
    first, second = address(is_default=True), address()
    users.add_address(user_id, first, DefaultMove(old=None, new=first["id"]))
    users.add_address(user_id, second)
    assert not users.delete_address(user_id, first["id"], DefaultMove(old=second["id"], new=None))  # stale
    assert users.get_address(user_id, first["id"]) is not None
    assert users.delete_address(user_id, first["id"], DefaultMove(old=first["id"], new=second["id"]))
    assert users.addresses_of(user_id, ("id", "is_default")) == [{"id": second["id"], "is_default": True}]
    assert users.delete_address(user_id, second["id"], DefaultMove(old=second["id"], new=None))
    assert users.get_profile(user_id, ("default_address_id",)) == {}
    with pytest.raises(NotFound):
        users.delete_address(user_id, second["id"])


# ------------------------------------------------------------------------------------ tokens


def test_a_token_is_found_until_used_even_when_expired(users: UsersRepository) -> None:
    user_id = new_user(users)
    users.issue_token("VERIFY", "h1", {"user_id": user_id, "email": "jane@example.com"}, expires_at=5)
    assert users.find_token("VERIFY", "h1") == {
        "user_id": user_id,
        "email": "jane@example.com",
        "expires_at": 5,
    }
    assert users.find_token("RESET", "h1") is None  # the purpose is part of the key
    assert users.use_verify_token("h1", user_id, email="jane@example.com")
    assert users.get_profile(user_id, ("email_verified",)) == {"email_verified": True}
    assert users.find_token("VERIFY", "h1") is None
    assert not users.use_verify_token("h1", user_id, email="jane@example.com")  # single use


def test_a_verify_token_for_an_old_email_is_refused_and_stays(users: UsersRepository) -> None:
    user_id = new_user(users)
    users.issue_token("VERIFY", "h2", {"user_id": user_id, "email": "old@example.com"}, expires_at=10**10)
    assert not users.use_verify_token("h2", user_id, email="old@example.com")
    assert users.get_profile(user_id, ("email_verified",)) == {"email_verified": False}
    assert users.find_token("VERIFY", "h2") is not None  # both or neither


def test_a_reset_token_works_once_for_its_token_version(users: UsersRepository) -> None:
    user_id = new_user(users)
    users.issue_token("RESET", "r1", {"user_id": user_id, "token_version": 0}, expires_at=10**10)
    users.issue_token("RESET", "r2", {"user_id": user_id, "token_version": 0}, expires_at=10**10)
    assert users.use_reset_token("r1", user_id, token_version=0, password_hash="new-hash")
    assert users.get_profile(user_id, ("password_hash", "token_version")) == {
        "password_hash": "new-hash",
        "token_version": 1,
    }
    assert not users.use_reset_token("r1", user_id, token_version=1, password_hash="again")  # used
    # issued for version 0: the reset since voids it, and the token stays unused
    assert not users.use_reset_token("r2", user_id, token_version=0, password_hash="other-hash")
    assert users.find_token("RESET", "r2") is not None
    assert users.get_profile(user_id, ("password_hash",)) == {"password_hash": "new-hash"}


def test_a_profile_without_a_token_version_is_at_version_0(users: UsersRepository) -> None:
    created = profile()
    del created["token_version"]  # written before token versions existed (the samples still are)
    users.create_user(created)
    users.issue_token("RESET", "r3", {"user_id": created["id"], "token_version": 0}, expires_at=10**10)
    assert users.use_reset_token("r3", created["id"], token_version=0, password_hash="new-hash")
    assert users.get_profile(created["id"], ("token_version",)) == {"token_version": 1}

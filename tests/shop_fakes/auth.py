"""Fakes of the auth ports (`functions/auth/auth_ports.py`): the users table as a dict of items by
key, shared by `InMemoryUsers` and `InMemorySessions` as the real adapters share the table.

They keep DynamoDB's promises, not its mechanics: conditions that refuse (a taken username or
e-mail, a default that moved, a used token), all-or-nothing transactions, the very same item
written again counting as our own retried write, numbers read back as Decimal and string sets as
`set`, expired sessions and tokens still readable until DynamoDB's TTL would delete them (the
services check `expires_at` themselves). `tests/component/test_auth_*_contract.py` runs the same
tests against these and the DynamoDB adapters."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from auth_ports import AuthAdapters, DefaultMove, Item
from shop_fakes.items import stored
from shop_shared import keys
from shop_shared.errors import Conflict, NotFound, ServiceUnavailable

Key = tuple[str, str]


def _key(key: Mapping[str, str]) -> Key:
    return key["pk"], key["sk"]


def _without_keys(item: Mapping[str, Any]) -> Item:
    return {name: copy.deepcopy(value) for name, value in item.items() if name not in ("pk", "sk")}


def _project(item: Mapping[str, Any], fields: Iterable[str]) -> Item:
    return {field: copy.deepcopy(item[field]) for field in fields if field in item}


class UsersTable:
    """The users table: items by (pk, sk)."""

    def __init__(self) -> None:
        self.items: dict[Key, Item] = {}

    def get(self, key: Mapping[str, str]) -> Item | None:
        return self.items.get(_key(key))

    def put(self, item: Mapping[str, Any]) -> None:
        self.items[(str(item["pk"]), str(item["sk"]))] = stored(dict(item))

    def delete(self, key: Mapping[str, str]) -> None:
        self.items.pop(_key(key), None)

    def partition(self, pk: str) -> list[Item]:
        return [item for (item_pk, _), item in self.items.items() if item_pk == pk]


class InMemoryUsers:
    """`UsersRepository` on a `UsersTable`."""

    def __init__(self, table: UsersTable | None = None) -> None:
        self.table = table or UsersTable()

    # --- profiles --------------------------------------------------------------------------------

    def create_user(self, profile: Mapping[str, Any]) -> None:
        item = stored({**keys.user_key(str(profile["id"])), **profile})
        existing = self.table.get(item)
        if existing == item:
            return  # our own first attempt
        username, email = str(item["username"]), str(item["email"])
        if self.table.get(keys.username_guard_key(username)) is not None:
            raise Conflict("Username is already taken", code="username_taken")
        if self.table.get(keys.email_guard_key(email)) is not None:
            raise Conflict("E-mail address is already registered", code="email_taken")
        if existing is not None:  # a user id taken (a uuid4 collision): never overwritten
            raise ServiceUnavailable("Registration is busy, please try again", code="transaction_conflict")
        guard = {"user_id": item["id"], "created_at": item["created_at"]}
        self.table.put(item)
        self.table.put({**keys.username_guard_key(username), **guard, **keys.search_attributes(username)})
        self._put_email_guard(email, username, guard)

    def _put_email_guard(self, email: str, username: str, guard: Mapping[str, Any]) -> None:
        self.table.put(
            {
                **keys.email_guard_key(email),
                **guard,
                **keys.search_attributes(email),
                "username_lower": username.lower(),
            }
        )

    def _profile(self, user_id: str) -> Item | None:
        return self.table.get(keys.user_key(user_id))

    def get_profile(self, user_id: str, fields: Iterable[str], *, consistent: bool = False) -> Item | None:
        profile = self._profile(user_id)
        return _project(profile, fields) if profile is not None else None

    def get_profiles(self, user_ids: Sequence[str], fields: Iterable[str]) -> dict[str, Item]:
        wanted = tuple(fields)
        found = (self._profile(user_id) for user_id in user_ids)
        return {str(profile["id"]): _project(profile, wanted) for profile in found if profile is not None}

    def _guard_owner(self, key: Mapping[str, str]) -> str | None:
        guard = self.table.get(key)
        return str(guard["user_id"]) if guard is not None else None

    def user_id_for_username(self, username: str) -> str | None:
        return self._guard_owner(keys.username_guard_key(username))

    def user_id_for_email(self, email: str) -> str | None:
        return self._guard_owner(keys.email_guard_key(email))

    def update_profile(
        self, user_id: str, changes: Mapping[str, Any], *, revoke_tokens: bool = False
    ) -> None:
        if not changes and not revoke_tokens:
            return
        profile = self._profile(user_id)
        if profile is None:
            raise KeyError(f"no profile for {user_id}")  # the adapter's condition fails (a 500)
        profile.update(stored(dict(changes)))
        if revoke_tokens:
            profile["token_version"] = profile.get("token_version", 0) + 1

    def change_email(self, user_id: str, *, username: str, old: str, new: str, verified: bool) -> None:
        profile = self._profile(user_id)
        moves_guard = keys.email_guard_key(new) != keys.email_guard_key(old)
        new_guard_free = not moves_guard or self.table.get(keys.email_guard_key(new)) is None
        old_guard = self.table.get(keys.email_guard_key(old))
        old_guard_ours = not moves_guard or (old_guard is not None and old_guard.get("user_id") == user_id)
        if profile is None or profile.get("email") != old or not new_guard_free or not old_guard_ours:
            if profile is not None and profile.get("email") == new:
                return  # our own first attempt
            if not new_guard_free:
                raise Conflict("E-mail address is already registered", code="email_taken")
            raise ServiceUnavailable("Account is busy, please try again", code="transaction_conflict")
        profile["email"], profile["email_verified"] = new, verified
        if moves_guard:
            guard = {"user_id": user_id, "created_at": datetime.now(UTC).isoformat()}
            self._put_email_guard(new, username, guard)
            self.table.delete(keys.email_guard_key(old))

    def search(
        self, prefix: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[str], dict[str, str] | None]:
        # The UserSearch index: the guards, by their lowercased value. As DynamoDB's Limit does,
        # each round reads `limit - found` entries and only then leaves out the e-mails of users
        # whose username matches too.
        entries = sorted(
            (
                item
                for item in self.table.items.values()
                if item.get("search_pk") == keys.SEARCH_PARTITION
                and str(item.get("search_sk", "")).startswith(prefix)
            ),
            key=lambda item: (str(item["search_sk"]), str(item["pk"])),
        )
        if after:
            start = (after["search_sk"], after["pk"])
            entries = [item for item in entries if (str(item["search_sk"]), str(item["pk"])) > start]
        user_ids: list[str] = []
        last: dict[str, str] | None = None
        read = 0
        while len(user_ids) < limit:
            page = entries[read : read + limit - len(user_ids)]
            read += len(page)
            for item in page:
                listed_by_username = str(item.get("username_lower", "")).startswith(prefix)
                if "username_lower" in item and listed_by_username:
                    continue
                if str(item["user_id"]) not in user_ids:
                    user_ids.append(str(item["user_id"]))
            last = None
            if page and read < len(entries):
                last = {name: str(page[-1][name]) for name in ("pk", "sk", "search_pk", "search_sk")}
            if last is None:
                break
        return user_ids, last

    # --- addresses -------------------------------------------------------------------------------

    def get_address(self, user_id: str, address_id: str, *, consistent: bool = True) -> Item | None:
        item = self.table.get(keys.address_key(user_id, address_id))
        return _without_keys(item) if item is not None else None

    def addresses_of(self, user_id: str, fields: Iterable[str]) -> list[Item] | None:
        if self._profile(user_id) is None:
            return None
        wanted = tuple(fields)
        return [
            _project(item, wanted)
            for item in self.table.partition(keys.user_key(user_id)["pk"])
            if str(item["sk"]).startswith("ADDRESS#")
        ]

    def _move_applies(self, user_id: str, move: DefaultMove, subject: str) -> bool:
        profile = self._profile(user_id)
        if profile is None or profile.get("default_address_id") != move.old:
            return False
        flagged = [address_id for address_id in (move.old, move.new) if address_id and address_id != subject]
        return all(self.table.get(keys.address_key(user_id, a)) is not None for a in flagged)

    def _move(self, user_id: str, move: DefaultMove, subject: str) -> None:
        profile = self._profile(user_id)
        assert profile is not None
        if move.new:
            profile["default_address_id"] = move.new
        else:
            profile.pop("default_address_id", None)
        for address_id, flag in ((move.old, False), (move.new, True)):
            if address_id and address_id != subject:
                address = self.table.get(keys.address_key(user_id, address_id))
                assert address is not None
                address["is_default"] = flag

    def add_address(self, user_id: str, address: Mapping[str, Any], move: DefaultMove | None = None) -> bool:
        address_id = str(address["id"])
        item = stored({**keys.address_key(user_id, address_id), **address})
        existing = self.table.get(item)
        if existing is not None:
            if existing == item:
                return True  # our own first attempt
            if move is None:
                raise KeyError(f"address id {address_id} taken")  # the adapter's refused put (a 500)
            return False
        if move is not None:
            if not self._move_applies(user_id, move, address_id):
                return False
            self.table.put(item)
            self._move(user_id, move, address_id)
            return True
        self.table.put(item)
        return True

    def update_address(
        self,
        user_id: str,
        address_id: str,
        fields: Mapping[str, Any],
        *,
        is_default: bool,
        move: DefaultMove | None = None,
    ) -> bool:
        address = self.table.get(keys.address_key(user_id, address_id))
        if address is None or (move is not None and not self._move_applies(user_id, move, address_id)):
            return False
        address.update(stored({**fields, "is_default": is_default}))
        if move is not None:
            self._move(user_id, move, address_id)
        return True

    def delete_address(self, user_id: str, address_id: str, move: DefaultMove | None = None) -> bool:
        key = keys.address_key(user_id, address_id)
        if self.table.get(key) is None:
            raise NotFound("Address not found", code="address_not_found")
        if move is not None and not self._move_applies(user_id, move, address_id):
            return False
        self.table.delete(key)
        if move is not None:
            self._move(user_id, move, address_id)
        return True

    # --- single-use tokens -----------------------------------------------------------------------

    def issue_token(
        self, purpose: str, token_hash: str, fields: Mapping[str, Any], *, expires_at: int
    ) -> None:
        self.table.put({**keys.one_time_token_key(token_hash, purpose), **fields, "expires_at": expires_at})

    def find_token(self, purpose: str, token_hash: str) -> Item | None:
        item = self.table.get(keys.one_time_token_key(token_hash, purpose))
        return _without_keys(item) if item is not None else None

    def use_verify_token(self, token_hash: str, user_id: str, *, email: str) -> bool:
        key = keys.one_time_token_key(token_hash, "VERIFY")
        profile = self._profile(user_id)
        if self.table.get(key) is None or profile is None or profile.get("email") != email:
            return False
        self.table.delete(key)
        profile["email_verified"] = True
        return True

    def use_reset_token(
        self, token_hash: str, user_id: str, *, token_version: int, password_hash: str
    ) -> bool:
        key = keys.one_time_token_key(token_hash, "RESET")
        profile = self._profile(user_id)
        if self.table.get(key) is None or profile is None or profile.get("token_version", 0) != token_version:
            return False
        self.table.delete(key)
        profile["password_hash"] = password_hash
        profile["token_version"] = profile.get("token_version", 0) + 1
        return True


class InMemorySessions:
    """`SessionStore` on a `UsersTable` (the sessions, and the profiles' `ended_sessions`)."""

    def __init__(self, table: UsersTable | None = None) -> None:
        self.table = table or UsersTable()

    def start(self, session: Mapping[str, Any]) -> None:
        self.table.put({**keys.session_key(str(session["user_id"]), str(session["session_id"])), **session})

    def get(self, user_id: str, session_id: str) -> Item | None:
        item = self.table.get(keys.session_key(user_id, session_id))
        return _without_keys(item) if item is not None else None

    def rotate(self, user_id: str, session_id: str, *, presented: str, following: str, now: int) -> bool:
        session = self.table.get(keys.session_key(user_id, session_id))
        if session is None or session.get("refresh_hash") != presented or not session["expires_at"] > now:
            return session is not None and session.get("refresh_hash") == following  # our own retry
        session["refresh_hash"] = following
        session["used_hashes"] = {*session.get("used_hashes", set()), presented}
        return True

    def end(self, user_id: str, session_id: str, *, ended: str) -> set[str]:
        self.table.delete(keys.session_key(user_id, session_id))
        profile = self.table.get(keys.user_key(user_id))
        if profile is None:
            raise KeyError(f"no profile for {user_id}")  # the adapter's condition fails (a 500)
        profile["ended_sessions"] = {*profile.get("ended_sessions", set()), ended}
        return set(profile["ended_sessions"])

    def forget_ended(self, user_id: str, entries: AbstractSet[str]) -> None:
        profile = self.table.get(keys.user_key(user_id))
        if profile is None:
            return
        left = set(profile.get("ended_sessions", set())) - set(entries)
        if left:
            profile["ended_sessions"] = left
        else:
            profile.pop("ended_sessions", None)  # DynamoDB stores no empty set

    def end_all(self, user_id: str) -> None:
        for item in self.table.partition(keys.user_key(user_id)["pk"]):
            if str(item["sk"]).startswith("SESSION#"):
                self.table.delete(item)


def fake_adapters() -> AuthAdapters:
    """Both fakes on one table, as the DynamoDB adapters share the users table."""
    table = UsersTable()
    return AuthAdapters(users=InMemoryUsers(table), sessions=InMemorySessions(table))

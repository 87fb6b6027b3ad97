"""What the auth domain needs from its storage, as small interfaces (ports).

`auth_service`, `auth_accounts`, `auth_profiles`, `auth_sessions` and the authorizer talk only to
these, through `auth_adapters.adapters()`. The real implementations are in `auth_dynamodb` (the
users table: profiles, guards, addresses, single-use tokens, sessions); the in-memory fakes the
unit tests use are in `tests/shop_fakes/auth.py`, and `tests/component/test_auth_*_contract.py`
runs one test module against both, so that they cannot drift.

Items are plain Python values as the resource layer returns them (numbers as Decimal, string sets
as `set`), without their keys: the keys are the adapter's business (`shop_shared.keys`).
Expiring items (sessions, tokens) carry `expires_at` (epoch seconds, the table's TTL): DynamoDB
deletes them some time after, so a read may still return an expired one and the services check
the time themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

Item = dict[str, Any]


@dataclass(frozen=True)
class DefaultMove:
    """Move the profile's `default_address_id` from `old` (as read: None for no default) to `new`
    (None: no default left), only if it still names `old`. The addresses' `is_default` flags follow
    the pointer in the same transaction: `old` is cleared and `new` set, except for the address the
    write itself is about (its own item says it)."""

    old: str | None
    new: str | None


class UsersRepository(Protocol):
    # --- profiles and the uniqueness of usernames and e-mails ------------------------------------

    def create_user(self, profile: Mapping[str, Any]) -> None:
        """Store a new profile (`id`, `username`, `email`, `created_at`, ...) with the guards that
        keep its username and its e-mail unique case-insensitively, all or nothing. 409
        `username_taken` / `email_taken` when another user holds either (nothing is written); the
        very same profile already stored (our own first attempt, its answer lost) is success; 503
        `transaction_conflict` when concurrent registrations kept getting in the way."""

    def get_profile(self, user_id: str, fields: Iterable[str], *, consistent: bool = False) -> Item | None:
        """These fields of the user's profile (those it has), or None for no such user."""

    def get_profiles(self, user_ids: Sequence[str], fields: Iterable[str]) -> dict[str, Item]:
        """The profiles of these users that exist (`fields` must name `id`), by id."""

    def user_id_for_username(self, username: str) -> str | None:
        """Whose this username is (any case), read consistently; None: nobody's."""

    def user_id_for_email(self, email: str) -> str | None:
        """Whose this e-mail address is (any case), read consistently; None: nobody's."""

    def update_profile(
        self, user_id: str, changes: Mapping[str, Any], *, revoke_tokens: bool = False
    ) -> None:
        """Set these fields of an existing profile; with `revoke_tokens`, bump its `token_version`
        too (every access token and session issued before dies)."""

    def change_email(self, user_id: str, *, username: str, old: str, new: str, verified: bool) -> None:
        """Set the profile's `email` to `new` and `email_verified` to `verified`, only if it is still
        `old`; a different address (not only its case) also moves the user's e-mail guard, all or
        nothing. 409 `email_taken` when another user holds `new`; the profile already at `new` (our
        own first attempt, its answer lost) is success; 503 `transaction_conflict` otherwise."""

    def search(
        self, prefix: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[str], dict[str, str] | None]:
        """Up to `limit` ids of the users whose username or e-mail starts with `prefix` (lower case),
        in the order of that value, each once, continuing after the position `after`; and the
        position to continue from (None: there is no more)."""

    # --- addresses -------------------------------------------------------------------------------

    def get_address(self, user_id: str, address_id: str, *, consistent: bool = True) -> Item | None:
        """One of the user's addresses, or None."""

    def addresses_of(self, user_id: str, fields: Iterable[str]) -> list[Item] | None:
        """These fields of each of the user's addresses, in no particular order; None when the user
        does not exist."""

    def add_address(self, user_id: str, address: Mapping[str, Any], move: DefaultMove | None = None) -> bool:
        """Store a new address (its `id` fresh), with `move` in the same transaction. False when
        `move` no longer applies (the default changed meanwhile: read again). The very same address
        already stored (our own first attempt, its answer lost) is success."""

    def update_address(
        self,
        user_id: str,
        address_id: str,
        fields: Mapping[str, Any],
        *,
        is_default: bool,
        move: DefaultMove | None = None,
    ) -> bool:
        """Set an existing address's fields and flag, with `move` in the same transaction. False
        when the address is gone or `move` no longer applies."""

    def delete_address(self, user_id: str, address_id: str, move: DefaultMove | None = None) -> bool:
        """Delete an address, with `move` in the same transaction. 404 `address_not_found` when it
        is not there (maybe deleted by our own first attempt); False when `move` no longer applies."""

    # --- single-use tokens (`purpose` VERIFY or RESET, found by the token's SHA-256) ---------------

    def issue_token(
        self, purpose: str, token_hash: str, fields: Mapping[str, Any], *, expires_at: int
    ) -> None:
        """Store a single-use token with these fields, expiring at `expires_at`."""

    def find_token(self, purpose: str, token_hash: str) -> Item | None:
        """The token's item (maybe expired), read consistently; None when unknown or used."""

    def use_verify_token(self, token_hash: str, user_id: str, *, email: str) -> bool:
        """Use a VERIFY token up and mark the profile's e-mail verified, only if the profile's
        e-mail is still `email`: both or neither. False when a condition failed."""

    def use_reset_token(
        self, token_hash: str, user_id: str, *, token_version: int, password_hash: str
    ) -> bool:
        """Use a RESET token up and set the profile's password hash, bumping its `token_version`,
        only if that is still `token_version` (a profile without one counts as 0): both or
        neither. False when a condition failed."""


class SessionStore(Protocol):
    """Login sessions (`auth_sessions`) and what ends them in the profile (`ended_sessions`)."""

    def start(self, session: Mapping[str, Any]) -> None:
        """Store a new session (`user_id`, `session_id`, `refresh_hash`, `expires_at`, ...); its id is
        fresh, so writing it twice writes the same item."""

    def get(self, user_id: str, session_id: str) -> Item | None:
        """The session (maybe expired), read consistently, or None."""

    def rotate(self, user_id: str, session_id: str, *, presented: str, following: str, now: int) -> bool:
        """Replace the refresh hash `presented` by `following` and remember `presented` in
        `used_hashes`, only if `presented` is still the current one and the session has not
        expired at `now`. False when not; a session already rotated to `following` (our own first
        attempt, its answer lost) is success."""

    def end(self, user_id: str, session_id: str, *, ended: str) -> set[str]:
        """Delete the session (if there) and add `ended` to the existing profile's `ended_sessions`;
        returns the profile's `ended_sessions` now."""

    def forget_ended(self, user_id: str, entries: AbstractSet[str]) -> None:
        """Remove these entries from the profile's `ended_sessions`."""

    def end_all(self, user_id: str) -> None:
        """Delete every session of the user."""


@dataclass(frozen=True)
class AuthAdapters:
    """Everything the auth domain talks to; built once per container (`auth_adapters.adapters`)."""

    users: UsersRepository
    sessions: SessionStore

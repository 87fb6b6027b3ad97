"""Profile edits (PATCH /auth/user/{id}), address edits and deletes, and the admin's user search.

- An e-mail change is one transaction, as registration is: the profile (on condition that the
  e-mail is still the one read), the new guard (only if absent: of two users racing for one
  address exactly one wins, the other gets 409) and the old guard's delete (only if it is ours).
  The new address is unverified until its link is followed. The user's own change needs the
  current password (limited like login) and the old address is told (issue 26, item 3).
- Admin writes (is_active, role, another user's account) check the caller's role and active flag
  as stored, not the authorizer's possibly cached claims (issue 26, item 1).
- Deactivation bumps the token version (every token and session of the user dies) and deletes
  the sessions. An admin can neither deactivate nor demote themself (there must stay an admin).
- Deleting the default address makes the newest remaining one the default, in one transaction
  conditional on the profile's `default_address_id` (the single source of truth).
- The search is one Query of GSI `UserSearch` over the guard items (`shop_shared.keys`), never a
  scan: usernames and e-mails share one sorted key space, so `begins_with` finds both.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

import auth_accounts
import auth_service
import auth_sessions
from auth_adapters import adapters
from auth_address_rules import Deleted, Updated, next_default
from auth_ports import DefaultMove
from auth_service import USER_FIELDS, to_address, to_user
from shop_shared.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from shop_shared.models import Address, AddressRequest, User, UserPage, UserPatch

if TYPE_CHECKING:
    from shop_shared.api import Caller

ATTEMPTS = 3


# --- PATCH /auth/user/{id} ---------------------------------------------------------------------


def make_admin(user_id: str) -> User | None:
    """Make a user an active admin for an operator who holds AWS credentials on the users table
    (tools/create_admin.py: the first admin of a deployed stack). IAM says who may, not a token;
    the API's admins use `update_user`. None when there is no such user."""
    users = adapters().users
    profile = users.get_profile(user_id, ("role", "is_active"), consistent=True)
    if profile is None:
        return None
    values = {
        field: value
        for field, value in (("role", "admin"), ("is_active", True))
        if profile.get(field) != value
    }
    if values:
        users.update_profile(user_id, values, revoke_tokens=False)
    return auth_service.read_user(user_id)


def update_user(caller: Caller, user_id: str, patch: UserPatch, *, address: str = "unknown") -> User:
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only change your own account", code="forbidden")
    if (patch.is_active is not None or patch.role is not None) and not caller.is_admin:
        raise Forbidden("Only an admin may change is_active or role", code="forbidden")
    if patch.is_active is not None or patch.role is not None or caller.user_id != user_id:
        auth_service.require_stored_admin(caller)  # the claims may be up to 60 s old
    if (
        caller.is_admin
        and caller.user_id == user_id
        and (patch.is_active is False or patch.role == "customer")
    ):
        raise Forbidden("An admin cannot deactivate or demote themself", code="cannot_change_own_admin")

    users = adapters().users
    profile = users.get_profile(user_id, (*USER_FIELDS, "token_version", "password_hash"), consistent=True)
    if profile is None:
        raise NotFound("User not found", code="user_not_found")
    changes_email = patch.email is not None and patch.email != profile["email"]
    if changes_email and caller.user_id == user_id:
        # An access token alone must not move the account (and its reset links) elsewhere.
        if patch.current_password is None:
            raise Unprocessable(
                "Changing your e-mail address needs your current password", code="current_password_required"
            )
        auth_accounts.check_current_password(profile, patch.current_password, address=address)

    values: dict[str, Any] = {}
    for field in ("first_name", "last_name", "is_active", "role"):
        value = getattr(patch, field)
        if field in patch.model_fields_set and value is not None and value != profile.get(field):
            values[field] = value
    if values:
        deactivated = values.get("is_active") is False  # every token and session of the user ends
        users.update_profile(user_id, values, revoke_tokens=deactivated)
        if deactivated:
            auth_sessions.end_all(user_id)

    if changes_email and patch.email is not None:
        _change_email(profile, patch.email)
    return auth_service.read_user(user_id)


def _change_email(profile: dict[str, Any], email: str) -> None:
    """One transaction, as registration is (`UsersRepository.change_email`). Only the spelling
    changing keeps the guard and the verification; a new address must be verified again."""
    old = str(profile["email"])
    same_address = email.lower() == old.lower()
    adapters().users.change_email(
        str(profile["id"]),
        username=str(profile["username"]),
        old=old,
        new=email,
        verified=bool(same_address and profile.get("email_verified") is True),
    )
    if not same_address:
        auth_accounts.notify_email_changed(profile, email)
        auth_accounts.send_verification({**profile, "email": email})


# --- addresses ---------------------------------------------------------------------------------


def _own(caller: Caller, user_id: str) -> None:
    if caller.user_id != user_id:
        raise Forbidden("You may only change your own addresses", code="forbidden")


def _address(user_id: str, address_id: str) -> dict[str, Any]:
    item = adapters().users.get_address(user_id, address_id)
    if item is None:
        raise NotFound("Address not found", code="address_not_found")
    return item


def update_address(caller: Caller, user_id: str, address_id: str, request: AddressRequest) -> Address:
    """Replace an address's fields (orders keep their own copy). `is_default: true` makes it the
    default; the default stays the default until another address takes its place."""
    _own(caller, user_id)
    users = adapters().users
    fields = request.model_dump(exclude={"is_default"})
    for _ in range(ATTEMPTS):
        current = _address(user_id, address_id)
        profile = users.get_profile(user_id, ("default_address_id",), consistent=True) or {}
        old_default = profile.get("default_address_id")
        change = Updated(address_id, bool(request.is_default))
        is_default = next_default(old_default, [], change) == address_id
        becomes_default = is_default and old_default != address_id
        move = DefaultMove(old=old_default, new=address_id) if becomes_default else None
        if users.update_address(user_id, address_id, fields, is_default=is_default, move=move):
            return to_address({**current, **fields, "is_default": is_default})
        # the default moved, or the address went: read again
    if users.get_address(user_id, address_id, consistent=False) is None:
        raise NotFound("Address not found", code="address_not_found")
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")


def delete_address(caller: Caller, user_id: str, address_id: str) -> None:
    _own(caller, user_id)
    users = adapters().users
    for _ in range(ATTEMPTS):
        profile = users.get_profile(user_id, ("default_address_id",), consistent=True)
        if profile is None:
            raise NotFound("User not found", code="user_not_found")
        addresses = users.addresses_of(user_id, ("id", "created_at")) or []
        remaining = [a for a in addresses if a["id"] != address_id]
        move = None
        if profile.get("default_address_id") == address_id:
            move = DefaultMove(old=address_id, new=next_default(address_id, remaining, Deleted(address_id)))
        if users.delete_address(user_id, address_id, move):  # 404 when it is not there
            return
        # the default moved under us: read again
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")


# --- admin search ------------------------------------------------------------------------------
def _decode_cursor(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("Invalid cursor", code="invalid_cursor") from None
    wanted = {"pk", "sk", "search_pk", "search_sk"}
    if not isinstance(key, dict) or set(key) != wanted or not all(isinstance(v, str) for v in key.values()):
        raise BadRequest("Invalid cursor", code="invalid_cursor")
    return key


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def search_users(caller: Caller, query: str, limit: int, cursor: str | None) -> UserPage:
    """Users whose username or e-mail starts with `query` (case-insensitive), by that value."""
    if not caller.is_admin:
        raise Forbidden("Only an admin may list users", code="forbidden")
    prefix = query.strip().lower()
    users = adapters().users
    user_ids, last = users.search(prefix, limit=limit, after=_decode_cursor(cursor))
    found = users.get_profiles(user_ids, USER_FIELDS)
    return UserPage(
        users=[to_user(found[u]) for u in user_ids if u in found],
        next=_encode_cursor(last) if last else None,
    )

"""The auth service's domain logic: users, login, tokens and addresses. No HTTP here: the handler
(`auth_api`) parses and authenticates, these functions decide and store.

The storage is reached through the ports of `auth_ports` (`auth_adapters.adapters()`: DynamoDB in
Lambda, in-memory fakes in the unit tests); the data layout is `auth_dynamodb`'s and
`shop_shared.keys`' (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

import auth_accounts
import auth_sessions
import login_throttle
from auth_adapters import adapters
from auth_address_rules import Added, next_default
from auth_ports import DefaultMove
from shop_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from shop_shared.models import Address, AddressRequest, RegisterRequest, TokenResponse, User
from shop_shared.passwords import (
    burn_verification_time,
    hash_password,
    needs_rehash,
    verify_password,
    weakness,
)

if TYPE_CHECKING:
    from auth_ports import UsersRepository
    from shop_shared.api import Caller

logger = Logger(service="auth", child=True)

USER_FIELDS = (
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "created_at",
    "role",
    "email_verified",
)
# What issuing an access token needs beyond the user (`auth_sessions`).
TOKEN_FIELDS = (*USER_FIELDS, "token_version")
ADDRESS_FIELDS = ("id", "street", "city", "state", "postal_code", "country", "is_default")
INVALID_CREDENTIALS = "Invalid username or password"
# Tries when the default address moved under us (read again, write again).
TRANSACTION_ATTEMPTS = 3


class TokenUser(User):
    """What verify-token answers: the token's user, with `user_id` as in the token's claims."""

    user_id: str


class AddressList(BaseModel):
    addresses: list[Address]


# --- storage ------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _users() -> UsersRepository:
    return adapters().users


def _table() -> Any:
    """The users table itself: only for the local stack's own seeding (`shop_local.admin`,
    `shop_local.samples`), never for the domain, which goes through `adapters()`."""
    from auth_dynamodb import users_table

    return users_table()


def _user_id_for(username: str) -> str | None:
    return _users().user_id_for_username(username)


def _create_user(item: dict[str, Any]) -> None:
    """The profile and both uniqueness guards, all or nothing (409 for a taken name or e-mail)."""
    _users().create_user(item)


def to_user(item: dict[str, Any]) -> User:
    return User(**{field: item[field] for field in USER_FIELDS if field in item})


def to_address(item: dict[str, Any]) -> Address:
    return Address(**{field: item[field] for field in ADDRESS_FIELDS})


# --- registration ------------------------------------------------------------------------------


def register(request: RegisterRequest, *, role: str = "customer", verified: bool = False) -> User:
    """Create a user. Username and e-mail are unique case-insensitively (409 otherwise). Unless
    `verified`, the e-mail address gets a verification link.

    Safe to retry (issue 26, item 7): the account is one transaction (`create_user`), and a retry
    of a registration whose answer was lost or was a 5xx, i.e. the same username, e-mail and
    password of an account not verified yet, answers 201 with that account (and sends its link
    again: the first may not have gone out) instead of 409 for an account the user never got."""
    check_password(request.password, username=request.username, email=request.email)
    try:
        return _register_new(request, role=role, verified=verified)
    except Conflict:
        existing = _earlier_attempt(request)
        if existing is None:
            raise
        logger.info(
            "registration retried: the account of the first attempt", extra={"user_id": existing["id"]}
        )
        auth_accounts.send_verification(existing)
        return to_user(existing)


def _earlier_attempt(request: RegisterRequest) -> dict[str, Any] | None:
    """The account an earlier attempt of this very registration stored, or None. The password
    must match (so a 201 tells nobody anything a login would not) and the address must not be
    verified yet (a verified account was plainly received)."""
    users = _users()
    user_id = users.user_id_for_username(request.username)
    item = users.get_profile(user_id, (*USER_FIELDS, "password_hash"), consistent=True) if user_id else None
    if (
        item is None
        or str(item["username"]) != request.username
        or str(item["email"]).lower() != request.email.lower()
        or item.get("email_verified") is True
        or not verify_password(str(item["password_hash"]), request.password)
    ):
        return None
    return {field: item[field] for field in USER_FIELDS if field in item}


def _register_new(request: RegisterRequest, *, role: str, verified: bool) -> User:
    user_id = str(uuid.uuid4())
    item = {
        "id": user_id,
        "username": request.username,
        "email": request.email,
        "first_name": request.first_name,
        "last_name": request.last_name,
        "password_hash": hash_password(request.password),
        "role": role,
        "is_active": True,
        "email_verified": verified,
        "token_version": 0,
        "created_at": _now(),
    }
    _create_user(item)
    if not verified:
        auth_accounts.send_verification(item)
    return to_user(item)


def check_password(password: str, *, username: str, email: str) -> None:
    """The contract's password rule: 422 `weak_password` (the password itself is never echoed)."""
    problem = weakness(password, username=username, email=email)
    if problem is not None:
        raise Unprocessable(problem, code="weak_password")


# --- login -------------------------------------------------------------------------------------


def login(username: str, password: str, *, address: str = "unknown") -> TokenResponse:
    """A token for the right password. Unknown user, wrong password and deactivated user get the
    same 401 after the same work; too many failures from this address (or for this username from
    everywhere) → 429 (`login_throttle`)."""
    retry_after = login_throttle.check(username, address)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many failed logins, try again later",
            retry_after=retry_after,
            code="too_many_login_attempts",
        )

    users = _users()
    user_id = users.user_id_for_username(username)
    item = users.get_profile(user_id, (*TOKEN_FIELDS, "password_hash"), consistent=True) if user_id else None
    if item is None:
        burn_verification_time(password)  # as slow as a wrong password: no user enumeration
        login_throttle.failed(username)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if not verify_password(str(item["password_hash"]), password) or item.get("is_active") is not True:
        login_throttle.failed(username)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")

    login_throttle.succeeded(username, address)
    if needs_rehash(str(item["password_hash"])):
        users.update_profile(str(item["id"]), {"password_hash": hash_password(password)})
    return auth_sessions.start(item)


def refresh(refresh_token: str) -> TokenResponse:
    return auth_sessions.refresh(
        refresh_token, lambda user_id: _users().get_profile(user_id, TOKEN_FIELDS, consistent=True)
    )


# --- tokens and users --------------------------------------------------------------------------


def verify_token(authorization: str | None) -> TokenUser:
    """The user of a bearer token: valid signature, not expired, user exists and is active, token not
    revoked (the same checks as the authorizer's, read consistently: a revocation counts at once)."""
    from shop_shared.tokens import REVOCATION_FIELDS, bearer_token, decode_token, jwt_secret, revocation

    claims = decode_token(bearer_token(authorization), jwt_secret())
    item = _users().get_profile(claims.user_id, {*USER_FIELDS, *REVOCATION_FIELDS}, consistent=True)
    refused = revocation(claims, item)
    if refused is not None or item is None:
        raise Unauthorized("Invalid token", code=refused or "invalid_token")
    user = to_user(item)
    return TokenUser(user_id=user.id, **user.model_dump())


def require_stored_admin(caller: Caller) -> None:
    """403 unless the caller is an admin as the users table says now, and active. For every admin
    write: the authorizer's answer is cached (up to 60 s), so a demoted or deactivated admin's
    claims still say `admin` for a while, long enough to undo the demotion (issue 26, item 1)."""
    if caller.is_admin:
        stored = _users().get_profile(caller.user_id, ("role", "is_active"), consistent=True)
        if stored is not None and stored.get("role") == "admin" and stored.get("is_active") is True:
            return
    raise Forbidden("Only an admin may do this", code="forbidden")


def read_user(user_id: str) -> User:
    item = _users().get_profile(user_id, USER_FIELDS, consistent=True)
    if item is None:
        raise NotFound("User not found", code="user_not_found")
    return to_user(item)


def get_user(caller: Caller, user_id: str) -> User:
    # Refuse before reading, so a customer learns nothing about other ids.
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only read your own account", code="forbidden")
    item = _users().get_profile(user_id, USER_FIELDS)
    if item is None:
        raise NotFound("User not found", code="user_not_found")
    return to_user(item)


# --- addresses ---------------------------------------------------------------------------------


def list_addresses(caller: Caller, user_id: str) -> AddressList:
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only read your own addresses", code="forbidden")
    items = _users().addresses_of(user_id, (*ADDRESS_FIELDS, "created_at"))
    if items is None:
        raise NotFound("User not found", code="user_not_found")
    addresses = sorted(items, key=lambda item: str(item.get("created_at", "")))
    return AddressList(addresses=[to_address(item) for item in addresses])


def add_address(caller: Caller, user_id: str, request: AddressRequest) -> Address:
    """Add an address to the caller's own account. The first one is the default; a new default
    unsets the old one in the same transaction. The profile's `default_address_id` is the single
    source of truth, updated conditionally, so two racing requests cannot leave two defaults."""
    if caller.user_id != user_id:
        raise Forbidden("You may only add addresses to your own account", code="forbidden")
    users = _users()
    for _ in range(TRANSACTION_ATTEMPTS):
        profile = users.get_profile(user_id, ("id", "default_address_id"), consistent=True)
        if profile is None:
            raise NotFound("User not found", code="user_not_found")
        old_default = profile.get("default_address_id")
        address_id = str(uuid.uuid4())
        new_default = next_default(old_default, [], Added(address_id, bool(request.is_default)))
        item = {
            "id": address_id,
            "user_id": user_id,
            **request.model_dump(exclude={"is_default"}),
            "is_default": new_default == address_id,
            "created_at": _now(),
        }
        # A new default moves the pointer (and the old default's flag) in the same transaction.
        move = DefaultMove(old=old_default, new=address_id) if item["is_default"] else None
        if users.add_address(user_id, item, move):
            return to_address(item)
        # The default changed under us (a concurrent add): read it again and retry.
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")

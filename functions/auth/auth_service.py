"""The auth service's domain logic: users, login, tokens and addresses. No HTTP here: the handler
(`auth_api`) parses and authenticates, these functions decide and store.

Data layout (`shop_shared.keys`, docs/architecture.md): the profile `USER#{id}/PROFILE`, addresses
`USER#{id}/ADDRESS#{address_id}`, and the uniqueness guards `USERNAME#{lower}/GUARD` and
`EMAIL#{lower}/GUARD`, written together with the profile in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

import auth_accounts
import auth_sessions
import login_throttle
from shop_shared import aws, keys
from shop_shared.config import get_settings
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
# Retries when DynamoDB cancels a transaction because a concurrent one touched the same items.
TRANSACTION_ATTEMPTS = 3


class TokenUser(User):
    """What verify-token answers: the token's user, with `user_id` as in the token's claims."""

    user_id: str


class AddressList(BaseModel):
    addresses: list[Address]


# --- storage helpers ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _table_name() -> str:
    return get_settings().users_table


def _table() -> Any:
    return aws.table(_table_name())


def _transact(items: list[dict[str, Any]]) -> None:
    # The resource's client takes plain Python values (boto3 serialises them), like the Table does.
    client: Any = aws.dynamodb().meta.client
    client.transact_write_items(TransactItems=items)


# On a refused condition, DynamoDB returns the item that is there (`ALL_OLD`): see `_is_ours`.
ALL_OLD = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
_deserializer = TypeDeserializer()


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item from an error response (DynamoDB JSON: the resource does not convert errors)."""
    if item is None:
        return None
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _is_ours(existing: dict[str, Any] | None, written: dict[str, Any]) -> bool:
    """Whether the item a condition was refused on is exactly the one we wrote.

    The shared clients retry a call whose reply did not come in time (`shop_shared.aws`): if the
    first attempt was stored, the retry's `attribute_not_exists` fails on our own item. Every item
    we create carries a fresh id and timestamp, so an identical item can only be our own write:
    treat it as done (docs/architecture.md, "Retries")."""
    return _plain(existing) == written


def _refused_item(exc: ClientError) -> dict[str, Any] | None:
    """The item a refused conditional PutItem found (sent with ALL_OLD), or None."""
    if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        return None
    response: dict[str, Any] = dict(exc.response)
    item: dict[str, Any] | None = response.get("Item")
    return item


def _cancelled_item(exc: ClientError, index: int) -> dict[str, Any] | None:
    """The item the `index`th action of a cancelled transaction was refused on (sent with ALL_OLD)."""
    response: dict[str, Any] = dict(exc.response)
    reasons: list[dict[str, Any]] = response.get("CancellationReasons") or []
    if index >= len(reasons) or reasons[index].get("Code") != "ConditionalCheckFailed":
        return None
    item: dict[str, Any] | None = reasons[index].get("Item")
    return item


def _cancellation_codes(exc: ClientError) -> list[str] | None:
    """The per-item reasons of a cancelled transaction, or None for any other error."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def to_user(item: dict[str, Any]) -> User:
    return User(**{field: item[field] for field in USER_FIELDS if field in item})


def to_address(item: dict[str, Any]) -> Address:
    return Address(**{field: item[field] for field in ADDRESS_FIELDS})


def _get_profile(user_id: str, fields: Iterable[str], *, consistent: bool = False) -> dict[str, Any] | None:
    response = _table().get_item(
        Key=keys.user_key(user_id), ConsistentRead=consistent, **aws.projection(fields)
    )
    item: dict[str, Any] | None = response.get("Item")
    return item


# --- registration ------------------------------------------------------------------------------


def register(request: RegisterRequest, *, role: str = "customer", verified: bool = False) -> User:
    """Create a user. Username and e-mail are unique case-insensitively (409 otherwise). Unless
    `verified`, the e-mail address gets a verification link."""
    check_password(request.password, username=request.username, email=request.email)
    user_id = str(uuid.uuid4())
    item = {
        **keys.user_key(user_id),
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


def email_guard(email: str, username: str, guard: dict[str, Any]) -> dict[str, Any]:
    """An e-mail's guard item, findable by the admin search (`keys.search_attributes`); it notes the
    username so that a user matching a query by both is listed once (`auth_profiles.search`)."""
    return {
        **keys.email_guard_key(email),
        **guard,
        **keys.search_attributes(email),
        "username_lower": username.lower(),
    }


def _create_user(item: dict[str, Any]) -> None:
    """The profile and both guards in one transaction, each only if absent: of two racing
    registrations of one username (or e-mail) exactly one can win."""
    table = _table_name()
    guard = {"user_id": item["id"], "created_at": item["created_at"]}
    absent = "attribute_not_exists(pk)"
    items = [
        {"Put": {"TableName": table, "Item": item, "ConditionExpression": absent, **ALL_OLD}},
        {
            "Put": {
                "TableName": table,
                "Item": {
                    **keys.username_guard_key(item["username"]),
                    **guard,
                    **keys.search_attributes(item["username"]),
                },
                "ConditionExpression": absent,
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": email_guard(item["email"], item["username"], guard),
                "ConditionExpression": absent,
            }
        },
    ]
    for _ in range(TRANSACTION_ATTEMPTS):
        try:
            _transact(items)
            return
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if codes is None:
                raise
            if _is_ours(_cancelled_item(exc, 0), item):
                return  # our own first attempt, stored before its reply was lost
            if codes[1:2] == ["ConditionalCheckFailed"]:
                raise Conflict("Username is already taken", code="username_taken") from None
            if codes[2:3] == ["ConditionalCheckFailed"]:
                raise Conflict("E-mail address is already registered", code="email_taken") from None
            # TransactionConflict: a concurrent registration holds one of our items. Try again:
            # its guard is then visible and we answer 409, or it failed and we may win.
    raise ServiceUnavailable("Registration is busy, please try again", code="transaction_conflict")


def ensure_admin(username: str, password: str, email: str) -> None:
    """Make sure an admin `username` exists with this password: create it, or reset the password
    and role of the existing user (idempotent; the local stack calls it with SHOP_ADMIN_PASSWORD)."""
    request = RegisterRequest(
        username=username, email=email, first_name="Admin", last_name="User", password=password
    )
    for _ in range(2):
        user_id = _user_id_for(username)
        if user_id is not None:
            _table().update_item(
                Key=keys.user_key(user_id),
                UpdateExpression=(
                    "SET password_hash = :hash, #role = :admin, is_active = :true, email_verified = :true"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#role": "role"},
                ExpressionAttributeValues={
                    ":hash": hash_password(request.password),
                    ":admin": "admin",
                    ":true": True,
                },
            )
            return
        try:
            register(request, role="admin", verified=True)
            return
        except Conflict as exc:
            if exc.code != "username_taken":  # the e-mail belongs to someone else
                raise
            # created concurrently: update it on the next round
    raise RuntimeError(f"could not create or update the admin user {username!r}")


# --- login -------------------------------------------------------------------------------------


def _user_id_for(username: str) -> str | None:
    guard = _table().get_item(Key=keys.username_guard_key(username), ConsistentRead=True).get("Item")
    return str(guard["user_id"]) if guard else None


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

    user_id = _user_id_for(username)
    item = _get_profile(user_id, (*TOKEN_FIELDS, "password_hash"), consistent=True) if user_id else None
    if item is None:
        burn_verification_time(password)  # as slow as a wrong password: no user enumeration
        login_throttle.failed(username)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if not verify_password(str(item["password_hash"]), password) or item.get("is_active") is not True:
        login_throttle.failed(username)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")

    login_throttle.succeeded(username, address)
    if needs_rehash(str(item["password_hash"])):
        _table().update_item(
            Key=keys.user_key(str(item["id"])),
            UpdateExpression="SET password_hash = :hash",
            ExpressionAttributeValues={":hash": hash_password(password)},
        )
    return auth_sessions.start(item)


def refresh(refresh_token: str) -> TokenResponse:
    return auth_sessions.refresh(
        refresh_token, lambda user_id: _get_profile(user_id, TOKEN_FIELDS, consistent=True)
    )


# --- tokens and users --------------------------------------------------------------------------


def verify_token(authorization: str | None) -> TokenUser:
    """The user of a bearer token: valid signature, not expired, user exists and is active, token not
    revoked (the same checks as the authorizer's, read consistently: a revocation counts at once)."""
    from shop_shared.tokens import REVOCATION_FIELDS, bearer_token, decode_token, jwt_secret, revocation

    claims = decode_token(bearer_token(authorization), jwt_secret())
    item = _get_profile(claims.user_id, {*USER_FIELDS, *REVOCATION_FIELDS}, consistent=True)
    refused = revocation(claims, item)
    if refused is not None or item is None:
        raise Unauthorized("Invalid token", code=refused or "invalid_token")
    user = to_user(item)
    return TokenUser(user_id=user.id, **user.model_dump())


def read_user(user_id: str) -> User:
    item = _get_profile(user_id, USER_FIELDS, consistent=True)
    if item is None:
        raise NotFound("User not found", code="user_not_found")
    return to_user(item)


def get_user(caller: Caller, user_id: str) -> User:
    # Refuse before reading, so a customer learns nothing about other ids.
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only read your own account", code="forbidden")
    item = _get_profile(user_id, USER_FIELDS)
    if item is None:
        raise NotFound("User not found", code="user_not_found")
    return to_user(item)


# --- addresses ---------------------------------------------------------------------------------


def list_addresses(caller: Caller, user_id: str) -> AddressList:
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only read your own addresses", code="forbidden")
    # One query over the user's partition: the profile says the user exists, the rest are addresses.
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": keys.user_key(user_id)["pk"]},
        **aws.projection(("sk", *ADDRESS_FIELDS, "created_at")),
    }
    items: list[dict[str, Any]] = []
    while True:
        page = _table().query(**arguments)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if not any(item["sk"] == keys.PROFILE for item in items):
        raise NotFound("User not found", code="user_not_found")
    addresses = sorted(
        (item for item in items if str(item["sk"]).startswith("ADDRESS#")),
        key=lambda item: str(item.get("created_at", "")),
    )
    return AddressList(addresses=[to_address(item) for item in addresses])


def add_address(caller: Caller, user_id: str, request: AddressRequest) -> Address:
    """Add an address to the caller's own account. The first one is the default; a new default
    unsets the old one in the same transaction. The profile's `default_address_id` is the single
    source of truth, updated conditionally, so two racing requests cannot leave two defaults."""
    if caller.user_id != user_id:
        raise Forbidden("You may only add addresses to your own account", code="forbidden")
    table = _table_name()
    for _ in range(TRANSACTION_ATTEMPTS):
        profile = _get_profile(user_id, ("id", "default_address_id"), consistent=True)
        if profile is None:
            raise NotFound("User not found", code="user_not_found")
        old_default = profile.get("default_address_id")
        address_id = str(uuid.uuid4())
        item = {
            **keys.address_key(user_id, address_id),
            "id": address_id,
            "user_id": user_id,
            **request.model_dump(exclude={"is_default"}),
            "is_default": bool(request.is_default or not old_default),
            "created_at": _now(),
        }
        put = {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)", **ALL_OLD}
        if not item["is_default"]:
            try:
                _table().put_item(Item=item, ConditionExpression="attribute_not_exists(pk)", **ALL_OLD)
            except ClientError as exc:
                if not _is_ours(_refused_item(exc), item):
                    raise
            return to_address(item)

        if old_default:
            pointer_condition = "default_address_id = :old"
            values: dict[str, Any] = {":new": address_id, ":old": old_default}
        else:
            pointer_condition = "attribute_not_exists(default_address_id)"
            values = {":new": address_id}
        items: list[dict[str, Any]] = [
            {"Put": put},
            {
                "Update": {
                    "TableName": table,
                    "Key": keys.user_key(user_id),
                    "UpdateExpression": "SET default_address_id = :new",
                    "ConditionExpression": f"attribute_exists(pk) AND {pointer_condition}",
                    "ExpressionAttributeValues": values,
                }
            },
        ]
        if old_default:
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": keys.address_key(user_id, str(old_default)),
                        "UpdateExpression": "SET is_default = :false",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":false": False},
                    }
                }
            )
        try:
            _transact(items)
            return to_address(item)
        except ClientError as exc:
            if _cancellation_codes(exc) is None:
                raise
            if _is_ours(_cancelled_item(exc, 0), item):
                return to_address(item)  # our own first attempt: the whole transaction was applied
            # The default changed under us (a concurrent add): read it again and retry.
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")

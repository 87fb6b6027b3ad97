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
from botocore.exceptions import ClientError
from pydantic import BaseModel

from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shop_shared.models import Address, AddressRequest, RegisterRequest, TokenResponse, User
from shop_shared.passwords import burn_verification_time, hash_password, needs_rehash, verify_password

if TYPE_CHECKING:
    from shop_shared.api import Caller

logger = Logger(service="auth", child=True)

USER_FIELDS = ("id", "username", "email", "first_name", "last_name", "is_active", "created_at", "role")
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


def register(request: RegisterRequest, *, role: str = "customer") -> User:
    """Create a user. Username and e-mail are unique case-insensitively (409 otherwise)."""
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
        "created_at": _now(),
    }
    _create_user(item)
    return to_user(item)


def _create_user(item: dict[str, Any]) -> None:
    """The profile and both guards in one transaction, each only if absent: of two racing
    registrations of one username (or e-mail) exactly one can win."""
    table = _table_name()
    guard = {"user_id": item["id"], "created_at": item["created_at"]}
    absent = "attribute_not_exists(pk)"
    items = [
        {"Put": {"TableName": table, "Item": item, "ConditionExpression": absent}},
        {
            "Put": {
                "TableName": table,
                "Item": {**keys.username_guard_key(item["username"]), **guard},
                "ConditionExpression": absent,
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": {**keys.email_guard_key(item["email"]), **guard},
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
            if codes[1:2] == ["ConditionalCheckFailed"]:
                raise Conflict("Username is already taken", code="username_taken") from None
            if codes[2:3] == ["ConditionalCheckFailed"]:
                raise Conflict("E-mail address is already registered", code="email_taken") from None
            # TransactionConflict: a concurrent registration holds one of our items. Try again:
            # its guard is then visible and we answer 409, or it failed and we may win.
    raise ServiceUnavailable("Registration is busy, please try again", code="transaction_conflict")


# --- login -------------------------------------------------------------------------------------


def _user_id_for(username: str) -> str | None:
    guard = _table().get_item(Key=keys.username_guard_key(username), ConsistentRead=True).get("Item")
    return str(guard["user_id"]) if guard else None


def _failure_key(username: str) -> str:
    return f"login:failures:{username.lower()}"


def _count_attempt(username: str) -> tuple[int, int]:
    """Count this attempt in the username's window, in one atomic pipeline, before the password
    is checked (so a burst of parallel guesses is counted too). Returns (attempts including this
    one, seconds left in the window); (0, 0) when the stack runs without Redis (REDIS_URL=none).
    Redis configured but unreachable: 503, the throttle fails closed (docs/deploying.md)."""
    from shop_shared.observability import redis_unavailable
    from shop_shared.redis_client import REDIS_ERRORS, RedisDisabled, get_redis

    settings = get_settings()
    key = _failure_key(username)
    try:
        # One key: a single-slot transaction, valid on a cluster too.
        pipe = get_redis().pipeline(transaction=True)
        pipe.set(key, 0, ex=settings.login_failure_window_seconds, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, attempts, ttl = pipe.execute()
    except RedisDisabled:
        return 0, 0
    except REDIS_ERRORS as exc:
        # Unlimited guessing while Redis is down would be a brute-force window: refuse logins
        # instead (issued tokens keep working; the authorizer does not use Redis).
        logger.warning("login limiter unavailable, refusing logins", extra={"error": type(exc).__name__})
        redis_unavailable("login_throttle")
        raise ServiceUnavailable(
            "Login is temporarily unavailable, please try again shortly",
            code="login_unavailable",
            headers={"Retry-After": "30"},
        ) from exc
    return int(attempts), int(ttl) if int(ttl) > 0 else settings.login_failure_window_seconds


def _reset_attempts(username: str) -> None:
    from shop_shared.redis_client import REDIS_ERRORS, get_redis

    try:
        get_redis().delete(_failure_key(username))
    except REDIS_ERRORS as exc:
        logger.warning("could not reset login failures", extra={"error": type(exc).__name__})


def login(username: str, password: str) -> TokenResponse:
    """A token for the right password. Unknown user, wrong password and deactivated user get the
    same 401 after the same work; after `login_max_failures` failures in the window, 429."""
    from shop_shared.tokens import issue_token, jwt_secret

    settings = get_settings()
    attempts, retry_after = _count_attempt(username)
    if attempts > settings.login_max_failures:
        raise TooManyRequests(
            "Too many failed logins for this user, try again later",
            retry_after=retry_after,
            code="too_many_login_attempts",
        )

    user_id = _user_id_for(username)
    item = _get_profile(user_id, (*USER_FIELDS, "password_hash"), consistent=True) if user_id else None
    if item is None:
        burn_verification_time(password)  # as slow as a wrong password: no user enumeration
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if not verify_password(str(item["password_hash"]), password) or item.get("is_active") is not True:
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")

    if attempts:  # this attempt was counted too: a success starts the count afresh
        _reset_attempts(username)
    if needs_rehash(str(item["password_hash"])):
        _table().update_item(
            Key=keys.user_key(str(item["id"])),
            UpdateExpression="SET password_hash = :hash",
            ExpressionAttributeValues={":hash": hash_password(password)},
        )
    token, claims = issue_token(
        user_id=str(item["id"]),
        username=str(item["username"]),
        email=str(item["email"]),
        role=str(item.get("role", "customer")),
        secret=jwt_secret(),
        ttl_seconds=settings.jwt_ttl_seconds,
    )
    return TokenResponse(access_token=token, expires_in=claims.exp - claims.iat)


# --- tokens and users --------------------------------------------------------------------------


def verify_token(authorization: str | None) -> TokenUser:
    """The user of a bearer token: valid signature, not expired, user exists and is active."""
    from shop_shared.tokens import bearer_token, decode_token, jwt_secret

    claims = decode_token(bearer_token(authorization), jwt_secret())
    item = _get_profile(claims.user_id, USER_FIELDS)
    if item is None or item.get("is_active") is not True:
        raise Unauthorized("Invalid token", code="invalid_token")
    user = to_user(item)
    return TokenUser(user_id=user.id, **user.model_dump())


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
        put = {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        if not item["is_default"]:
            _table().put_item(Item=put["Item"], ConditionExpression=put["ConditionExpression"])
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
            # The default changed under us (a concurrent add): read it again and retry.
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")

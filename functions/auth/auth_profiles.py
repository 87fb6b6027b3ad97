"""Profile edits (PATCH /auth/user/{id}), address edits and deletes, and the admin's user search.

- An e-mail change is one transaction, as registration is: the profile (on condition that the
  e-mail is still the one read), the new guard (only if absent: of two users racing for one
  address exactly one wins, the other gets 409) and the old guard's delete (only if it is ours).
  The new address is unverified until its link is followed.
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

from botocore.exceptions import ClientError

import auth_accounts
import auth_service
import auth_sessions
from auth_service import USER_FIELDS, to_address, to_user
from shop_shared import aws, keys
from shop_shared.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from shop_shared.models import Address, AddressRequest, User, UserPage, UserPatch

if TYPE_CHECKING:
    from shop_shared.api import Caller

ATTEMPTS = 3


def _client() -> Any:
    return aws.dynamodb().meta.client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# --- PATCH /auth/user/{id} ---------------------------------------------------------------------


def update_user(caller: Caller, user_id: str, patch: UserPatch) -> User:
    if not caller.can_access_user(user_id):
        raise Forbidden("You may only change your own account", code="forbidden")
    if (patch.is_active is not None or patch.role is not None) and not caller.is_admin:
        raise Forbidden("Only an admin may change is_active or role", code="forbidden")
    if (
        caller.is_admin
        and caller.user_id == user_id
        and (patch.is_active is False or patch.role == "customer")
    ):
        raise Forbidden("An admin cannot deactivate or demote themself", code="cannot_change_own_admin")

    profile = auth_service._get_profile(user_id, (*USER_FIELDS, "token_version"), consistent=True)
    if profile is None:
        raise NotFound("User not found", code="user_not_found")

    values: dict[str, Any] = {}
    for field in ("first_name", "last_name", "is_active", "role"):
        value = getattr(patch, field)
        if field in patch.model_fields_set and value is not None and value != profile.get(field):
            values[field] = value
    if values:
        names = {f"#{field}": field for field in values}
        update = "SET " + ", ".join(f"#{field} = :{field}" for field in values)
        expression_values = {f":{field}": value for field, value in values.items()}
        if values.get("is_active") is False:
            update += " ADD token_version :one"  # every token and session of the user ends
            expression_values[":one"] = 1
        auth_service._table().update_item(
            Key=keys.user_key(user_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=expression_values,
        )
        if values.get("is_active") is False:
            auth_sessions.end_all(user_id)

    if patch.email is not None and patch.email != profile["email"]:
        _change_email(profile, patch.email)
    return auth_service.read_user(user_id)


def _change_email(profile: dict[str, Any], email: str) -> None:
    user_id, old = str(profile["id"]), str(profile["email"])
    table = auth_service._table_name()
    same_address = email.lower() == old.lower()  # only the spelling changes: same guard, still verified
    profile_update = {
        "Update": {
            "TableName": table,
            "Key": keys.user_key(user_id),
            "UpdateExpression": "SET email = :new, email_verified = :verified",
            "ConditionExpression": "email = :old",
            "ExpressionAttributeValues": {
                ":new": email,
                ":old": old,
                ":verified": bool(same_address and profile.get("email_verified") is True),
            },
        }
    }
    items: list[dict[str, Any]] = [profile_update]
    if not same_address:
        guard = {"user_id": user_id, "created_at": auth_service._now()}
        items += [
            {
                "Put": {
                    "TableName": table,
                    "Item": auth_service.email_guard(email, str(profile["username"]), guard),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Delete": {
                    "TableName": table,
                    "Key": keys.email_guard_key(old),
                    "ConditionExpression": "user_id = :me",
                    "ExpressionAttributeValues": {":me": user_id},
                }
            },
        ]
    try:
        _client().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if _code(exc) != "TransactionCanceledException":
            raise
        reasons = [str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])]
        now = auth_service._get_profile(user_id, ("email",), consistent=True) or {}
        if now.get("email") == email:
            return  # our own first attempt, stored before its reply was lost
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise Conflict("E-mail address is already registered", code="email_taken") from None
        raise ServiceUnavailable("Account is busy, please try again", code="transaction_conflict") from None
    if not same_address:
        auth_accounts.send_verification({**profile, "email": email})


# --- addresses ---------------------------------------------------------------------------------


def _own(caller: Caller, user_id: str) -> None:
    if caller.user_id != user_id:
        raise Forbidden("You may only change your own addresses", code="forbidden")


def _address(user_id: str, address_id: str) -> dict[str, Any]:
    item: dict[str, Any] | None = (
        auth_service._table()
        .get_item(Key=keys.address_key(user_id, address_id), ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        raise NotFound("Address not found", code="address_not_found")
    return item


def update_address(caller: Caller, user_id: str, address_id: str, request: AddressRequest) -> Address:
    """Replace an address's fields (orders keep their own copy). `is_default: true` makes it the
    default; the default stays the default until another address takes its place."""
    _own(caller, user_id)
    table = auth_service._table_name()
    fields = request.model_dump(exclude={"is_default"})
    names = {f"#{field}": field for field in fields}
    assignments = ", ".join(f"#{field} = :{field}" for field in fields)
    for _ in range(ATTEMPTS):
        current = _address(user_id, address_id)
        profile = auth_service._get_profile(user_id, ("default_address_id",), consistent=True) or {}
        old_default = profile.get("default_address_id")
        values: dict[str, Any] = {f":{field}": value for field, value in fields.items()}
        becomes_default = request.is_default and old_default != address_id
        values[":default"] = bool(becomes_default or old_default == address_id)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": table,
                    "Key": keys.address_key(user_id, address_id),
                    "UpdateExpression": f"SET {assignments}, is_default = :default",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if becomes_default:
            items += _move_default(user_id, old_default, address_id, unset_old=True)
        try:
            _client().transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            continue  # the default moved, or the address went: read again
        return to_address({**current, **fields, "is_default": values[":default"]})
    if not auth_service._table().get_item(Key=keys.address_key(user_id, address_id)).get("Item"):
        raise NotFound("Address not found", code="address_not_found")
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")


def _move_default(
    user_id: str, old: str | None, new: str | None, *, unset_old: bool = False
) -> list[dict[str, Any]]:
    """Transaction items moving the profile's default pointer from `old` to `new` (None: no default
    left), on condition that it still names `old`; with `unset_old`, clearing `old`'s flag too."""
    table = auth_service._table_name()
    condition = "default_address_id = :old" if old else "attribute_not_exists(default_address_id)"
    values: dict[str, Any] = {":old": old} if old else {}
    if new:
        update, values[":new"] = "SET default_address_id = :new", new
    else:
        update = "REMOVE default_address_id"
    items: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": keys.user_key(user_id),
                "UpdateExpression": update,
                "ConditionExpression": f"attribute_exists(pk) AND {condition}",
                **({"ExpressionAttributeValues": values} if values else {}),
            }
        }
    ]
    if unset_old and old:
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": keys.address_key(user_id, old),
                    "UpdateExpression": "SET is_default = :false",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":false": False},
                }
            }
        )
    return items


def delete_address(caller: Caller, user_id: str, address_id: str) -> None:
    _own(caller, user_id)
    table = auth_service._table_name()
    for _ in range(ATTEMPTS):
        profile = auth_service._get_profile(user_id, ("default_address_id",), consistent=True)
        if profile is None:
            raise NotFound("User not found", code="user_not_found")
        remaining = [a for a in _address_items(user_id) if a["id"] != address_id]
        delete = {
            "Delete": {
                "TableName": table,
                "Key": keys.address_key(user_id, address_id),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        items: list[dict[str, Any]] = [delete]
        if profile.get("default_address_id") == address_id:
            newest = (
                str(max(remaining, key=lambda a: str(a.get("created_at", "")))["id"]) if remaining else None
            )
            items += _move_default(user_id, address_id, newest)
            if newest:
                items.append(
                    {
                        "Update": {
                            "TableName": table,
                            "Key": keys.address_key(user_id, newest),
                            "UpdateExpression": "SET is_default = :true",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":true": True},
                        }
                    }
                )
        try:
            _client().transact_write_items(TransactItems=items)
            return
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            reasons = [str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:  # the address is gone (maybe our own retry)
                raise NotFound("Address not found", code="address_not_found") from None
            # the default moved under us: read again
    raise ServiceUnavailable("Address book is busy, please try again", code="transaction_conflict")


def _address_items(user_id: str) -> list[dict[str, Any]]:
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :address)",
        "ExpressionAttributeValues": {":pk": f"USER#{user_id}", ":address": "ADDRESS#"},
        "ProjectionExpression": "id, created_at",
    }
    items: list[dict[str, Any]] = []
    while True:
        page = auth_service._table().query(**arguments)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
    arguments: dict[str, Any] = {
        "IndexName": keys.USER_SEARCH_INDEX,
        "KeyConditionExpression": "search_pk = :p AND begins_with(search_sk, :q)",
        # An e-mail's entry is left out when the same user's username matches too (listed once).
        "FilterExpression": "attribute_not_exists(username_lower) OR NOT begins_with(username_lower, :q)",
        "ExpressionAttributeValues": {":p": keys.SEARCH_PARTITION, ":q": prefix},
    }
    start = _decode_cursor(cursor)
    user_ids: list[str] = []
    last: dict[str, Any] | None = None
    while len(user_ids) < limit:
        if start:
            arguments["ExclusiveStartKey"] = start
        arguments["Limit"] = limit - len(user_ids)
        page = auth_service._table().query(**arguments)
        for item in page.get("Items", []):
            if str(item["user_id"]) not in user_ids:
                user_ids.append(str(item["user_id"]))
        last = page.get("LastEvaluatedKey")
        if not last:
            break
        start = last
    users = _profiles(user_ids)
    return UserPage(users=users, next=_encode_cursor(last) if last else None)


def _profiles(user_ids: list[str]) -> list[User]:
    if not user_ids:
        return []
    table = auth_service._table_name()
    request: dict[str, Any] = {
        table: {"Keys": [keys.user_key(u) for u in user_ids], **aws.projection(("pk", *USER_FIELDS))}
    }
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        response = aws.dynamodb().batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table, []):
            found[str(item["id"])] = item
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    return [to_user(found[u]) for u in user_ids if u in found]

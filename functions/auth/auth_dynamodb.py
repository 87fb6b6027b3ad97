"""The DynamoDB adapters of the auth domain (see `auth_ports`) on the users table: the only auth
modules' code that speaks DynamoDB expressions and transactions. The table is looked up per call
(cached per container by `shop_shared.aws`), so building the adapters costs nothing at cold start.

Retries after a lost reply: the shared clients retry a call whose reply did not come in time
(`shop_shared.aws`); if the first attempt was stored, the retry's condition fails on our own write.
Conditional writes that create an item therefore ask for `ReturnValuesOnConditionCheckFailure=
ALL_OLD`, and the item they were refused on being exactly the one we wrote counts as success
(`_is_ours`; docs/architecture.md, "Retries").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.errors import Conflict, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from auth_ports import DefaultMove, Item

# Retries when DynamoDB cancels a transaction because a concurrent one touched the same items.
TRANSACTION_ATTEMPTS = 3
# On a refused condition, DynamoDB returns the item that is there (`ALL_OLD`): see `_is_ours`.
ALL_OLD = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
ABSENT = "attribute_not_exists(pk)"


def _table_name() -> str:
    return get_settings().users_table


def users_table() -> Any:
    return aws.table(_table_name())


def _transact(items: list[dict[str, Any]]) -> None:
    # The resource's client takes plain Python values (boto3 serialises them), like the Table does.
    client: Any = aws.dynamodb().meta.client
    client.transact_write_items(TransactItems=items)


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item from an error response (DynamoDB JSON: the resource does not convert errors)."""
    return None if item is None else aws.plain_item(item)


def _is_ours(existing: dict[str, Any] | None, written: dict[str, Any]) -> bool:
    """Whether the item a condition was refused on is exactly the one we wrote. Every item we
    create carries a fresh id and timestamp, so an identical item can only be our own write."""
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


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _query_all(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a Query, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = users_table().query(**arguments)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def username_guard(username: str, guard: Mapping[str, Any]) -> dict[str, Any]:
    """A username's guard item, findable by the admin search (`keys.search_attributes`)."""
    return {**keys.username_guard_key(username), **guard, **keys.search_attributes(username)}


def email_guard(email: str, username: str, guard: Mapping[str, Any]) -> dict[str, Any]:
    """An e-mail's guard item, findable by the admin search; it notes the username so that a user
    matching a query by both is listed once (`DynamoUsers.search`)."""
    return {
        **keys.email_guard_key(email),
        **guard,
        **keys.search_attributes(email),
        "username_lower": username.lower(),
    }


class DynamoUsers:
    """`UsersRepository` on the users table and its `UserSearch` index."""

    # --- profiles --------------------------------------------------------------------------------

    def create_user(self, profile: Mapping[str, Any]) -> None:
        """The profile and both guards in one transaction, each only if absent: of two racing
        registrations of one username (or e-mail) exactly one can win."""
        table = _table_name()
        item = {**keys.user_key(str(profile["id"])), **profile}
        guard = {"user_id": item["id"], "created_at": item["created_at"]}
        items = [
            {"Put": {"TableName": table, "Item": item, "ConditionExpression": ABSENT, **ALL_OLD}},
            {
                "Put": {
                    "TableName": table,
                    "Item": username_guard(str(item["username"]), guard),
                    "ConditionExpression": ABSENT,
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": email_guard(str(item["email"]), str(item["username"]), guard),
                    "ConditionExpression": ABSENT,
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

    def get_profile(self, user_id: str, fields: Iterable[str], *, consistent: bool = False) -> Item | None:
        response = users_table().get_item(
            Key=keys.user_key(user_id), ConsistentRead=consistent, **aws.projection(fields)
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get_profiles(self, user_ids: Sequence[str], fields: Iterable[str]) -> dict[str, Item]:
        if not user_ids:
            return {}
        table = _table_name()
        request: dict[str, Any] = {
            table: {"Keys": [keys.user_key(u) for u in user_ids], **aws.projection(("pk", *fields))}
        }
        found: dict[str, dict[str, Any]] = {}
        for _ in range(5):
            response = aws.dynamodb().batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[str(item["id"])] = {name: value for name, value in item.items() if name != "pk"}
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        return found

    def _guard_owner(self, key: dict[str, str]) -> str | None:
        guard = users_table().get_item(Key=key, ConsistentRead=True).get("Item")
        return str(guard["user_id"]) if guard else None

    def user_id_for_username(self, username: str) -> str | None:
        return self._guard_owner(keys.username_guard_key(username))

    def user_id_for_email(self, email: str) -> str | None:
        return self._guard_owner(keys.email_guard_key(email))

    def update_profile(
        self, user_id: str, changes: Mapping[str, Any], *, revoke_tokens: bool = False
    ) -> None:
        if not changes and not revoke_tokens:
            return
        names = {f"#{field}": field for field in changes}
        values: dict[str, Any] = {f":{field}": value for field, value in changes.items()}
        update = "SET " + ", ".join(f"#{field} = :{field}" for field in changes) if changes else ""
        if revoke_tokens:
            update += " ADD token_version :one"
            values[":one"] = 1
        users_table().update_item(
            Key=keys.user_key(user_id),
            UpdateExpression=update.strip(),
            ConditionExpression="attribute_exists(pk)",
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues=values,
        )

    def change_email(self, user_id: str, *, username: str, old: str, new: str, verified: bool) -> None:
        table = _table_name()
        profile_update = {
            "Update": {
                "TableName": table,
                "Key": keys.user_key(user_id),
                "UpdateExpression": "SET email = :new, email_verified = :verified",
                "ConditionExpression": "email = :old",
                "ExpressionAttributeValues": {":new": new, ":old": old, ":verified": verified},
            }
        }
        items: list[dict[str, Any]] = [profile_update]
        if keys.email_guard_key(new) != keys.email_guard_key(old):
            guard = {"user_id": user_id, "created_at": datetime.now(UTC).isoformat()}
            items += [
                {
                    "Put": {
                        "TableName": table,
                        "Item": email_guard(new, username, guard),
                        "ConditionExpression": ABSENT,
                        **ALL_OLD,
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
            _transact(items)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if codes is None:
                raise
            now = self.get_profile(user_id, ("email",), consistent=True) or {}
            if now.get("email") == new:
                return  # our own first attempt, stored before its reply was lost
            if codes[1:2] == ["ConditionalCheckFailed"]:
                raise Conflict("E-mail address is already registered", code="email_taken") from None
            busy = ServiceUnavailable("Account is busy, please try again", code="transaction_conflict")
            raise busy from None

    def search(
        self, prefix: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[str], dict[str, str] | None]:
        arguments: dict[str, Any] = {
            "IndexName": keys.USER_SEARCH_INDEX,
            "KeyConditionExpression": "search_pk = :p AND begins_with(search_sk, :q)",
            # An e-mail's entry is left out when the same user's username matches too (listed once).
            "FilterExpression": "attribute_not_exists(username_lower) OR NOT begins_with(username_lower, :q)",
            "ExpressionAttributeValues": {":p": keys.SEARCH_PARTITION, ":q": prefix},
        }
        if not prefix:
            # Every user, by username. DynamoDB refuses an empty string in a key condition
            # (ValidationException: a 500 on GET /auth/users without `query`, issue 26 item 7), and
            # every username matches "": only the username entries are listed.
            arguments["KeyConditionExpression"] = "search_pk = :p"
            arguments["FilterExpression"] = "attribute_not_exists(username_lower)"
            arguments["ExpressionAttributeValues"] = {":p": keys.SEARCH_PARTITION}
        start = dict(after) if after else None
        user_ids: list[str] = []
        last: dict[str, Any] | None = None
        # Limit counts the items read before the filter: read on until the page is full.
        while len(user_ids) < limit:
            if start:
                arguments["ExclusiveStartKey"] = start
            arguments["Limit"] = limit - len(user_ids)
            page = users_table().query(**arguments)
            for item in page.get("Items", []):
                if str(item["user_id"]) not in user_ids:
                    user_ids.append(str(item["user_id"]))
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            start = last
        return user_ids, ({name: str(value) for name, value in last.items()} if last else None)

    # --- addresses -------------------------------------------------------------------------------

    def get_address(self, user_id: str, address_id: str, *, consistent: bool = True) -> Item | None:
        item: dict[str, Any] | None = (
            users_table()
            .get_item(Key=keys.address_key(user_id, address_id), ConsistentRead=consistent)
            .get("Item")
        )
        return {name: value for name, value in item.items() if name not in ("pk", "sk")} if item else None

    def addresses_of(self, user_id: str, fields: Iterable[str]) -> list[Item] | None:
        # One query over the user's partition: the profile says the user exists, the rest are addresses.
        items = _query_all(
            {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": keys.user_key(user_id)["pk"]},
                **aws.projection(("sk", *fields)),
            }
        )
        if not any(item["sk"] == keys.PROFILE for item in items):
            return None
        return [
            {name: value for name, value in item.items() if name != "sk"}
            for item in items
            if str(item["sk"]).startswith("ADDRESS#")
        ]

    def add_address(self, user_id: str, address: Mapping[str, Any], move: DefaultMove | None = None) -> bool:
        address_id = str(address["id"])
        item = {**keys.address_key(user_id, address_id), **address}
        if move is None:
            try:
                users_table().put_item(Item=item, ConditionExpression=ABSENT, **ALL_OLD)
            except ClientError as exc:
                if not _is_ours(_refused_item(exc), item):
                    raise
            return True
        put = {"TableName": _table_name(), "Item": item, "ConditionExpression": ABSENT, **ALL_OLD}
        try:
            _transact([{"Put": put}, *_move_default(user_id, move, address_id)])
        except ClientError as exc:
            if _cancellation_codes(exc) is None:
                raise
            # Our own first attempt: the whole transaction was applied. Else the default changed.
            return _is_ours(_cancelled_item(exc, 0), item)
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
        names = {f"#{field}": field for field in fields}
        assignments = ", ".join(f"#{field} = :{field}" for field in fields)
        values: dict[str, Any] = {f":{field}": value for field, value in fields.items()}
        values[":default"] = is_default
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": _table_name(),
                    "Key": keys.address_key(user_id, address_id),
                    "UpdateExpression": f"SET {assignments}, is_default = :default",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if move is not None:
            items += _move_default(user_id, move, address_id)
        try:
            _transact(items)
        except ClientError as exc:
            if _cancellation_codes(exc) is None:
                raise
            return False  # the default moved, or the address went
        return True

    def delete_address(self, user_id: str, address_id: str, move: DefaultMove | None = None) -> bool:
        delete = {
            "Delete": {
                "TableName": _table_name(),
                "Key": keys.address_key(user_id, address_id),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        items = [delete, *(_move_default(user_id, move, address_id) if move is not None else [])]
        try:
            _transact(items)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if codes is None:
                raise
            if codes[:1] == ["ConditionalCheckFailed"]:  # the address is gone (maybe our own retry)
                raise NotFound("Address not found", code="address_not_found") from None
            return False  # the default moved under us
        return True

    # --- single-use tokens -----------------------------------------------------------------------

    def issue_token(
        self, purpose: str, token_hash: str, fields: Mapping[str, Any], *, expires_at: int
    ) -> None:
        users_table().put_item(
            Item={**keys.one_time_token_key(token_hash, purpose), **fields, "expires_at": expires_at}
        )

    def find_token(self, purpose: str, token_hash: str) -> Item | None:
        key = keys.one_time_token_key(token_hash, purpose)
        item: dict[str, Any] | None = users_table().get_item(Key=key, ConsistentRead=True).get("Item")
        return {name: value for name, value in item.items() if name not in ("pk", "sk")} if item else None

    def use_verify_token(self, token_hash: str, user_id: str, *, email: str) -> bool:
        return _use_token(
            keys.one_time_token_key(token_hash, "VERIFY"),
            user_id,
            {
                "UpdateExpression": "SET email_verified = :true",
                "ConditionExpression": "email = :email",
                "ExpressionAttributeValues": {":true": True, ":email": email},
            },
        )

    def use_reset_token(
        self, token_hash: str, user_id: str, *, token_version: int, password_hash: str
    ) -> bool:
        # Profiles written before token versions existed have none: that is version 0.
        same_version = "token_version = :version" + (
            " OR attribute_not_exists(token_version)" if token_version == 0 else ""
        )
        return _use_token(
            keys.one_time_token_key(token_hash, "RESET"),
            user_id,
            {
                "UpdateExpression": "SET password_hash = :hash ADD token_version :one",
                "ConditionExpression": f"attribute_exists(pk) AND ({same_version})",
                "ExpressionAttributeValues": {
                    ":hash": password_hash,
                    ":one": 1,
                    ":version": token_version,
                },
            },
        )


def _use_token(key: dict[str, Any], user_id: str, profile_update: dict[str, Any]) -> bool:
    """Delete the single-use token and apply `profile_update` (UpdateExpression, condition, values)
    to the user's profile in one transaction: both or neither. False when a condition failed (the
    token used meanwhile, or the profile no longer what the token was issued for)."""
    table = _table_name()
    items: list[Any] = [
        {"Delete": {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
        {"Update": {"TableName": table, "Key": keys.user_key(user_id), **profile_update}},
    ]
    try:
        _transact(items)
    except ClientError as exc:
        if _cancellation_codes(exc) is None:
            raise
        return False
    return True


def _move_default(user_id: str, move: DefaultMove, subject: str) -> list[dict[str, Any]]:
    """Transaction items moving the profile's default pointer as `move` says, on condition that it
    still names `move.old`, and the flags with it (not `subject`'s: the write about it says it)."""
    table = _table_name()
    old, new = move.old, move.new
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
    for address_id, flag in ((old, False), (new, True)):
        if address_id and address_id != subject:
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": keys.address_key(user_id, address_id),
                        "UpdateExpression": "SET is_default = :flag",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":flag": flag},
                    }
                }
            )
    return items


class DynamoSessions:
    """`SessionStore` on the users table: `USER#{id}` / `SESSION#{sid}`, and the profile's
    `ended_sessions`."""

    def start(self, session: Mapping[str, Any]) -> None:
        # Unconditional: the key is fresh and random, so a retried put only writes the same item again.
        users_table().put_item(
            Item={**keys.session_key(str(session["user_id"]), str(session["session_id"])), **session}
        )

    def get(self, user_id: str, session_id: str) -> Item | None:
        item: dict[str, Any] | None = (
            users_table().get_item(Key=keys.session_key(user_id, session_id), ConsistentRead=True).get("Item")
        )
        return {name: value for name, value in item.items() if name not in ("pk", "sk")} if item else None

    def rotate(self, user_id: str, session_id: str, *, presented: str, following: str, now: int) -> bool:
        try:
            users_table().update_item(
                Key=keys.session_key(user_id, session_id),
                UpdateExpression="SET refresh_hash = :next ADD used_hashes :used",
                ConditionExpression="refresh_hash = :presented AND expires_at > :now",
                ExpressionAttributeValues={
                    ":next": following,
                    ":presented": presented,
                    ":used": {presented},
                    ":now": now,
                },
                **ALL_OLD,
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            stored = (_plain(_refused_item(exc)) or {}).get("refresh_hash")
            return stored == following  # else not our own retried write: a concurrent use
        return True

    def end(self, user_id: str, session_id: str, *, ended: str) -> set[str]:
        table = users_table()
        table.delete_item(Key=keys.session_key(user_id, session_id))
        profile = table.update_item(
            Key=keys.user_key(user_id),
            UpdateExpression="ADD ended_sessions :ended",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":ended": {ended}},
            ReturnValues="ALL_NEW",
        ).get("Attributes", {})
        return {str(entry) for entry in profile.get("ended_sessions") or ()}

    def forget_ended(self, user_id: str, entries: AbstractSet[str]) -> None:
        # A separate update: one expression may not ADD and DELETE the same attribute.
        users_table().update_item(
            Key=keys.user_key(user_id),
            UpdateExpression="DELETE ended_sessions :stale",
            ExpressionAttributeValues={":stale": set(entries)},
        )

    def end_all(self, user_id: str) -> None:
        table = users_table()
        arguments: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :session)",
            "ExpressionAttributeValues": {":pk": f"USER#{user_id}", ":session": "SESSION#"},
            "ProjectionExpression": "pk, sk",
        }
        with table.batch_writer() as batch:
            while True:
                page = table.query(**arguments)
                for item in page.get("Items", []):
                    batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

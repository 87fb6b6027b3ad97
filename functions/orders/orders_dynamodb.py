"""The DynamoDB adapters of the orders domain (see `orders_ports`): the only module of the orders
function that speaks DynamoDB expressions. The tables are looked up per call (cached per
container by `shop_shared.aws`), so building the adapters costs nothing at cold start. Creating
an order (the BatchGetItem and the PutItem here, the counter's UpdateItem in orders_service) goes
through the low-level client with the items converted by `shop_shared.aws.wire_item` /
`plain_item`: the resource layer deep-copies and walks every request, and building it is a cost
of its own in a new environment; the reads and the status change keep the resource.

Conditional writes ask for `ReturnValuesOnConditionCheckFailure=ALL_OLD`: when botocore retried a
write whose first attempt was stored but whose answer was lost, the condition fails against our
own write, and the item it returns lets us recognise that as success (orders_rules, retry safety).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import ConditionBase, Key
from botocore.exceptions import ClientError

import orders_rules
from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.errors import Conflict, EmailNotVerified, Unauthorized, Unprocessable
from shop_shared.models import Customer, ShippingAddress

if TYPE_CHECKING:
    from orders_ports import Item

logger = Logger(service="orders", child=True)

PROFILE_FIELDS = ("id", "username", "email", "first_name", "last_name", "is_active", "email_verified")
ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")


def _orders_table() -> Any:
    return aws.table(get_settings().orders_table)


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _old_item(exc: ClientError) -> dict[str, Any] | None:
    """The item a failed conditional write found (`ReturnValuesOnConditionCheckFailure=ALL_OLD`),
    in plain Python values; None if there was none. The error response is not run through the
    resource layer's conversion, so its values are still DynamoDB-typed."""
    item = cast("dict[str, Any] | None", exc.response.get("Item"))
    if not item:
        return None
    return aws.plain_item(item)


class DynamoOrders:
    """`OrdersRepository` on the orders table and its `ByUser` and `ByStatus` indexes."""

    def put_new(self, item: Item) -> None:
        try:
            aws.client("dynamodb").put_item(
                TableName=get_settings().orders_table,
                Item=aws.wire_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            if not orders_rules.is_same_item(item, _old_item(exc)):
                # a uuid4 collision with someone else's order: refuse rather than overwrite
                raise Conflict("Order id collision, please retry", code="order_exists") from exc
            logger.info("order put retried after a lost reply; the first attempt was stored")

    def get(self, order_id: str) -> Item | None:
        item = _orders_table().get_item(Key=keys.order_key(order_id), ConsistentRead=True).get("Item")
        return dict(item) if item is not None else None

    def set_status(
        self, order: Mapping[str, Any], changes: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> Item:
        # One conditional UpdateItem sets the fields and appends the entry: of two racing changes one
        # wins and the other fails its condition; there is no second write that could be lost.
        names = {"#status": "status"}
        values: dict[str, Any] = {":expected": order["status"], ":empty": [], ":entry": [dict(entry)]}
        sets = ["history = list_append(if_not_exists(history, :empty), :entry)"]
        for index, (name, value) in enumerate(changes.items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            sets.append(f"#f{index} = :v{index}")
        try:
            response = _orders_table().update_item(
                Key=keys.order_key(str(order["id"])),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND #status = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            old = _old_item(exc)
            if old is not None and orders_rules.status_already_written(
                old, str(changes["status"]), str(changes["updated_at"]), entry
            ):
                logger.info("status update retried after a lost reply; the first attempt was stored")
                return old
            raise Conflict(
                "The order's status was changed by someone else meanwhile; read it again",
                code="status_conflict",
            ) from exc
        return dict(response["Attributes"])

    def orders_of_user(
        self, user_id: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[Item], bool]:
        # One item more than the page is read to know whether there is a next page.
        query: dict[str, Any] = {
            "IndexName": keys.ORDERS_BY_USER_INDEX,
            "KeyConditionExpression": Key("user_id").eq(user_id),
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if after:
            query["ExclusiveStartKey"] = dict(after)
        response = _orders_table().query(**query)
        items = [dict(item) for item in response.get("Items", [])]
        return items[:limit], len(items) > limit or bool(response.get("LastEvaluatedKey"))

    def queue_page(
        self, partition: str, *, after: str | None, ascending: bool, limit: int
    ) -> tuple[list[Item], bool]:
        # A key condition, not an ExclusiveStartKey: the cursor of a merged page is one order_seq.
        condition: ConditionBase = Key("status_shard").eq(partition)
        if after is not None:
            condition &= Key("order_seq").gt(after) if ascending else Key("order_seq").lt(after)
        response = _orders_table().query(
            IndexName=keys.ORDERS_BY_STATUS_INDEX,
            KeyConditionExpression=condition,
            ScanIndexForward=ascending,
            Limit=limit + 1,
        )
        items = [dict(item) for item in response.get("Items", [])]
        return items[:limit], len(items) > limit or bool(response.get("LastEvaluatedKey"))

    def queue_find(self, partition: str, seq: str) -> Item | None:
        response = _orders_table().query(
            IndexName=keys.ORDERS_BY_STATUS_INDEX,
            KeyConditionExpression=Key("status_shard").eq(partition) & Key("order_seq").eq(seq),
        )
        items = response.get("Items", [])
        return dict(items[0]) if items else None


class DynamoCustomers:
    """`CustomerDirectory` on the users table."""

    def stored_role(self, user_id: str) -> str | None:
        item = (
            aws.table(get_settings().users_table)
            .get_item(
                Key=keys.user_key(user_id), ConsistentRead=True, **aws.projection(("role", "is_active"))
            )
            .get("Item")
        )
        if item is None or item.get("is_active") is not True:
            return None
        return str(item.get("role", "customer"))

    def customer_and_address(self, user_id: str, address_id: str) -> tuple[Customer, ShippingAddress]:
        """The profile and the address in one BatchGetItem. The address key is built from the
        caller's own partition, so another user's address id simply is not found."""
        table_name = get_settings().users_table
        profile_key, address_key = keys.user_key(user_id), keys.address_key(user_id, address_id)
        request: dict[str, Any] = {
            table_name: {
                "Keys": [aws.wire_item(profile_key), aws.wire_item(address_key)],
                "ConsistentRead": True,
                # Never read the password hash into this function.
                **aws.projection(("pk", "sk", *PROFILE_FIELDS, *ADDRESS_FIELDS)),
            }
        }
        found: dict[str, dict[str, Any]] = {}
        for _attempt in range(4):
            response = aws.client("dynamodb").batch_get_item(RequestItems=request)
            for wire in response.get("Responses", {}).get(table_name, []):
                item = aws.plain_item(wire)
                found[str(item["sk"])] = item
            request = response.get("UnprocessedKeys") or {}  # wire format, as sent
            if not request:
                break
        profile, address = found.get(profile_key["sk"]), found.get(address_key["sk"])
        if profile is None or not profile.get("is_active", True):
            raise Unauthorized("Unknown or deactivated user", code="unknown_user")
        if not profile.get("email_verified", False):
            raise EmailNotVerified()
        if address is None:
            raise Unprocessable("Shipping address not found among your addresses", code="address_not_found")
        customer = Customer(
            user_id=user_id,
            email=str(profile.get("email", "")),
            first_name=str(profile.get("first_name", "")),
            last_name=str(profile.get("last_name", "")),
            username=str(profile.get("username", "")),
        )
        shipping = ShippingAddress(
            id=address_id, **{field: str(address.get(field, "")) for field in ADDRESS_FIELDS}
        )
        return customer, shipping

"""The orders domain: create, read, list and the status life cycle, as plain functions.

The HTTP handler (`orders_api`) parses and authorises; everything here takes plain values and the
verified `Caller`, so it can be tested without API Gateway. Events are not published here: they
leave through the table's stream (`orders_publisher`), so a saved order always gets its event.

Creating an order costs three DynamoDB calls (one BatchGetItem for the profile and the address,
one UpdateItem ADD for the order number, one conditional PutItem for the whole order), one Redis
script for the rate limit and one products lookup (one Redis round trip, upstream only for misses).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import ConditionBase, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

import orders_rate_limit
import orders_rules
from shop_shared import aws, keys
from shop_shared.api import Caller
from shop_shared.config import get_settings
from shop_shared.errors import ApiError, BadRequest, Conflict, NotFound, Unauthorized, Unprocessable
from shop_shared.jsonutil import money
from shop_shared.models import (
    MAX_QUANTITY,
    CreateOrderRequest,
    Customer,
    HistoryEntry,
    Order,
    OrderItem,
    ShippingAddress,
    StatusUpdateRequest,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shop_shared.models import Product

logger = Logger(service="orders", child=True)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

TRANSITIONS = orders_rules.TRANSITIONS
CURSOR_FIELDS = frozenset({"pk", "sk", "user_id", "created_at"})
_PROFILE_FIELDS = ("id", "username", "email", "first_name", "last_name", "is_active")
_ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")


def timestamp(now: datetime) -> str:
    """ISO 8601 UTC with microseconds: sorts as text, which the `ByUser` index relies on."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


def _orders_table() -> Any:
    return aws.table(get_settings().orders_table)


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


_deserializer = TypeDeserializer()


def _old_item(exc: ClientError) -> dict[str, Any] | None:
    """The item a failed conditional write found (`ReturnValuesOnConditionCheckFailure=ALL_OLD`),
    in plain Python values; None if there was none. The error response is not run through the
    resource layer's conversion, so its values are still DynamoDB-typed."""
    item = cast("dict[str, Any] | None", exc.response.get("Item"))
    if not item:
        return None
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


# ---------------------------------------------------------------------------------------- create


def merge_lines(request: CreateOrderRequest) -> list[tuple[int, int]]:
    """(product_id, quantity) in the order first listed; a product listed twice is merged into one
    line whose quantity is the sum, still at most MAX_QUANTITY."""
    merged: dict[int, int] = {}
    for item in request.items:
        merged[item.product_id] = merged.get(item.product_id, 0) + item.quantity
    too_many = [product_id for product_id, quantity in merged.items() if quantity > MAX_QUANTITY]
    if too_many:
        raise Unprocessable(
            f"At most {MAX_QUANTITY} of one product per order (product {too_many[0]} is listed "
            f"{merged[too_many[0]]} times in all)",
            code="quantity_too_large",
            details={"product_ids": too_many},
        )
    return list(merged.items())


def price_lines(lines: Iterable[tuple[int, int]], products: dict[int, Product]) -> list[OrderItem]:
    """Order lines with the catalog's name and price (never the client's), or 422 naming the unknown ids."""
    lines = list(lines)
    unknown = [product_id for product_id, _ in lines if product_id not in products]
    if unknown:
        names = ", ".join(str(product_id) for product_id in unknown)
        raise Unprocessable(
            f"Unknown product{'s' if len(unknown) > 1 else ''}: {names}",
            code="unknown_product",
            details={"product_ids": unknown},
        )
    items = []
    for product_id, quantity in lines:
        product = products[product_id]
        price = money(product.price)
        items.append(
            OrderItem(
                product_id=product_id,
                product_name=product.title,
                product_price=price,
                quantity=quantity,
                subtotal=money(price * quantity),
            )
        )
    return items


def load_customer_and_address(user_id: str, address_id: str) -> tuple[Customer, ShippingAddress]:
    """The caller's profile and one of the caller's addresses in one BatchGetItem. The address key is
    built from the caller's own partition, so another user's address id simply is not found."""
    table_name = get_settings().users_table
    profile_key, address_key = keys.user_key(user_id), keys.address_key(user_id, address_id)
    request: dict[str, Any] = {
        table_name: {
            "Keys": [profile_key, address_key],
            "ConsistentRead": True,
            # Never read the password hash into this function.
            **aws.projection(("pk", "sk", *_PROFILE_FIELDS, *_ADDRESS_FIELDS)),
        }
    }
    found: dict[str, dict[str, Any]] = {}
    for _attempt in range(4):
        response = aws.dynamodb().batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table_name, []):
            found[str(item["sk"])] = item
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    profile, address = found.get(profile_key["sk"]), found.get(address_key["sk"])
    if profile is None or not profile.get("is_active", True):
        raise Unauthorized("Unknown or deactivated user", code="unknown_user")
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
        id=address_id, **{field: str(address.get(field, "")) for field in _ADDRESS_FIELDS}
    )
    return customer, shipping


def next_order_number(year: int) -> str:
    """`ORD-{year}-{6 digits}` from the year's atomic counter: unique and increasing."""
    response = _orders_table().update_item(
        Key=keys.order_counter_key(year),
        UpdateExpression="ADD #value :one",
        ExpressionAttributeNames={"#value": "value"},
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    return f"ORD-{year}-{int(response['Attributes']['value']):06d}"


def order_item(order: Order, customer: Customer) -> dict[str, Any]:
    """The DynamoDB item: the order, its keys, and the customer the e-mails need."""
    return {
        **keys.order_key(order.id),
        **orders_rules.queue_keys(order.status, order.order_number),
        **order.model_dump(mode="python", exclude_none=True),
        "customer": customer.model_dump(mode="python"),
    }


def _create(user_id: str, request: CreateOrderRequest, now: datetime) -> Order:
    from shop_shared.products_client import get_products

    lines = merge_lines(request)
    items = price_lines(lines, get_products(product_id for product_id, _ in lines))
    customer, shipping = load_customer_and_address(user_id, request.shipping_address_id)
    stamp = timestamp(now)
    order = Order(
        id=str(uuid.uuid4()),
        order_number=next_order_number(now.year),
        user_id=user_id,
        status="pending",
        total_amount=money(sum((item.subtotal for item in items), Decimal(0))),
        payment_method=request.payment_method,
        shipping_address=shipping,
        items=items,
        created_at=stamp,
        updated_at=stamp,
        history=[HistoryEntry.model_validate(orders_rules.history_entry("pending", stamp, "customer"))],
    )
    item = order_item(order, customer)
    try:
        _orders_table().put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not _is_conditional_failure(exc):
            raise
        # Our own first attempt, stored although its answer was lost (botocore retried the call):
        # the order exists exactly as we wrote it, so it was created.
        if not orders_rules.is_same_item(item, _old_item(exc)):
            # a uuid4 collision with someone else's order: refuse rather than overwrite
            raise Conflict("Order id collision, please retry", code="order_exists") from exc
        logger.info("order put retried after a lost reply; the first attempt was stored")
    logger.info("order created", extra={"order_id": order.id, "order_number": order.order_number})
    return order


def create_order(user_id: str, request: CreateOrderRequest, *, now: datetime | None = None) -> Order:
    """Create the order, counting it against the user's created-orders limit only if it was
    created, and against the refused-attempts budget only if it was refused (a 4xx)."""
    attempt = orders_rate_limit.reserve_attempt(user_id)
    try:
        reservation = orders_rate_limit.reserve(user_id)
    except BaseException:
        attempt.release()  # refused before anything reached upstream: costs no attempt
        raise
    try:
        order = _create(user_id, request, now or _now())
    except ApiError as exc:
        reservation.release()
        if exc.status >= 500:
            attempt.release()
        raise
    except BaseException:
        reservation.release()
        attempt.release()
        raise
    attempt.release()
    return order


def _create_once(*, data: dict[str, Any], request: CreateOrderRequest) -> Order:
    return create_order(str(data["user_id"]), request)


def create_order_idempotent(
    user_id: str,
    idempotency_key: str,
    request: CreateOrderRequest,
    lambda_context: LambdaContext | None = None,
) -> tuple[Order, bool]:
    """Create at most one order per (user, Idempotency-Key): a retry with the same body gets the first
    order back (second value True) without creating or counting anything. Returns (order, replayed)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

    from orders_idempotency import idempotency_store
    from shop_shared.errors import ServiceUnavailable

    replayed = False

    def _mark_replay(response: Any, idempotent_data: Any) -> Any:
        nonlocal replayed
        replayed = True
        return response

    config = IdempotencyConfig(
        event_key_jmespath="[user_id, idempotency_key]",
        payload_validation_jmespath="request",
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        response_hook=_mark_replay,
    )
    if lambda_context is not None:
        # Lets a crashed attempt's in-progress record expire with the invocation, not after 24 h.
        config.register_lambda_context(lambda_context)
    persistence = idempotency_store()
    create = idempotent_function(
        _create_once,
        data_keyword_argument="data",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer(Order),
        key_prefix="orders.create",
    )
    data = {
        "user_id": user_id,
        "idempotency_key": idempotency_key,
        "request": request.model_dump(mode="json"),
    }
    try:
        order = create(data=data, request=request)
    except IdempotencyValidationError as exc:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly",
            code="idempotency_in_progress",
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        logger.exception("idempotency store failed")
        raise ServiceUnavailable(
            "Could not create the order, please retry", code="idempotency_unavailable"
        ) from exc
    return order, replayed


# ---------------------------------------------------------------------------------------- read


def _load(order_id: str, caller: Caller) -> dict[str, Any]:
    """The order's item if the caller may see it; 404 otherwise (never reveal another user's order)."""
    item = None
    if 0 < len(order_id) <= 64:
        item = _orders_table().get_item(Key=keys.order_key(order_id), ConsistentRead=True).get("Item")
    if item is None or not caller.can_access_user(str(item.get("user_id"))):
        raise NotFound("Order not found", code="order_not_found")
    return dict(item)


def get_order(order_id: str, caller: Caller) -> Order:
    return Order.model_validate(_load(order_id, caller))


def encode_cursor(last_key: dict[str, Any]) -> str:
    raw = json.dumps({name: str(last_key[name]) for name in sorted(CURSOR_FIELDS)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, user_id: str) -> dict[str, str]:
    """The query's ExclusiveStartKey, or 400 for a cursor that is not ours or not this user's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("Invalid 'next' cursor", code="invalid_cursor") from exc
    if (
        not isinstance(key, dict)
        or set(key) != CURSOR_FIELDS
        or not all(isinstance(value, str) for value in key.values())
        or key["user_id"] != user_id
        or key["sk"] != keys.ORDER_SK
        or not key["pk"].startswith("ORDER#")
    ):
        raise BadRequest("Invalid 'next' cursor", code="invalid_cursor")
    return key


def list_user_orders(
    user_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> tuple[list[Order], str | None]:
    """One page of the user's orders, newest first, from the `ByUser` index, and the next cursor
    (None on the last page: one item more than the page is read to know)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query: dict[str, Any] = {
        "IndexName": keys.ORDERS_BY_USER_INDEX,
        "KeyConditionExpression": Key("user_id").eq(user_id),
        "ScanIndexForward": False,
        "Limit": limit + 1,
    }
    if cursor:
        query["ExclusiveStartKey"] = decode_cursor(cursor, user_id)
    response = _orders_table().query(**query)
    items = response.get("Items", [])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor(items[-1])
    elif response.get("LastEvaluatedKey"):
        next_cursor = encode_cursor(response["LastEvaluatedKey"])
    return [Order.model_validate(item) for item in items], next_cursor


# ---------------------------------------------------------------------------------------- staff


def list_orders(
    status: str | None = None,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    sort: orders_rules.Sort | None = None,
) -> tuple[list[Order], str | None]:
    """One page of every customer's orders from the `ByStatus` index: with a status, that status's
    work queue, oldest first; without, all orders, newest first; `sort` turns either around. One
    Query per index partition (QUEUE_SHARDS per status), merged by order number; the cursor is the
    last order number shown (and the direction), so the next page continues with a key condition,
    not an ExclusiveStartKey per partition."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    ascending = orders_rules.listing_ascending(status, sort)
    after = orders_rules.decode_queue_cursor(cursor, status, ascending=ascending) if cursor else None
    results = []
    for partition in orders_rules.queue_partitions(status):
        condition: ConditionBase = Key("status_shard").eq(partition)
        if after is not None:
            condition &= Key("order_seq").gt(after) if ascending else Key("order_seq").lt(after)
        response = _orders_table().query(
            IndexName=keys.ORDERS_BY_STATUS_INDEX,
            KeyConditionExpression=condition,
            ScanIndexForward=ascending,
            Limit=limit + 1,
        )
        items = response.get("Items", [])
        results.append((items, len(items) > limit or bool(response.get("LastEvaluatedKey"))))
    page, last = orders_rules.merge_page(results, limit, ascending=ascending)
    next_cursor = orders_rules.encode_queue_cursor(status, last, ascending=ascending) if last else None
    return [Order.model_validate(item) for item in page], next_cursor


def find_by_number(order_number: str, caller: Caller) -> list[Order]:
    """The order with this number if the caller may see it (an admin: any; a customer: their own),
    else none. One Query per status on the one shard the number lives in, stopping at the first hit."""
    if orders_rules.parse_order_number(order_number) is None:
        return []
    seq = orders_rules.order_seq(order_number)
    for status in orders_rules.STATUSES:
        response = _orders_table().query(
            IndexName=keys.ORDERS_BY_STATUS_INDEX,
            KeyConditionExpression=Key("status_shard").eq(orders_rules.status_shard(status, order_number))
            & Key("order_seq").eq(seq),
        )
        items = response.get("Items", [])
        if items:
            item = items[0]
            if not caller.can_access_user(str(item.get("user_id"))):
                return []
            return [Order.model_validate(item)]
    return []


# ---------------------------------------------------------------------------------------- status


def check_transition(current: str, new: str, caller: Caller) -> None:
    """403 for a move only an administrator may make, 409 for a move the life cycle does not allow."""
    orders_rules.check_transition(current, new, is_admin=caller.is_admin)


def write_status(
    order: dict[str, Any], change: StatusUpdateRequest, by: orders_rules.Actor, now: datetime
) -> Order:
    """Set the status if it is still `expected` (what the caller read), appending its history entry
    (and the tracking) in the same conditional UpdateItem: of two racing changes one wins and the
    other gets 409, and there is no second write that could be lost.

    Retry-safe: when the condition fails because our own first attempt was stored (its answer lost,
    botocore retried), the stored order carries this request's status, `updated_at` and history
    entry, and that is success."""
    stamp = timestamp(now)
    entry = orders_rules.history_entry(change.status, stamp, by, change.note)
    sets = [
        "#status = :new",
        "updated_at = :now",
        "status_shard = :shard",
        "history = list_append(if_not_exists(history, :empty), :entry)",
    ]
    values: dict[str, Any] = {
        ":new": change.status,
        ":now": stamp,
        ":expected": order["status"],
        ":shard": orders_rules.status_shard(change.status, str(order["order_number"])),
        ":empty": [],
        ":entry": [entry],
    }
    tracking = change.tracking()
    if tracking is not None:
        sets.append("tracking = :tracking")
        values[":tracking"] = tracking.model_dump()
    try:
        response = _orders_table().update_item(
            Key=keys.order_key(str(order["id"])),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND #status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not _is_conditional_failure(exc):
            raise
        old = _old_item(exc)
        if orders_rules.status_already_written(old, change.status, stamp, entry):
            logger.info("status update retried after a lost reply; the first attempt was stored")
            return Order.model_validate(old)
        raise Conflict(
            "The order's status was changed by someone else meanwhile; read it again",
            code="status_conflict",
        ) from exc
    return Order.model_validate(response["Attributes"])


def change_status(
    order_id: str, change: StatusUpdateRequest, caller: Caller, *, now: datetime | None = None
) -> tuple[Order, str]:
    """Move the order along its life cycle. Returns (updated order, previous status)."""
    item = _load(order_id, caller)
    current = str(item["status"])
    check_transition(current, change.status, caller)
    by: orders_rules.Actor = "admin" if caller.is_admin else "customer"
    order = write_status(item, change, by, now or _now())
    logger.info(
        "order status changed",
        extra={"order_id": order_id, "from": current, "to": change.status, "by": caller.user_id},
    )
    return order, current

"""The orders domain: create, read, list and the status life cycle, as plain functions.

The HTTP handler (`orders_api`) parses and authorises; everything here takes plain values and the
verified `Caller`, so it can be tested without API Gateway. Events are not published here: they
leave through the table's stream (`orders_publisher`), so a saved order always gets its event.

What it talks to (tables, catalog, Redis) it reaches through the ports of `orders_ports`, built
once per container by `adapters()`: DynamoDB and Redis in Lambda, in-memory fakes in unit tests.

Creating an order costs two DynamoDB calls (one BatchGetItem for the profile and the address, one
conditional PutItem for the whole order) plus, for one order in `order_numbers.BLOCK_SIZE`, the
UpdateItem ADD that reserves the environment's next block of order numbers; one Redis script for the
rate limit and one products lookup (one Redis round trip, upstream only for misses).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

import order_numbers
import orders_rate_limit
import orders_rules
from shop_shared import aws, keys
from shop_shared.api import Caller
from shop_shared.config import get_settings
from shop_shared.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from shop_shared.models import (
    CreateOrderRequest,
    Customer,
    HistoryEntry,
    Order,
    StatusUpdateRequest,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orders_ports import OrdersAdapters
    from shop_shared.models import Product

logger = Logger(service="orders", child=True)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# Order ids under an Idempotency-Key are uuid5 in this namespace (never change it: retries of
# requests made before the change would get new ids).
ORDER_ID_NAMESPACE = uuid.UUID("6f1c3e52-2a8e-4d0b-9b7c-7d0e8a1f4c25")

TRANSITIONS = orders_rules.TRANSITIONS
CURSOR_FIELDS = frozenset({"pk", "sk", "user_id", "created_at"})

_adapters: OrdersAdapters | None = None


def adapters() -> OrdersAdapters:
    """The real adapters, built on first use and kept for the container's life (they hold no
    connection: the clients are cached in `shop_shared`). Unit tests set `_adapters` to fakes."""
    global _adapters  # noqa: PLW0603
    if _adapters is None:
        from orders_dynamodb import DynamoCustomers, DynamoOrders
        from orders_ports import OrdersAdapters
        from orders_rate_limit import RedisSlidingWindow

        _adapters = OrdersAdapters(
            orders=DynamoOrders(),
            customers=DynamoCustomers(),
            catalog=_ProductApiCatalog(),
            rate_limiter=RedisSlidingWindow(),
            order_numbers=next_order_number,
        )
    return _adapters


class _ProductApiCatalog:
    """`Catalog` on `shop_shared.products_client`, imported on the first order created: the reads
    never load it (cold start)."""

    def get_products(self, ids: Iterable[int]) -> dict[int, Product]:
        from shop_shared.products_client import get_products

        return get_products(ids)


def timestamp(now: datetime) -> str:
    """ISO 8601 UTC with microseconds: sorts as text, which the `ByUser` index relies on."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


def _orders_table() -> Any:
    return aws.table(get_settings().orders_table)


# ---------------------------------------------------------------------------------------- create


def reserve_order_numbers(year: int, count: int) -> int:
    """Add `count` to the year's counter in one write; the new value is the block's last number."""
    response = aws.client("dynamodb").update_item(
        TableName=get_settings().orders_table,
        Key=aws.wire_item(keys.order_counter_key(year)),
        UpdateExpression="ADD #value :count",
        ExpressionAttributeNames={"#value": "value"},
        ExpressionAttributeValues={":count": {"N": str(count)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["value"]["N"])


@cache
def _number_blocks() -> order_numbers.NumberBlocks:
    """This environment's block of order numbers (kept while the environment is warm)."""
    return order_numbers.NumberBlocks(reserve_order_numbers)


def next_order_number(year: int) -> str:
    """`ORD-{year}-{6 digits}`: unique, increasing within this environment, roughly increasing
    across environments (see order_numbers)."""
    return order_numbers.format_order_number(year, _number_blocks().take(year))


def order_item(order: Order, customer: Customer) -> dict[str, Any]:
    """The DynamoDB item: the order, its keys, and the customer the e-mails need."""
    return {
        **keys.order_key(order.id),
        **orders_rules.queue_keys(order.status, order.order_number),
        **order.model_dump(mode="python", exclude_none=True),
        "customer": customer.model_dump(mode="python"),
    }


def idempotent_order_id(user_id: str, idempotency_key: str) -> str:
    """The order id of the user's request under this Idempotency-Key: the same for every retry, so
    the conditional PutItem, not the idempotency record, is what makes it one order."""
    return str(uuid.uuid5(ORDER_ID_NAMESPACE, f"{user_id}\n{idempotency_key}"))


def request_fingerprint(request: CreateOrderRequest) -> str:
    """What a retry must repeat to be the same request (stored on the order as `request_hash`)."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _stored_under_key(ports: OrdersAdapters, user_id: str, order_id: str, fingerprint: str) -> Order | None:
    """The order an earlier attempt with this Idempotency-Key stored (its idempotency record lost or
    never completed), or None if the id is held by something else. Another body is key reuse."""
    stored = ports.orders.get(order_id)
    if stored is None or stored.get("user_id") != user_id:
        return None
    if stored.get("request_hash") != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
        )
    logger.info("order already stored under this Idempotency-Key; answering it", extra={"order_id": order_id})
    return Order.model_validate(stored)


def _create(
    user_id: str, request: CreateOrderRequest, now: datetime, *, idempotency_key: str | None = None
) -> tuple[Order, bool]:
    """The new order and False, or, for an Idempotency-Key an earlier attempt already stored an
    order under, that order and True."""
    ports = adapters()
    order_id, fingerprint = str(uuid.uuid4()), None
    if idempotency_key is not None:
        order_id, fingerprint = idempotent_order_id(user_id, idempotency_key), request_fingerprint(request)
    lines = orders_rules.merge_lines((item.product_id, item.quantity) for item in request.items)
    items = orders_rules.price_lines(lines, ports.catalog.get_products(product_id for product_id, _ in lines))
    customer, shipping = ports.customers.customer_and_address(user_id, request.shipping_address_id)
    stamp = timestamp(now)
    order = Order(
        id=order_id,
        # Taken before the conditional write: a retry that finds its order stored leaves a gap.
        order_number=ports.order_numbers(now.year),
        user_id=user_id,
        status="pending",
        total_amount=orders_rules.order_total(items),
        payment_method=request.payment_method,
        shipping_address=shipping,
        items=items,
        created_at=stamp,
        updated_at=stamp,
        history=[HistoryEntry.model_validate(orders_rules.history_entry("pending", stamp, "customer"))],
    )
    item = order_item(order, customer)
    if fingerprint is not None:
        item["request_hash"] = fingerprint
    # Retry-safe: our own first attempt, stored although its answer was lost, is success. Under an
    # Idempotency-Key, an earlier request's order under the same id is answered instead; anything
    # else under this id (a uuid4 collision) is 409 and is not overwritten.
    try:
        ports.orders.put_new(item)
    except Conflict as exc:
        if fingerprint is None or exc.code != "order_exists":
            raise
        earlier = _stored_under_key(ports, user_id, order_id, fingerprint)
        if earlier is None:
            raise
        return earlier, True
    logger.info("order created", extra={"order_id": order.id, "order_number": order.order_number})
    return order, False


def create_order(user_id: str, request: CreateOrderRequest, *, now: datetime | None = None) -> Order:
    """Create the order (no Idempotency-Key), counted as `_create_counted` says."""
    return _create_counted(user_id, request, now or _now())[0]


def _create_counted(
    user_id: str, request: CreateOrderRequest, now: datetime, *, idempotency_key: str | None = None
) -> tuple[Order, bool]:
    """Create the order, counting it against the user's created-orders limit only if it was
    created (not when an earlier attempt's order is answered), and against the refused-attempts
    budget only if it was refused (a 4xx)."""
    limiter = adapters().rate_limiter
    attempt = orders_rate_limit.reserve_attempt(user_id, limiter=limiter)
    try:
        reservation = orders_rate_limit.reserve(user_id, limiter=limiter)
    except BaseException:
        attempt.release()  # refused before anything reached upstream: costs no attempt
        raise
    try:
        order, earlier = _create(user_id, request, now, idempotency_key=idempotency_key)
    except ApiError as exc:
        reservation.release()
        if exc.status >= 500:
            attempt.release()
        raise
    except BaseException:
        reservation.release()
        attempt.release()
        raise
    if earlier:
        reservation.release()  # the first attempt counted it
    attempt.release()
    return order, earlier


def create_order_idempotent(
    user_id: str,
    idempotency_key: str,
    request: CreateOrderRequest,
    lambda_context: LambdaContext | None = None,
) -> tuple[Order, bool]:
    """Create at most one order per (user, Idempotency-Key): a retry with the same body gets the first
    order back (second value True) without creating or counting anything. Returns (order, replayed).

    Powertools' record answers the fast replays and refuses a duplicate in flight; the order id
    derived from (user, key) and its conditional PutItem guarantee one order when that record is
    gone: its completion failed, or the function died and the in-progress record expired."""
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
    created: list[Order] = []

    def _create_once(*, data: dict[str, Any], request: CreateOrderRequest) -> Order:
        nonlocal replayed
        order, replayed = _create_counted(user_id, request, _now(), idempotency_key=idempotency_key)
        created.append(order)
        return order

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
        if created:
            # Stored (and to be mailed) though its record was not completed: say so, not 5xx. A
            # retry once the in-progress record expires finds the order under its derived id.
            logger.warning("idempotency record not completed; the order was created", exc_info=True)
            return created[0], replayed
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
        item = adapters().orders.get(order_id)
    if item is None or not caller.can_access_user(str(item.get("user_id"))):
        raise NotFound("Order not found", code="order_not_found")
    return item


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
    after = decode_cursor(cursor, user_id) if cursor else None
    items, more = adapters().orders.orders_of_user(user_id, limit=limit, after=after)
    next_cursor = encode_cursor(items[-1]) if more and items else None
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
    orders = adapters().orders
    results = [
        orders.queue_page(partition, after=after, ascending=ascending, limit=limit)
        for partition in orders_rules.queue_partitions(status)
    ]
    page, last = orders_rules.merge_page(results, limit, ascending=ascending)
    next_cursor = orders_rules.encode_queue_cursor(status, last, ascending=ascending) if last else None
    return [Order.model_validate(item) for item in page], next_cursor


def find_by_number(order_number: str, caller: Caller) -> list[Order]:
    """The order with this number if the caller may see it (an admin: any; a customer: their own),
    else none. One Query per status on the one shard the number lives in, stopping at the first hit."""
    if orders_rules.parse_order_number(order_number) is None:
        return []
    seq = orders_rules.order_seq(order_number)
    orders = adapters().orders
    for status in orders_rules.STATUSES:
        item = orders.queue_find(orders_rules.status_shard(status, order_number), seq)
        if item is not None:
            if not caller.can_access_user(str(item.get("user_id"))):
                return []
            return [Order.model_validate(item)]
    return []


# ---------------------------------------------------------------------------------------- status


def caller_as_stored(caller: Caller) -> Caller:
    """A caller whose token says admin, checked against the users table now: the authorizer's
    answer is cached for up to 60 s, so a demoted admin's claims still say `admin` for a while
    (issue 26, item 1). Deactivated or unknown: 403, as `auth_service.require_stored_admin`
    answers; demoted: a customer from now on (the owner may only cancel)."""
    if not caller.is_admin:
        return caller
    role = adapters().customers.stored_role(caller.user_id)
    if role is None:
        raise Forbidden("Only an admin may do this", code="forbidden")
    return caller if role == "admin" else replace(caller, role=role)


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
    changes: dict[str, Any] = {
        "status": change.status,
        "updated_at": stamp,
        "status_shard": orders_rules.status_shard(change.status, str(order["order_number"])),
    }
    tracking = change.tracking()
    if tracking is not None:
        changes["tracking"] = tracking.model_dump()
    return Order.model_validate(adapters().orders.set_status(order, changes, entry))


def change_status(
    order_id: str, change: StatusUpdateRequest, caller: Caller, *, now: datetime | None = None
) -> tuple[Order, str]:
    """Move the order along its life cycle. Returns (updated order, previous status)."""
    caller = caller_as_stored(caller)
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

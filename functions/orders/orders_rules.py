"""The orders rules that need no AWS and no Redis: the order's lines and prices, the status life
cycle and who may move it, the history entry a change writes, the staff queue's index keys and
cursor, and how to recognise, after a conditional write failed, that what is stored is exactly what
this request wrote (a retry whose first attempt was stored but whose answer was lost).

Staff queue index (`ByStatus`, see docs/architecture.md): partition `status_shard` =
`{status}#{shard}`, sort `order_seq` = `{year}-{sequence:010d}` from the order number. The shard is
the order number's sequence modulo QUEUE_SHARDS, so the orders of one busy status are spread over
several partitions, and one order number maps to exactly one shard per status.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from shop_shared.errors import BadRequest, Conflict, Forbidden, Unprocessable
from shop_shared.jsonutil import money
from shop_shared.models import MAX_QUANTITY, OrderItem, OrderStatus

if TYPE_CHECKING:
    from shop_shared.models import Product

STATUSES: tuple[str, ...] = get_args(OrderStatus)
Actor = Literal["customer", "admin"]

# Moves an administrator may make; the owner of an order may only ask for `cancelled`.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}
OWNER_MAY_REQUEST = frozenset({"cancelled"})

QUEUE_SHARDS = 4
ORDER_NUMBER_RE = re.compile(r"^ORD-(\d{4})-(\d{6,10})$")
_ORDER_SEQ_RE = re.compile(r"^\d{4}-\d{10}$")


# ------------------------------------------------------------------------------- lines and prices


def merge_lines(lines: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(product_id, quantity) in the order first listed; a product listed twice is merged into one
    line whose quantity is the sum, still at most MAX_QUANTITY (else 422 naming the products)."""
    merged: dict[int, int] = {}
    for product_id, quantity in lines:
        merged[product_id] = merged.get(product_id, 0) + quantity
    too_many = [product_id for product_id, quantity in merged.items() if quantity > MAX_QUANTITY]
    if too_many:
        raise Unprocessable(
            f"At most {MAX_QUANTITY} of one product per order (product {too_many[0]} is listed "
            f"{merged[too_many[0]]} times in all)",
            code="quantity_too_large",
            details={"product_ids": too_many},
        )
    return list(merged.items())


def price_lines(lines: Iterable[tuple[int, int]], products: Mapping[int, Product]) -> list[OrderItem]:
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


def order_total(items: Iterable[OrderItem]) -> Decimal:
    """The sum of the lines' subtotals, exact to the cent (each subtotal already is)."""
    return money(sum((item.subtotal for item in items), Decimal(0)))


# ------------------------------------------------------------------------------- life cycle


def check_transition(current: str, new: str, *, is_admin: bool) -> None:
    """403 for a move only an administrator may make, 409 for a move the life cycle does not allow."""
    if not is_admin and new not in OWNER_MAY_REQUEST:
        raise Forbidden("Only an administrator can set an order's status to " + repr(new), code="forbidden")
    if new not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"An order cannot go from '{current}' to '{new}'", code="invalid_transition")


def history_entry(status: str, at: str, by: Actor, note: str | None = None) -> dict[str, str]:
    """One entry of an order's `history`; `note` only when one was given."""
    entry = {"status": status, "at": at, "by": by}
    if note:
        entry["note"] = note
    return entry


# ------------------------------------------------------------------------------- queue index


def parse_order_number(order_number: str) -> tuple[int, int] | None:
    """(year, sequence) of `ORD-2026-000042`, or None when it is not an order number."""
    match = ORDER_NUMBER_RE.match(order_number)
    return (int(match.group(1)), int(match.group(2))) if match else None


def order_seq(order_number: str) -> str:
    """The queue index's sort key: sorts as text in the order the counter handed the numbers out
    (zero-padded, so a year with more than 999,999 orders still sorts right)."""
    parsed = parse_order_number(order_number)
    if parsed is None:
        raise ValueError(f"not an order number: {order_number!r}")
    year, sequence = parsed
    return f"{year:04d}-{sequence:010d}"


def status_shard(status: str, order_number: str) -> str:
    parsed = parse_order_number(order_number)
    if parsed is None:
        raise ValueError(f"not an order number: {order_number!r}")
    return f"{status}#{parsed[1] % QUEUE_SHARDS}"


def queue_keys(status: str, order_number: str) -> dict[str, str]:
    """The index attributes an order item carries for `status`."""
    return {"status_shard": status_shard(status, order_number), "order_seq": order_seq(order_number)}


def queue_partitions(status: str | None) -> list[str]:
    """The index partitions one listing reads: the status's shards, or every status's."""
    statuses = [status] if status else list(STATUSES)
    return [f"{name}#{shard}" for name in statuses for shard in range(QUEUE_SHARDS)]


Sort = Literal["newest", "oldest"]


def listing_ascending(status: str | None, sort: Sort | str | None) -> bool:
    """The direction of a staff listing: as asked, else the contract's defaults (a status's work
    queue oldest first, every order newest first)."""
    if sort is None:
        return status is not None
    return sort == "oldest"


def encode_queue_cursor(status: str | None, last_seq: str, *, ascending: bool | None = None) -> str:
    """The opaque `next`: the listing (status or every order), its direction and where it stopped.
    `ascending` defaults to the listing's default direction."""
    direction = listing_ascending(status, None) if ascending is None else ascending
    raw = json.dumps(
        {"s": status or "*", "d": "asc" if direction else "desc", "k": last_seq}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_queue_cursor(cursor: str, status: str | None, *, ascending: bool | None = None) -> str:
    """The `order_seq` to continue after, or 400 for a cursor that is not ours or not this listing's
    (another status, or the other direction: followed the wrong way it would skip orders)."""
    direction = listing_ascending(status, None) if ascending is None else ascending
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("Invalid 'next' cursor", code="invalid_cursor") from exc
    if (
        not isinstance(data, dict)
        or set(data) != {"s", "d", "k"}
        or data["s"] != (status or "*")
        or data["d"] != ("asc" if direction else "desc")
        or not isinstance(data["k"], str)
        or not _ORDER_SEQ_RE.match(data["k"])
    ):
        raise BadRequest("Invalid 'next' cursor", code="invalid_cursor")
    return str(data["k"])


def merge_page(
    partitions: Sequence[tuple[Sequence[Mapping[str, Any]], bool]], limit: int, *, ascending: bool
) -> tuple[list[Mapping[str, Any]], str | None]:
    """One page from the per-partition query results `(items in index order, more_in_partition)`.

    A partition that has more than it returned bounds the page: nothing beyond its last item may be
    shown, or that partition's next items would be skipped. Returns (items, order_seq to continue
    after or None on the last page)."""
    merged = sorted(
        (item for items, _ in partitions for item in items),
        key=lambda item: str(item["order_seq"]),
        reverse=not ascending,
    )
    bounds = [str(items[-1]["order_seq"]) for items, more in partitions if more and items]
    truncated = any(more for _, more in partitions)
    if bounds:
        bound = min(bounds) if ascending else max(bounds)
        merged = [
            item
            for item in merged
            if (item["order_seq"] <= bound if ascending else item["order_seq"] >= bound)
        ]
    page = merged[:limit]
    more = len(merged) > limit or truncated
    return page, (str(page[-1]["order_seq"]) if more and page else None)


# ------------------------------------------------------------------------------- retry safety


def is_same_item(written: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """True when the stored item is exactly the one this request put (numbers compare by value:
    DynamoDB gives `10.00` back as `Decimal('10')`)."""
    return stored is not None and dict(stored) == dict(written)


def status_already_written(
    stored: Mapping[str, Any] | None, status: str, updated_at: str, entry: Mapping[str, Any]
) -> bool:
    """True when the stored order already carries this request's change: its status, its
    `updated_at` and, last in its history, its entry (the timestamp is this request's own)."""
    if stored is None:
        return False
    history = stored.get("history") or []
    return (
        stored.get("status") == status
        and stored.get("updated_at") == updated_at
        and bool(history)
        and dict(history[-1]) == dict(entry)
    )

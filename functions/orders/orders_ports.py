"""What the orders domain needs from the outside world, as small interfaces (ports).

`orders_service` holds the use cases and talks only to these. The real implementations (adapters)
are `orders_dynamodb` (the orders table and its indexes, the users table), `orders_rate_limit.
RedisSlidingWindow` (Redis), the products client (catalog) and `orders_service.next_order_number`
(the year's counter). The in-memory fakes the unit tests use are in `tests/shop_fakes/`, and
`tests/component/test_*_contract.py` runs one test module against a fake and its real adapter
alike, so that the two cannot drift.

Items are the table's items as plain Python values (keys included), as the resource layer returns
them: the service validates them into `Order`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shop_shared.models import Customer, Product, ShippingAddress

Item = dict[str, Any]


class OrdersRepository(Protocol):
    def put_new(self, item: Item) -> None:
        """Store a new order. Retry-safe: if an order with this id exists and is exactly `item`
        (our own first attempt, its answer lost), that is success; any other order under the id is
        409 `order_exists` and stays untouched."""

    def get(self, order_id: str) -> Item | None:
        """The order's item, read consistently, or None."""

    def set_status(
        self, order: Mapping[str, Any], changes: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> Item:
        """Apply `changes` (status, updated_at, status_shard, maybe tracking) and append the history
        `entry`, only if the order's status is still `order["status"]`; returns the new item.
        409 `status_conflict` when it is not, unless the stored order already carries exactly this
        change (our own first attempt, its answer lost): then that order is returned."""

    def orders_of_user(
        self, user_id: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[Item], bool]:
        """Up to `limit` of the user's orders, newest (`created_at`) first, starting after the order
        whose keys are `after`; and whether there are more."""

    def queue_page(
        self, partition: str, *, after: str | None, ascending: bool, limit: int
    ) -> tuple[list[Item], bool]:
        """Up to `limit` orders of one staff-queue partition (`status_shard`) in `order_seq` order,
        strictly after (or before, descending) `after`; and whether there are more."""

    def queue_find(self, partition: str, seq: str) -> Item | None:
        """The order with this `order_seq` in this queue partition, or None."""


class CustomerDirectory(Protocol):
    def customer_and_address(self, user_id: str, address_id: str) -> tuple[Customer, ShippingAddress]:
        """The active user's profile and one of *their* addresses: 401 `unknown_user` for an unknown
        or deactivated user, 422 `address_not_found` for an address that is not theirs."""

    def stored_role(self, user_id: str) -> str | None:
        """The user's role as the users table says now (one consistent GetItem), or None for an
        unknown or deactivated user. For staff actions: the authorizer's claims may be a minute old."""


class Catalog(Protocol):
    def get_products(self, ids: Iterable[int]) -> dict[int, Product]:
        """The products with these ids, keyed by id; unknown ids are absent. 503 when the catalog
        cannot answer."""


class RateLimiter(Protocol):
    """A sliding window of reservations per key (the mechanism; the limits and the 429 are
    `orders_rate_limit`'s)."""

    def reserve(self, key: str, *, slot: str, limit: int, window_ms: int, now_ms: int) -> int:
        """Take `slot` in the key's window if fewer than `limit` slots were taken in the last
        `window_ms`: returns 0. Else take nothing and return the ms until the oldest slot frees."""

    def release(self, key: str, slot: str) -> None:
        """Give `slot` back (nothing happens if it is not held)."""


@dataclass(frozen=True)
class OrdersAdapters:
    """Everything `orders_service` talks to; built once per container (`orders_service.adapters`)."""

    orders: OrdersRepository
    customers: CustomerDirectory
    catalog: Catalog
    rate_limiter: RateLimiter
    order_numbers: Callable[[int], str]  # year -> `ORD-{year}-{6 digits}`, unique and increasing

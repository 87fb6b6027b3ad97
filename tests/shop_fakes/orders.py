"""Fakes of the orders ports: the orders table and its indexes, the users the orders read, the
catalog, the rate limiter's sliding window and the order-number counter."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import orders_rules
from orders_ports import Item, OrdersAdapters
from shop_fakes.items import stored as _stored
from shop_shared import keys
from shop_shared.errors import Conflict, EmailNotVerified, Unauthorized, Unprocessable
from shop_shared.models import Customer, Product, ShippingAddress


class InMemoryOrders:
    """`OrdersRepository`: a dict of items by key, the indexes computed on read."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}

    def _key(self, item: Mapping[str, Any]) -> tuple[str, str]:
        return str(item["pk"]), str(item["sk"])

    def put_new(self, item: Item) -> None:
        key = self._key(item)
        stored = self.items.get(key)
        if stored is not None:
            if orders_rules.is_same_item(_stored(item), stored):
                return  # our own first attempt: created
            raise Conflict("Order id collision, please retry", code="order_exists")
        self.items[key] = _stored(item)

    def get(self, order_id: str) -> Item | None:
        key = keys.order_key(order_id)
        stored = self.items.get((key["pk"], key["sk"]))
        return copy.deepcopy(stored) if stored is not None else None

    def set_status(
        self, order: Mapping[str, Any], changes: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> Item:
        key = keys.order_key(str(order["id"]))
        stored = self.items.get((key["pk"], key["sk"]))
        if stored is None or stored.get("status") != order["status"]:
            if stored is not None and orders_rules.status_already_written(
                stored, str(changes["status"]), str(changes["updated_at"]), _stored(entry)
            ):
                return copy.deepcopy(stored)
            raise Conflict(
                "The order's status was changed by someone else meanwhile; read it again",
                code="status_conflict",
            )
        stored.update(_stored(dict(changes)))
        stored["history"] = [*stored.get("history", []), _stored(dict(entry))]
        return copy.deepcopy(stored)

    def orders_of_user(
        self, user_id: str, *, limit: int, after: Mapping[str, str] | None
    ) -> tuple[list[Item], bool]:
        # The ByUser index: only items with both key attributes; newest created_at first.
        indexed = sorted(
            (item for item in self.items.values() if item.get("user_id") == user_id and "created_at" in item),
            key=lambda item: (str(item["created_at"]), str(item["pk"])),
            reverse=True,
        )
        if after:
            position = (str(after["created_at"]), str(after["pk"]))
            indexed = [item for item in indexed if (str(item["created_at"]), str(item["pk"])) < position]
        return [copy.deepcopy(item) for item in indexed[:limit]], len(indexed) > limit

    def queue_page(
        self, partition: str, *, after: str | None, ascending: bool, limit: int
    ) -> tuple[list[Item], bool]:
        indexed = sorted(
            (
                item
                for item in self.items.values()
                if item.get("status_shard") == partition and "order_seq" in item
            ),
            key=lambda item: str(item["order_seq"]),
            reverse=not ascending,
        )
        if after is not None:
            indexed = [
                item
                for item in indexed
                if (str(item["order_seq"]) > after if ascending else str(item["order_seq"]) < after)
            ]
        return [copy.deepcopy(item) for item in indexed[:limit]], len(indexed) > limit

    def queue_find(self, partition: str, seq: str) -> Item | None:
        for item in self.items.values():
            if item.get("status_shard") == partition and item.get("order_seq") == seq:
                return copy.deepcopy(item)
        return None


class InMemoryCustomers:
    """`CustomerDirectory`: profiles and each user's own addresses."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.addresses: dict[tuple[str, str], dict[str, str]] = {}

    def add_user(
        self,
        user_id: str,
        *,
        username: str = "jane",
        active: bool = True,
        verified: bool = True,
        role: str = "customer",
    ) -> None:
        self.profiles[user_id] = {
            "role": role,
            "email_verified": verified,
            "username": username,
            "email": f"{username}@example.com",
            "first_name": username.title(),
            "last_name": "Doe",
            "is_active": active,
        }

    def add_address(self, user_id: str, address_id: str, **fields: str) -> None:
        self.addresses[(user_id, address_id)] = {
            "street": "1 Main St",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
            **fields,
        }

    def stored_role(self, user_id: str) -> str | None:
        profile = self.profiles.get(user_id)
        if profile is None or profile["is_active"] is not True:
            return None
        return str(profile["role"])

    def customer_and_address(self, user_id: str, address_id: str) -> tuple[Customer, ShippingAddress]:
        profile = self.profiles.get(user_id)
        if profile is None or not profile["is_active"]:
            raise Unauthorized("Unknown or deactivated user", code="unknown_user")
        if not profile["email_verified"]:
            raise EmailNotVerified()
        address = self.addresses.get((user_id, address_id))
        if address is None:
            raise Unprocessable("Shipping address not found among your addresses", code="address_not_found")
        customer = Customer(
            user_id=user_id,
            email=profile["email"],
            first_name=profile["first_name"],
            last_name=profile["last_name"],
            username=profile["username"],
        )
        return customer, ShippingAddress(id=address_id, **address)


class InMemoryCatalog:
    """`Catalog`: a fixed set of products; records which ids were asked for."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        self.products = {product.id: product for product in products}
        self.asked: list[list[int]] = []

    def get_products(self, ids: Iterable[int]) -> dict[int, Product]:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        self.asked.append(wanted)
        return {i: self.products[i] for i in wanted if i in self.products}


class InMemorySlidingWindow:
    """`RateLimiter`: what the Redis script does to a sorted set, on a dict of slot -> ms."""

    def __init__(self) -> None:
        self.windows: dict[str, dict[str, int]] = {}

    def reserve(self, key: str, *, slot: str, limit: int, window_ms: int, now_ms: int) -> int:
        # ZREMRANGEBYSCORE -inf (now - window): a slot exactly one window old is free again.
        window = {s: at for s, at in self.windows.get(key, {}).items() if at > now_ms - window_ms}
        self.windows[key] = window
        if len(window) >= limit:
            oldest = min(window.values())
            return max(1, oldest + window_ms - now_ms)
        window[slot] = now_ms
        return 0

    def release(self, key: str, slot: str) -> None:
        self.windows.get(key, {}).pop(slot, None)

    def held(self, key: str) -> int:
        return len(self.windows.get(key, {}))


class OrderNumbers:
    """The per-year counter: `ORD-{year}-{6 digits}`, unique and increasing."""

    def __init__(self) -> None:
        self._counters: dict[int, itertools.count[int]] = {}

    def __call__(self, year: int) -> str:
        counter = self._counters.setdefault(year, itertools.count(1))
        return f"ORD-{year}-{next(counter):06d}"


def fake_adapters(products: Iterable[Product] = ()) -> OrdersAdapters:
    return OrdersAdapters(
        orders=InMemoryOrders(),
        customers=InMemoryCustomers(),
        catalog=InMemoryCatalog(products),
        rate_limiter=InMemorySlidingWindow(),
        order_numbers=OrderNumbers(),
    )

"""The `OrdersRepository` contract, run against the in-memory fake and the DynamoDB adapter on moto
(tables provisioned from template.yaml by the `aws` fixture): the conditions, the retry safety
("already exactly what I wrote") and the index orders the unit tests rely on hold for both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from shop_fakes.orders import InMemoryOrders

import orders_rules
import orders_service
from orders_dynamodb import DynamoOrders
from orders_ports import OrdersRepository
from shop_shared import keys
from shop_shared.errors import Conflict
from shop_shared.models import Customer, Order


@pytest.fixture(params=["fake", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> Iterator[OrdersRepository]:
    if request.param == "fake":
        yield InMemoryOrders()
    else:
        request.getfixturevalue("aws")
        yield DynamoOrders()


def new_item(
    user_id: str = "u1", *, number: int = 1, status: str = "pending", created_at: str | None = None
) -> dict[str, Any]:
    """An order item as orders_service writes it."""
    stamp = created_at or f"2026-11-30T10:00:{number:02d}.000000Z"
    order = Order.model_validate(
        {
            "id": str(uuid.uuid4()),
            "order_number": f"ORD-2026-{number:06d}",
            "user_id": user_id,
            "status": status,
            "total_amount": Decimal("10.00"),
            "payment_method": "cash_on_delivery",
            "shipping_address": {
                "id": "a1",
                "street": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            },
            "items": [
                {
                    "product_id": 4,
                    "product_name": "Mug",
                    "product_price": Decimal("5.00"),
                    "quantity": 2,
                    "subtotal": Decimal("10.00"),
                }
            ],
            "created_at": stamp,
            "updated_at": stamp,
            "history": [orders_rules.history_entry(status, stamp, "customer")],
        }
    )
    customer = Customer(user_id=user_id, email="jane@example.com", first_name="Jane", last_name="Doe")
    return orders_service.order_item(order, customer)


def status_change(item: dict[str, Any], status: str, at: str) -> tuple[dict[str, Any], dict[str, str]]:
    changes = {
        "status": status,
        "updated_at": at,
        "status_shard": orders_rules.status_shard(status, item["order_number"]),
    }
    return changes, orders_rules.history_entry(status, at, "admin")


# ------------------------------------------------------------------------------------ writes


def test_a_new_order_reads_back_as_written_numbers_by_value(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    stored = repo.get(item["id"])
    assert stored == item
    assert stored is not None and stored["total_amount"] == Decimal("10.00")
    assert repo.get(str(uuid.uuid4())) is None


def test_putting_exactly_the_same_order_again_is_success(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    repo.put_new(dict(item))  # botocore's retry of a write whose answer was lost
    assert repo.get(item["id"]) == item


def test_another_order_under_a_taken_id_is_refused_and_overwrites_nothing(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    other = {**new_item("u2", number=2), **keys.order_key(item["id"]), "id": item["id"]}
    with pytest.raises(Conflict) as refused:
        repo.put_new(other)
    assert refused.value.code == "order_exists"
    assert repo.get(item["id"]) == item


def test_a_status_change_applies_when_the_status_is_still_the_one_read(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    changes, entry = status_change(item, "confirmed", "2026-11-30T11:00:00.000000Z")
    updated = repo.set_status(item, changes, entry)
    assert {name: updated[name] for name in changes} == changes
    assert updated["history"] == [*item["history"], entry]
    assert updated["total_amount"] == item["total_amount"]
    assert repo.get(item["id"]) == updated


def test_a_status_change_on_a_stale_read_is_a_conflict_and_changes_nothing(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    confirmed = repo.set_status(item, *status_change(item, "confirmed", "2026-11-30T11:00:00.000000Z"))
    with pytest.raises(Conflict) as refused:
        repo.set_status(item, *status_change(item, "cancelled", "2026-11-30T11:00:01.000000Z"))
    assert refused.value.code == "status_conflict"
    assert repo.get(item["id"]) == confirmed


def test_the_same_status_change_again_is_success_with_one_history_entry(repo: OrdersRepository) -> None:
    item = new_item()
    repo.put_new(item)
    changes, entry = status_change(item, "confirmed", "2026-11-30T11:00:00.000000Z")
    first = repo.set_status(item, changes, entry)
    assert repo.set_status(item, changes, entry) == first
    assert repo.get(item["id"]) == first


def test_a_status_change_of_a_missing_order_is_a_conflict_and_creates_nothing(repo: OrdersRepository) -> None:
    item = new_item()
    with pytest.raises(Conflict):
        repo.set_status(item, *status_change(item, "confirmed", "2026-11-30T11:00:00.000000Z"))
    assert repo.get(item["id"]) is None


# ------------------------------------------------------------------------------------ reads


def numbers(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["order_number"].rsplit("-", 1)[1]) for item in items]


def test_a_users_orders_come_newest_first_page_after_page(repo: OrdersRepository) -> None:
    mine = [new_item("u1", number=n) for n in range(1, 6)]
    for item in [*mine, new_item("u2", number=9)]:
        repo.put_new(item)
    seen: list[str] = []
    after: dict[str, str] | None = None
    pages = []
    while True:
        items, more = repo.orders_of_user("u1", limit=2, after=after)
        pages.append((len(items), more))
        seen += [item["id"] for item in items]
        if not more:
            break
        after = {name: str(items[-1][name]) for name in ("pk", "sk", "user_id", "created_at")}
    assert seen == [item["id"] for item in reversed(mine)]
    assert pages == [(2, True), (2, True), (1, False)]
    assert repo.orders_of_user("nobody", limit=2, after=None) == ([], False)


def test_a_queue_partition_pages_in_order_seq_order_both_ways(repo: OrdersRepository) -> None:
    # numbers 4, 8, 12, 16 share shard 0 of `pending`; 5 is in another shard; 20 is confirmed
    shard = [new_item(number=n) for n in (16, 4, 12, 8)]
    for item in [*shard, new_item(number=5), new_item(number=20, status="confirmed")]:
        repo.put_new(item)
    partition = orders_rules.status_shard("pending", "ORD-2026-000004")
    up, more = repo.queue_page(partition, after=None, ascending=True, limit=3)
    assert ([i["order_number"] for i in up], more) == (
        ["ORD-2026-000004", "ORD-2026-000008", "ORD-2026-000012"],
        True,
    )
    rest, more = repo.queue_page(partition, after=str(up[-1]["order_seq"]), ascending=True, limit=3)
    assert ([i["order_number"] for i in rest], more) == (["ORD-2026-000016"], False)
    down, more = repo.queue_page(
        partition, after=orders_rules.order_seq("ORD-2026-000012"), ascending=False, limit=3
    )
    assert ([i["order_number"] for i in down], more) == (["ORD-2026-000008", "ORD-2026-000004"], False)
    found = repo.queue_find(partition, orders_rules.order_seq("ORD-2026-000008"))
    assert found is not None and found["id"] == shard[3]["id"]
    assert repo.queue_find(partition, orders_rules.order_seq("ORD-2026-000005")) is None


def test_a_status_change_moves_the_order_to_its_new_queue(repo: OrdersRepository) -> None:
    item = new_item(number=8)
    repo.put_new(item)
    repo.set_status(item, *status_change(item, "confirmed", "2026-11-30T11:00:00.000000Z"))
    pending = orders_rules.status_shard("pending", item["order_number"])
    confirmed = orders_rules.status_shard("confirmed", item["order_number"])
    assert repo.queue_page(pending, after=None, ascending=True, limit=5) == ([], False)
    (moved,), more = repo.queue_page(confirmed, after=None, ascending=True, limit=5)
    assert (moved["id"], moved["status"], more) == (item["id"], "confirmed", False)

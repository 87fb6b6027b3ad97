"""The orders use cases (orders_service) against the in-memory fakes of their ports: creating an
order, the rate limits, retry safety and the status life cycle, with no moto, no Redis and no HTTP.
The fakes behave like the real adapters; tests/component/test_orders_*_contract.py proves it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from shop_fakes.orders import (
    InMemoryCatalog,
    InMemoryCustomers,
    InMemoryOrders,
    InMemorySlidingWindow,
    OrderNumbers,
)

import orders_rate_limit
import orders_service
from orders_ports import OrdersAdapters
from shop_shared.api import Caller
from shop_shared.config import get_settings
from shop_shared.errors import ApiError, Conflict, Forbidden, TooManyRequests, Unauthorized, Unprocessable
from shop_shared.models import CreateOrderRequest, Product, StatusUpdateRequest

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
PRODUCTS = [
    Product(id=1, title="Wireless Mouse", price=Decimal("29.99")),
    Product(id=2, title="Laptop", price=Decimal("1029.99")),
]


@dataclass
class Shop:
    orders: InMemoryOrders
    customers: InMemoryCustomers
    catalog: InMemoryCatalog
    limiter: InMemorySlidingWindow

    def customer(self, name: str = "jane", *, address: str = "home") -> Caller:
        user_id = str(uuid.uuid4())
        self.customers.add_user(user_id, username=name)
        self.customers.add_address(user_id, address)
        return Caller(user_id=user_id, username=name, email=f"{name}@example.com", role="customer")


ADMIN = Caller(user_id="admin-1", username="root", email="root@example.com", role="admin")


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Shop:
    monkeypatch.setenv("ORDER_RATE_LIMIT", "3/300")
    monkeypatch.setenv("ORDER_REFUSED_LIMIT", "2/300")
    get_settings.cache_clear()
    orders_rate_limit.refused_limit.cache_clear()
    fakes = Shop(InMemoryOrders(), InMemoryCustomers(), InMemoryCatalog(PRODUCTS), InMemorySlidingWindow())
    fakes.customers.add_user(ADMIN.user_id, username=ADMIN.username, role="admin")
    adapters = OrdersAdapters(
        orders=fakes.orders,
        customers=fakes.customers,
        catalog=fakes.catalog,
        rate_limiter=fakes.limiter,
        order_numbers=OrderNumbers(),
    )
    monkeypatch.setattr(orders_service, "_adapters", adapters)
    yield fakes
    get_settings.cache_clear()
    orders_rate_limit.refused_limit.cache_clear()


def order_request(*lines: tuple[int, int], address: str = "home") -> CreateOrderRequest:
    return CreateOrderRequest.model_validate(
        {"items": [{"product_id": p, "quantity": q} for p, q in lines], "shipping_address_id": address}
    )


def created_slots(shop: Shop, caller: Caller) -> int:
    return shop.limiter.held(orders_rate_limit.rate_limit_key(caller.user_id))


def refused_slots(shop: Shop, caller: Caller) -> int:
    return shop.limiter.held(orders_rate_limit.refused_limit_key(caller.user_id))


# ------------------------------------------------------------------------------------ create


def test_an_order_merges_its_lines_and_takes_the_catalogs_prices(shop: Shop) -> None:
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 2), (2, 1), (1, 1)), now=NOW)
    assert [(i.product_id, i.product_name, i.quantity, i.subtotal) for i in order.items] == [
        (1, "Wireless Mouse", 3, Decimal("89.97")),
        (2, "Laptop", 1, Decimal("1029.99")),
    ]
    assert order.total_amount == Decimal("1119.96")
    assert (order.order_number, order.status, order.shipping_address.city) == (
        "ORD-2026-000001",
        "pending",
        "Springfield",
    )
    assert shop.catalog.asked == [[1, 2]]  # each product asked for once
    assert orders_service.get_order(order.id, jane) == order
    stored = shop.orders.get(order.id)
    assert stored is not None and stored["customer"]["email"] == "jane@example.com"
    assert (created_slots(shop, jane), refused_slots(shop, jane)) == (1, 0)


def test_an_unknown_product_is_refused_stores_nothing_and_costs_an_attempt(shop: Shop) -> None:
    jane = shop.customer()
    with pytest.raises(Unprocessable) as refused:
        orders_service.create_order(jane.user_id, order_request((1, 1), (99, 1)), now=NOW)
    assert (refused.value.code, refused.value.details) == ("unknown_product", {"product_ids": [99]})
    assert shop.orders.items == {}
    # the created-orders slot is given back; the refused-attempts budget keeps it
    assert (created_slots(shop, jane), refused_slots(shop, jane)) == (0, 1)


def test_another_users_address_is_not_found_among_yours(shop: Shop) -> None:
    jane, john = shop.customer("jane", address="home"), shop.customer("john", address="office")
    with pytest.raises(Unprocessable) as refused:
        orders_service.create_order(jane.user_id, order_request((1, 1), address="office"), now=NOW)
    assert refused.value.code == "address_not_found"
    assert shop.orders.items == {}
    assert orders_service.create_order(john.user_id, order_request((1, 1), address="office"), now=NOW)


def test_a_deactivated_user_cannot_order(shop: Shop) -> None:
    jane = shop.customer()
    shop.customers.profiles[jane.user_id]["is_active"] = False
    with pytest.raises(Unauthorized) as refused:
        orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    assert refused.value.code == "unknown_user"


def test_the_fourth_order_in_the_window_is_rate_limited_and_costs_nothing(shop: Shop) -> None:
    jane, john = shop.customer("jane"), shop.customer("john")
    for _ in range(3):
        orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    with pytest.raises(TooManyRequests) as limited:
        orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    assert limited.value.code == "order_rate_limited"
    assert 1 <= limited.value.retry_after <= 300
    assert limited.value.headers == {"Retry-After": str(limited.value.retry_after)}
    assert len(shop.orders.items) == 3
    assert shop.catalog.asked == [[1]] * 3  # refused before reaching the catalog
    assert refused_slots(shop, jane) == 0
    orders_service.create_order(john.user_id, order_request((1, 1)), now=NOW)  # one user's limit


def test_refused_attempts_have_a_budget_of_their_own(shop: Shop) -> None:
    jane = shop.customer()
    for _ in range(2):
        with pytest.raises(Unprocessable):
            orders_service.create_order(jane.user_id, order_request((99, 1)), now=NOW)
    with pytest.raises(TooManyRequests) as limited:
        orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    assert limited.value.code == "order_attempts_rate_limited"
    assert len(shop.catalog.asked) == 2
    assert created_slots(shop, jane) == 0


class LostReplyOrders(InMemoryOrders):
    """The first PutItem is stored but its answer is lost, and botocore sends it again."""

    def put_new(self, item: dict[str, Any]) -> None:
        super().put_new(item)
        super().put_new(item)


def test_an_order_whose_first_write_was_stored_but_unanswered_is_created_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = LostReplyOrders()
    monkeypatch.setattr(orders_service, "_adapters", _with(orders_service.adapters(), orders=orders))
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((2, 1)), now=NOW)
    assert list(orders.items) == [(f"ORDER#{order.id}", "ORDER")]
    assert created_slots(shop, jane) == 1


def test_an_order_id_taken_by_another_order_is_refused_and_not_overwritten(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    jane, john = shop.customer("jane"), shop.customer("john")
    first = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    monkeypatch.setattr(orders_service.uuid, "uuid4", lambda: uuid.UUID(first.id))
    with pytest.raises(Conflict) as refused:
        orders_service.create_order(john.user_id, order_request((2, 1)), now=NOW)
    assert refused.value.code == "order_exists"
    assert orders_service.get_order(first.id, jane) == first
    assert created_slots(shop, john) == 0  # a 409 is not a created order


def _with(adapters: OrdersAdapters, **changes: Any) -> OrdersAdapters:
    from dataclasses import replace

    return replace(adapters, **changes)


# ------------------------------------------------------------------------------------ status


def test_the_owner_cancels_and_the_history_records_it(shop: Shop) -> None:
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    change = StatusUpdateRequest(status="cancelled", note="changed my mind")
    updated, previous = orders_service.change_status(order.id, change, jane, now=NOW)
    assert (previous, updated.status) == ("pending", "cancelled")
    assert [(h.status, h.by, h.note) for h in updated.history] == [
        ("pending", "customer", None),
        ("cancelled", "customer", "changed my mind"),
    ]
    assert orders_service.get_order(order.id, jane) == updated


def test_a_change_made_on_a_stale_read_is_a_409_and_changes_nothing(shop: Shop) -> None:
    """Two admins read `pending`; the first confirms; the second's cancel, still expecting
    `pending`, is refused: 409 status_conflict, and the order stays confirmed."""
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    read = shop.orders.get(order.id)
    assert read is not None
    orders_service.change_status(order.id, StatusUpdateRequest(status="confirmed"), ADMIN, now=NOW)
    with pytest.raises(Conflict) as refused:
        orders_service.write_status(read, StatusUpdateRequest(status="cancelled"), "admin", NOW)
    assert (refused.value.status, refused.value.code) == (409, "status_conflict")
    stored = orders_service.get_order(order.id, ADMIN)
    assert stored.status == "confirmed"
    assert [h.status for h in stored.history] == ["pending", "confirmed"]


def test_a_status_write_retried_after_a_lost_reply_is_success_not_a_conflict(shop: Shop) -> None:
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    orders_service.change_status(order.id, StatusUpdateRequest(status="confirmed"), ADMIN, now=NOW)
    read = shop.orders.get(order.id)
    assert read is not None
    change = StatusUpdateRequest(status="shipped", carrier="UPS", tracking_number="1Z999")
    first = orders_service.write_status(read, change, "admin", NOW)
    again = orders_service.write_status(read, change, "admin", NOW)  # same request, same stamp
    assert again == first
    assert again.tracking is not None and again.tracking.carrier == "UPS"
    assert [h.status for h in again.history].count("shipped") == 1


def test_a_move_outside_the_life_cycle_is_a_409_before_any_write(shop: Shop) -> None:
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    with pytest.raises(ApiError) as refused:
        orders_service.change_status(order.id, StatusUpdateRequest(status="delivered"), ADMIN, now=NOW)
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")
    assert orders_service.get_order(order.id, jane).history == order.history


def test_an_admin_demoted_since_the_token_was_issued_may_not_confirm(shop: Shop) -> None:
    """The token still says admin (the authorizer's answer is cached); the users table says
    customer now: refused as any customer is, and the order is unchanged (issue 26, item 1)."""
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    shop.customers.add_address(ADMIN.user_id, "home")
    own = orders_service.create_order(ADMIN.user_id, order_request((1, 1)), now=NOW)
    shop.customers.profiles[ADMIN.user_id]["role"] = "customer"
    confirm = StatusUpdateRequest(status="confirmed")
    with pytest.raises(ApiError) as refused:
        orders_service.change_status(order.id, confirm, ADMIN, now=NOW)
    assert (refused.value.status, refused.value.code) == (404, "order_not_found")  # not theirs
    with pytest.raises(Forbidden):
        orders_service.change_status(own.id, confirm, ADMIN, now=NOW)  # theirs: only cancel
    assert orders_service.get_order(order.id, jane).status == "pending"
    assert orders_service.get_order(own.id, ADMIN).status == "pending"


def test_a_demoted_admin_is_a_customer_who_may_cancel_only_their_own_order(shop: Shop) -> None:
    jane = shop.customer()
    theirs = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    shop.customers.add_address(ADMIN.user_id, "home")
    own = orders_service.create_order(ADMIN.user_id, order_request((1, 1)), now=NOW)
    shop.customers.profiles[ADMIN.user_id]["role"] = "customer"
    cancel = StatusUpdateRequest(status="cancelled")
    with pytest.raises(ApiError) as refused:
        orders_service.change_status(theirs.id, cancel, ADMIN, now=NOW)
    assert (refused.value.status, refused.value.code) == (404, "order_not_found")
    assert orders_service.get_order(theirs.id, jane).status == "pending"
    updated, _previous = orders_service.change_status(own.id, cancel, ADMIN, now=NOW)
    assert (updated.status, updated.history[-1].by) == ("cancelled", "customer")


def test_a_deactivated_admin_is_refused_as_the_auth_function_refuses(shop: Shop) -> None:
    jane = shop.customer()
    order = orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW)
    shop.customers.profiles[ADMIN.user_id]["is_active"] = False
    with pytest.raises(Forbidden) as refused:
        orders_service.change_status(order.id, StatusUpdateRequest(status="cancelled"), ADMIN, now=NOW)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert orders_service.get_order(order.id, jane).status == "pending"


# ------------------------------------------------------------------------------------ reads


def test_a_customer_sees_only_their_own_orders_newest_first_page_by_page(shop: Shop) -> None:
    jane, john = shop.customer("jane"), shop.customer("john")
    shop.limiter.reserve = lambda *args, **kwargs: 0  # type: ignore[method-assign]  # no limit here
    mine = [
        orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW.replace(minute=m))
        for m in range(5)
    ]
    orders_service.create_order(john.user_id, order_request((1, 1)), now=NOW)
    first, cursor = orders_service.list_user_orders(jane.user_id, limit=2)
    second, cursor2 = orders_service.list_user_orders(jane.user_id, limit=2, cursor=cursor)
    third, last = orders_service.list_user_orders(jane.user_id, limit=2, cursor=cursor2)
    assert [o.id for o in first + second + third] == [o.id for o in reversed(mine)]
    assert last is None
    with pytest.raises(ApiError) as refused:
        orders_service.list_user_orders(john.user_id, cursor=cursor)
    assert refused.value.code == "invalid_cursor"
    assert orders_service.find_by_number(mine[0].order_number, john) == []
    assert orders_service.find_by_number(mine[0].order_number, jane) == [mine[0]]


def test_the_staff_queue_lists_a_status_oldest_first_across_its_shards(shop: Shop) -> None:
    shop.limiter.reserve = lambda *args, **kwargs: 0  # type: ignore[method-assign]
    jane = shop.customer()
    orders = [orders_service.create_order(jane.user_id, order_request((1, 1)), now=NOW) for _ in range(7)]
    orders_service.change_status(orders[2].id, StatusUpdateRequest(status="confirmed"), ADMIN, now=NOW)
    page, cursor = orders_service.list_orders("pending", limit=4)
    rest, last = orders_service.list_orders("pending", limit=4, cursor=cursor)
    assert [o.order_number for o in page + rest] == [o.order_number for i, o in enumerate(orders) if i != 2]
    assert last is None
    everything, _ = orders_service.list_orders(None, limit=10)
    assert [o.order_number for o in everything] == [o.order_number for o in reversed(orders)]


# ------------------------------------------------------------------- Idempotency-Key, record lost


def test_a_rerun_under_the_same_key_answers_the_stored_order_and_counts_once(shop: Shop) -> None:
    # What runs when Powertools' record was not completed or expired: the create itself, again.
    jane = shop.customer()
    request = order_request((1, 1))
    first, earlier = orders_service._create_counted(jane.user_id, request, NOW, idempotency_key="k")
    assert not earlier
    again, earlier = orders_service._create_counted(jane.user_id, request, NOW, idempotency_key="k")
    assert earlier
    assert again == first
    assert len(shop.orders.items) == 1
    assert created_slots(shop, jane) == 1


def test_a_rerun_under_the_same_key_with_another_body_is_refused(shop: Shop) -> None:
    jane = shop.customer()
    orders_service._create_counted(jane.user_id, order_request((1, 1)), NOW, idempotency_key="k")
    with pytest.raises(Unprocessable) as refused:
        orders_service._create_counted(jane.user_id, order_request((1, 2)), NOW, idempotency_key="k")
    assert refused.value.code == "idempotency_key_reused"
    assert len(shop.orders.items) == 1
    assert created_slots(shop, jane) == 1


def test_the_same_key_of_two_users_makes_two_orders(shop: Shop) -> None:
    jane, john = shop.customer(), shop.customer("john")
    hers, _ = orders_service._create_counted(jane.user_id, order_request((1, 1)), NOW, idempotency_key="k")
    his, earlier = orders_service._create_counted(
        john.user_id, order_request((1, 1)), NOW, idempotency_key="k"
    )
    assert not earlier
    assert hers.id != his.id
    assert len(shop.orders.items) == 2

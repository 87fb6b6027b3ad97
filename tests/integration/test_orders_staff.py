"""Issue 17, the API: staff order operations over real HTTP on the whole local stack (`stack`).

- `GET /orders` (admins): with `?status=` a work queue, oldest first; without, newest first;
  `limit` and an opaque `next`; customers → 403.
- `GET /orders?order_number=`: admins find any order, a customer only their own.
- Status changes carry `note`, and `carrier` + `tracking_number` with `shipped`; the order keeps
  its `history` and `tracking`, and the e-mails show them.

The stack is shared by the whole session, so the queues hold other tests' orders too: the tests
check their own orders' places and the order of whole listings, never exact contents.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shop_local.testing import ShopStack


@pytest.fixture(scope="module")
def admin(stack: ShopStack) -> str:
    return stack.admin_token()


@pytest.fixture
def shopper(stack: ShopStack) -> dict[str, Any]:
    who = stack.new_shopper(first_name="Ada", last_name="Lovelace")
    return {**who, "user_id": who["user"]["id"]}


def place(stack: ShopStack, who: dict[str, Any], product_id: int = 1) -> dict[str, Any]:
    response = stack.place_order(who, [{"product_id": product_id, "quantity": 1}])
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_status(stack: ShopStack, token: str, order: dict[str, Any], **body: Any) -> Any:
    return stack.put(f"/orders/{order['id']}/status", token=token, json=body)


def whole_listing(stack: ShopStack, token: str, limit: int, **params: str) -> list[dict[str, Any]]:
    """Every order of the listing, following `next` page by page."""
    orders: list[dict[str, Any]] = []
    cursor = None
    for _ in range(500):
        query = {**params, "limit": str(limit), **({"next": cursor} if cursor else {})}
        response = stack.get("/orders", token=token, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["orders"]) <= limit
        orders.extend(page["orders"])
        cursor = page["next"]
        if cursor is None:
            return orders
    raise AssertionError("the listing never ended")


def test_the_status_queue_is_oldest_first_and_pages_with_next(
    stack: ShopStack, admin: str, shopper: dict[str, Any]
) -> None:
    mine = [place(stack, shopper, product_id) for product_id in (1, 2, 3)]
    queue = whole_listing(stack, admin, 2, status="pending")
    ids = [order["id"] for order in queue]
    assert len(ids) == len(set(ids)), "a page repeated an order"
    assert {order["status"] for order in queue} == {"pending"}
    numbers = [order["order_number"] for order in queue]
    assert numbers == sorted(numbers, key=lambda n: (n[:8], int(n[9:]))), "not oldest first"
    assert [i for i in ids if i in {o["id"] for o in mine}] == [o["id"] for o in mine]
    # one page of everything equals the paged walk
    assert [o["id"] for o in whole_listing(stack, admin, 100, status="pending")] == ids

    # a confirmed order leaves the pending queue and joins the confirmed one
    assert set_status(stack, admin, mine[0], status="confirmed").status_code == 200
    assert mine[0]["id"] not in {o["id"] for o in whole_listing(stack, admin, 50, status="pending")}
    confirmed = whole_listing(stack, admin, 50, status="confirmed")
    assert mine[0]["id"] in {o["id"] for o in confirmed}
    assert {order["status"] for order in confirmed} == {"confirmed"}


def test_all_orders_are_newest_first(stack: ShopStack, admin: str, shopper: dict[str, Any]) -> None:
    first, second = place(stack, shopper), place(stack, shopper)
    set_status(stack, admin, first, status="cancelled")
    page = stack.get("/orders", token=admin, params={"limit": 2}).json()
    assert [o["id"] for o in page["orders"]] == [second["id"], first["id"]]
    assert page["next"] is not None
    everything = whole_listing(stack, admin, 7)
    numbers = [(o["order_number"][:8], int(o["order_number"][9:])) for o in everything]
    assert numbers == sorted(numbers, reverse=True)
    assert len({o["id"] for o in everything}) == len(everything)
    assert {o["status"] for o in everything} >= {"pending", "cancelled"}


def test_sort_turns_a_listing_around_and_its_cursor_keeps_the_direction(
    stack: ShopStack, admin: str, shopper: dict[str, Any]
) -> None:
    mine = [place(stack, shopper, product_id) for product_id in (1, 2, 3)]
    oldest = whole_listing(stack, admin, 2, status="pending")
    newest = whole_listing(stack, admin, 2, status="pending", sort="newest")
    # the same queue, every order once, the other way round, paged with `next`
    assert [o["id"] for o in newest] == [o["id"] for o in reversed(oldest)]
    assert [o["id"] for o in newest if o["id"] in {m["id"] for m in mine}] == [
        o["id"] for o in reversed(mine)
    ]
    assert whole_listing(stack, admin, 3, status="pending", sort="oldest") == oldest
    # every order, oldest first
    everything_newest = whole_listing(stack, admin, 5)
    assert whole_listing(stack, admin, 5, sort="oldest") == list(reversed(everything_newest))
    # a cursor of one direction is refused by the other
    first = stack.get("/orders", token=admin, params={"status": "pending", "sort": "newest", "limit": 1})
    assert first.status_code == 200 and first.json()["next"]
    other_way = stack.get("/orders", token=admin, params={"status": "pending", "next": first.json()["next"]})
    assert (other_way.status_code, other_way.json()["code"]) == (400, "invalid_cursor")
    bad_sort = stack.get("/orders", token=admin, params={"sort": "random"})
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "validation_error")


def test_the_staff_list_is_for_admins_only(stack: ShopStack, admin: str, shopper: dict[str, Any]) -> None:
    for params in ({}, {"status": "pending"}):
        refused = stack.get("/orders", token=shopper["token"], params=params)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
    assert stack.get("/orders").status_code == 401
    bad_status = stack.get("/orders", token=admin, params={"status": "lost"})
    assert (bad_status.status_code, bad_status.json()["code"]) == (422, "validation_error")
    assert stack.get("/orders", token=admin, params={"limit": 0}).status_code == 422
    bad_cursor = stack.get("/orders", token=admin, params={"next": "garbage"})
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "invalid_cursor")
    # a cursor of one listing is refused by another
    pending = stack.get("/orders", token=admin, params={"status": "pending", "limit": 1}).json()
    other = stack.get("/orders", token=admin, params={"status": "shipped", "next": pending["next"]})
    assert other.status_code == 400


def test_order_number_search_is_scoped_to_the_caller(
    stack: ShopStack, admin: str, shopper: dict[str, Any]
) -> None:
    order = place(stack, shopper)
    number = order["order_number"]
    found = stack.get("/orders", token=admin, params={"order_number": number})
    assert found.status_code == 200, found.text
    assert found.json()["orders"] == [order]
    own = stack.get("/orders", token=shopper["token"], params={"order_number": number})
    assert own.status_code == 200
    assert own.json()["orders"] == [order]
    stranger = stack.new_user()
    theirs = stack.get("/orders", token=stranger["token"], params={"order_number": number})
    assert (theirs.status_code, theirs.json()["orders"]) == (200, [])
    # the order keeps being found whatever its status
    set_status(stack, admin, order, status="confirmed")
    again = stack.get("/orders", token=admin, params={"order_number": number}).json()["orders"]
    assert [o["status"] for o in again] == ["confirmed"]
    unknown = stack.get("/orders", token=admin, params={"order_number": "ORD-1999-000001"})
    assert (unknown.status_code, unknown.json()["orders"]) == (200, [])
    malformed = stack.get("/orders", token=admin, params={"order_number": "ORD-2026-1; DROP"})
    assert (malformed.status_code, malformed.json()["code"]) == (422, "validation_error")


def test_history_and_tracking_in_the_order_and_in_the_emails(
    stack: ShopStack, admin: str, shopper: dict[str, Any]
) -> None:
    order = place(stack, shopper)
    assert [(h["status"], h["by"], h["at"]) for h in order["history"]] == [
        ("pending", "customer", order["created_at"])
    ]
    assert order["tracking"] is None
    confirmed = set_status(stack, admin, order, status="confirmed", note="Packed by Sam")
    assert confirmed.status_code == 200, confirmed.text
    shipped = set_status(
        stack, admin, order, status="shipped", carrier="DHL Express", tracking_number="JD0146<000>"
    )
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["tracking"] == {"carrier": "DHL Express", "tracking_number": "JD0146<000>"}
    assert [(h["status"], h["by"], h.get("note")) for h in body["history"]] == [
        ("pending", "customer", None),
        ("confirmed", "admin", "Packed by Sam"),
        ("shipped", "admin", None),
    ]
    assert body["history"][-1]["at"] == body["updated_at"]
    assert "note" not in body["history"][0]  # `note?`: absent, not null
    assert stack.get(f"/orders/{order['id']}", token=shopper["token"]).json() == body

    number = order["order_number"]
    (mail,) = stack.wait_for_emails(
        lambda m: shopper["email"] in m["to"] and m["subject"] == f"Order Shipped - {number}", timeout=20
    )
    assert "DHL Express" in mail["text"] and "JD0146<000>" in mail["text"]
    assert "DHL Express" in mail["html"] and "JD0146&lt;000&gt;" in mail["html"]

    # the customer cancels another order with a note: the cancellation e-mail shows it
    other = place(stack, shopper, 2)
    note = "Ordered the wrong <size>, sorry"
    cancelled = set_status(stack, shopper["token"], other, status="cancelled", note=note)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["history"][-1] == {
        "status": "cancelled",
        "at": cancelled.json()["updated_at"],
        "by": "customer",
        "note": note,
    }
    (mail,) = stack.wait_for_emails(
        lambda m: (
            shopper["email"] in m["to"] and m["subject"] == f"Order Cancelled - {other['order_number']}"
        ),
        timeout=20,
    )
    assert note in mail["text"]
    assert "Ordered the wrong &lt;size&gt;, sorry" in mail["html"]


def test_status_change_fields_are_validated_as_422_json(
    stack: ShopStack, admin: str, shopper: dict[str, Any]
) -> None:
    order = place(stack, shopper)
    for body in (
        {"status": "cancelled", "note": "x" * 501},
        {"status": "confirmed", "carrier": "UPS", "tracking_number": "1Z"},
        {"status": "cancelled", "tracking_number": "1Z"},
        {"status": "shipped", "carrier": "UPS"},
        {"status": "shipped", "carrier": "UPS", "tracking_number": "x" * 101},
        {"status": "confirmed", "note": 42},
    ):
        response = set_status(stack, admin, order, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"
        assert response.json()["message"]
    stored = stack.get(f"/orders/{order['id']}", token=admin).json()
    assert stored["status"] == "pending"
    assert len(stored["history"]) == 1
    # a note of exactly 500 characters is fine
    ok = set_status(stack, admin, order, status="confirmed", note="n" * 500)
    assert ok.status_code == 200, ok.text
    assert ok.json()["history"][-1]["note"] == "n" * 500
    assert uuid.UUID(ok.json()["id"])

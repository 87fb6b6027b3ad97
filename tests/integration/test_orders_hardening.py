"""Issue 11, the orders items, through the running local stack (`stack`).

- Retry safety (defect 1): DynamoDB answers a write slower than the functions' read timeout, so
  botocore sends it again; the first attempt was stored. The client must get the answer for what
  was written (201 with the order, 200 with the changed order), never a 409 for its own write and
  never a second order.
- Upstream amplification (defect 6): product ids are positive 32-bit integers, the listing window
  is bounded, and refused order attempts have a budget of their own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shop_local.testing import ShopStack
from shop_shared.aws import CLIENT_CONFIG

# Just over the functions' DynamoDB read timeout (shop_shared/aws.py): the client gives up on the
# first attempt and retries, while the emulator still stores it. The fault sleeps *before* the
# emulator sees a request (local/sam_runner/faults.py), so the retry is held back a second too:
# otherwise a retry sent after a short backoff could overtake the first attempt.
LOST_REPLY_SECONDS = float(CLIENT_CONFIG.read_timeout) + 0.2
RETRY_HELD_SECONDS = 1.0


@pytest.fixture
def shopper(stack: ShopStack) -> dict[str, Any]:
    who = stack.new_shopper()
    return {**who, "user_id": who["user"]["id"]}


def lose_first_reply(stack: ShopStack, action: str, table: str) -> None:
    """The next `action` request to the template's `table` is stored but answered only after the
    client gave up on it; the client's retry reaches the emulator after the first attempt was
    stored. Only once nothing of earlier orders is on its way: the e-mail function writes the
    idempotency table too."""
    stack.wait_for_order_pipeline()
    name = stack.resources()["tables"][table]["name"]
    for seconds in (LOST_REPLY_SECONDS, RETRY_HELD_SECONDS):  # faults match in the order added
        spec = {
            "service": "dynamodb",
            "mode": "slow",
            "seconds": seconds,
            "action": action,
            "table": name,
            "times": 1,
        }
        response = stack.http.post(f"{stack.url}/_dev/faults", json=spec, timeout=10)
        assert response.status_code == 200, response.text


def fault_spent(stack: ShopStack) -> bool:
    return not stack.get("/_dev/faults").json()["faults"]


def my_orders(stack: ShopStack, who: dict[str, Any]) -> list[dict[str, Any]]:
    response = stack.get(f"/users/{who['user_id']}/orders", token=who["token"], params={"limit": 50})
    assert response.status_code == 200, response.text
    return list(response.json()["orders"])


def body(who: dict[str, Any], product_id: int = 1) -> dict[str, Any]:
    return {"items": [{"product_id": product_id, "quantity": 2}], "shipping_address_id": who["address_id"]}


# ----------------------------------------------------------------------------- defect 1: retries


def test_create_order_whose_reply_was_lost_answers_201_with_the_one_order(
    stack: ShopStack, shopper: dict[str, Any], no_faults: ShopStack
) -> None:
    lose_first_reply(stack, "PutItem", "OrdersTable")
    created = stack.post("/orders", token=shopper["token"], json=body(shopper))
    assert fault_spent(stack), "the slow PutItem never happened: the test proves nothing"
    assert created.status_code == 201, created.text
    assert [order["id"] for order in my_orders(stack, shopper)] == [created.json()["id"]]
    assert stack.get(f"/orders/{created.json()['id']}", token=shopper["token"]).json() == created.json()


def test_create_order_with_idempotency_key_whose_reply_was_lost_answers_201_once(
    stack: ShopStack, shopper: dict[str, Any], no_faults: ShopStack
) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    lose_first_reply(stack, "PutItem", "IdempotencyTable")  # the key's record, written first
    created = stack.post("/orders", token=shopper["token"], json=body(shopper), headers=headers)
    assert fault_spent(stack)
    assert created.status_code == 201, created.text
    again = stack.post("/orders", token=shopper["token"], json=body(shopper), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == created.json()
    assert [order["id"] for order in my_orders(stack, shopper)] == [created.json()["id"]]


def test_status_change_whose_reply_was_lost_answers_200_and_is_applied_once(
    stack: ShopStack, shopper: dict[str, Any], no_faults: ShopStack
) -> None:
    order = stack.post("/orders", token=shopper["token"], json=body(shopper)).json()
    lose_first_reply(stack, "UpdateItem", "OrdersTable")
    cancelled = stack.put(
        f"/orders/{order['id']}/status", token=shopper["token"], json={"status": "cancelled"}
    )
    assert fault_spent(stack)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    stored = stack.get(f"/orders/{order['id']}", token=shopper["token"]).json()
    assert stored == cancelled.json()
    assert [entry["status"] for entry in stored["history"]] == ["pending", "cancelled"]

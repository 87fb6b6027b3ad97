"""Orders over real HTTP on the whole local stack (`stack`): gateway + authorizer + OrdersFunction on
the embedded AWS, real Redis, the product stand-in; events through the table's stream, the
publisher, SNS, SQS and the e-mail function."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from shop_local.testing import ShopStack


@pytest.fixture
def customer(stack: ShopStack) -> dict[str, Any]:
    """A fresh customer with one address: {token, user_id, email, address_id, ...}."""
    who = stack.new_shopper(
        {
            "street": "1 Navy Yard",
            "city": "Arlington",
            "state": "VA",
            "postal_code": "22202",
            "country": "US",
        },
        first_name="Grace <Admiral>",
        last_name="Hopper",
    )
    return {**who, "user_id": who["user"]["id"]}


@pytest.fixture(scope="module")
def admin(stack: ShopStack) -> str:
    return stack.admin_token()


@pytest.fixture
def event_queue(stack: ShopStack) -> Iterator[str]:
    """A queue of our own subscribed to the order events topic (raw delivery, like the e-mail
    queue), so the test reads the events themselves; unsubscribed afterwards."""
    sqs, sns = stack.client("sqs"), stack.client("sns")
    url = sqs.create_queue(QueueName=f"orders-test-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = stack.resources()["topics"]["OrderEventsTopic"]["arn"]
    subscription = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def events_for(
    stack: ShopStack, queue_url: str, order_id: str, count: int, timeout: float = 15
) -> list[dict[str, Any]]:
    """Wait for `count` events about `order_id` on the test queue; returns them with their
    `event_type` message attribute under `_attribute`."""
    seen: list[dict[str, Any]] = []

    def poll() -> bool:
        response = stack.client("sqs").receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            attribute = message.get("MessageAttributes", {}).get("event_type", {}).get("StringValue")
            if body["order"]["id"] == order_id:
                seen.append({**body, "_attribute": attribute})
            stack.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(seen) >= count

    stack.wait_until(poll, timeout=timeout, interval=0)
    return seen


def order_body(who: dict[str, Any], *items: tuple[int, int], **extra: Any) -> dict[str, Any]:
    lines = [{"product_id": product_id, "quantity": quantity} for product_id, quantity in items or [(1, 1)]]
    return {"items": lines, "shipping_address_id": who["address_id"], **extra}


def catalog_price(stack: ShopStack, product_id: int) -> Decimal:
    response = stack.get(f"/products/{product_id}")
    assert response.status_code == 200, response.text
    return Decimal(str(response.json()["price"]))


def test_order_life_cycle_over_http_with_events_and_emails(
    stack: ShopStack, customer: dict[str, Any], admin: str, event_queue: str
) -> None:
    token = customer["token"]
    price = catalog_price(stack, 2)
    created = stack.post(
        "/orders",
        token=token,
        json=order_body(customer, (2, 3), payment_method="credit_card")
        | {"items": [{"product_id": 2, "quantity": 3, "price": 0.01}]},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert re.fullmatch(r"ORD-\d{4}-\d{6}", order["order_number"])
    assert order["status"] == "pending"
    assert Decimal(str(order["items"][0]["product_price"])) == price
    assert Decimal(str(order["total_amount"])) == price * 3
    assert order["shipping_address"]["street"] == "1 Navy Yard"

    assert stack.get(f"/orders/{order['id']}", token=token).json() == order
    mine = stack.get(f"/users/{customer['user_id']}/orders", token=token)
    assert mine.status_code == 200
    assert [o["id"] for o in mine.json()["orders"]] == [order["id"]]
    assert mine.json()["next"] is None

    confirmed = stack.put(f"/orders/{order['id']}/status", token=admin, json={"status": "confirmed"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["updated_at"] > order["updated_at"]

    created_event, updated_event = events_for(stack, event_queue, order["id"], count=2)
    assert created_event["_attribute"] == "order.created"
    assert created_event["event_id"] == f"order.created:{order['id']}"
    assert created_event["order"] == order
    assert created_event["customer"] == {
        "user_id": customer["user_id"],
        "email": customer["email"],
        "first_name": "Grace <Admiral>",
        "last_name": "Hopper",
        "username": customer["username"],
    }
    assert updated_event["_attribute"] == "order.status_updated"
    assert updated_event["event_id"] == f"order.status_updated:{order['id']}:confirmed"
    assert updated_event["previous_status"] == "pending"

    number = order["order_number"]
    (confirmation,) = stack.wait_for_emails(
        lambda mail: customer["email"] in mail["to"] and mail["subject"] == f"Order Confirmation - {number}"
    )
    assert "Grace &lt;Admiral&gt;" in confirmation["html"]  # the user's own text, escaped
    stack.wait_for_emails(
        lambda mail: customer["email"] in mail["to"] and mail["subject"] == f"Order Confirmed - {number}"
    )


def test_who_may_see_and_change_an_order(stack: ShopStack, customer: dict[str, Any], admin: str) -> None:
    other = stack.new_user()
    order = stack.post("/orders", token=customer["token"], json=order_body(customer)).json()
    path = f"/orders/{order['id']}"

    assert stack.get(path, token=other["token"]).status_code == 404
    assert stack.get(f"/orders/{uuid.uuid4()}", token=customer["token"]).status_code == 404
    assert stack.get(path).status_code == 401
    assert stack.get(path, token=admin).status_code == 200
    assert stack.get(f"/users/{customer['user_id']}/orders", token=other["token"]).status_code == 403

    assert stack.put(f"{path}/status", token=other["token"], json={"status": "cancelled"}).status_code == 404
    ship = stack.put(f"{path}/status", token=customer["token"], json={"status": "shipped"})
    assert ship.status_code == 403
    assert ship.json()["code"] == "forbidden"
    skip = stack.put(f"{path}/status", token=admin, json={"status": "delivered"})
    assert skip.status_code == 409
    assert skip.json()["code"] == "invalid_transition"
    cancel = stack.put(f"{path}/status", token=customer["token"], json={"status": "cancelled"})
    assert cancel.status_code == 200
    assert stack.put(f"{path}/status", token=admin, json={"status": "confirmed"}).status_code == 409


def test_bad_requests_are_clean_4xx(stack: ShopStack, customer: dict[str, Any]) -> None:
    token = customer["token"]
    other = stack.new_user()
    cases = [
        ({"items": [], "shipping_address_id": customer["address_id"]}, 422, "validation_error"),
        (order_body(customer, (1, 101)), 422, "validation_error"),
        (order_body(customer, (99999, 1)), 422, "unknown_product"),
        (
            {"items": [{"product_id": 1, "quantity": 1}], "shipping_address_id": str(uuid.uuid4())},
            422,
            "address_not_found",
        ),
    ]
    for body, status, code in cases:
        response = stack.post("/orders", token=token, json=body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    garbage = stack.post("/orders", token=token, data="{nope", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400
    # none of the refusals counted: three orders still fit in the window
    for _ in range(3):
        assert stack.post("/orders", token=token, json=order_body(customer)).status_code == 201
    assert stack.get(f"/users/{other['user']['id']}/orders", token=token).status_code == 403


def test_fourth_order_in_the_window_is_429(stack: ShopStack, customer: dict[str, Any]) -> None:
    token = customer["token"]
    for _ in range(3):
        assert stack.post("/orders", token=token, json=order_body(customer)).status_code == 201
    refused = stack.post("/orders", token=token, json=order_body(customer))
    assert refused.status_code == 429
    assert refused.json()["code"] == "order_rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    listed = stack.get(f"/users/{customer['user_id']}/orders", token=token).json()["orders"]
    assert len(listed) == 3


def test_idempotent_retry_creates_one_order(stack: ShopStack, customer: dict[str, Any]) -> None:
    token = customer["token"]
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = stack.post("/orders", token=token, json=order_body(customer, (3, 1)), headers=headers)
    again = stack.post("/orders", token=token, json=order_body(customer, (3, 1)), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    changed = stack.post("/orders", token=token, json=order_body(customer, (3, 2)), headers=headers)
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    listed = stack.get(f"/users/{customer['user_id']}/orders", token=token).json()["orders"]
    assert [o["id"] for o in listed] == [first.json()["id"]]


def test_paging_through_my_orders(stack: ShopStack, customer: dict[str, Any]) -> None:
    token = customer["token"]
    ids = [stack.post("/orders", token=token, json=order_body(customer)).json()["id"] for _ in range(3)]
    path = f"/users/{customer['user_id']}/orders"
    first = stack.get(path, token=token, params={"limit": 2}).json()
    second = stack.get(path, token=token, params={"limit": 2, "next": first["next"]}).json()
    assert [o["id"] for o in first["orders"] + second["orders"]] == ids[::-1]
    assert second["next"] is None
    assert stack.get(path, token=token, params={"next": "garbage"}).status_code == 400


# SNS refusing the publisher (no event lost, each e-mailed once it is back): test_reliability.py.

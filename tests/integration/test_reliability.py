"""Reliability across services, through the running local stack (`stack`): a dependency fails on
purpose (`/_dev/faults`) and nothing the user was told about is lost, nothing is done twice.

- SNS refuses while orders are created and changed: every order is saved, and once SNS is back
  every event becomes exactly one e-mail.
- SES refuses a batch for a while: nothing is sent meanwhile, the messages are retried and each
  e-mail is sent once; SES refusing for good puts the event in the dead-letter queue, from which a
  redrive sends it once.
- Redis is down: orders are still created with the catalog's prices (fetched from upstream), and
  the order rate limit fails open and counts it (its `RedisUnavailable` metric).
- The product API is down or slow: cached products are still served and ordered; uncached ones
  are a clear 503 within seconds, and a refused order leaves nothing behind.

The services' own suites test each piece (orders_http, notifications, products_http); these tests
follow a request through all of them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
import requests

from shop_local.testing import ShopStack
from shop_shared.products_client import product_key

ADDRESS = {
    "street": "7 Fault Lane",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "country": "US",
}
# Product ids these tests make sure are not cached (other suites use other ids).
UNCACHED = (31, 32, 34, 35)


@pytest.fixture
def cache(stack: ShopStack) -> Iterator[redis.Redis]:
    """The Redis database the stack's functions use (shared by the session: never flushed here)."""
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    client.close()


def my_orders(stack: ShopStack, who: dict[str, Any]) -> list[dict[str, Any]]:
    response = stack.get(f"/users/{who['user']['id']}/orders", token=who["token"], params={"limit": 50})
    assert response.status_code == 200, response.text
    return list(response.json()["orders"])


def order_mail_to(address: str) -> Any:
    """A predicate: an order e-mail to `address` (not the account e-mails, e.g. the verification)."""
    return lambda mail: address in mail["to"] and mail["subject"].startswith("Order ")


def mails_to(stack: ShopStack, address: str) -> list[dict[str, Any]]:
    return [mail for mail in stack.emails() if order_mail_to(address)(mail)]


def fault_hits(stack: ShopStack, service: str) -> int:
    """How many requests the active faults of `service` have refused so far."""
    faults = stack.get("/_dev/faults").json()["faults"]
    return sum(int(fault["hits"]) for fault in faults if fault["service"] == service)


def dead_letters(stack: ShopStack, marker: str) -> list[dict[str, Any]]:
    """The e-mail DLQ's messages that mention `marker` (left in the queue, visible again at once)."""
    sqs = stack.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        reply = sqs.receive_message(
            QueueUrl=stack.queue_url("OrderEmailDLQ"), MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        for message in reply.get("Messages", []):
            if marker in message["Body"]:
                found[message["MessageId"]] = message
    return list(found.values())


def upstream_calls(stack: ShopStack, product_id: int) -> int:
    root = stack.product_api_url.removesuffix("/api")
    stats = requests.get(f"{root}/_standin/stats", timeout=5).json()["requests"]
    return int(stats.get(f"/api/products/{product_id}", 0))


def upstream_price(stack: ShopStack, product_id: int) -> Decimal:
    reply = requests.get(f"{stack.product_api_url}/products/{product_id}", timeout=5).json()
    return Decimal(str(reply["product"]["price"]))


# ---------------------------------------------------------------------------------------- SNS


def test_orders_and_changes_made_while_sns_is_down_are_each_emailed_once_it_is_back(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    admin = stack.admin_token()
    since = stack.order_event_counts()
    publish_failures = stack.metric_total("OrderEventPublishFailed")
    stack.fail("sns", action="PublishBatch")
    try:
        first = stack.place_order(buyer, [{"product_id": 3, "quantity": 1}])
        second = stack.place_order(buyer, [{"product_id": 4, "quantity": 2}])
        assert first.status_code == 201, first.text  # saved, whatever SNS does
        assert second.status_code == 201, second.text
        confirmed = stack.put(
            f"/orders/{first.json()['id']}/status", token=admin, json={"status": "confirmed"}
        )
        assert confirmed.status_code == 200, confirmed.text
        # the publisher really tried, again and again: SNS refused every attempt (4 a call) of the
        # PublishBatch calls of the three events, and the stream retried them
        stack.wait_until(lambda: fault_hits(stack, "sns") >= 3 * 4, timeout=30)
        # ... and counted each event it could not publish (the stream keeps it to be retried)
        stack.wait_until(lambda: stack.metric_total("OrderEventPublishFailed") - publish_failures >= 3)
        assert stack.order_event_counts()[0] == since[0]  # nothing published meanwhile
        assert mails_to(stack, buyer["email"]) == []
    finally:
        stack.clear_faults()

    one, two = first.json()["order_number"], second.json()["order_number"]
    expected = sorted(
        [f"Order Confirmation - {one}", f"Order Confirmation - {two}", f"Order Confirmed - {one}"]
    )
    stack.wait_for_emails(order_mail_to(buyer["email"]), timeout=60, count=3)
    # every event published once SNS was back, and each finished with (duplicates included)
    stack.wait_for_order_events(since, 3)
    assert stack.order_event_counts()[0] - since[0] >= 3
    assert sorted(mail["subject"] for mail in mails_to(stack, buyer["email"])) == expected
    statuses = {order["order_number"]: order["status"] for order in my_orders(stack, buyer)}
    assert statuses == {one: "confirmed", two: "pending"}


# ---------------------------------------------------------------------------------------- SES


def test_emails_ses_refuses_for_a_while_wait_and_are_then_each_sent_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    buyers = [stack.new_shopper(ADDRESS) for _ in range(3)]
    since = stack.order_event_counts()
    send_failures = stack.metric_total("OrderEmailSendFailed")
    stack.fail("ses", action="SendRawEmail")  # 503 until cleared (after the client's own retries too)
    try:
        numbers = []
        for n, buyer in enumerate(buyers):
            created = stack.place_order(buyer, [{"product_id": 5 + n, "quantity": 1}])
            assert created.status_code == 201, created.text
            numbers.append(created.json()["order_number"])
        # SES really refused them: a whole call (the client's own retries included, 4 attempts)
        # per message, and the function counted each failed send (to be retried, not lost)
        stack.wait_until(lambda: fault_hits(stack, "ses") >= 4 * len(buyers), timeout=30)
        stack.wait_until(
            lambda: stack.metric_total("OrderEmailSendFailed") - send_failures >= len(buyers), timeout=30
        )
        assert [mail for buyer in buyers for mail in mails_to(stack, buyer["email"])] == []
    finally:
        stack.clear_faults()  # well before the fifth receive would move them to the DLQ

    addresses = [buyer["email"] for buyer in buyers]
    stack.wait_for_emails(lambda mail: any(order_mail_to(a)(mail) for a in addresses), timeout=60, count=3)
    stack.wait_for_order_events(since, len(buyers))
    for buyer, number in zip(buyers, numbers, strict=True):
        assert [mail["subject"] for mail in mails_to(stack, buyer["email"])] == [
            f"Order Confirmation - {number}"
        ]
    for number in numbers:
        assert dead_letters(stack, number) == []


def test_an_email_ses_keeps_refusing_ends_in_the_dlq_and_a_redrive_sends_it_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    # nothing of an earlier test is still on its way to be refused and dead-lettered by this fault
    stack.wait_until(lambda: stack.queue_depth("OrderEmailQueue") == 0, timeout=60)
    buyer = stack.new_shopper(ADDRESS)
    stack.fail("ses", action="SendRawEmail")
    try:
        created = stack.place_order(buyer, [{"product_id": 8, "quantity": 1}])
        assert created.status_code == 201, created.text
        order = created.json()
        # five receives, each refused: the queue gives up on it and the DLQ keeps it
        (dead,) = stack.wait_until(lambda: dead_letters(stack, order["id"]), timeout=90, interval=0.5)
        assert mails_to(stack, buyer["email"]) == []
    finally:
        stack.clear_faults()

    # An operator redrives the message once SES works again: the e-mail goes out, once.
    sqs = stack.client("sqs")
    since = stack.order_event_counts()
    sqs.send_message(QueueUrl=stack.queue_url("OrderEmailQueue"), MessageBody=dead["Body"])
    sqs.delete_message(QueueUrl=stack.queue_url("OrderEmailDLQ"), ReceiptHandle=dead["ReceiptHandle"])
    stack.wait_for_emails(order_mail_to(buyer["email"]), timeout=30)
    stack.wait_for_order_events(since, 1)
    assert [mail["subject"] for mail in mails_to(stack, buyer["email"])] == [
        f"Order Confirmation - {order['order_number']}"
    ]
    assert dead_letters(stack, order["id"]) == []


# ---------------------------------------------------------------------------------------- Redis


def test_with_redis_down_orders_are_created_at_upstream_prices_and_the_limit_fails_open(
    stack: ShopStack, no_faults: ShopStack, cache: redis.Redis
) -> None:
    # With Redis up, a customer's fourth order within five minutes is refused ...
    control = stack.new_shopper(ADDRESS)
    statuses = [stack.place_order(control, [{"product_id": 2, "quantity": 1}]).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]

    # ... with Redis down, nothing refuses it: the limit fails open, and its metric counts each.
    buyer = stack.new_shopper(ADDRESS)
    cache.delete(*[product_key(pid) for pid in UNCACHED])
    before = {pid: upstream_calls(stack, pid) for pid in (31, 32)}
    unlimited = stack.metric_total("RedisUnavailable", Use="order_rate_limit")
    stack.fail("redis")
    try:
        items = [{"product_id": 31, "quantity": 1}, {"product_id": 32, "quantity": 2}]
        created = [stack.place_order(buyer, items) for _ in range(4)]
        assert [reply.status_code for reply in created] == [201] * 4, created[-1].text
        stack.wait_until(
            lambda: stack.metric_total("RedisUnavailable", Use="order_rate_limit") - unlimited >= 4
        )
    finally:
        stack.clear_faults()

    prices = {pid: upstream_price(stack, pid) for pid in (31, 32)}
    for reply in created:
        lines = {line["product_id"]: line for line in reply.json()["items"]}
        assert {pid: Decimal(str(line["product_price"])) for pid, line in lines.items()} == prices
        assert Decimal(str(reply.json()["total_amount"])) == prices[31] + 2 * prices[32]
    # the prices came from upstream, and nothing could be cached meanwhile
    assert all(upstream_calls(stack, pid) > before[pid] for pid in (31, 32))
    assert len(my_orders(stack, buyer)) == 4
    numbers = {reply.json()["order_number"] for reply in created}
    stack.wait_for_emails(order_mail_to(buyer["email"]), timeout=60, count=4)
    assert {mail["subject"].rsplit(" - ", 1)[1] for mail in mails_to(stack, buyer["email"])} == numbers


# ---------------------------------------------------------------------------------------- product API


def test_with_the_product_api_down_cached_products_are_ordered_and_the_rest_is_a_clear_503(
    stack: ShopStack, no_faults: ShopStack, cache: redis.Redis
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    cached = stack.get("/products/33")
    assert cached.status_code == 200, cached.text
    cache.delete(product_key(34))
    stack.fail("products-api")
    try:
        ok = stack.place_order(buyer, [{"product_id": 33, "quantity": 2}])
        refused = stack.place_order(
            buyer, [{"product_id": 33, "quantity": 1}, {"product_id": 34, "quantity": 1}]
        )
        page = stack.get("/products/34")
        still = stack.get("/products/33")
    finally:
        stack.clear_faults()

    assert ok.status_code == 201, ok.text
    assert Decimal(str(ok.json()["total_amount"])) == 2 * Decimal(str(cached.json()["price"]))
    for reply in (refused, page):
        assert reply.status_code == 503, reply.text
        assert reply.json()["message"] and reply.json()["code"]
    assert still.status_code == 200 and still.json()["id"] == 33
    # the refused order left nothing behind, and did not use up a slot of the rate limit
    assert [order["id"] for order in my_orders(stack, buyer)] == [ok.json()["id"]]
    again = stack.place_order(buyer, [{"product_id": 34, "quantity": 1}])
    assert again.status_code == 201, again.text


def test_a_slow_product_api_is_given_up_on_within_seconds_while_cached_products_are_served(
    stack: ShopStack, no_faults: ShopStack, cache: redis.Redis
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    assert stack.get("/products/33").status_code == 200
    cache.delete(product_key(35))
    stack.slow("products-api", 45)
    try:
        # The client waits 20 s at most: a function that waited for the upstream's 45 s would
        # make these requests fail with a timeout instead of answering.
        refused = stack.place_order(buyer, [{"product_id": 35, "quantity": 1}], timeout=20)
        page = stack.get("/products/35", timeout=20)
        ok = stack.place_order(buyer, [{"product_id": 33, "quantity": 1}], timeout=20)
    finally:
        stack.clear_faults()

    for reply in (refused, page):
        assert reply.status_code == 503, reply.text
        assert reply.json()["message"]
    assert ok.status_code == 201, ok.text
    assert [order["id"] for order in my_orders(stack, buyer)] == [ok.json()["id"]]


# ------------------------------------------------------------------------- idempotency store


def expire_new_in_progress_records(stack: ShopStack, table: str, before: set[str]) -> None:
    """What waiting past the invocation's deadline does to the records left INPROGRESS since
    `before` (the ids the table held then): a retry may start the request again."""
    dynamodb = stack.client("dynamodb")
    past = str(int(time.time() * 1000) - 1)
    for record in dynamodb.scan(TableName=table)["Items"]:
        if record["id"]["S"] not in before and record.get("status", {}).get("S") == "INPROGRESS":
            dynamodb.update_item(
                TableName=table,
                Key={"id": record["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": past}},
            )


def test_an_order_whose_idempotency_record_cannot_be_completed_is_answered_and_made_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    items = [{"product_id": 3, "quantity": 1}]
    table = stack.resources()["tables"]["IdempotencyTable"]["name"]
    before = {item["id"]["S"] for item in stack.client("dynamodb").scan(TableName=table)["Items"]}
    fault = stack.post("/_dev/faults", json={"service": "dynamodb", "action": "UpdateItem", "table": table})
    assert fault.status_code == 200, fault.text
    try:
        first = stack.place_order(buyer, items, headers=key)
    finally:
        stack.clear_faults()
    # the order was stored, and will be mailed: the answer says so
    assert first.status_code == 201, first.text
    expire_new_in_progress_records(stack, table, before)
    retry = stack.place_order(buyer, items, headers=key)
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert [order["id"] for order in my_orders(stack, buyer)] == [first.json()["id"]]
    stack.wait_for_emails(order_mail_to(buyer["email"]), timeout=60)
    stack.wait_for_order_pipeline()
    assert [mail["subject"] for mail in mails_to(stack, buyer["email"])] == [
        f"Order Confirmation - {first.json()['order_number']}"
    ]

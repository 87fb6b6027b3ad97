"""Order events on the running local stack: SNS topic → SQS queue (raw delivery) → EmailFunction →
SES, read back from `/_dev/emails`. Events are published to the topic as the orders publisher
publishes them; the full chain from an HTTP order is the orders tests' business.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shop_local.testing import ShopStack

EVENTS = Path(__file__).resolve().parents[2] / "events"


def order_created(**customer: str) -> dict[str, Any]:
    """The sample confirmation event (events/email-order-created.json) for a fresh order and customer."""
    sample = json.loads((EVENTS / "email-order-created.json").read_text())
    body: dict[str, Any] = json.loads(sample["Records"][0]["body"])
    order_id = str(uuid.uuid4())
    body["order"]["id"] = order_id
    body["order"]["order_number"] = f"ORD-2026-{uuid.uuid4().int % 1_000_000:06d}"
    body["event_id"] = f"order.created:{order_id}"
    body["customer"]["email"] = f"ada_{uuid.uuid4().hex[:10]}@example.com"
    body["customer"].update(customer)
    return body


def status_updated(created: dict[str, Any], status: str, previous: str) -> dict[str, Any]:
    body = copy.deepcopy(created)
    body["event_type"] = "order.status_updated"
    body["previous_status"] = previous
    body["order"]["status"] = status
    body["event_id"] = f"order.status_updated:{created['order']['id']}:{status}"
    return body


def publish(stack: ShopStack, *messages: dict[str, Any] | str) -> None:
    """One PublishBatch to the order events topic, as the publisher would send them one by one."""
    topic = stack.resources()["topics"]["OrderEventsTopic"]["arn"]
    entries = []
    for index, message in enumerate(messages):
        entry: dict[str, Any] = {
            "Id": str(index),
            "Message": message if isinstance(message, str) else json.dumps(message),
        }
        if isinstance(message, dict) and "event_type" in message:
            entry["MessageAttributes"] = {
                "event_type": {"DataType": "String", "StringValue": str(message["event_type"])}
            }
        entries.append(entry)
    response = stack.client("sns").publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    assert not response.get("Failed"), response["Failed"]


def to(address: str) -> Callable[[dict[str, Any]], bool]:
    return lambda mail: address in mail["to"]


def in_dlq(stack: ShopStack, body: str) -> list[dict[str, Any]]:
    """The DLQ's messages with this body (received without hiding the others)."""
    messages = (
        stack.client("sqs")
        .receive_message(
            QueueUrl=stack.queue_url("OrderEmailDLQ"), MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        .get("Messages", [])
    )
    return [message for message in messages if message["Body"] == body]


# --------------------------------------------------------------------------------------------


def test_an_order_event_on_the_topic_becomes_an_email(stack: ShopStack) -> None:
    created = order_created(first_name="<script>alert(1)</script>")
    address = created["customer"]["email"]
    number = created["order"]["order_number"]

    publish(stack, created)

    (mail,) = stack.wait_for_emails(to(address), timeout=10)
    assert mail["to"] == [address]
    assert mail["from"] == "orders@example.com"
    assert mail["subject"] == f"Order Confirmation - {number}"
    assert mail["time"]
    for part in (mail["text"], mail["html"]):
        assert "Wireless Mouse x 2 = $59.98" in part
        assert "Total: $1,089.97" in part
        assert "Payment method: Credit card" in part
    assert "Hello <script>alert(1)</script>," in mail["text"]
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in mail["html"]
    assert "<script>" not in mail["html"]


def test_status_changes_send_their_emails(stack: ShopStack) -> None:
    created = order_created()
    address = created["customer"]["email"]
    number = created["order"]["order_number"]

    publish(
        stack,
        status_updated(created, "confirmed", "pending"),
        status_updated(created, "shipped", "confirmed"),
    )

    mails = stack.wait_for_emails(to(address), timeout=10, count=2)
    subjects = sorted(mail["subject"] for mail in mails)
    assert subjects == [f"Order Confirmed - {number}", f"Order Shipped - {number}"]
    shipped = next(mail for mail in mails if "Shipped" in mail["subject"])
    assert "has shipped and is on its way to you." in shipped["text"]


def test_malformed_messages_end_in_the_dlq_while_good_ones_of_their_batch_are_sent(stack: ShopStack) -> None:
    first, second = order_created(), order_created()
    # an event without its order and customer, and a body that is not JSON at all
    poison = json.dumps({"event_id": f"poison-{uuid.uuid4()}", "event_type": "order.created"})
    garbage = f"not an order event {uuid.uuid4()}"
    malformed_before = stack.metric_total("OrderEmailMalformed")

    publish(stack, first, poison, garbage, second)  # one batch: the poller gathers for up to a second

    stack.wait_for_emails(to(first["customer"]["email"]), timeout=10)
    stack.wait_for_emails(to(second["customer"]["email"]), timeout=10)
    # Five receives, a second apart, then the queue's redrive policy moves each.
    for body in (poison, garbage):
        (dead,) = stack.wait_until(lambda body=body: in_dlq(stack, body), timeout=40, interval=0.5)
        stack.client("sqs").delete_message(
            QueueUrl=stack.queue_url("OrderEmailDLQ"), ReceiptHandle=dead["ReceiptHandle"]
        )
    # Each receive of each was counted as malformed (the function failed them, not a lost send).
    stack.wait_until(lambda: stack.metric_total("OrderEmailMalformed") - malformed_before >= 2 * 5)
    # The good ones were sent once each and did not follow them.
    for good in (first, second):
        assert len([mail for mail in stack.emails() if good["customer"]["email"] in mail["to"]]) == 1
        assert not in_dlq(stack, json.dumps(good))


def test_a_duplicate_delivery_sends_one_email(stack: ShopStack) -> None:
    created = order_created()
    address = created["customer"]["email"]
    since = stack.order_event_counts()
    duplicates = stack.metric_total("OrderEmailDuplicate")

    publish(stack, created, created)  # SNS/SQS delivered it twice

    stack.wait_for_emails(to(address), timeout=10)
    stack.wait_for_order_events(since, 2, timeout=20)  # both copies finished with, the queue empty
    # The second copy was recognised (by its event id) and acknowledged without sending.
    stack.wait_until(lambda: stack.metric_total("OrderEmailDuplicate") - duplicates >= 1)
    assert len([mail for mail in stack.emails() if address in mail["to"]]) == 1


def test_a_permanent_ses_refusal_is_counted_once_and_never_reaches_the_dlq(stack: ShopStack) -> None:
    created = order_created()
    ses = stack.client("ses")
    refused = stack.metric_total("OrderEmailRefused")
    since = stack.order_event_counts()
    ses.delete_identity(Identity="orders@example.com")  # SES now refuses the sender: MessageRejected
    try:
        publish(stack, created)
        # finished with (refused for good) and acknowledged: nothing visible, nothing in flight
        stack.wait_for_order_events(since, 1, timeout=20)
    finally:
        ses.verify_email_identity(EmailAddress="orders@example.com")

    assert stack.metric_total("OrderEmailRefused") == refused + 1  # counted once, not retried
    assert not in_dlq(stack, json.dumps(created))
    assert not [mail for mail in stack.emails() if created["customer"]["email"] in mail["to"]]

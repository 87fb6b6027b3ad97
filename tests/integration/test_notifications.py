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


def function_log(stack: ShopStack, event_id: str, message: str) -> list[dict[str, Any]]:
    """The e-mail function's JSON log lines about `event_id` whose message starts with `message`."""
    lines = []
    for line in stack.log_text().splitlines():
        if event_id not in line or not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event_id") == event_id and str(entry.get("message", "")).startswith(message):
            lines.append(entry)
    return lines


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


def test_a_poisoned_message_ends_in_the_dlq_while_good_ones_of_its_batch_are_sent(stack: ShopStack) -> None:
    first, second = order_created(), order_created()
    poison = json.dumps({"event_id": f"poison-{uuid.uuid4()}", "event_type": "order.created"})

    publish(stack, first, poison, second)  # one batch: the poller gathers for up to a second

    stack.wait_for_emails(to(first["customer"]["email"]), timeout=10)
    stack.wait_for_emails(to(second["customer"]["email"]), timeout=10)
    # Five receives, a second apart, then the queue's redrive policy moves it.
    (dead,) = stack.wait_until(lambda: in_dlq(stack, poison), timeout=40, interval=0.5)
    stack.client("sqs").delete_message(
        QueueUrl=stack.queue_url("OrderEmailDLQ"), ReceiptHandle=dead["ReceiptHandle"]
    )
    # The good ones were sent once each and did not follow it.
    for good in (first, second):
        assert len([mail for mail in stack.emails() if good["customer"]["email"] in mail["to"]]) == 1
        assert not in_dlq(stack, json.dumps(good))


def test_a_duplicate_delivery_sends_one_email(stack: ShopStack) -> None:
    created = order_created()
    address = created["customer"]["email"]

    publish(stack, created, created)  # SNS/SQS delivered it twice

    stack.wait_for_emails(to(address), timeout=10)
    # The second copy was recognised (by its event id) and acknowledged without sending.
    stack.wait_until(
        lambda: function_log(stack, created["event_id"], "order e-mail already sent"), timeout=10
    )
    assert len(function_log(stack, created["event_id"], "order e-mail sent")) == 1
    assert len([mail for mail in stack.emails() if address in mail["to"]]) == 1


def test_while_ses_refuses_the_email_waits_and_is_then_sent_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    created = order_created()
    address = created["customer"]["email"]
    stack.fail("ses", "SendRawEmail")  # 503 until cleared (after the client's own retries too)

    publish(stack, created)

    stack.wait_until(lambda: function_log(stack, created["event_id"], "SES refused the e-mail"), timeout=20)
    assert not [mail for mail in stack.emails() if address in mail["to"]]
    stack.clear_faults()  # well before the fifth receive would move it to the DLQ

    (mail,) = stack.wait_for_emails(to(address), timeout=15)
    assert mail["subject"] == f"Order Confirmation - {created['order']['order_number']}"
    assert len([mail for mail in stack.emails() if address in mail["to"]]) == 1


def refused_metrics(stack: ShopStack) -> int:
    """How many `OrderEmailRefused` the e-mail function has emitted (its EMF lines in the log)."""
    total = 0
    for line in stack.log_text().splitlines():
        if '"OrderEmailRefused"' in line and line.startswith("{"):
            value = json.loads(line).get("OrderEmailRefused", 0)
            total += int(sum(value) if isinstance(value, list) else value)
    return total


def test_a_permanent_ses_refusal_is_counted_once_and_never_reaches_the_dlq(stack: ShopStack) -> None:
    created = order_created()
    ses = stack.client("ses")
    before = refused_metrics(stack)
    ses.delete_identity(Identity="orders@example.com")  # SES now refuses the sender: MessageRejected
    try:
        publish(stack, created)
        stack.wait_until(
            lambda: function_log(stack, created["event_id"], "SES refused the e-mail for good"), timeout=20
        )
        stack.settle("OrderEmailQueue")  # acknowledged: nothing visible, nothing in flight
    finally:
        ses.verify_email_identity(EmailAddress="orders@example.com")

    assert (
        len(function_log(stack, created["event_id"], "SES refused the e-mail for good")) == 1
    )  # not retried
    assert refused_metrics(stack) == before + 1
    assert not in_dlq(stack, json.dumps(created))
    assert not [mail for mail in stack.emails() if created["customer"]["email"] in mail["to"]]

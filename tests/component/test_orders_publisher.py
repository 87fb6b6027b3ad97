"""The order events publisher: real stream records of the orders table (moto's DynamoDB Streams)
through the Lambda handler, to SNS, and out on the e-mail queue subscribed to the topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

import orders_publisher
import orders_service
from sam_runner.provision import provision
from shop_local.testing import lambda_context
from shop_shared import aws as shop_aws
from shop_shared import config, keys
from shop_shared.models import Customer, Order, OrderEvent, StatusUpdateRequest

EVENTS = Path(__file__).resolve().parents[2] / "events"


class Stream:
    """Reads the orders table's stream from where the last read stopped, like the Lambda poller."""

    def __init__(self, template: Any) -> None:
        self.arn = template.physical("OrdersTable")["StreamArn"]
        self.client = shop_aws.client("dynamodbstreams")
        shard = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]
        self.iterator = self.client.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def batch(self) -> dict[str, Any]:
        response = self.client.get_records(ShardIterator=self.iterator)
        self.iterator = response["NextShardIterator"]
        records = []
        for record in response["Records"]:
            stream = dict(record["dynamodb"])
            stream["ApproximateCreationDateTime"] = stream["ApproximateCreationDateTime"].timestamp()
            records.append({**record, "dynamodb": stream, "eventSourceARN": self.arn})
        return {"Records": records}


@pytest.fixture
def stream(aws: Any) -> Stream:
    return Stream(aws)


def received(template: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event_type attribute, body) of every message waiting on the e-mail queue."""
    sqs = shop_aws.client("sqs")
    url = template.physical("OrderEmailQueue")["QueueUrl"]
    messages: list[tuple[str, dict[str, Any]]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            return messages
        for message in batch:
            attribute = message.get("MessageAttributes", {}).get("event_type", {}).get("StringValue", "")
            messages.append((attribute, json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def save_order(user_id: str | None = None) -> Order:
    """An order written the way the orders service writes it (counter, then one PutItem)."""
    now = datetime.now(UTC)
    stamp = orders_service.timestamp(now)
    user_id = user_id or str(uuid.uuid4())
    order = Order.model_validate(
        {
            "id": str(uuid.uuid4()),
            "order_number": orders_service.next_order_number(now.year),
            "user_id": user_id,
            "status": "pending",
            "total_amount": Decimal("89.97"),
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
                    "product_name": "Headphones <b>Pro</b>",
                    "product_price": Decimal("29.99"),
                    "quantity": 3,
                    "subtotal": Decimal("89.97"),
                }
            ],
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
    customer = Customer(
        user_id=user_id, email="jane@example.com", first_name="Jane", last_name="Doe", username="jane"
    )
    table = shop_aws.table(config.get_settings().orders_table)
    table.put_item(Item=orders_service.order_item(order, customer))
    return order


def handle(event: dict[str, Any]) -> dict[str, Any]:
    return orders_publisher.lambda_handler(event, lambda_context("OrderEventsPublisherFunction"))


def order_records(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's records of order items (the rest are the order-number counter's)."""
    return [r for r in batch["Records"] if r["dynamodb"]["Keys"]["pk"]["S"].startswith("ORDER#")]


def sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def test_a_new_order_publishes_order_created(aws: Any, stream: Stream) -> None:
    order = save_order()
    batch = stream.batch()
    assert [r["eventName"] for r in order_records(batch)] == ["INSERT"]
    assert len(batch["Records"]) > 1  # the counter's records come along and are ignored
    assert handle(batch) == {"batchItemFailures": []}
    ((event_type, body),) = received(aws)
    assert event_type == "order.created"
    event = OrderEvent.model_validate(body)
    assert event.event_id == f"order.created:{order.id}"
    assert event.event_type == "order.created"
    assert event.order == order
    assert event.customer.email == "jane@example.com"
    assert event.customer.first_name == "Jane"
    assert event.previous_status is None
    assert event.occurred_at == datetime.fromisoformat(order.created_at)
    # money travels as JSON numbers with their exact digits
    assert body["order"]["total_amount"] == 89.97
    assert body["order"]["items"][0]["product_price"] == 29.99


def test_a_batch_of_orders_goes_out_ten_events_a_call(aws: Any, stream: Stream) -> None:
    orders = [save_order() for _ in range(12)]
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = shop_aws.client("sns").meta.events
    events.register("before-call.sns", count)
    try:
        assert handle(stream.batch()) == {"batchItemFailures": []}
    finally:
        events.unregister("before-call.sns", count)
    assert calls == ["PublishBatch", "PublishBatch"]  # not one Publish per order
    messages = received(aws)
    assert sorted(body["order"]["id"] for _, body in messages) == sorted(order.id for order in orders)
    assert {event_type for event_type, _ in messages} == {"order.created"}


def test_a_status_change_publishes_order_status_updated(aws: Any, stream: Stream) -> None:
    order = save_order()
    handle(stream.batch())
    received(aws)
    item = {"id": order.id, "order_number": order.order_number, "status": "pending"}
    orders_service.write_status(item, StatusUpdateRequest(status="confirmed"), "admin", datetime.now(UTC))
    item["status"] = "confirmed"
    orders_service.write_status(item, StatusUpdateRequest(status="shipped"), "admin", datetime.now(UTC))
    assert handle(stream.batch()) == {"batchItemFailures": []}
    messages = received(aws)
    assert [event_type for event_type, _ in messages] == ["order.status_updated", "order.status_updated"]
    events = [OrderEvent.model_validate(body) for _, body in messages]
    assert [e.event_id for e in events] == [
        f"order.status_updated:{order.id}:confirmed",
        f"order.status_updated:{order.id}:shipped",
    ]
    assert [(e.previous_status, e.order.status) for e in events] == [
        ("pending", "confirmed"),
        ("confirmed", "shipped"),
    ]
    assert events[0].customer.username == "jane"


def test_changes_that_are_not_order_events_are_ignored(aws: Any, stream: Stream) -> None:
    order = save_order()
    handle(stream.batch())
    received(aws)
    table = aws_table()
    # an edit that leaves the status alone, the next order-number counter, a removal
    table.update_item(
        Key=keys.order_key(order.id),
        UpdateExpression="SET note = :n",
        ExpressionAttributeValues={":n": "gift wrap"},
    )
    orders_service.next_order_number(2031)
    table.delete_item(Key=keys.order_key(order.id))
    batch = stream.batch()
    assert [r["eventName"] for r in order_records(batch)] == ["MODIFY", "REMOVE"]
    assert len(batch["Records"]) > 2
    assert handle(batch) == {"batchItemFailures": []}
    assert received(aws) == []


def aws_table() -> Any:
    return shop_aws.table(config.get_settings().orders_table)


def test_a_failed_publish_fails_the_record_and_a_retry_delivers_it(aws: Any, stream: Stream) -> None:
    order = save_order()
    batch = stream.batch()  # the counter's records, then the order's INSERT
    topic_arn = config.get_settings().order_events_topic_arn
    shop_aws.client("sns").delete_topic(TopicArn=topic_arn)  # SNS refuses every publish now
    response = handle(batch)
    (order_insert,) = order_records(batch)
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_number(order_insert)}]}
    assert received(aws) == []
    # SNS is back (topic and subscription as the template declares them): the stream retries the record
    provision(aws)
    assert config.get_settings().order_events_topic_arn == topic_arn
    assert handle(batch) == {"batchItemFailures": []}
    ((event_type, body),) = received(aws)
    assert event_type == "order.created"
    assert body["event_id"] == f"order.created:{order.id}"


def test_after_a_failure_the_rest_of_the_batch_waits_for_the_retry(aws: Any, stream: Stream) -> None:
    first, second = save_order(), save_order()
    batch = stream.batch()
    shop_aws.client("sns").delete_topic(TopicArn=config.get_settings().order_events_topic_arn)
    response = handle(batch)
    first_insert, second_insert = (sequence_number(r) for r in order_records(batch))
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    # the first order's record failed; everything after it is failed too, so events stay in order
    assert failed[0] == first_insert
    assert second_insert in failed
    assert failed == [sequence_number(r) for r in batch["Records"] if sequence_number(r) >= first_insert]
    provision(aws)
    assert handle(batch) == {"batchItemFailures": []}
    assert [OrderEvent.model_validate(body).order.id for _, body in received(aws)] == [first.id, second.id]


def test_when_every_record_fails_the_invocation_fails(aws: Any, stream: Stream) -> None:
    save_order()
    batch = stream.batch()
    batch["Records"] = order_records(batch)
    shop_aws.client("sns").delete_topic(TopicArn=config.get_settings().order_events_topic_arn)
    # the function errors (and the stream retries the batch), which is what the Errors alarm watches
    with pytest.raises(BatchProcessingError):
        handle(batch)


def test_a_malformed_order_item_is_skipped_not_retried_forever(aws: Any, stream: Stream) -> None:
    aws_table().put_item(Item={**keys.order_key("broken"), "status": "pending"})
    good = save_order()
    assert handle(stream.batch()) == {"batchItemFailures": []}
    assert [OrderEvent.model_validate(body).order.id for _, body in received(aws)] == [good.id]


def test_event_from_record_needs_no_aws() -> None:
    sample = json.loads((EVENTS / "orders-publisher-modify.json").read_text())
    event = orders_publisher.event_from_record(sample["Records"][0])
    assert event is not None
    assert event.event_type == "order.status_updated"
    assert event.previous_status == "pending"
    assert event.event_id == f"order.status_updated:{event.order.id}:confirmed"


@pytest.mark.parametrize(
    ("name", "event_type"), [("insert", "order.created"), ("modify", "order.status_updated")]
)
def test_sample_stream_events_publish(aws: Any, name: str, event_type: str) -> None:
    sample = json.loads((EVENTS / f"orders-publisher-{name}.json").read_text())
    assert handle(sample) == {"batchItemFailures": []}
    assert [kind for kind, _ in received(aws)] == [event_type]

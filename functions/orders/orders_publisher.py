"""OrderEventsPublisherFunction: the orders table's stream → SNS `order-events`.

An INSERT of an order publishes `order.created`; a MODIFY that changes its status publishes
`order.status_updated`; everything else (the order-number counter, other edits, removals) is
ignored. Because events leave from the stream and not from the request, a saved order always gets
its event: if SNS refuses, the record is reported failed and the stream delivers it again.

Event ids are deterministic, so a record published twice (a retried batch) is recognised
downstream and sends one e-mail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from boto3.dynamodb.types import TypeDeserializer
from pydantic import ValidationError

from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.jsonutil import dumps
from shop_shared.models import Customer, Order, OrderEvent
from shop_shared.observability import observability

logger, metrics, tracer = observability("orders-publisher")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_deserializer = TypeDeserializer()


def _image(image: dict[str, Any] | None) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in (image or {}).items()}


def event_from_record(record: dict[str, Any]) -> OrderEvent | None:
    """The event a stream record stands for, or None if it is not an order event.
    Raises pydantic's ValidationError for an order item that does not make a valid event."""
    stream = record.get("dynamodb") or {}
    new = _image(stream.get("NewImage"))
    if new.get("sk") != keys.ORDER_SK or not str(new.get("pk", "")).startswith("ORDER#"):
        return None
    order = Order.model_validate(new)
    kind = record.get("eventName")
    if kind == "INSERT":
        return OrderEvent(
            event_id=f"order.created:{order.id}",
            event_type="order.created",
            occurred_at=order.created_at,  # type: ignore[arg-type]  # pydantic parses the ISO text
            order=order,
            customer=Customer.model_validate(new.get("customer")),
        )
    if kind == "MODIFY":
        previous = _image(stream.get("OldImage")).get("status")
        if previous is None or previous == order.status:
            return None
        return OrderEvent(
            event_id=f"order.status_updated:{order.id}:{order.status}",
            event_type="order.status_updated",
            occurred_at=order.updated_at,  # type: ignore[arg-type]
            order=order,
            customer=Customer.model_validate(new.get("customer")),
            previous_status=previous,
        )
    return None


def publish(event: OrderEvent) -> None:
    aws.client("sns").publish(
        TopicArn=get_settings().order_events_topic_arn,
        Message=dumps(event),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": event.event_type}},
    )


def _record_handler() -> Callable[[DynamoDBRecord], None]:
    """Publishes one record. After a failure the rest of the batch fails too without being sent:
    the stream resends from the first failed record anyway, and this keeps an order's events in order."""
    failed = False

    def handle(record: DynamoDBRecord) -> None:
        nonlocal failed
        if failed:
            raise RuntimeError("an earlier record of this batch failed; this one is retried after it")
        try:
            event = event_from_record(record.raw_event)
        except ValidationError:
            # Retrying cannot fix a malformed item and would hold the shard up for a day: log it
            # (with the keys, no personal data) and count it, so an alarm can point at it.
            logger.error(
                "order item on the stream does not make a valid event; skipped",
                extra={
                    "keys": record.raw_event.get("dynamodb", {}).get("Keys"),
                    "event": record.raw_event.get("eventName"),
                },
            )
            metrics.add_metric(name="OrderEventInvalid", unit=MetricUnit.Count, value=1)
            return
        if event is None:
            return
        try:
            publish(event)
        except Exception:
            failed = True
            logger.warning(
                "publishing an order event failed; it will be retried", extra={"event_id": event.event_id}
            )
            metrics.add_metric(name="OrderEventPublishFailed", unit=MetricUnit.Count, value=1)
            raise
        logger.info("order event published", extra={"event_id": event.event_id})
        metrics.add_metric(name="OrderEventPublished", unit=MetricUnit.Count, value=1)

    return handle


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial batch response: failed records (by sequence number) are retried by the stream. If
    every record fails, Powertools raises instead, so the function's Errors alarm sees the outage."""
    return dict(
        process_partial_response(
            event=event, record_handler=_record_handler(), processor=processor, context=context
        )
    )

"""OrderEventsPublisherFunction: the orders table's stream → SNS `order-events`.

An INSERT of an order publishes `order.created`; a MODIFY that changes its status publishes
`order.status_updated`; everything else (the order-number counter, other edits, removals) is
ignored. Because events leave from the stream and not from the request, a saved order always gets
its event: if SNS refuses, the record is reported failed and the stream delivers it again.

A batch's events go out in PublishBatch calls of up to ten (a batch of 25 records costs 3 calls,
not 25: one Publish per record was the publisher's limit near 170 orders per second, docs/scale.md).

Event ids are deterministic, so a record published twice (a retried batch) is recognised
downstream and sends one e-mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import ValidationError

from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.jsonutil import dumps
from shop_shared.models import Customer, Order, OrderEvent
from shop_shared.observability import observability

logger, metrics, tracer = observability("orders-publisher")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _image(image: dict[str, Any] | None) -> dict[str, Any]:
    return aws.plain_item(image or {})


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


# SNS PublishBatch takes at most 10 entries, and at most 256 KiB of messages and attributes in
# all (SNS API reference, PublishBatch). It needs the same `sns:Publish` permission as Publish.
BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024


def sns_entry(event: OrderEvent, entry_id: str) -> dict[str, Any]:
    """The PublishBatch entry of `event` (the e-mail queue's subscription delivers it raw)."""
    return {
        "Id": entry_id,
        "Message": dumps(event),
        "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": event.event_type}},
    }


def entry_bytes(entry: Mapping[str, Any]) -> int:
    """What an entry counts towards a batch's size: its message and its attributes' names, types
    and values, in UTF-8."""
    size = len(str(entry["Message"]).encode())
    for name, attribute in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(str(attribute.get("StringValue", "")).encode())
    return size


def batches(
    entries: Sequence[dict[str, Any]], max_entries: int = BATCH_ENTRIES, max_bytes: int = BATCH_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """`entries` in order, cut into PublishBatch requests within SNS's limits."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        bytes_ = entry_bytes(entry)
        if batch and (len(batch) == max_entries or size + bytes_ > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += bytes_
    if batch:
        yield batch


def publish_in_order(entries: Sequence[dict[str, Any]], send: Callable[[list[dict[str, Any]]], Any]) -> int:
    """Publish `entries` a batch at a time through `send` (PublishBatch); how many of them, from the
    first, are known published. It stops at the first entry that failed (the whole call, or that
    entry in its answer): the stream resends from there. Entries after it in the same batch may
    have been published too; their deterministic event ids make the resend harmless."""
    published = 0
    for batch in batches(entries):
        try:
            answer = send(batch)
        except Exception:
            logger.warning("publishing order events failed", exc_info=True)
            return published
        failed = {entry["Id"]: entry for entry in answer.get("Failed", [])}
        for entry in batch:
            refused = failed.get(entry["Id"])
            if refused is not None:
                logger.warning(
                    "SNS refused an order event",
                    extra={"code": refused.get("Code"), "sender_fault": refused.get("SenderFault")},
                )
                return published
            published += 1
    return published


def _send(batch: list[dict[str, Any]]) -> Any:
    return aws.client("sns").publish_batch(
        TopicArn=get_settings().order_events_topic_arn, PublishBatchRequestEntries=batch
    )


def _event_or_skip(record: dict[str, Any]) -> OrderEvent | None:
    """The record's event; None for a record that is not one, and for a malformed order item."""
    try:
        return event_from_record(record)
    except ValidationError:
        # Retrying cannot fix a malformed item and would hold the shard up for a day: log it
        # (with the keys, no personal data) and count it, so an alarm can point at it.
        logger.error(
            "order item on the stream does not make a valid event; skipped",
            extra={"keys": record.get("dynamodb", {}).get("Keys"), "event": record.get("eventName")},
        )
        metrics.add_metric(name="OrderEventInvalid", unit=MetricUnit.Count, value=1)
        return None


def publish_records(records: Sequence[dict[str, Any]]) -> list[bool]:
    """Publish the events of a batch's records in as few PublishBatch calls as SNS allows; for each
    record, whether it is done (published, or nothing to publish). From the first record whose
    event was not published on, every record is not done, events or not: the stream resends from
    there, and an order's events stay in order."""
    events: list[tuple[int, OrderEvent]] = []
    unreadable = len(records)  # the first record that could not be read at all, if any
    for index, record in enumerate(records):
        try:
            event = _event_or_skip(record)
        except Exception:
            # not a stream record we understand (a bug, or a new record shape): this record and
            # the ones after it fail, the ones before it still go out
            logger.exception("a stream record could not be read", extra={"event": record.get("eventName")})
            unreadable = index
            break
        if event is not None:
            events.append((index, event))
    entries = [sns_entry(event, str(number)) for number, (_, event) in enumerate(events)]
    published = publish_in_order(entries, _send) if entries else 0
    for _, event in events[:published]:
        logger.info("order event published", extra={"event_id": event.event_id})
    if published:
        metrics.add_metric(name="OrderEventPublished", unit=MetricUnit.Count, value=published)
    first_failed = unreadable
    if published < len(events):
        # counted: every event of the batch that did not go out (the refused one and those after it)
        metrics.add_metric(
            name="OrderEventPublishFailed", unit=MetricUnit.Count, value=len(events) - published
        )
        first_failed = events[published][0]
    return [index < first_failed for index in range(len(records))]


def _record_handler(done: list[bool]) -> Callable[[DynamoDBRecord], None]:
    """Reports each record as `publish_records` found it (Powertools calls it once per record, in order)."""
    outcomes = iter(done)

    def handle(record: DynamoDBRecord) -> None:
        if not next(outcomes):
            raise RuntimeError("this record's event, or an earlier one of the batch, was not published")

    return handle


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial batch response: failed records (by sequence number) are retried by the stream. If
    every record fails, Powertools raises instead, so the function's Errors alarm sees the outage."""
    done = publish_records(event.get("Records") or [])
    return dict(
        process_partial_response(
            event=event, record_handler=_record_handler(done), processor=processor, context=context
        )
    )

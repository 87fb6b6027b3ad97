"""Event source mappings: feed SQS queues and DynamoDB streams to their functions, as Lambda does.

SQS (`SqsPoller`): long-polls the queue, gathers up to `BatchSize` messages within
`MaximumBatchingWindowInSeconds`, calls the function with a real SQS event, deletes what
succeeded. With `ReportBatchItemFailures` only the reported items stay; if the function fails
(raises, times out, or reports an item that is not in the batch) the whole batch stays. Failed
messages become visible again after `SHOP_LOCAL_RETRY_DELAY` seconds (default 1) instead of the
queue's full visibility timeout; the queue's redrive policy then moves a message that keeps
failing to its DLQ when it is received more than `maxReceiveCount` times (the emulator does that).

DynamoDB streams (`StreamPoller`): reads every shard from `StartingPosition`, calls the function
with real stream records, up to `BatchSize`. A failed batch is retried (with a short backoff) from
its first record, or with `ReportBatchItemFailures` from the first reported sequence number, so a
record that fails is never skipped; `BisectBatchOnFunctionError` halves the batch on errors. Only
after `MaximumRetryAttempts` (or `MaximumRecordAgeInSeconds`) does the batch go to the OnFailure
destination, as Lambda does.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sam_runner.lambda_runtime import FunctionPool, Invocation
from sam_runner.template import EventSource, Template

log = logging.getLogger("shop_local.pollers")

SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def retry_delay() -> int:
    try:
        return max(0, int(float(os.environ.get("SHOP_LOCAL_RETRY_DELAY", "1"))))
    except ValueError:
        return 1


def failed_item_ids(result: Invocation, batch_ids: list[str], reports_item_failures: bool) -> list[str]:
    """The ids Lambda treats as failed for this invocation, in batch order."""
    if not result.ok:
        return list(batch_ids)
    if not reports_item_failures:
        return []
    response = result.response
    if response is None or response == {}:
        return []
    if not isinstance(response, dict):
        return list(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return list(batch_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            log.error("%s reported an unknown item %r: the whole batch fails", result.function_id, identifier)
            return list(batch_ids)
        failed.add(identifier)
    return [item for item in batch_ids if item in failed]


class Poller(threading.Thread):
    def __init__(self, source: EventSource, function: FunctionPool, template: Template, client: Any) -> None:
        super().__init__(name=f"poll-{source.function_id}-{source.event_name}", daemon=True)
        self.source = source
        self.function = function
        self.template = template
        self.client = client
        # the stack's own calls, which Lambda's event source mapping does not make with the
        # function's role (the quick retry's visibility change: sam_runner.iam_roles)
        self.stack_client = client
        self.stopping = threading.Event()
        self.window = float(source.properties.get("MaximumBatchingWindowInSeconds", 0) or 0)

    def stop(self) -> None:
        self.stopping.set()


def batches_at_once(source: EventSource, environments: int) -> int:
    """How many batches an SQS source delivers at once: Lambda starts with five pollers, the
    template's `ScalingConfig.MaximumConcurrency` caps the invocations (e.g. the e-mail queue's
    `EmailMaxConcurrency`, which keeps a burst of orders from driving SES throttling), and the
    function's environments cap what can run."""
    limit = min(5, environments)
    if source.maximum_concurrency is not None:
        limit = min(limit, source.maximum_concurrency)
    return max(1, limit)


class SqsPoller(Poller):
    WAIT_SECONDS = 1  # short long-polls, so stopping is quick
    # Batches in flight at once. Lambda's SQS event source starts with five concurrent pollers and
    # scales with the backlog; the stack sets this to what the function's environments allow.
    concurrency = 1

    def __init__(self, source: EventSource, function: FunctionPool, template: Template, client: Any) -> None:
        super().__init__(source, function, template, client)
        physical = template.physical(source.source_logical_id)
        self.queue_url = physical["QueueUrl"]
        self.queue_arn = physical["Arn"]

    def run(self) -> None:
        log.info(
            "polling %s for %s (%d batches at once)",
            self.source.source_logical_id,
            self.source.function_id,
            self.concurrency,
        )
        # One loop gathers batches (as one Lambda poller does); up to `concurrency` of them are
        # delivered at once, each in an environment of the function.
        slots = threading.BoundedSemaphore(self.concurrency)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name) as deliveries:
            while not self.stopping.is_set():
                if not slots.acquire(timeout=self.WAIT_SECONDS):
                    continue
                try:
                    messages = self.gather()
                except Exception:
                    slots.release()
                    if self.stopping.is_set():
                        return
                    log.exception("SQS poller for %s failed; retrying", self.source.function_id)
                    self.stopping.wait(1)
                    continue
                if not messages:
                    slots.release()
                    continue
                deliveries.submit(self._deliver_then_release, messages, slots)

    def _deliver_then_release(
        self, messages: list[dict[str, Any]], slots: threading.BoundedSemaphore
    ) -> None:
        try:
            self.deliver(messages)
        except Exception:
            if not self.stopping.is_set():
                log.exception("SQS poller for %s failed to deliver a batch", self.source.function_id)
        finally:
            slots.release()

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def gather(self) -> list[dict[str, Any]]:
        batch_size = self.source.batch_size
        messages = self._receive(batch_size, self.WAIT_SECONDS)
        if not messages:
            return []
        deadline = time.monotonic() + self.window
        while len(messages) < batch_size and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(batch_size - len(messages), 0)
            if more:
                messages.extend(more)
            else:
                self.stopping.wait(min(0.1, remaining))
        return messages

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes") or {}
        message_attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            entry: dict[str, Any] = {
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            if "StringValue" in value:
                entry["stringValue"] = value["StringValue"]
            if "BinaryValue" in value:
                entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
            message_attributes[name] = entry
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {k: v for k, v in attributes.items() if k in SQS_RECORD_ATTRIBUTES},
            "messageAttributes": message_attributes,
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.template.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self.record(message) for message in messages]}
        result = self.function.invoke(
            event, what=f"(sqs {self.source.source_logical_id}, {len(messages)} messages)"
        )
        ids = [message["MessageId"] for message in messages]
        failed = set(failed_item_ids(result, ids, self.source.reports_item_failures))
        done = [message for message in messages if message["MessageId"] not in failed]
        retry = [message for message in messages if message["MessageId"] in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if retry:
            log.warning(
                "%s: %d of %d messages failed; visible again in %ss",
                self.source.function_id,
                len(retry),
                len(messages),
                retry_delay(),
            )
        for start in range(0, len(retry), 10):
            chunk = retry[start : start + 10]
            self.stack_client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": retry_delay()}
                    for i, m in enumerate(chunk)
                ],
            )


def _attribute_value(value: Any) -> Any:
    """A DynamoDB AttributeValue as the Lambda event carries it (bytes → base64)."""
    if isinstance(value, dict):
        return {key: _attribute_value(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_attribute_value(inner) for inner in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _epoch(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime) else value


class StreamPoller(Poller):
    IDLE_SECONDS = 0.25  # Lambda polls a shard about four times a second
    SHARD_REFRESH_SECONDS = 10.0

    def __init__(
        self,
        source: EventSource,
        function: FunctionPool,
        template: Template,
        client: Any,
        sqs: Any,
    ) -> None:
        super().__init__(source, function, template, client)
        self.stream_arn = template.physical(source.source_logical_id)["StreamArn"]
        self.sqs = sqs
        self.starting_position = str(source.properties.get("StartingPosition", "TRIM_HORIZON"))
        self.max_attempts = int(source.properties.get("MaximumRetryAttempts", -1))
        self.max_age = int(source.properties.get("MaximumRecordAgeInSeconds", -1))
        self.bisect = bool(source.properties.get("BisectBatchOnFunctionError", False))
        self.iterators: dict[str, str | None] = {}
        self._last_refresh = 0.0

    def refresh_shards(self) -> None:
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.starting_position
                )["ShardIterator"]
        self._last_refresh = time.monotonic()

    def run(self) -> None:
        log.info("reading the stream of %s for %s", self.source.source_logical_id, self.source.function_id)
        while not self.stopping.is_set():
            try:
                if time.monotonic() - self._last_refresh > self.SHARD_REFRESH_SECONDS:
                    self.refresh_shards()
                busy = False
                for shard_id in list(self.iterators):
                    busy = self.poll_shard(shard_id) or busy
                if not busy:
                    self.stopping.wait(self.IDLE_SECONDS)
            except Exception:
                if self.stopping.is_set():
                    return
                log.exception("stream poller for %s failed; retrying", self.source.function_id)
                self.stopping.wait(1)

    def _get(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        response = self.client.get_records(ShardIterator=iterator, Limit=limit)
        return list(response.get("Records", [])), response.get("NextShardIterator")

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(raw["dynamodb"])
        if "ApproximateCreationDateTime" in dynamodb:
            dynamodb["ApproximateCreationDateTime"] = _epoch(dynamodb["ApproximateCreationDateTime"])
        for key in ("Keys", "NewImage", "OldImage"):
            if key in dynamodb:
                dynamodb[key] = _attribute_value(dynamodb[key])
        record = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": raw.get("awsRegion", self.template.region),
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }
        if raw.get("userIdentity"):
            record["userIdentity"] = raw["userIdentity"]
        return record

    def poll_shard(self, shard_id: str) -> bool:
        """Deliver one batch of this shard (with its retries); True if there were records."""
        iterator = self.iterators.get(shard_id)
        if iterator is None:
            return False  # a closed shard, fully read
        batch_size = self.source.batch_size
        records, next_iterator = self._get(iterator, batch_size)
        if not records:
            self.iterators[shard_id] = next_iterator
            return False
        if len(records) < batch_size and self.window > 0 and next_iterator:
            self.stopping.wait(self.window)
            more, next_iterator = self._get(next_iterator, batch_size - len(records))
            records.extend(more)
        self.deliver(shard_id, records)
        if not self.stopping.is_set():
            self.iterators[shard_id] = self._iterator_after(
                shard_id, records[-1]["dynamodb"]["SequenceNumber"]
            )
        return True

    def _iterator_after(self, shard_id: str, sequence_number: str) -> str:
        return str(
            self.client.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=sequence_number,
            )["ShardIterator"]
        )

    def deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Call the function until every record of `records` succeeded (or retries are exhausted)."""
        pending = records
        attempts = 0
        limit = len(pending)
        while pending and not self.stopping.is_set():
            batch = pending[:limit]
            event = {"Records": [self.record(raw) for raw in batch]}
            result = self.function.invoke(
                event, what=f"(stream {self.source.source_logical_id}, {len(batch)} records)"
            )
            sequence = [raw["dynamodb"]["SequenceNumber"] for raw in batch]
            failed = failed_item_ids(result, sequence, self.source.reports_item_failures)
            if not failed:
                pending = pending[len(batch) :]
                attempts = 0
                limit = len(pending)
                continue
            first_failed = sequence.index(failed[0])
            pending = pending[first_failed:]
            attempts += 1
            if not result.ok and self.bisect:
                limit = max(1, min(limit, len(pending)) // 2)
            oldest = _epoch(pending[0]["dynamodb"].get("ApproximateCreationDateTime"))
            too_old = (
                self.max_age > 0 and isinstance(oldest, int | float) and time.time() - oldest > self.max_age
            )
            if (self.max_attempts >= 0 and attempts > self.max_attempts) or too_old:
                self.send_to_failure_destination(shard_id, pending[: max(1, limit)], attempts, too_old)
                pending = pending[max(1, limit) :]
                attempts = 0
                continue
            backoff = min(2.0, 0.2 * 2 ** (attempts - 1))
            log.warning(
                "%s: stream batch failed (attempt %d), retrying from %s in %.1fs",
                self.source.function_id,
                attempts,
                pending[0]["dynamodb"]["SequenceNumber"],
                backoff,
            )
            self.stopping.wait(backoff)

    def send_to_failure_destination(
        self, shard_id: str, records: list[dict[str, Any]], attempts: int, too_old: bool
    ) -> None:
        destination = ((self.source.properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        log.error(
            "%s: giving up on stream records %s..%s after %d attempts",
            self.source.function_id,
            first["SequenceNumber"],
            last["SequenceNumber"],
            attempts,
        )
        if not destination:
            return
        arn = self.template.resolve(destination)
        queue_url = next(
            (
                self.template.physical(name)["QueueUrl"]
                for name in self.template.resources_of("AWS::SQS::Queue")
                if self.template.physical(name).get("Arn") == arn
            ),
            None,
        )
        if queue_url is None:
            log.error(
                "%s: the OnFailure destination %s is not a queue of the stack", self.source.function_id, arn
            )
            return
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": "RecordAgeExceeded" if too_old else "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": str(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": str(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

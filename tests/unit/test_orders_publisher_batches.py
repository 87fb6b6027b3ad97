"""How the publisher cuts a stream batch's events into PublishBatch calls, and what it reports when
SNS refuses some of them (a fake `send`; the real SNS path is tests/component/test_orders_publisher.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import orders_publisher
from orders_publisher import BATCH_BYTES, batches, entry_bytes, publish_in_order

EVENTS = Path(__file__).resolve().parents[2] / "events"


def entry(n: int, message: str = "{}") -> dict[str, Any]:
    return {
        "Id": str(n),
        "Message": message,
        "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "order.created"}},
    }


def ids(groups: list[list[dict[str, Any]]]) -> list[list[int]]:
    return [[int(e["Id"]) for e in group] for group in groups]


def test_at_most_ten_entries_a_call_in_order() -> None:
    assert ids(list(batches([entry(n) for n in range(25)]))) == [
        list(range(10)),
        list(range(10, 20)),
        list(range(20, 25)),
    ]
    assert list(batches([])) == []


def test_a_call_stays_within_256_kib_of_messages_and_attributes() -> None:
    big = "x" * 100_000  # three of these, with their attributes, are over 256 KiB
    groups = list(batches([entry(n, big) for n in range(5)]))
    assert ids(groups) == [[0, 1], [2, 3], [4]]
    assert all(sum(entry_bytes(e) for e in group) <= BATCH_BYTES for group in groups)
    # the size counts the message's UTF-8 bytes, not its characters
    assert entry_bytes(entry(0, "é")) == entry_bytes(entry(0, "ab"))


class FakeSns:
    """PublishBatch's answers: refuse the call for the batches in `down`, or the entries in `refuse`."""

    def __init__(self, down: set[int] | None = None, refuse: set[str] | None = None) -> None:
        self.down = down or set()
        self.refuse = refuse or set()
        self.calls: list[list[str]] = []
        self.published: list[str] = []

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["Id"] for e in batch])
        if len(self.calls) - 1 in self.down:
            raise ConnectionError("SNS is unreachable")
        ok = [e["Id"] for e in batch if e["Id"] not in self.refuse]
        self.published.extend(ok)
        refused = [i for i in self.calls[-1] if i in self.refuse]
        failed = [{"Id": i, "Code": "InternalError", "SenderFault": False} for i in refused]
        return {"Successful": [{"Id": i, "MessageId": f"m-{i}"} for i in ok], "Failed": failed}


def test_everything_published_in_three_calls() -> None:
    sns = FakeSns()
    assert publish_in_order([entry(n) for n in range(25)], sns) == 25
    assert len(sns.calls) == 3
    assert sns.published == [str(n) for n in range(25)]


def test_a_refused_call_stops_there_and_sends_nothing_after_it() -> None:
    sns = FakeSns(down={1})
    assert publish_in_order([entry(n) for n in range(25)], sns) == 10
    assert len(sns.calls) == 2  # the third batch is not sent: the stream resends from entry 10


def test_a_refused_entry_counts_only_the_entries_before_it() -> None:
    sns = FakeSns(refuse={"13"})
    assert publish_in_order([entry(n) for n in range(25)], sns) == 13
    assert len(sns.calls) == 2


def sample_records() -> list[dict[str, Any]]:
    """The sample stream event's records: the order-number counter's MODIFY, then an order's INSERT."""
    sample = json.loads((EVENTS / "orders-publisher-insert.json").read_text())
    return list(sample["Records"])


def order_insert(template: dict[str, Any], order_id: str) -> dict[str, Any]:
    record = copy.deepcopy(template)
    record["dynamodb"]["NewImage"]["id"] = {"S": order_id}
    record["dynamodb"]["NewImage"]["pk"] = {"S": f"ORDER#{order_id}"}
    return record


def test_records_from_the_first_unpublished_event_on_are_not_done(monkeypatch: pytest.MonkeyPatch) -> None:
    counter, insert = sample_records()
    assert orders_publisher.event_from_record(counter) is None
    a, b, c = (order_insert(insert, order_id) for order_id in "abc")
    records = [counter, a, counter, b, c]
    sns = FakeSns(refuse={"1"})  # entry 1: the second event, order b
    monkeypatch.setattr(orders_publisher, "_send", sns)
    # order a is published, and the counter record after it is done; b was refused: it and
    # everything after it are resent by the stream, c included (it stays after b)
    assert orders_publisher.publish_records(records) == [True, True, True, False, False]
    assert sns.calls == [["0", "1", "2"]]


def test_a_batch_without_events_calls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    counter, _ = sample_records()
    sns = FakeSns()
    monkeypatch.setattr(orders_publisher, "_send", sns)
    assert orders_publisher.publish_records([counter, counter]) == [True, True]
    assert sns.calls == []


def test_a_record_that_cannot_be_read_fails_from_there_on(monkeypatch: pytest.MonkeyPatch) -> None:
    _, insert = sample_records()
    sns = FakeSns()
    monkeypatch.setattr(orders_publisher, "_send", sns)
    broken = {"eventName": "INSERT", "dynamodb": "not a mapping"}
    records = [order_insert(insert, "a"), broken, order_insert(insert, "b")]
    assert orders_publisher.publish_records(records) == [True, False, False]
    assert sns.calls == [["0"]]  # the event before it went out, the one after it waits

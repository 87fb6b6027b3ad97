"""The idempotency record's own lost reply: which stored record is this call's own write."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from orders_idempotency import is_own_record

FIELDS: dict[str, Any] = {
    "idempotency_key": "orders.create#abc",
    "status": "INPROGRESS",
    "expiry_timestamp": 1_800_000_000,
    "in_progress_expiry_timestamp": 1_800_000_000_123,
    "payload_hash": "5f1d",
}
WRITTEN = DataRecord(**FIELDS)


def record(**changes: Any) -> DataRecord:
    return DataRecord(**(FIELDS | changes))


def test_the_record_this_call_wrote_is_its_own() -> None:
    assert is_own_record(record(), WRITTEN)


def test_another_requests_record_is_not() -> None:
    # same key and body, another invocation: another deadline
    assert not is_own_record(record(in_progress_expiry_timestamp=1_800_000_000_999), WRITTEN)
    assert not is_own_record(record(payload_hash="other"), WRITTEN)
    assert not is_own_record(record(status="COMPLETED"), WRITTEN)
    assert not is_own_record(None, WRITTEN)


def test_without_a_deadline_nothing_is_taken_for_ours() -> None:
    blind = record(in_progress_expiry_timestamp=None)
    assert not is_own_record(record(in_progress_expiry_timestamp=None), blind)

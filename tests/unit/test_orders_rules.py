"""The orders rules without AWS or Redis: life cycle and who may move it, history entries, the staff
queue's keys, cursor and page merging, and recognising one's own stored write after a lost reply."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

import orders_rules
from shop_shared.errors import BadRequest, Conflict, Forbidden
from shop_shared.models import StatusUpdateRequest

# ------------------------------------------------------------------------------- life cycle


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("pending", "confirmed"),
        ("pending", "cancelled"),
        ("confirmed", "shipped"),
        ("confirmed", "cancelled"),
        ("shipped", "delivered"),
    ],
)
def test_an_admin_may_make_every_move_of_the_life_cycle(current: str, new: str) -> None:
    orders_rules.check_transition(current, new, is_admin=True)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("pending", "shipped"),
        ("pending", "delivered"),
        ("confirmed", "pending"),
        ("shipped", "cancelled"),
        ("delivered", "cancelled"),
        ("cancelled", "confirmed"),
        ("pending", "pending"),
    ],
)
def test_a_move_outside_the_life_cycle_is_a_conflict(current: str, new: str) -> None:
    with pytest.raises(Conflict) as refused:
        orders_rules.check_transition(current, new, is_admin=True)
    assert refused.value.code == "invalid_transition"


def test_the_owner_may_only_cancel_and_only_before_shipping() -> None:
    orders_rules.check_transition("pending", "cancelled", is_admin=False)
    orders_rules.check_transition("confirmed", "cancelled", is_admin=False)
    for new in ("confirmed", "shipped", "delivered"):
        with pytest.raises(Forbidden):
            orders_rules.check_transition("pending", new, is_admin=False)
    with pytest.raises(Conflict):
        orders_rules.check_transition("shipped", "cancelled", is_admin=False)


def test_a_history_entry_carries_a_note_only_when_given() -> None:
    at = "2026-11-30T10:00:00.000000Z"
    assert orders_rules.history_entry("cancelled", at, "customer", "changed my mind") == {
        "status": "cancelled",
        "at": at,
        "by": "customer",
        "note": "changed my mind",
    }
    assert orders_rules.history_entry("confirmed", at, "admin") == {
        "status": "confirmed",
        "at": at,
        "by": "admin",
    }
    assert "note" not in orders_rules.history_entry("confirmed", at, "admin", "")


# ------------------------------------------------------------------------------- the request


def test_a_status_change_may_carry_a_note_of_at_most_500_characters() -> None:
    assert StatusUpdateRequest(status="cancelled", note="  too slow  ").note == "too slow"
    assert StatusUpdateRequest.model_validate({"status": "cancelled", "note": "x" * 500}).note == "x" * 500
    with pytest.raises(ValidationError):
        StatusUpdateRequest.model_validate({"status": "cancelled", "note": "x" * 501})


def test_carrier_and_tracking_number_come_only_with_shipped_and_together() -> None:
    shipped = StatusUpdateRequest(status="shipped", carrier="UPS", tracking_number="1Z999")
    assert shipped.tracking() is not None
    assert StatusUpdateRequest(status="shipped").tracking() is None
    for body in (
        {"status": "confirmed", "carrier": "UPS", "tracking_number": "1Z999"},
        {"status": "cancelled", "tracking_number": "1Z999"},
        {"status": "shipped", "carrier": "UPS"},
        {"status": "shipped", "tracking_number": "1Z999"},
        {"status": "shipped", "carrier": "", "tracking_number": "1Z999"},
        {"status": "shipped", "carrier": "UPS", "tracking_number": "x" * 101},
    ):
        with pytest.raises(ValidationError):
            StatusUpdateRequest.model_validate(body)


# ------------------------------------------------------------------------------- queue keys


def test_order_numbers_sort_in_the_order_they_were_handed_out() -> None:
    numbers = ["ORD-2025-999999", "ORD-2026-000002", "ORD-2026-000010", "ORD-2026-999999", "ORD-2026-1000000"]
    assert sorted(numbers, key=orders_rules.order_seq) == numbers
    assert orders_rules.order_seq("ORD-2026-000042") == "2026-0000000042"


def test_one_order_number_lives_in_one_shard_per_status() -> None:
    shards = {orders_rules.status_shard("pending", f"ORD-2026-{n:06d}") for n in range(1, 41)}
    assert shards == set(orders_rules.queue_partitions("pending"))
    assert len(shards) == orders_rules.QUEUE_SHARDS
    number = "ORD-2026-000042"
    assert (
        orders_rules.status_shard("pending", number).split("#")[1]
        == orders_rules.status_shard("shipped", number).split("#")[1]
    )
    assert len(orders_rules.queue_partitions(None)) == len(orders_rules.STATUSES) * orders_rules.QUEUE_SHARDS


@pytest.mark.parametrize("text", ["ORD-2026-42", "ord-2026-000042", "ORD-26-000042", "ORD-2026-000042x", ""])
def test_what_is_not_an_order_number(text: str) -> None:
    assert orders_rules.parse_order_number(text) is None


def test_the_queue_cursor_round_trips_and_belongs_to_one_listing() -> None:
    cursor = orders_rules.encode_queue_cursor("pending", "2026-0000000042")
    assert orders_rules.decode_queue_cursor(cursor, "pending") == "2026-0000000042"
    everything = orders_rules.encode_queue_cursor(None, "2026-0000000042")
    assert orders_rules.decode_queue_cursor(everything, None) == "2026-0000000042"
    for bad, status in [
        (cursor, "shipped"),
        (cursor, None),
        (everything, "pending"),
        ("garbage!", "pending"),
        (orders_rules.encode_queue_cursor("pending", "2026-42'); drop"), "pending"),
    ]:
        with pytest.raises(BadRequest):
            orders_rules.decode_queue_cursor(bad, status)


def test_the_cursor_carries_the_direction_of_its_listing() -> None:
    newest = orders_rules.encode_queue_cursor("pending", "2026-0000000042", ascending=False)
    assert orders_rules.decode_queue_cursor(newest, "pending", ascending=False) == "2026-0000000042"
    # followed in the other direction it would skip or repeat orders: refused
    with pytest.raises(BadRequest):
        orders_rules.decode_queue_cursor(newest, "pending", ascending=True)
    oldest = orders_rules.encode_queue_cursor(None, "2026-0000000042", ascending=True)
    assert orders_rules.decode_queue_cursor(oldest, None, ascending=True) == "2026-0000000042"
    with pytest.raises(BadRequest):
        orders_rules.decode_queue_cursor(oldest, None, ascending=False)


@pytest.mark.parametrize(
    ("status", "sort", "ascending"),
    [
        ("pending", None, True),  # a work queue: oldest first
        (None, None, False),  # everything: newest first
        ("pending", "newest", False),
        ("pending", "oldest", True),
        (None, "oldest", True),
        (None, "newest", False),
    ],
)
def test_the_listing_direction_defaults_as_the_contract_says(
    status: str | None, sort: str | None, ascending: bool
) -> None:
    assert orders_rules.listing_ascending(status, sort) is ascending


def _items(*numbers: int) -> list[dict[str, Any]]:
    return [{"order_seq": f"2026-{n:010d}", "n": n} for n in numbers]


def test_pages_merge_the_partitions_in_order() -> None:
    page, after = orders_rules.merge_page(
        [(_items(1, 4), False), (_items(2, 3, 5), False)], 3, ascending=True
    )
    assert [item["n"] for item in page] == [1, 2, 3]
    assert after == "2026-0000000003"
    page, after = orders_rules.merge_page(
        [(_items(4, 1), False), (_items(5, 3, 2), False)], 3, ascending=False
    )
    assert [item["n"] for item in page] == [5, 4, 3]
    last, after = orders_rules.merge_page([(_items(1), False), (_items(2), False)], 3, ascending=True)
    assert ([item["n"] for item in last], after) == ([1, 2], None)


def test_a_partition_with_more_to_read_bounds_the_page() -> None:
    # the second partition stopped at 3 (1 MB or Limit): 4 in the first must wait for the next page
    page, after = orders_rules.merge_page([(_items(1, 4), False), (_items(2, 3), True)], 10, ascending=True)
    assert [item["n"] for item in page] == [1, 2, 3]
    assert after == "2026-0000000003"


# ------------------------------------------------------------------------------- retry safety


def test_the_stored_order_is_ours_only_when_it_is_exactly_what_we_wrote() -> None:
    written = {"pk": "ORDER#1", "total_amount": Decimal("10.00"), "items": [{"quantity": 2}]}
    # DynamoDB gives numbers back as Decimal without trailing zeros
    assert orders_rules.is_same_item(
        written, {"pk": "ORDER#1", "total_amount": Decimal("10"), "items": [{"quantity": Decimal(2)}]}
    )
    assert not orders_rules.is_same_item(written, {**written, "user_id": "someone else"})
    assert not orders_rules.is_same_item(written, None)


def test_a_status_change_is_ours_when_the_order_carries_its_entry() -> None:
    entry = orders_rules.history_entry("cancelled", "2026-11-30T10:00:00.000001Z", "customer")
    stored = {
        "status": "cancelled",
        "updated_at": entry["at"],
        "history": [orders_rules.history_entry("pending", "2026-11-30T09:00:00.000000Z", "customer"), entry],
    }
    assert orders_rules.status_already_written(stored, "cancelled", entry["at"], entry)
    # someone else's cancel a moment earlier is not ours: the answer stays 409
    other = {**entry, "at": "2026-11-30T10:00:00.000000Z", "by": "admin"}
    assert not orders_rules.status_already_written(
        {**stored, "updated_at": other["at"], "history": [other]}, "cancelled", entry["at"], entry
    )
    assert not orders_rules.status_already_written(
        {**stored, "status": "confirmed"}, "cancelled", entry["at"], entry
    )
    assert not orders_rules.status_already_written(None, "cancelled", entry["at"], entry)

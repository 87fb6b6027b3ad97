"""The order-number port's contract (`ORD-{year}-{6+ digits}`, unique and increasing within a
year, each year on its own), run against the fake counter and `orders_service.next_order_number`
on moto. It asks for no more than that (not consecutive numbers), so the counter may hand them
out in blocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from shop_fakes.orders import OrderNumbers

import orders_rules
import orders_service


@pytest.fixture(params=["fake", "dynamodb"])
def next_number(request: pytest.FixtureRequest) -> Iterator[Callable[[int], str]]:
    if request.param == "fake":
        yield OrderNumbers()
    else:
        request.getfixturevalue("aws")
        yield orders_service.next_order_number


def test_numbers_are_unique_increasing_and_per_year(next_number: Callable[[int], str]) -> None:
    numbers = [next_number(2026) for _ in range(5)]
    other_year = next_number(2027)
    assert all(orders_rules.parse_order_number(n) is not None for n in [*numbers, other_year])
    assert [n[:9] for n in numbers] == ["ORD-2026-"] * 5
    sequences = [orders_rules.order_seq(n) for n in numbers]
    assert sequences == sorted(set(sequences))
    assert other_year.startswith("ORD-2027-")

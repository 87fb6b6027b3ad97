"""Order numbers from blocks reserved on the year's counter (order_numbers, pure): unique across
environments, increasing within one, one counter write per block."""

from __future__ import annotations

import random
import threading

import pytest

import order_numbers
from order_numbers import NumberBlocks


class Counter:
    """The counter item of each year, as `UpdateItem ADD n` with `ReturnValues=UPDATED_NEW` treats it."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def add(self, year: int, count: int) -> int:
        with self._lock:
            self.writes += 1
            self.values[year] = self.values.get(year, 0) + count
            return self.values[year]


def test_one_environment_hands_out_consecutive_numbers_with_one_write_per_block() -> None:
    counter = Counter()
    blocks = NumberBlocks(counter.add, size=10)
    assert [blocks.take(2026) for _ in range(25)] == list(range(1, 26))
    assert counter.writes == 3  # 1-10, 11-20, 21-30
    assert blocks.remaining() == 5


def test_environments_interleaved_never_share_a_number_and_each_increases() -> None:
    counter = Counter()
    environments = [NumberBlocks(counter.add, size=10) for _ in range(5)]
    taken: list[list[int]] = [[] for _ in environments]
    rng = random.Random(18)
    for _ in range(1000):
        index = rng.randrange(len(environments))
        taken[index].append(environments[index].take(2026))
    every = [number for numbers in taken for number in numbers]
    assert len(set(every)) == len(every) == 1000
    for numbers in taken:
        assert numbers == sorted(numbers)
    # at most one partly used block per environment: the writes are about orders / block size
    assert counter.writes <= 1000 // 10 + len(environments)
    assert max(every) <= counter.values[2026]


def test_threads_sharing_one_environment_get_distinct_numbers() -> None:
    counter = Counter()
    blocks = NumberBlocks(counter.add, size=7)
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [blocks.take(2026) for _ in range(200)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 1601))


def test_a_new_year_starts_a_block_of_its_own_counter() -> None:
    counter = Counter()
    blocks = NumberBlocks(counter.add, size=10)
    assert [blocks.take(2026) for _ in range(3)] == [1, 2, 3]
    assert blocks.take(2027) == 1  # the rest of 2026's block is a gap, never reused for 2027
    assert counter.values == {2026: 10, 2027: 10}


def test_a_block_reserved_after_others_starts_where_the_counter_stood() -> None:
    counter = Counter()
    counter.values[2026] = 41  # e.g. numbers taken one by one before blocks, or other environments
    blocks = NumberBlocks(counter.add, size=10)
    assert blocks.take(2026) == 42
    assert blocks.take(2026) == 43


def test_a_failed_reservation_hands_out_nothing_and_the_next_take_retries() -> None:
    counter = Counter()
    calls = 0

    def flaky(year: int, count: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("DynamoDB unreachable")
        return counter.add(year, count)

    blocks = NumberBlocks(flaky, size=10)
    with pytest.raises(ConnectionError):
        blocks.take(2026)
    assert blocks.take(2026) == 1


def test_numbers_are_formatted_with_at_least_six_digits() -> None:
    assert order_numbers.format_order_number(2026, 42) == "ORD-2026-000042"
    assert order_numbers.format_order_number(2026, 1_234_567) == "ORD-2026-1234567"


def test_a_block_holds_at_least_one_number() -> None:
    with pytest.raises(ValueError):
        NumberBlocks(Counter().add, size=0)

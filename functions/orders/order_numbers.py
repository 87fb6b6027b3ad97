"""Order numbers without a hot key: each execution environment reserves a block of numbers with one
write to the year's counter and hands them out itself.

One counter item per year taking one `UpdateItem ADD 1` per order is a hot key: DynamoDB serves one
partition key at up to 1,000 write units per second, and every order pays that write. Here an
environment adds BLOCK_SIZE to the counter once, gets back the new value (the last number of its
block) and serves the block's numbers locally, so N orders cost about N / BLOCK_SIZE counter writes
(plus one per environment that starts).

What a reader sees (docs/architecture.md, "Order numbers"):
- unique: two blocks never overlap, because each comes from one atomic ADD;
- increasing within an environment, and within a year;
- roughly increasing across environments: environment A may still hand out 3 while B, which
  reserved the next block, has handed out 12 already;
- gaps: the unused rest of a block is lost when its environment is stopped (idle, scaled in,
  redeployed), and a new year starts a new block.

Pure: the write is the `reserve` callable that the orders service gives (tested without AWS).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

BLOCK_SIZE = 10

# (year, how many numbers) -> the counter's value after adding them = the block's last number
Reserve = Callable[[int, int], int]


def format_order_number(year: int, sequence: int) -> str:
    """`ORD-{year}-{sequence}`: at least six digits (more once a year passes 999,999)."""
    return f"ORD-{year}-{sequence:06d}"


class NumberBlocks:
    """The numbers this environment still holds for the current year: [next, last]."""

    def __init__(self, reserve: Reserve, size: int = BLOCK_SIZE) -> None:
        if size < 1:
            raise ValueError("a block holds at least one number")
        self._reserve = reserve
        self.size = size
        self._year = 0
        self._next = 1
        self._last = 0
        # One invocation at a time in Lambda; the lock is for in-process use with threads (tests,
        # the local stack's in-process mode), where two requests could take the same number.
        self._lock = threading.Lock()

    def take(self, year: int) -> int:
        """The next number of `year`, reserving a new block when this one is used up."""
        with self._lock:
            if year != self._year or self._next > self._last:
                last = self._reserve(year, self.size)
                # the block is (last - size, last]: ours alone, whatever other environments reserved
                self._year, self._next, self._last = year, last - self.size + 1, last
            number = self._next
            self._next += 1
            return number

    def remaining(self) -> int:
        with self._lock:
            return max(self._last - self._next + 1, 0)

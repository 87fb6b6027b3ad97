"""In-memory twin of `mail_counters.RedisMailCounters`: fixed windows that start with a key's first
request and end `window_seconds` later, with Redis's TTL answer (seconds left, rounded up).
`tests/component/test_mail_counters_contract.py` runs the same tests on both."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from mail_limits import Count


class InMemoryMailCounters:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.windows: dict[str, tuple[int, float]] = {}  # key → (requests, window ends at)

    def count(self, key: str, window_seconds: int) -> Count:
        now = self.clock()
        requests, ends = self.windows.get(key, (0, now + window_seconds))
        if ends <= now:  # expired: a new window
            requests, ends = 0, now + window_seconds
        self.windows[key] = (requests + 1, ends)
        return Count(requests=requests + 1, ttl=math.ceil(ends - now))

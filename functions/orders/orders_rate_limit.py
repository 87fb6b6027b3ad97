"""Per-user limits on orders, sliding windows in Redis.

- Created orders (`ORDER_RATE_LIMIT`, default 3 per 300 s): a request reserves a slot before it
  creates anything and gives it back if the order is then refused or fails, so only orders that
  were really created count.
- Refused attempts (`ORDER_REFUSED_LIMIT`, default 20 per 300 s): a request also reserves an
  attempt slot, given back when the order is created (or fails on our side), kept when the order
  is refused for the client's own mistake (unknown products, bad address ...). A refused order
  can cost up to one product API request per listed product, so without this budget a client
  could make us call upstream without bound. Once it is spent, every order attempt of that user
  is refused (429 `order_attempts_rate_limited`) until the window frees a slot.

Check and reservation are one Lua script (one round trip, atomic): two concurrent requests cannot
both take the last slot. If Redis is down the limits fail open (orders matter more than the
limits) and say so in the log and in the RedisUnavailable metric (alarmed); with REDIS_URL=none
there is no limit at all, by choice. One key per call, so the scripts are cluster-safe as they are.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from shop_shared.config import RateLimit, get_settings
from shop_shared.errors import TooManyRequests
from shop_shared.observability import redis_unavailable

# redis-py (shop_shared.redis_client) is imported by the calls below, not here: only order creation
# uses Redis, so a cold start that serves another orders route does not pay for importing it.

if TYPE_CHECKING:
    from orders_ports import RateLimiter

logger = Logger(service="orders", child=True)

# KEYS[1] the user's sorted set (member: reservation id, score: ms). ARGV: now ms, window ms, limit,
# reservation id. Returns {1, 0} when reserved, {0, ms until the oldest slot frees} when full.
RESERVE_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return {1, 0}
"""


DEFAULT_REFUSED_LIMIT = "20/300"


def rate_limit_key(user_id: str) -> str:
    return f"ratelimit:orders:{user_id}"


def refused_limit_key(user_id: str) -> str:
    return f"ratelimit:order-attempts:{user_id}"


@cache
def refused_limit() -> RateLimit:
    """`ORDER_REFUSED_LIMIT` (read once per container, like the other settings)."""
    return RateLimit.parse(os.environ.get("ORDER_REFUSED_LIMIT", DEFAULT_REFUSED_LIMIT))


class RedisSlidingWindow:
    """The `RateLimiter` port on Redis: one sorted set per key (member: slot, score: ms), checked
    and taken in one Lua script (one round trip, atomic). Raises REDIS_ERRORS (RedisDisabled for
    REDIS_URL=none): failing open is the caller's decision."""

    def reserve(self, key: str, *, slot: str, limit: int, window_ms: int, now_ms: int) -> int:
        from shop_shared.redis_client import get_redis

        allowed, wait_ms = get_redis().register_script(RESERVE_SCRIPT)(
            keys=[key], args=[now_ms, window_ms, limit, slot]
        )
        return 0 if int(allowed) else max(1, int(wait_ms))

    def release(self, key: str, slot: str) -> None:
        from shop_shared.redis_client import get_redis

        get_redis().zrem(key, slot)


@dataclass
class Reservation:
    """A slot in the user's window; `release()` gives it back (an order that was not created)."""

    key: str | None
    member: str | None
    limiter: RateLimiter | None = None

    def release(self) -> None:
        if self.key is None or self.member is None or self.limiter is None:
            return
        from shop_shared.redis_client import REDIS_ERRORS

        try:
            self.limiter.release(self.key, self.member)
        except REDIS_ERRORS:
            # The slot then expires with the window: the user waits a little longer, nothing breaks.
            logger.warning("could not release an order rate-limit reservation", exc_info=True)
        self.key = self.member = None


def reserve(
    user_id: str,
    limit: RateLimit | None = None,
    *,
    now_ms: int | None = None,
    limiter: RateLimiter | None = None,
) -> Reservation:
    """Take one of the user's created-order slots, or raise TooManyRequests (429 with Retry-After)."""
    limit = limit or get_settings().order_rate_limit
    return _reserve(
        limiter or RedisSlidingWindow(),
        rate_limit_key(user_id),
        limit,
        now_ms,
        code="order_rate_limited",
        what="orders",
    )


def reserve_attempt(
    user_id: str,
    limit: RateLimit | None = None,
    *,
    now_ms: int | None = None,
    limiter: RateLimiter | None = None,
) -> Reservation:
    """Take one of the user's order-attempt slots (kept only if the order is refused), or raise
    TooManyRequests (429 with Retry-After)."""
    limit = limit or refused_limit()
    return _reserve(
        limiter or RedisSlidingWindow(),
        refused_limit_key(user_id),
        limit,
        now_ms,
        code="order_attempts_rate_limited",
        what="refused orders",
    )


def _reserve(
    limiter: RateLimiter, key: str, limit: RateLimit, now_ms: int | None, *, code: str, what: str
) -> Reservation:
    from shop_shared.redis_client import REDIS_ERRORS, RedisDisabled

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    member = uuid.uuid4().hex
    try:
        wait_ms = limiter.reserve(
            key, slot=member, limit=limit.limit, window_ms=limit.window_seconds * 1000, now_ms=now_ms
        )
    except REDIS_ERRORS as exc:
        if not isinstance(exc, RedisDisabled):
            logger.warning("order rate limit unavailable (Redis error): failing open", exc_info=True)
            redis_unavailable("order_rate_limit")
        return Reservation(None, None)
    if wait_ms:
        retry_after = max(1, math.ceil(wait_ms / 1000))
        raise TooManyRequests(
            f"Too many {what}: at most {limit.limit} every {limit.window_seconds} seconds. "
            f"Try again in {retry_after} seconds.",
            retry_after=retry_after,
            code=code,
        )
    return Reservation(key, member, limiter)

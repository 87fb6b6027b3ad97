"""One Redis client (and its connection pool) per container.

Timeouts are short and retries few: Redis is a cache and a limiter here, so when it is down the
callers carry on without it (they catch `redis.RedisError`) instead of waiting on it.
"""

from __future__ import annotations

from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop_shared.config import get_settings


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        get_settings().redis_url,
        decode_responses=True,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )

"""One Redis client (and its connection pool) per container: a cluster client or a single-node one.

Timeouts are short and retries few: Redis is a cache and a limiter here, so when it is down the
callers carry on without it (they catch `REDIS_ERRORS`) instead of waiting on it.

- `REDIS_URL` "none": deployed without Redis on purpose; `get_redis()` raises `RedisDisabled`.
- `REDIS_CLUSTER` "true" (ElastiCache Serverless, cluster-mode groups), "false", or "auto": ask
  the server (a node with cluster mode disabled says so when asked for its slots).
- `REDIS_AUTH_SECRET_ARN`: the AUTH password (or `{"username", "password"}` of an RBAC user) is read
  from Secrets Manager, never from the URL or an environment variable. `rediss://` turns TLS on.

In cluster mode a multi-key command or a transaction must keep to one hash slot: keys that are
used together share a hash tag (see products_client).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlparse

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from shop_shared.config import get_settings

# What a caller that carries on without Redis catches: the cluster client raises some errors
# (a slot without a node, a cross-slot transaction) that are not RedisErrors.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)

TIMEOUTS: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


class RedisDisabled(redis.ConnectionError):
    """The stack was deployed with RedisUrl=none: no cache, no rate limits."""


def redis_enabled() -> bool:
    return get_settings().redis_url.strip().lower() != "none"


def _credentials() -> dict[str, str]:
    arn = get_settings().redis_auth_secret_arn
    if not arn:
        return {}
    # boto3 only where Redis has a password: the products function needs no AWS API otherwise, and
    # importing boto3 is most of a cold start (`import boto3` + a client is the benchmark's floor).
    from shop_shared import aws

    try:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    except Exception as exc:  # botocore's errors: the caller treats it as Redis being unreachable
        raise redis.ConnectionError(f"could not read the Redis AUTH secret: {type(exc).__name__}") from exc
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw
    if isinstance(parsed, dict):
        found = {"password": str(parsed.get("password", ""))}
        if parsed.get("username"):
            found["username"] = str(parsed["username"])
        return found
    return {"password": str(raw)}


def _connect() -> redis.Redis | RedisCluster:
    settings = get_settings()
    options: dict[str, Any] = {"decode_responses": True, **TIMEOUTS, **_credentials()}
    # A cluster has database 0 only: a URL naming another one is a single node (or a mistake that
    # RedisCluster then reports).
    other_db = urlparse(settings.redis_url).path.strip("/") not in ("", "0")
    if settings.redis_cluster == "true" or (settings.redis_cluster == "auto" and not other_db):
        try:
            # Connects now: reads the slot map from the first node that answers.
            return RedisCluster.from_url(settings.redis_url, retry=Retry(NoBackoff(), 1), **options)
        except RedisClusterException as exc:
            if settings.redis_cluster == "true" or "cluster mode is not enabled" not in str(exc).lower():
                raise redis.ConnectionError(f"Redis cluster unavailable: {exc}") from exc
    return redis.Redis.from_url(
        settings.redis_url, retry=Retry(NoBackoff(), 1), health_check_interval=30, **options
    )


@cache
def get_redis() -> Any:
    """The container's client (`redis.Redis` or `RedisCluster`, same command API). Raises a
    `redis.ConnectionError` when Redis is disabled or (cluster) unreachable: call it inside the
    `try` that handles Redis being down. Typed Any: the two clients share no declared base."""
    if not redis_enabled():
        raise RedisDisabled("Redis is disabled (REDIS_URL=none)")
    return _connect()

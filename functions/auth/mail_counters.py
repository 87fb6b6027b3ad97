"""The e-mail limits' counters and the two checks the routes call (rule: `mail_limits`).

Counters are fixed windows in Redis beside the login throttle's: `INCR`, `EXPIRE … NX` (the
window starts at the first request) and `TTL` in one MULTI, one key each, so every round trip
stays in one cluster slot:

- `mail:client:{203.0.113.7}`: requests from a client address to register / password-reset /
  verify-email/resend;
- `mail:rcpt:{<sha256 of the address>}`: password reset requests for one address (hashed: Redis
  holds no e-mail addresses).

The password reset asks the client's counter first and the recipient's only if the client is
within its budget: two round trips there, because the two keys live in different slots.

Redis configured but unreachable: **not limited** (fail open), logged and counted in the
RedisUnavailable metric (its alarm fires). Refusing would stop registration and every password
reset, the locked-out user's only way back, for as long as Redis is down; the exposure meanwhile
is bounded by the stage throttle and SES's own sending quota (docs/architecture.md, "Limits on
e-mail"). Deployed without Redis on purpose (REDIS_URL=none): no limits.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Protocol

from aws_lambda_powertools import Logger

import mail_limits
from mail_limits import Count, Policy
from shop_shared.config import RateLimit
from shop_shared.errors import TooManyRequests
from shop_shared.tokens import digest

logger = Logger(service="auth", child=True)

DEFAULT_CLIENT_LIMIT = "30/3600"  # template.yaml MailClientLimit
DEFAULT_RECIPIENT_LIMIT = "3/3600"  # template.yaml MailRecipientLimit (DESIGN part 5: 3 per hour)


class MailCounters(Protocol):
    def count(self, key: str, window_seconds: int) -> Count:
        """Count one request under `key`; its window starts with the key's first request."""


class Unavailable(Exception):
    """The counters could not be reached: the caller goes on unlimited (fail open)."""


class RedisMailCounters:
    def count(self, key: str, window_seconds: int) -> Count:
        from shop_shared.redis_client import REDIS_ERRORS, RedisDisabled, get_redis

        try:
            pipe = get_redis().pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, window_seconds, nx=True)
            pipe.ttl(key)
            requests, _, ttl = pipe.execute()
        except RedisDisabled:
            return Count(requests=0, ttl=-2)  # no Redis on purpose: nothing is counted or limited
        except REDIS_ERRORS as exc:
            raise Unavailable(type(exc).__name__) from exc
        return Count(requests=int(requests), ttl=int(ttl))


def policy() -> Policy:
    return Policy(
        per_client=RateLimit.parse(os.environ.get("MAIL_CLIENT_LIMIT", DEFAULT_CLIENT_LIMIT)),
        per_recipient=RateLimit.parse(os.environ.get("MAIL_RECIPIENT_LIMIT", DEFAULT_RECIPIENT_LIMIT)),
    )


@cache
def counters() -> MailCounters:
    return RedisMailCounters()


def admit_client(address: str, store: MailCounters | None = None, rules: Policy | None = None) -> None:
    """Count a mail-sending request from this client address; 429 `too_many_requests` past its budget."""
    rules = rules or policy()
    count = _count(store or counters(), f"mail:client:{{{address}}}", rules.per_client.window_seconds)
    wait = None if count is None else mail_limits.client_retry_after(count, rules.per_client)
    if wait is not None:
        logger.warning("mail budget of a client address spent", extra={"retry_after": wait})
        raise TooManyRequests(
            "Too many requests from your address, please try again later",
            retry_after=wait,
            code="too_many_requests",
        )


def may_mail_recipient(email: str, store: MailCounters | None = None, rules: Policy | None = None) -> bool:
    """Count a password reset request for this address; False once its e-mails are spent."""
    rules = rules or policy()
    key = f"mail:rcpt:{{{digest(mail_limits.normalized_recipient(email))}}}"
    count = _count(store or counters(), key, rules.per_recipient.window_seconds)
    if count is None or mail_limits.recipient_may_be_mailed(count, rules.per_recipient):
        return True
    logger.info("password reset e-mails of an address spent: answered, not sent")
    return False


def _count(store: MailCounters, key: str, window_seconds: int) -> Count | None:
    try:
        return store.count(key, window_seconds)
    except Unavailable as exc:
        from shop_shared.observability import redis_unavailable

        logger.warning("mail limiter unavailable, not limiting", extra={"error": str(exc)})
        redis_unavailable("mail_limits")
        return None

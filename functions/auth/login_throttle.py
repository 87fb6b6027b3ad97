"""Login throttling per username AND client address (DESIGN "Accounts and sessions").

- Per (username, address): more than `per_address` (5) attempts from one address in the window
  → 429 for that address. Counted before the password is checked, so a burst of parallel guesses
  is counted too; a success at that address starts its count afresh.
- Per username, over all addresses: `per_username` (100) failed passwords in the window → 429 for
  everyone. A ceiling on guessing from many addresses, high enough that locking someone out
  takes 20 addresses. Only attempts that reached the password check and failed count here, so
  an address hammering after its own 429 cannot push the username over it.

`decide` is the rule (pure); the rest is the Redis adapter: two keys sharing the username as hash
tag (`login:{alice}:addr:203.0.113.7`, `login:{alice}:failures`), so each pipeline stays in one
cluster slot. One round trip before the check, one after it (the failure, or the success's reset).
Redis configured but unreachable: logins are refused (503 `login_unavailable`, Retry-After 30) and
counted in the RedisUnavailable metric: unlimited guessing during an outage would be a brute-force
window (docs/deploying.md). Deployed without Redis on purpose (REDIS_URL=none): no throttle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from redis.client import Pipeline

logger = Logger(service="auth", child=True)


@dataclass(frozen=True)
class Policy:
    per_address: int
    per_username: int
    window_seconds: int


@dataclass(frozen=True)
class Counts:
    address_attempts: int  # at this address, this attempt included
    address_ttl: int  # seconds left in that window (Redis TTL: -1/-2 when it has none)
    username_failures: int  # failed checks of this username from any address
    username_ttl: int


def decide(counts: Counts, policy: Policy) -> int | None:
    """None: go on and check the password. Otherwise the seconds to wait (Retry-After)."""
    if counts.address_attempts > policy.per_address:
        return _wait(counts.address_ttl, policy)
    if counts.username_failures >= policy.per_username:
        return _wait(counts.username_ttl, policy)
    return None


def _wait(ttl: int, policy: Policy) -> int:
    return ttl if 0 < ttl <= policy.window_seconds else policy.window_seconds


# --- Redis -------------------------------------------------------------------------------------


# What is counted: logins (by username), or the current-password checks of a signed-in user (a
# password or e-mail change, by user id): the same policy, separate counts (issue 26, item 6).
LOGIN, PASSWORD_CHECK = "login", "password_check"


def _keys(username: str, address: str, scope: str = LOGIN) -> tuple[str, str]:
    tag = "{" + username.lower() + "}"
    return f"{scope}:{tag}:addr:{address}", f"{scope}:{tag}:failures"


def policy() -> Policy:
    from shop_shared.config import get_settings

    settings = get_settings()
    return Policy(
        per_address=settings.login_max_failures,
        per_username=settings.login_max_failures_per_username,
        window_seconds=settings.login_failure_window_seconds,
    )


def check(username: str, address: str, *, scope: str = LOGIN) -> int | None:
    """Count this attempt at its address and decide (one MULTI round trip). None: go ahead."""
    from shop_shared.errors import ServiceUnavailable
    from shop_shared.observability import redis_unavailable
    from shop_shared.redis_client import REDIS_ERRORS, RedisDisabled, get_redis

    rules = policy()
    address_key, username_key = _keys(username, address, scope)
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.incr(address_key)
        pipe.expire(address_key, rules.window_seconds, nx=True)  # the window starts at the first
        pipe.ttl(address_key)
        pipe.get(username_key)
        pipe.ttl(username_key)
        attempts, _, address_ttl, failures, username_ttl = pipe.execute()
    except RedisDisabled:
        return None
    except REDIS_ERRORS as exc:
        # Issued tokens keep working (the authorizer does not use Redis); new logins wait.
        logger.warning("login limiter unavailable, refusing logins", extra={"error": type(exc).__name__})
        redis_unavailable("login_throttle")
        raise ServiceUnavailable(
            "Login is temporarily unavailable, please try again shortly",
            code="login_unavailable",
            headers={"Retry-After": "30"},
        ) from exc
    counts = Counts(int(attempts), int(address_ttl), int(failures or 0), int(username_ttl))
    return decide(counts, rules)


def failed(username: str, *, scope: str = LOGIN) -> None:
    """A wrong password (or unknown user): one more towards the username's ceiling."""
    rules = policy()
    _, username_key = _keys(username, "", scope)

    def queue(pipe: Pipeline) -> None:
        pipe.incr(username_key)
        pipe.expire(username_key, rules.window_seconds, nx=True)

    _execute(queue)


def succeeded(username: str, address: str, *, scope: str = LOGIN) -> None:
    """The right password: this address starts afresh."""
    address_key, _ = _keys(username, address, scope)
    _execute(lambda pipe: pipe.delete(address_key))


def _execute(queue: Callable[[Pipeline], Any]) -> None:
    from shop_shared.redis_client import REDIS_ERRORS, get_redis

    try:
        pipe = get_redis().pipeline(transaction=True)
        queue(pipe)
        pipe.execute()
    except REDIS_ERRORS as exc:
        logger.warning("could not record a login attempt", extra={"error": type(exc).__name__})

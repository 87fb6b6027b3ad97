"""Limits on the routes that send e-mail (DESIGN part 5): the rule, with no I/O.

Two budgets, both fixed windows that start with their first request:

- Per client address (`requestContext.identity.sourceIp`), shared by every route that mails
  someone who has not proved they own the address (register, password reset, verification
  resend): over `per_client` requests in the window → 429 `too_many_requests` with Retry-After.
  The client sees the refusal: it says nothing about any account.
- Per recipient, on the password reset only (anyone may ask for it, for any address): over
  `per_recipient` requests for one address in the window → still 202, and no e-mail. The answer
  must not differ, or the limit would tell which addresses have accounts.

A request refused by the client budget does not count towards the recipient's: a client that is
already refused cannot use up someone's reset e-mails (the adapter asks in that order).

The counters live in Redis (`mail_counters`); this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_shared.config import RateLimit


@dataclass(frozen=True)
class Policy:
    per_client: RateLimit  # mail-sending requests per client address
    per_recipient: RateLimit  # password reset e-mails per address


@dataclass(frozen=True)
class Count:
    """A counter after this request was counted: the requests in its window, this one included,
    and the seconds left in the window (Redis TTL: -1 or -2 when the key has none)."""

    requests: int
    ttl: int


def client_retry_after(count: Count, limit: RateLimit) -> int | None:
    """None: within the client's budget. Otherwise the seconds to wait (Retry-After)."""
    if count.requests <= limit.limit:
        return None
    return count.ttl if 0 < count.ttl <= limit.window_seconds else limit.window_seconds


def recipient_may_be_mailed(count: Count, limit: RateLimit) -> bool:
    """Whether this request may still send the address an e-mail."""
    return count.requests <= limit.limit


def normalized_recipient(email: str) -> str:
    """One counter per mailbox as the users table sees it: e-mail addresses are compared
    case-insensitively, whole address (DESIGN part 1)."""
    return email.strip().lower()

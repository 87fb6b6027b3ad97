"""Settings read from the environment (set per function by template.yaml, or by the local stack)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`3/300` means 3 events per 300 seconds."""
        try:
            limit, window = text.split("/", 1)
            parsed = cls(int(limit), int(window))
        except ValueError as exc:
            raise ValueError(f"rate limit must look like '3/300', got {text!r}") from exc
        if parsed.limit < 1 or parsed.window_seconds < 1:
            raise ValueError(f"rate limit must be positive, got {text!r}")
        return parsed


@dataclass(frozen=True)
class Settings:
    stage: str
    users_table: str
    orders_table: str
    idempotency_table: str
    order_events_topic_arn: str
    redis_url: str
    product_api_url: str
    sender_email: str
    jwt_secret_arn: str
    jwt_ttl_seconds: int  # access tokens
    refresh_ttl_seconds: int  # a session (its refresh tokens)
    password_reset_ttl_seconds: int
    email_verification_ttl_seconds: int
    storefront_url: str  # where the links in account e-mails point
    order_rate_limit: RateLimit
    login_max_failures: int  # per username and client address
    login_max_failures_per_username: int  # over all addresses (functions/auth/login_throttle.py)
    login_failure_window_seconds: int
    product_api_timeout_seconds: float


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@cache
def get_settings() -> Settings:
    """Read once per container; tests that change the environment call `get_settings.cache_clear()`."""
    return Settings(
        stage=_env("STAGE", "dev"),
        users_table=_env("USERS_TABLE", "UsersTable"),
        orders_table=_env("ORDERS_TABLE", "OrdersTable"),
        idempotency_table=_env("IDEMPOTENCY_TABLE", "IdempotencyTable"),
        order_events_topic_arn=_env("ORDER_EVENTS_TOPIC_ARN"),
        redis_url=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        product_api_url=_env("PRODUCT_API_URL", "https://fakestoreapi.in/api").rstrip("/"),
        sender_email=_env("SENDER_EMAIL", "orders@example.com"),
        jwt_secret_arn=_env("JWT_SECRET_ARN"),
        jwt_ttl_seconds=int(_env("JWT_TTL_SECONDS", "900")),
        refresh_ttl_seconds=int(_env("REFRESH_TOKEN_TTL_SECONDS", "86400")),
        password_reset_ttl_seconds=int(_env("PASSWORD_RESET_TTL_SECONDS", "1800")),
        email_verification_ttl_seconds=int(_env("EMAIL_VERIFICATION_TTL_SECONDS", "172800")),
        storefront_url=_env("STOREFRONT_URL", "http://127.0.0.1:3000").rstrip("/"),
        order_rate_limit=RateLimit.parse(_env("ORDER_RATE_LIMIT", "3/300")),
        login_max_failures=int(_env("LOGIN_MAX_FAILURES", "5")),
        login_max_failures_per_username=int(_env("LOGIN_MAX_FAILURES_PER_USERNAME", "100")),
        login_failure_window_seconds=int(_env("LOGIN_FAILURE_WINDOW_SECONDS", "900")),
        product_api_timeout_seconds=float(_env("PRODUCT_API_TIMEOUT_SECONDS", "3")),
    )

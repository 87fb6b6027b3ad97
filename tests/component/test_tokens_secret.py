"""The JWT secret (shop_shared.tokens.jwt_secret) as fetched from Secrets Manager: moto, and a
silent endpoint on a loopback port."""

from __future__ import annotations

import time

import boto3
import pytest

from shop_shared.tokens import decode_token, issue_token, jwt_secret

CLAIMS = {"user_id": "u-1", "username": "jane", "email": "jane@example.com", "role": "customer"}


def token(secret: str) -> str:
    issued, _ = issue_token(**CLAIMS, secret=secret, ttl_seconds=3600)  # type: ignore[arg-type]
    return issued


def test_jwt_secret_comes_from_secrets_manager(aws: object) -> None:
    secret = jwt_secret()
    assert len(secret) >= 32
    assert decode_token(token(secret=secret), secret).user_id == "u-1"


def test_jwt_secret_refuses_a_short_secret(aws: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from shop_shared.config import get_settings

    arn = boto3.client("secretsmanager").create_secret(Name="short-one", SecretString="too-short")["ARN"]
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        jwt_secret()
    monkeypatch.setenv("JWT_SECRET_ARN", "")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        jwt_secret()
    get_settings.cache_clear()


def test_an_unreachable_secrets_manager_fails_within_the_authorizers_timeout(
    monkeypatch: pytest.MonkeyPatch, new_container
) -> None:
    """A function in a VPC with no way out: the secret fetch must give up well inside the
    authorizer's 5 s timeout (botocore's defaults wait 60 s per read), so the route answers a clean
    error instead of the authorizer timing out."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the kernel's backlog; nothing ever answers
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt")
    new_container()
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            jwt_secret()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=fetch, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=4.0)
    try:
        assert not worker.is_alive(), "the secret fetch was still waiting after 4 s"
        assert outcome, "the secret fetch should have failed"
        assert time.monotonic() - started < 4.0
    finally:
        silent.close()
        new_container()

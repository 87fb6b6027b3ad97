"""shop_shared.redis_client: the AUTH password comes from Secrets Manager (never the URL or the
environment), against a real redis-server started with `--requirepass` on 127.0.0.1:7110; and the
client kind follows REDIS_CLUSTER (the cluster itself: tests/integration/test_redis_cluster.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import boto3
import pytest
import redis
from moto import mock_aws

from shop_local.testing import wait_until

PORT = 7110
PASSWORD = "s3cret-for-the-shop-tests"

# Needs the machine's redis-server (.ci/run relies on it too): missing, the fixture fails, never a skip.


@pytest.fixture(scope="module")
def protected_redis() -> Iterator[str]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: redis.Redis(port=PORT, password=PASSWORD).ping(), timeout=10, interval=0.05,
                   ignoring=(redis.ConnectionError,))  # fmt: skip
        yield f"redis://127.0.0.1:{PORT}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, new_container) -> Iterator[object]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        new_container()
        yield boto3.client("secretsmanager", region_name="us-east-1")
    new_container()


def use(monkeypatch: pytest.MonkeyPatch, new_container, url: str, secret_arn: str = "") -> object:
    from shop_shared.redis_client import get_redis

    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("REDIS_CLUSTER", "auto")
    monkeypatch.setenv("REDIS_AUTH_SECRET_ARN", secret_arn)
    new_container()
    return get_redis()


@pytest.mark.parametrize(
    "secret",
    [PASSWORD, json.dumps({"username": "default", "password": PASSWORD})],
    ids=["plain", "rbac-json"],
)
def test_the_password_comes_from_the_secret(
    protected_redis, secrets, monkeypatch, new_container, secret
) -> None:
    arn = secrets.create_secret(Name="shop/redis", SecretString=secret)["ARN"]
    client = use(monkeypatch, new_container, protected_redis, arn)
    assert isinstance(client, redis.Redis)  # auto: a single node, not a cluster
    assert client.ping() is True
    client.set("shop:auth-check", "1", ex=5)


def test_without_the_secret_redis_refuses(protected_redis, secrets, monkeypatch, new_container) -> None:
    with pytest.raises(redis.RedisError):
        use(monkeypatch, new_container, protected_redis).ping()


def test_an_unreadable_secret_counts_as_redis_being_down(
    protected_redis, secrets, monkeypatch, new_container
) -> None:
    """Callers treat it like an outage (their `except REDIS_ERRORS`), not as a 500."""
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nothing-here"
    with pytest.raises(redis.ConnectionError, match="Redis AUTH secret"):
        use(monkeypatch, new_container, protected_redis, missing)


def test_none_disables_redis(monkeypatch, new_container) -> None:
    from shop_shared.redis_client import RedisDisabled, redis_enabled

    with pytest.raises(RedisDisabled):
        use(monkeypatch, new_container, "none")
    assert not redis_enabled()

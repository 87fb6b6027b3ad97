"""Fixtures shared by every test.

- `redis_url`: the real Redis on 127.0.0.1:6379, on a database of the test run's own
  (SHOP_TEST_REDIS_DB, default 14), emptied before and after.
- `aws`: moto in-process with every resource of template.yaml created from the template itself,
  and the environment a function gets from the template (tables, topic, secret ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

TEST_REDIS_DB = int(os.environ.get("SHOP_TEST_REDIS_DB", "14"))
REDIS_BASE = os.environ.get("SHOP_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = f"{REDIS_BASE}/{TEST_REDIS_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_BASE}: start it (see .ci/run)")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database, emptied after the test."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.flushdb()
    client.close()


def reset_container_caches() -> None:
    """Forget what a warm Lambda container keeps (settings, clients, cached secrets)."""
    from aws_lambda_powertools.utilities import parameters

    from shop_shared import aws, config, redis_client

    config.get_settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb.cache_clear()
    aws.table.cache_clear()
    redis_client.get_redis.cache_clear()
    parameters.clear_caches()


@pytest.fixture
def aws(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto in-process, provisioned from template.yaml, with the functions' environment set."""
    from moto import mock_aws

    from shop_local.provision import provision
    from shop_local.template import Template

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        template = provision(Template(parameter_overrides={"TracingEnabled": "false"}))
        env: dict[str, str] = {}
        for spec in template.functions().values():
            env.update(spec.environment)
        env["REDIS_URL"] = redis_url
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_container_caches()
        yield template
        reset_container_caches()

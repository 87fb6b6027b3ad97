"""Fixtures shared by every test. The tiers (tests/unit, component, integration, e2e, template) are
described in README "Testing"; tests/unit refuses every fixture here that needs a service.

Redis databases: each pytest-xdist worker gets two databases of its own on the real Redis
(SHOP_TEST_REDIS, default redis://127.0.0.1:6379), counted from SHOP_TEST_REDIS_DB (default 8):
worker N uses `base + 2N` for the component fixtures (flushed) and `base + 2N + 1` for its session
stack (never flushed by a test), so two workers use databases 8-11.

- `redis_url`: the component database, emptied before and after.
- `aws`: moto in-process with every resource of template.yaml created from the template itself,
  and the environment a function gets from the template (tables, topic, secret ...).
- `product_api`: the product API stand-in over real HTTP, PRODUCT_API_URL and REDIS_URL set
  (`.url`, `.calls(path)`, `.stats()`, `.fault("down"|"slow"|"ok", seconds)`).
- `new_container`: forget the per-container caches after changing the environment.
- `stack`: the whole local stack, once per worker, on the stack database (`stack_redis_url`).
- `sample_confirmation_lines`: what the confirmation of the sample order
  (events/email-order-created.json) says, in its text and its HTML alike: rendered
  (unit/test_email_rendering) and as sent through SES (component/test_email_sender).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

import pytest
import redis

# argon2-cffi's profile for tests, in this process and in every stack it starts (each passes it to
# its functions): the suite hashes and verifies a few thousand passwords, 0.2 s of CPU each with
# the production profile (shop_shared.passwords; docs/testing.md, "Password hashing in the tests").
# `PASSWORD_HASH_PROFILE=RFC_9106_LOW_MEMORY make test` runs it with the production one.
os.environ.setdefault("PASSWORD_HASH_PROFILE", "CHEAPEST")

TEST_REDIS_DB = int(os.environ.get("SHOP_TEST_REDIS_DB", "8"))
REDIS_BASE = os.environ.get("SHOP_TEST_REDIS", "redis://127.0.0.1:6379")
COMPONENT, STACK = 0, 1  # the two databases of a worker


def worker_index() -> int:
    """0 without xdist, N on xdist's worker `gwN`."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def redis_db(role: int) -> int:
    db = TEST_REDIS_DB + 2 * worker_index() + role
    if db > 15:
        pytest.fail(
            f"Redis database {db} does not exist: lower SHOP_TEST_REDIS_DB or run fewer xdist workers"
        )
    return db


def _fresh_database(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_BASE}: start it (see .ci/run)")
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The component database of this worker: emptied before and after the session, and by
    `redis_conn` and `product_api` after and before each test."""
    url = f"{REDIS_BASE}/{redis_db(COMPONENT)}"
    client = _fresh_database(url)
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

    from shop_shared import aws, config, products_client, redis_client, tokens

    config.get_settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb.cache_clear()
    aws.table.cache_clear()
    redis_client.get_redis.cache_clear()
    products_client.http_session.cache_clear()
    parameters.clear_caches()
    tokens._secrets.cache_clear()
    orders_service = sys.modules.get("orders_service")
    if orders_service is not None:  # the environment's block of order numbers
        orders_service._number_blocks.cache_clear()


@pytest.fixture
def new_container() -> Callable[[], None]:
    """`reset_container_caches` for tests (`conftest` is not importable by name: there are several).
    Call it after changing the environment, as a fresh Lambda container would read it."""
    return reset_container_caches


@pytest.fixture
def aws(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto in-process, provisioned from template.yaml, with the functions' environment set."""
    from moto import mock_aws

    from sam_runner.builder import build

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        built = build()
        template = built.template
        env = built.function_environment()  # every function's: the unit tests call any handler
        env["REDIS_URL"] = redis_url
        # every proxy_event comes from 127.0.0.1: the e-mail budget per client address is tested
        # where a test chooses it (tests/unit/test_mail_limit_rules.py, tests/integration/test_mail_limits.py)
        env["MAIL_CLIENT_LIMIT"] = "1000000/3600"
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_container_caches()
        yield template
        reset_container_caches()


class ProductApi:
    """The product API stand-in (shop_local.standin) serving real HTTP on a loopback port."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.url = f"{root}/api"  # what PRODUCT_API_URL points at

    def stats(self) -> dict[str, int]:
        """Requests the stand-in received per path (e.g. `/api/products/7`) since the last reset."""
        import requests

        return dict(requests.get(f"{self.root}/_standin/stats", timeout=5).json()["requests"])

    def calls(self, path: str) -> int:
        return self.stats().get(path, 0)

    def reset_stats(self) -> None:
        import requests

        requests.delete(f"{self.root}/_standin/stats", timeout=5).raise_for_status()

    def fault(self, mode: str, seconds: float = 0.0) -> None:
        """`down` (503 for /api/*), `slow` (sleep `seconds` first) or `ok`."""
        import requests

        body = {"mode": mode, "seconds": seconds}
        requests.post(f"{self.root}/_standin/faults", json=body, timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def _product_api_server() -> Iterator[ProductApi]:
    import threading

    from werkzeug.serving import make_server

    from shop_local.standin import make_app

    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="product-api-standin", daemon=True)
    thread.start()
    yield ProductApi(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def product_api(
    _product_api_server: ProductApi, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProductApi]:
    """The stand-in with fresh stats and no fault, PRODUCT_API_URL and REDIS_URL pointing at it and
    at the (emptied) test Redis database. With `aws`, request it after `aws`, which sets the
    template's PRODUCT_API_URL."""
    api = _product_api_server
    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("PRODUCT_API_URL", api.url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    api.fault("ok")
    api.reset_stats()
    reset_container_caches()
    yield api
    api.fault("ok")
    reset_container_caches()


@pytest.fixture(scope="session")
def stack_redis_url() -> Iterator[str]:
    """The session stack's database: emptied when the session starts, never by a test."""
    url = f"{REDIS_BASE}/{redis_db(STACK)}"
    client = _fresh_database(url)
    yield url
    client.close()


@pytest.fixture(scope="session")
def stack(stack_redis_url: str) -> Iterator[object]:
    """The whole local stack (`shop dev --port 0`) in a subprocess, once per test session (once per
    xdist worker), on its own Redis database (`stack.redis_url`): a `shop_local.testing.ShopStack`
    (see its docstring for what it offers: `url`, `get/post/put/delete`, `new_user()`, `client()`,
    `emails()`, `wait_for_emails()`, `fail()`, `slow()`, `clear_faults()` ...)."""
    from shop_local.testing import ShopStack

    with ShopStack(redis_url=stack_redis_url) as running:
        yield running


@pytest.fixture
def sample_confirmation_lines() -> tuple[str, ...]:
    return (
        "Hello Ada,",
        "Wireless Mouse x 2 = $59.98",
        "x 1 = $1,029.99",
        "Total: $1,089.97",
        "Payment method: Credit card",
    )

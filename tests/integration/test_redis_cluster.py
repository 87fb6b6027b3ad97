"""The Redis code against a real Redis Cluster, as ElastiCache Serverless runs it (cluster mode only).

The test starts three `redis-server --cluster-enabled yes` nodes on loopback (ports 7101-7103),
joins them with `redis-cli --cluster create`, and stops them at the end. A multi-key command or a
transaction whose keys hash to different slots fails there with CROSSSLOT, which the code would
swallow as "Redis down" and fall back to upstream: so these tests also check that the cache really
served the second read.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from shop_local.testing import wait_until

PORTS = (7101, 7102, 7103)
ROOT_URL = f"redis://127.0.0.1:{PORTS[0]}"

# Needs the machine's redis-server and redis-cli (.ci/run relies on them too): missing, the
# fixture fails, never a skip.


def _wait(check, what: str, timeout: float = 15.0) -> None:
    try:
        wait_until(check, timeout=timeout, interval=0.1, ignoring=(redis.RedisError, OSError))
    except AssertionError:
        raise RuntimeError(f"timed out waiting for {what}") from None


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    folder = Path("/tmp/deploy") / f"cluster-{uuid.uuid4().hex[:8]}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in PORTS:
            node = folder / str(port)
            node.mkdir(parents=True)
            processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(node / "nodes.conf"),
                        "--cluster-node-timeout", "2000",
                        "--dir", str(node),
                        "--save", "",
                        "--appendonly", "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in PORTS:
            _wait(lambda port=port: redis.Redis(port=port).ping(), f"node {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in PORTS], "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        _wait(
            lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in PORTS),
            "cluster_state:ok",
        )
        yield ROOT_URL
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def on_cluster(
    cluster: str, product_api, monkeypatch: pytest.MonkeyPatch, new_container
) -> Iterator[RedisCluster]:
    """The functions' settings pointed at the cluster (as `RedisClusterMode=true` deploys them)."""
    monkeypatch.setenv("REDIS_URL", cluster)
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    new_container()
    client = RedisCluster.from_url(cluster, decode_responses=True)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    client.close()
    new_container()


def no_redis_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "redis" in r.getMessage().lower() and r.levelno >= logging.WARNING
    ]


def test_the_cluster_really_refuses_multi_slot_commands(on_cluster: RedisCluster) -> None:
    """The premise: without a shared hash tag, an MGET of two products fails on a cluster."""
    slots = {on_cluster.keyslot(f"product:{i}") for i in range(1, 20)}
    assert len(slots) > 1
    with pytest.raises((redis.RedisError, redis.exceptions.RedisClusterException)):
        on_cluster.mget([f"product:{i}" for i in range(1, 20)])


def test_auto_mode_picks_the_cluster_client(
    cluster: str, monkeypatch: pytest.MonkeyPatch, new_container
) -> None:
    from shop_shared.redis_client import get_redis

    monkeypatch.setenv("REDIS_URL", cluster)
    monkeypatch.setenv("REDIS_CLUSTER", "auto")
    new_container()
    try:
        assert isinstance(get_redis(), RedisCluster)
    finally:
        new_container()


def test_products_are_cached_and_served_from_the_cluster(
    on_cluster: RedisCluster, product_api, caplog: pytest.LogCaptureFixture
) -> None:
    from shop_shared import products_client

    ids = list(range(1, 13))
    first = products_client.get_products(ids)
    assert sorted(first) == ids
    assert sum(product_api.calls(f"/api/products/{i}") for i in ids) == len(ids)

    again = products_client.get_products(ids)  # one MGET across the cluster: every product a hit

    assert again == first
    assert sum(product_api.calls(f"/api/products/{i}") for i in ids) == len(ids)
    assert all(on_cluster.ttl(products_client.product_key(i)) > 3000 for i in ids)
    assert not on_cluster.keys("*lock*")  # the single-flight locks were released
    assert no_redis_warnings(caplog) == []


def test_a_listing_warms_the_cluster_cache(on_cluster: RedisCluster, product_api, caplog) -> None:
    from shop_shared import products_client

    page = products_client.list_products(page=1, limit=5)
    calls = product_api.stats()
    assert products_client.list_products(page=1, limit=5) == page
    assert products_client.get_products([p.id for p in page]) == {p.id: p for p in page}
    assert product_api.stats() == calls  # the listing and its products: all from the cache
    assert products_client.list_categories() == products_client.list_categories()
    assert no_redis_warnings(caplog) == []


def test_the_order_rate_limit_holds_on_the_cluster(on_cluster: RedisCluster, caplog) -> None:
    import orders_rate_limit
    from shop_shared.config import RateLimit
    from shop_shared.errors import TooManyRequests

    limit = RateLimit(2, 60)
    first = orders_rate_limit.reserve("user-a", limit)
    orders_rate_limit.reserve("user-a", limit)
    with pytest.raises(TooManyRequests):
        orders_rate_limit.reserve("user-a", limit)
    orders_rate_limit.reserve("user-b", limit)  # another user, another slot of the cluster
    first.release()
    orders_rate_limit.reserve("user-a", limit)  # the released slot is free again
    assert no_redis_warnings(caplog) == []


def test_the_login_throttle_counts_on_the_cluster(on_cluster: RedisCluster, caplog) -> None:
    import login_throttle

    per_address = login_throttle.policy().per_address
    answers = [login_throttle.check("Jane", "203.0.113.7") for _ in range(per_address + 1)]
    assert answers[:-1] == [None] * per_address
    assert answers[-1] is not None and answers[-1] > 0  # that address waits
    assert login_throttle.check("jane", "203.0.113.8") is None  # another address does not
    login_throttle.failed("jane")
    login_throttle.succeeded("jane", "203.0.113.7")
    assert login_throttle.check("jane", "203.0.113.7") is None  # a success starts afresh
    # both keys of the username live in one slot (its hash tag), on the cluster itself
    stored = {key for node_keys in [on_cluster.keys("login:{jane}:*")] for key in node_keys}
    assert {k.decode() if isinstance(k, bytes) else k for k in stored} == {
        "login:{jane}:addr:203.0.113.7",
        "login:{jane}:addr:203.0.113.8",
        "login:{jane}:failures",
    }
    assert no_redis_warnings(caplog) == []

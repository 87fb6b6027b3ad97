"""Benchmark 3, handler overhead: create-order invoked in-process (API Gateway proxy event in,
response out) against the embedded services, next to the very same AWS and Redis calls made
directly with plain boto3 clients and a raw Redis connection. The ratio is what our code (routing,
validation, the domain logic, serialisation, logging, metrics) costs on top of the I/O it needs.

How "the same calls" are obtained: one create-order is recorded (botocore's parameters after
boto3's DynamoDB resource has turned them into low-level ones, and the Redis commands of each
round trip), then replayed. Before each replay, the items the recorded puts created are deleted
(untimed) so that their conditions hold again. Handler runs and replays alternate, so a noisy
moment hits both.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from bench.common import Section, Services, median, ms, percentile, run_child, table

TARGET = 1.25


def measure(iterations: int) -> dict[str, Any]:
    """Runs in a child process whose environment points at the embedded services."""
    from bench import counters

    calls = counters.install()

    import boto3
    import redis
    from botocore.exceptions import ClientError

    from bench.harness import Harness, order_body, seed_customer
    from shop_shared.aws import CLIENT_CONFIG
    from shop_shared.config import get_settings

    harness = Harness()
    seed = seed_customer(harness, f"oh_{time.time_ns()}")

    def event() -> tuple[str, dict[str, Any]]:
        return harness.event("POST", "/orders", token=seed.token, body=order_body(seed))

    # warm the container and the cache, then record one request's calls
    for _ in range(3):
        harness.send(*event())
    calls.reset()
    calls.record_params = True
    reply = harness.send(*event())
    calls.record_params = False
    if reply.status != 201:
        raise RuntimeError(f"create-order answered {reply.status}: {reply.body}")
    recorded_aws = list(calls.aws_calls)
    recorded_redis = [list(trip) for trip in calls.redis_trips]
    sequence = list(calls.sequence)
    calls.enabled = False

    session = boto3.session.Session()
    clients = {c.service: session.client(c.service, config=CLIENT_CONFIG) for c in recorded_aws}  # type: ignore[call-overload]
    key_names: dict[str, list[str]] = {}
    for call in recorded_aws:
        table_name = call.params.get("TableName")
        if call.service == "dynamodb" and table_name and table_name not in key_names:
            schema = clients["dynamodb"].describe_table(TableName=table_name)["Table"]["KeySchema"]
            key_names[table_name] = [part["AttributeName"] for part in schema]
    pool = redis.ConnectionPool.from_url(get_settings().redis_url, decode_responses=True)
    connection = pool.get_connection()
    packed_trips = [
        (b"".join(b"".join(connection.pack_command(*command)) for command in trip), len(trip))
        for trip in recorded_redis
    ]

    def puts() -> list[tuple[str, dict[str, Any]]]:
        found = []
        for call in recorded_aws:
            if call.service != "dynamodb":
                continue
            items = []
            if call.operation == "PutItem":
                items.append((call.params["TableName"], call.params["Item"]))
            elif call.operation == "TransactWriteItems":
                for entry in call.params["TransactItems"]:
                    if "Put" in entry:
                        items.append((entry["Put"]["TableName"], entry["Put"]["Item"]))
            for table_name, item in items:
                found.append((table_name, {name: item[name] for name in key_names[table_name]}))
        return found

    to_delete = puts()
    methods = [_method(call.operation) for call in recorded_aws]
    errors: list[str] = []

    def replay() -> float:
        for table_name, key in to_delete:  # untimed: lets the conditional puts succeed again
            clients["dynamodb"].delete_item(TableName=table_name, Key=key)
        started = time.perf_counter()
        for kind, index in sequence:
            if kind == "redis":
                _redis_trip(connection, *packed_trips[index])
                continue
            call = recorded_aws[index]
            try:
                getattr(clients[call.service], methods[index])(**call.params)
            except ClientError as exc:
                errors.append(f"{call.operation}: {exc.response['Error']['Code']}")
        return time.perf_counter() - started

    handler_s: list[float] = []
    raw_s: list[float] = []
    for _ in range(iterations):
        function_id, request = event()
        started = time.perf_counter()
        result = harness.invoke(function_id, request)
        handler_s.append(time.perf_counter() - started)
        if result["statusCode"] != 201:
            raise RuntimeError(f"create-order answered {result['statusCode']}: {result['body']}")
        raw_s.append(replay())
    pool.release(connection)
    return {
        "handler_s": handler_s,
        "raw_s": raw_s,
        "calls": [f"{c.service}:{c.operation}" for c in recorded_aws]
        + [f"redis:[{' '.join(cmd[0].decode().upper() for cmd in trip)}]" for trip in recorded_redis],
        "replay_errors": sorted(set(errors)),
    }


def _method(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def _redis_trip(connection: Any, packed: bytes, replies: int) -> None:
    import redis

    connection.send_packed_command([packed])
    for _ in range(replies):
        with contextlib.suppress(redis.ResponseError):
            connection.read_response()


def run(services: Services, work: Path, iterations: int = 200) -> Section:
    section = Section("3. Handler overhead (create-order)")
    result = run_child(
        "bench.overhead.measure", services.env(ORDER_RATE_LIMIT="1000000/60"), work, iterations=iterations
    )
    handler, raw = result["handler_s"], result["raw_s"]
    ratio = median(handler) / median(raw)
    rows = [
        ["handler (in-process invoke)", ms(median(handler)), ms(percentile(handler, 0.9)), ms(min(handler))],
        ["the same calls, made directly", ms(median(raw)), ms(percentile(raw, 0.9)), ms(min(raw))],
    ]
    section.add(
        f"{iterations} create-orders (warm container, warm cache, no Idempotency-Key), each followed by "
        "a replay of one recorded request's calls with plain boto3 clients and a raw Redis connection.",
        "",
        *table(["", "median", "p90", "min"], rows),
        "",
        f"**Ratio handler / direct calls (medians): {ratio:.2f}** (target ≤ {TARGET}).",
        "",
        "Calls replayed: " + ", ".join(f"`{call}`" for call in result["calls"]),
    )
    if result["replay_errors"]:
        section.add(
            "", "Replay errors (the call still made its round trip): " + ", ".join(result["replay_errors"])
        )
    if ratio > TARGET:
        section.shortfalls.append(f"handler overhead: create-order ratio {ratio:.2f}, target ≤ {TARGET}")
    section.data = {"ratio": ratio, "handler_median_s": median(handler), "raw_median_s": median(raw)}
    return section

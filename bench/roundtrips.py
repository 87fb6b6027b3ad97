"""Benchmark 2, round trips: for each API route, the DynamoDB, SNS, SQS, SES, Secrets Manager,
Redis and upstream HTTP calls one request makes, counted by hooks in botocore, redis-py and urllib3
(`bench.counters`), never by reading the code.

Every route is called once to warm the container (clients, connections, the JWT secret) and then
measured; the authorizer runs before protected routes and is counted on its own row (API Gateway
caches its answer per token for five minutes). Product reads and create-order are measured with a
warm cache and, separately, with the products evicted from Redis first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import COLUMNS_NOTE, Section, Services, run_child, table
from bench.counters import COLUMNS

ADMIN_PASSWORD = "bench-admin-password"


@dataclass
class Case:
    name: str
    method: str
    path: str
    prepare: Callable[[], dict[str, Any]]  # → Harness.event kwargs (url, body, token, headers)
    before: Callable[[], None] | None = None  # untimed, uncounted set-up (e.g. evict the cache)
    expect: int = 200


ORDER_NUMBERS = "_order_numbers"
ORDERS_FOR_NUMBERS = 100


def product_trips(trips: list[list[list[bytes]]]) -> int:
    """Redis round trips that touch a product key (`product:…`, its lock), whatever else they do."""
    count = 0
    for trip in trips:
        if any(b"product:" in arg for command in trip for arg in command[1:]):
            count += 1
    return count


def measure(upstream_port: int) -> dict[str, Any]:
    """Runs in a child process whose environment points at the embedded services."""
    from bench import counters

    calls = counters.install(upstream_port)

    import redis

    from bench.harness import Harness, order_body, seed_customer
    from shop_shared.config import get_settings

    harness = Harness()
    seed = seed_customer(harness, f"rt_{uuid.uuid4().hex[:8]}")
    from shop_local.admin import ensure_admin

    ensure_admin("bench_admin", ADMIN_PASSWORD, "bench_admin@example.com")
    admin_token = harness.call(
        "POST", "/auth/login", body={"username": "bench_admin", "password": ADMIN_PASSWORD}
    ).body["access_token"]
    cache = redis.Redis.from_url(get_settings().redis_url)

    def evict_products() -> None:
        keys = list(cache.scan_iter("product:*")) + list(cache.scan_iter("products:*"))
        if keys:
            cache.delete(*keys)

    def new_order() -> str:
        reply = harness.call("POST", "/orders", token=seed.token, body=order_body(seed))
        return str(reply.body["id"])

    def register() -> dict[str, Any]:
        name = f"rt_{uuid.uuid4().hex[:10]}"
        return {
            "body": {
                "username": name,
                "email": f"{name}@example.com",
                "first_name": "Round",
                "last_name": "Trip",
                "password": "correct-horse-battery",
            }
        }

    idem_key = f"bench-{uuid.uuid4().hex}"
    address = {
        "street": "2 Bench St",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "country": "US",
    }
    product = seed.product_ids[0]
    cases = [
        Case("register", "POST", "/auth/register", register, expect=201),
        Case(
            "login",
            "POST",
            "/auth/login",
            lambda: {"body": {"username": seed.username, "password": seed.password}},
        ),
        Case("verify-token", "POST", "/auth/verify-token", lambda: {"token": seed.token}),
        Case("get user", "GET", f"/auth/user/{seed.user_id}", lambda: {"token": seed.token}),
        Case("list addresses", "GET", f"/auth/user/{seed.user_id}/addresses", lambda: {"token": seed.token}),
        Case(
            "add address",
            "POST",
            f"/auth/user/{seed.user_id}/addresses",
            lambda: {"token": seed.token, "body": address},
            expect=201,
        ),
        Case("list products (warm cache)", "GET", "/products?limit=20", dict),
        Case("list products (cold cache)", "GET", "/products?limit=20", dict, before=evict_products),
        Case("categories (warm cache)", "GET", "/products/categories", dict),
        Case("get product (warm cache)", "GET", f"/products/{product}", dict),
        Case("get product (cold cache)", "GET", f"/products/{product}", dict, before=evict_products),
        Case(
            "create order (warm cache)",
            "POST",
            "/orders",
            lambda: {"token": seed.token, "body": order_body(seed)},
            expect=201,
        ),
        Case(
            "create order (cold cache)",
            "POST",
            "/orders",
            lambda: {"token": seed.token, "body": order_body(seed)},
            before=evict_products,
            expect=201,
        ),
        Case(
            "create order, new Idempotency-Key",
            "POST",
            "/orders",
            lambda: {
                "token": seed.token,
                "body": order_body(seed),
                "headers": {"Idempotency-Key": f"bench-{uuid.uuid4().hex}"},
            },
            expect=201,
        ),
        Case(
            "create order, replayed Idempotency-Key",
            "POST",
            "/orders",
            lambda: {"token": seed.token, "body": order_body(seed), "headers": {"Idempotency-Key": idem_key}},
            expect=201,
        ),
        Case("get order", "GET", f"/orders/{seed.order_id}", lambda: {"token": seed.token}),
        Case(
            "list my orders", "GET", f"/users/{seed.user_id}/orders?limit=20", lambda: {"token": seed.token}
        ),
    ]
    status_orders: list[str] = []

    def status_request() -> dict[str, Any]:
        return {"token": admin_token, "body": {"status": "confirmed"}}

    rows: dict[str, Any] = {}
    for case in cases:
        # warm-up: same request (a fresh one where it must differ), not counted
        harness.call(case.method, case.path, **case.prepare())
        if case.before:
            case.before()
        function_id, event = harness.event(case.method, case.path, **case.prepare())
        calls.reset()
        reply = harness.send(function_id, event)
        rows[case.name] = _row(case.method, case.path, reply.status, case.expect, calls)

    # status change: each on an order of its own (a status only changes once)
    for _ in range(2):
        status_orders.append(new_order())
    harness.call("PUT", f"/orders/{status_orders[0]}/status", **status_request())
    function_id, event = harness.event("PUT", f"/orders/{status_orders[1]}/status", **status_request())
    calls.reset()
    reply = harness.send(function_id, event)
    rows["change status (admin)"] = _row("PUT", "/orders/{order_id}/status", reply.status, 200, calls)

    # the authorizer, as API Gateway calls it once per token and 5 minutes
    assert harness.authorizer is not None
    harness.authorize(seed.token, "GET", "/orders", cache=False)
    calls.reset()
    harness.authorize(admin_token, "GET", "/orders", cache=False)
    rows["authorizer (per token, cached 5 min)"] = _row("-", "(TOKEN authorizer)", 200, 200, calls)

    _async_rows(harness, seed, new_order, calls, rows)

    # order numbers: how many counter writes N orders cost in one warm environment (this process)
    calls.reset()
    numbers = [
        harness.call("POST", "/orders", token=seed.token, body=order_body(seed)).body["order_number"]
        for _ in range(ORDERS_FOR_NUMBERS)
    ]
    counter_writes = sum(1 for call in calls.aws_calls if call.operation == "UpdateItem")
    rows[ORDER_NUMBERS] = {"orders": len(set(numbers)), "counter_writes": counter_writes}
    return rows


def _row(method: str, path: str, status: int, expect: int, calls: Any) -> dict[str, Any]:
    return {
        "route": f"{method} {path}",
        "status": status,
        "expected": expect,
        "counts": calls.counts(),
        "product_trips": product_trips(calls.redis_trips),
        "attempts": sum(calls.aws_attempts.values()),
        "detail": calls.describe(),
    }


def _async_rows(
    harness: Any, seed: Any, new_order: Callable[[], str], calls: Any, rows: dict[str, Any]
) -> None:
    """The stream publisher for one new order, and the e-mail function for its event."""

    from boto3.dynamodb.types import TypeSerializer

    from shop_shared import aws, keys
    from shop_shared.config import get_settings

    publisher = next((s for s in harness.template.event_sources() if s.kind == "DynamoDB"), None)
    mailer = next((s for s in harness.template.event_sources() if s.kind == "SQS"), None)
    if publisher is None or mailer is None:
        return
    serializer = TypeSerializer()

    def stream_event(order_id: str) -> dict[str, Any]:
        item = aws.table(get_settings().orders_table).get_item(Key=keys.order_key(order_id))["Item"]
        image = {name: serializer.serialize(value) for name, value in item.items()}
        return {
            "Records": [
                {
                    "eventID": uuid.uuid4().hex,
                    "eventName": "INSERT",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "dynamodb": {
                        "Keys": {"pk": image["pk"], "sk": image["sk"]},
                        "NewImage": image,
                        "SequenceNumber": str(uuid.uuid4().int)[:20],
                        "SizeBytes": 1000,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/OrdersTable/stream/1",
                }
            ]
        }

    def sqs_event(order_id: str) -> dict[str, Any]:
        import orders_publisher

        record = stream_event(order_id)["Records"][0]
        body = orders_publisher.event_from_record(record)
        assert body is not None
        return {
            "Records": [
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": uuid.uuid4().hex,
                    "body": body.model_dump_json(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:OrderEmailQueue",
                    "awsRegion": "us-east-1",
                }
            ]
        }

    for source, build, name in (
        (publisher, stream_event, "stream publisher, one new order"),
        (mailer, sqs_event, "e-mail function, one order.created"),
    ):
        warm, measured = new_order(), new_order()
        try:
            harness.handler(source.function_id)
        except ImportError as exc:
            rows[name] = {"missing": f"{source.function_id}: {exc}"}
            continue
        harness.invoke(source.function_id, build(warm))
        event = build(measured)
        calls.reset()
        result = harness.invoke(source.function_id, event)
        failures = len((result or {}).get("batchItemFailures", []))
        rows[name] = _row("-", f"({source.function_id})", 200 if not failures else 500, 200, calls)


def run(services: Services, work: Path) -> Section:
    section = Section("2. Round trips per request")
    port = int(services.standin_url.rsplit(":", 1)[1])
    rows = run_child(
        "bench.roundtrips.measure", services.env(ORDER_RATE_LIMIT="100000/60"), work, upstream_port=port
    )
    numbers = rows.pop(ORDER_NUMBERS)
    headers = ["request", "status", *COLUMNS, "AWS attempts"]
    body = []
    for name, row in rows.items():
        if "missing" in row:
            section.shortfalls.append(f"round trips: {name} not measured ({row['missing']})")
            continue
        counts = row["counts"]
        status = str(row["status"]) + (
            "" if row["status"] == row["expected"] else f" (expected {row['expected']})"
        )
        body.append([name, status, *(counts.get(column, 0) for column in COLUMNS), row["attempts"]])
        if row["status"] != row["expected"]:
            section.shortfalls.append(
                f"round trips: {name} answered {row['status']}, expected {row['expected']}"
            )
    warm = rows.get("create order (warm cache)")
    verdicts = []
    if warm:
        ddb, product = warm["counts"]["DynamoDB"], warm["product_trips"]
        verdicts.append(
            f"- create-order on a warm cache: {product} Redis round trip(s) for its products (target 1), "
            f"{ddb} DynamoDB call(s) (target ≤ 3), {warm['counts']['Redis']} Redis round trips in all."
        )
        if product != 1:
            section.shortfalls.append(
                f"create-order (warm cache): {product} Redis round trips for its products, target 1"
            )
        if ddb > 3:
            section.shortfalls.append(f"create-order (warm cache): {ddb} DynamoDB calls, target ≤ 3")
    verdicts.append(
        f"- order numbers: {numbers['orders']} orders in a row (one warm environment, no "
        f"Idempotency-Key) took {numbers['counter_writes']} counter write(s) (`UpdateItem ADD`): "
        "one per block of numbers, not one per order."
    )
    section.add(
        "Calls made by one request after a warm-up request (counted by hooks in botocore, redis-py "
        "and urllib3). " + COLUMNS_NOTE,
        "",
        *table(headers, body),
        "",
        *verdicts,
        "",
        "<details><summary>The calls, in order</summary>",
        "",
        *table(["request", "calls"], [[name, row.get("detail") or "-"] for name, row in rows.items()]),
        "",
        "</details>",
    )
    section.data = {**rows, ORDER_NUMBERS: numbers}
    return section

"""Benchmark 4, throughput through the local stack: `shop dev` in a subprocess (its own embedded
AWS and product stand-in, Redis on the benchmarks' database, the order rate limit raised), loopback
only, a bounded number of clients for a bounded time.

- Orders: N client threads, each its own customer with a keep-alive connection, create orders
  back to back for a fixed time; orders per second and p50/p95/p99 latency. Measured in the same
  run, with the same clients: a cached product read through the same gateway (the floor of a
  request through the local gateway), so the ratio says what an order costs over that floor.
- E-mails: 1,000 `order.created` events put straight on the e-mail queue (once the orders' own
  e-mails are done); the time until the stack's SQS poller → e-mail function → SES has drained the
  queue, and how many e-mails SES accepted for the run's own address (`/_dev/emails`).

The load generator runs on the same machine as the stack: on a small machine the figures are a
lower bound of what the code can do.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    PYTHON,
    Section,
    background,
    base_env,
    free_port,
    median,
    ms,
    percentile,
    redis_url,
    table,
)
from shop_local.testing import wait_quiet

ADMIN_PASSWORD = "bench-admin-password"
EMAILS = 1000
STALL_SECONDS = 60.0


class Client:
    """One customer of the benchmark, with its own keep-alive HTTP session."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.http = requests.Session()
        password = "correct-horse-battery"
        user = self._ok(
            "POST",
            "/auth/register",
            201,
            json={
                "username": name,
                "email": f"{name}@example.com",
                "first_name": "Load",
                "last_name": "Test",
                "password": password,
            },
        )
        token = self._ok("POST", "/auth/login", 200, json={"username": name, "password": password})[
            "access_token"
        ]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.user_id = user["id"]
        address = {
            "street": "3 Load St",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        }
        self.address_id = self._ok("POST", f"/auth/user/{self.user_id}/addresses", 201, json=address)["id"]

    def _ok(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        reply = self.http.request(method, self.base + path, timeout=30, **kwargs)
        if reply.status_code != status:
            raise RuntimeError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json()


def load(
    clients: list[Client], duration: float, request: Any, max_requests: int
) -> tuple[list[float], Counter[int], float]:
    """Every client sends `request(client)` back to back until `duration` has passed."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(clients) + 1)
    deadline = 0.0
    per_client = max(1, max_requests // len(clients))

    def work(client: Client) -> None:
        mine: list[float] = []
        codes: Counter[int] = Counter()
        start.wait()
        while time.perf_counter() < deadline and len(mine) < per_client:
            began = time.perf_counter()
            try:
                status = request(client)
            except requests.RequestException:
                status = 0
            mine.append(time.perf_counter() - began)
            codes[status] += 1
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + duration
    start.wait()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - began


def stack_resources(base: str) -> dict[str, Any]:
    """What a running `shop dev` created: its AWS endpoint, queues, tables ..."""
    reply = requests.get(f"{base}/_dev/resources", timeout=10)
    reply.raise_for_status()
    data: dict[str, Any] = reply.json()
    return data


def _backlog(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def email_run(base: str, client: Client, order: dict[str, Any]) -> tuple[float, int, int]:
    """Queue EMAILS order.created events for `order` to an address of this run's own; the seconds
    until the queue is drained, how many e-mails SES accepted for that address, and the ms the
    queueing took. Progress is read from the queue's counters (cheap), the mailbox once at the end."""
    import boto3

    from shop_shared.models import Customer, Order, OrderEvent

    resources = stack_resources(base)
    if not resources["functions"].get("EmailFunction", {}).get("available"):
        raise RuntimeError("the stack's EmailFunction is not available")
    queue_url = resources["queues"]["OrderEmailQueue"]["url"]
    sqs = boto3.client(
        "sqs",
        endpoint_url=resources["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # Once the orders' own e-mails are done (the queue stayed empty for 3 s; at most 300 s).
    wait_quiet(lambda: _backlog(sqs, queue_url), quiet=3.0, timeout=300.0)
    run_id = uuid.uuid4().hex[:8]
    recipient = f"bench-{run_id}@example.com"
    customer = Customer(user_id=client.user_id, email=recipient, first_name="Load", last_name="Test")
    parsed = Order.model_validate(order)
    bodies = [
        OrderEvent(
            event_id=f"bench:{run_id}:{n}",
            event_type="order.created",
            occurred_at=order["created_at"],
            order=parsed,
            customer=customer,
        ).model_dump_json()
        for n in range(EMAILS)
    ]
    started = time.perf_counter()
    for first in range(0, EMAILS, 10):
        entries: list[Any] = [
            {"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[first : first + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    queued = time.perf_counter() - started
    # Drained = every message deleted, i.e. handled. Give up when the backlog has not moved for a
    # minute (a broken consumer must not hang the run).
    backlog, progress_at = EMAILS, time.perf_counter()
    while backlog and time.perf_counter() - progress_at < STALL_SECONDS:
        time.sleep(0.2)
        now = _backlog(sqs, queue_url)
        if now < backlog:
            backlog, progress_at = now, time.perf_counter()
    elapsed = progress_at - started
    emails = requests.get(f"{base}/_dev/emails", timeout=60).json()
    sent = sum(1 for mail in emails if recipient in (mail.get("to") or []))
    return elapsed, sent, int(queued * 1000)


def run(work: Path, clients: int = 8, duration: float = 15.0, max_requests: int = 20_000) -> Section:
    section = Section("4. Throughput through the local gateway")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = base_env()
    env.update(
        PORT=str(port),
        REDIS_URL=redis_url(),
        ORDER_RATE_LIMIT="1000000/60",
        SHOP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    env.pop("PRODUCT_API_URL", None)
    shop = [PYTHON, "-m", "shop_local.cli", "dev"]
    with background(shop, f"{base}/openapi.json", env, work / "shop-dev.log"):
        users = [Client(base, f"load_{uuid.uuid4().hex[:10]}") for _ in range(clients)]
        product_id = requests.get(f"{base}/products?limit=3", timeout=30).json()["products"][0]["id"]
        items = [{"product_id": product_id, "quantity": 1}]

        def read(client: Client) -> int:
            return client.http.get(f"{base}/products/{product_id}", timeout=30).status_code

        def order(client: Client) -> int:
            body = {"items": items, "shipping_address_id": client.address_id}
            return client.http.post(f"{base}/orders", json=body, timeout=30).status_code

        for user in users:  # warm every path once (function containers, cache, connections)
            read(user)
            order(user)
        read_lat, read_codes, read_elapsed = load(users, min(5.0, duration), read, max_requests)
        order_lat, order_codes, order_elapsed = load(users, duration, order, max_requests)
        created = order_codes.get(201, 0)
        last = requests.get(
            f"{base}/users/{users[0].user_id}/orders?limit=1", headers=users[0].http.headers, timeout=30
        )
        latest = last.json()["orders"][0]
        try:
            email_s, sent, queued_ms = email_run(base, users[0], latest)
        except Exception as exc:  # the order figures still stand
            email_s, sent, queued_ms = float("nan"), 0, 0
            section.shortfalls.append(f"throughput: the e-mail run failed: {exc}")

    rows = [
        _load_row("GET /products/{id} (cached)", read_lat, read_codes, read_elapsed, 200),
        _load_row("POST /orders", order_lat, order_codes, order_elapsed, 201),
    ]
    orders_per_s = created / order_elapsed
    read_p50 = median(read_lat)
    section.add(
        f"{clients} concurrent clients (threads, keep-alive connections, one customer each) for "
        f"{duration:.0f} s of orders (after {min(5.0, duration):.0f} s of cached product reads), "
        "rate limit raised to 1,000,000/60 s.",
        "",
        *table(["request", "requests", "per second", "p50", "p95", "p99", "statuses"], rows),
        "",
        f"**Orders: {orders_per_s:.1f} per second**, p50 {ms(median(order_lat))}, "
        f"p95 {ms(percentile(order_lat, 0.95))}, p99 {ms(percentile(order_lat, 0.99))}; "
        f"an order's median latency is {median(order_lat) / read_p50:.1f} times a cached product read's "
        "through the same gateway.",
        "",
        f"**E-mails: {sent} of {EMAILS} sent in {email_s:.1f} s = {sent / email_s:.1f} per second** "
        f"(SQS → poller → e-mail function → SES, from the first send until the queue was drained; "
        f"queueing them took {queued_ms} ms; started once the orders' own e-mails were done).",
    )
    bad = {code: n for code, n in order_codes.items() if code != 201}
    if bad:
        section.shortfalls.append(f"throughput: orders answered other than 201: {bad}")
    if sent < EMAILS and email_s == email_s:  # not NaN: the run happened
        section.shortfalls.append(
            f"throughput: only {sent} of {EMAILS} queued e-mails were sent within 600 s"
        )
    section.data = {"orders_per_s": orders_per_s, "emails_per_s": sent / email_s}
    return section


def _load_row(name: str, latencies: list[float], codes: Counter[int], elapsed: float, ok: int) -> list[Any]:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
    return [
        name,
        len(latencies),
        f"{codes.get(ok, 0) / elapsed:.1f}",
        ms(median(latencies)),
        ms(percentile(latencies, 0.95)),
        ms(percentile(latencies, 0.99)),
        statuses,
    ]

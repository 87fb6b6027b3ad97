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

import http.client
import json
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass
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
from shop_local.testing import link_token, wait_quiet

ADMIN_PASSWORD = "bench-admin-password"
EMAILS = 1000
STALL_SECONDS = 60.0


class Client:
    """One customer of the benchmark, with its own keep-alive HTTP session (`requests`, to set the
    customer up) and its own keep-alive connection for the load (`http.client`: about a fifth of
    the CPU per request of `requests`, which the stack would otherwise lose to its load generator
    on a 2-core machine)."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.http = requests.Session()
        self._connection: http.client.HTTPConnection | None = None
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
        self._verify_email(f"{name}@example.com")
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

    def send(self, method: str, path: str, body: Any = None) -> int:
        """One request of the load on this client's connection; its status (the body is read and
        dropped). A broken connection is replaced on the next request."""
        headers = {"Authorization": self.http.headers.get("Authorization", "")}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._connection is None:
            url = urllib.parse.urlsplit(self.base)
            self._connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        try:
            self._connection.request(method, path, payload, headers)
            reply = self._connection.getresponse()
            reply.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = None
            raise
        return reply.status

    def _verify_email(self, email: str, timeout: float = 30.0) -> None:
        """Follow the verification link the stack mailed (customers must be verified to order)."""
        deadline = time.monotonic() + timeout
        while True:
            mails = self._ok("GET", "/_dev/emails", 200)
            tokens = [
                link_token(mail)
                for mail in mails
                if email in mail["to"] and "Verify your e-mail" in mail["subject"]
            ]
            if tokens and tokens[-1]:
                self._ok("POST", "/auth/verify-email", 200, json={"token": tokens[-1]})
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no verification e-mail to {email} within {timeout:g} s")
            time.sleep(0.2)

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
            except (requests.RequestException, OSError, http.client.HTTPException):
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


def email_run(base: str, client: Client, order: dict[str, Any], emails: int = 0) -> tuple[float, int, int]:
    """Queue EMAILS order.created events for `order` to an address of this run's own; the seconds
    until the queue is drained, how many e-mails SES accepted for that address, and the ms the
    queueing took. Progress is read from the queue's counters (cheap), the mailbox once at the end."""
    import boto3

    from shop_shared.models import Customer, Order, OrderEvent

    emails = emails or EMAILS

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
        for n in range(emails)
    ]
    started = time.perf_counter()
    for first in range(0, emails, 10):
        entries: list[Any] = [
            {"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[first : first + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    queued = time.perf_counter() - started
    # Drained = every message deleted, i.e. handled. Give up when the backlog has not moved for a
    # minute (a broken consumer must not hang the run).
    backlog, progress_at = emails, time.perf_counter()
    while backlog and time.perf_counter() - progress_at < STALL_SECONDS:
        time.sleep(0.2)
        now = _backlog(sqs, queue_url)
        if now < backlog:
            backlog, progress_at = now, time.perf_counter()
    elapsed = progress_at - started
    mails = requests.get(f"{base}/_dev/emails", timeout=60).json()
    sent = sum(1 for mail in mails if recipient in (mail.get("to") or []))
    return elapsed, sent, int(queued * 1000)


@dataclass
class ModeRun:
    """One `shop dev` measured: the load rows, orders/s, e-mails/s, cold starts."""

    mode: str
    rows: list[list[Any]]
    orders_per_s: float
    order_p50: float
    read_p50: float
    emails_sent: int
    emails: int
    email_s: float
    queued_ms: int
    bad_orders: dict[int, int]
    cold_starts: dict[str, float]
    environments: dict[str, int]
    problems: list[str]

    @property
    def emails_per_s(self) -> float:
        return self.emails_sent / self.email_s if self.email_s == self.email_s and self.email_s else 0.0


def measure(work: Path, mode: str, clients: int, duration: float, max_requests: int, emails: int) -> ModeRun:
    """Start `shop dev`, load it, stop it (`mode` names the run in the table and the logs)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = base_env()
    env.update(
        PORT=str(port),
        REDIS_URL=redis_url(),
        ORDER_RATE_LIMIT="1000000/60",
        SHOP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SHOP_FUNCTION_LOG=str(work / f"functions-{mode}.log"),
    )
    env.pop("PRODUCT_API_URL", None)
    problems: list[str] = []
    shop = [PYTHON, "-m", "shop_local.cli", "dev"]
    with background(shop, f"{base}/openapi.json", env, work / f"shop-dev-{mode}.log"):
        users = [Client(base, f"load_{uuid.uuid4().hex[:10]}") for _ in range(clients)]
        product_id = requests.get(f"{base}/products?limit=3", timeout=30).json()["products"][0]["id"]
        items = [{"product_id": product_id, "quantity": 1}]

        def read(client: Client) -> int:
            return client.send("GET", f"/products/{product_id}")

        def order(client: Client) -> int:
            return client.send("POST", "/orders", {"items": items, "shipping_address_id": client.address_id})

        # One order alone first: each function's first environment starts on its own (the cold
        # starts reported below). Then every path is warmed (cache, connections, and as many
        # environments as the clients keep busy, started at once): the load measures warm calls.
        read(users[0])
        order(users[0])
        time.sleep(3)  # the order's stream record and e-mail reach their functions
        warm = [threading.Thread(target=lambda user=user: (read(user), order(user))) for user in users]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        read_lat, read_codes, read_elapsed = load(users, min(5.0, duration), read, max_requests)
        order_lat, order_codes, order_elapsed = load(users, duration, order, max_requests)
        last = requests.get(
            f"{base}/users/{users[0].user_id}/orders?limit=1", headers=users[0].http.headers, timeout=30
        )
        latest = last.json()["orders"][0]
        try:
            email_s, sent, queued_ms = email_run(base, users[0], latest, emails)
        except Exception as exc:  # the order figures still stand
            email_s, sent, queued_ms = float("nan"), 0, 0
            problems.append(f"throughput ({mode}): the e-mail run failed: {exc}")
        cold_starts: dict[str, float] = {}
        environments: dict[str, int] = {}
        for function_id, info in stack_resources(base)["functions"].items():
            envs = info.get("environments") or []
            environments[function_id] = len(envs)
            first = [env for env in envs if env["environment"].endswith("#1")]
            if first and first[0].get("cold_start_ms") is not None:
                cold_starts[function_id] = float(first[0]["cold_start_ms"])
    rows = [
        _load_row(f"{mode}: GET /products/{{id}} (cached)", read_lat, read_codes, read_elapsed, 200),
        _load_row(f"{mode}: POST /orders", order_lat, order_codes, order_elapsed, 201),
    ]
    return ModeRun(
        mode=mode,
        rows=rows,
        orders_per_s=order_codes.get(201, 0) / order_elapsed,
        order_p50=median(order_lat),
        read_p50=median(read_lat),
        emails_sent=sent,
        emails=emails,
        email_s=email_s,
        queued_ms=queued_ms,
        bad_orders={code: n for code, n in order_codes.items() if code != 201},
        cold_starts=cold_starts,
        environments=environments,
        problems=problems,
    )


def run(work: Path, clients: int = 8, duration: float = 15.0, max_requests: int = 20_000) -> Section:
    section = Section("4. Throughput through the local gateway")
    lam = measure(work, "lambda", clients, duration, max_requests, EMAILS)
    section.add(
        f"{clients} concurrent clients (threads, keep-alive connections, one customer each) for "
        f"{duration:.0f} s of orders (after {min(5.0, duration):.0f} s of cached product reads), "
        "rate limit raised to 1,000,000/60 s, the functions in execution environments of AWS's "
        "runtime interface client, as `make run` runs them. These figures measure the local stack "
        "(the emulator, the gateway, this machine) more than the shop, so they carry no target.",
        "",
        *table(["request", "requests", "per second", "p50", "p95", "p99", "statuses"], lam.rows),
        "",
        f"**Orders: {lam.orders_per_s:.1f} per second** (p50 {ms(lam.order_p50)}).",
        "",
        f"**E-mails: {lam.emails_sent} of {lam.emails} sent in {lam.email_s:.1f} s = "
        f"{lam.emails_per_s:.1f} per second** (SQS → poller → e-mail function → SES, from the first "
        f"send until the queue was drained; queueing them took {lam.queued_ms} ms).",
        "",
        "Cold starts as the runtime measured them (process start → first response of each "
        "function's first environment, started on its own before the load) and the environments "
        "each function had at the end:",
        "",
        *table(
            ["function", "cold start", "environments"],
            [
                [name, f"{lam.cold_starts[name]:.0f} ms", lam.environments.get(name, 0)]
                for name in sorted(lam.cold_starts)
            ],
        ),
    )
    section.shortfalls.extend(lam.problems)
    if lam.bad_orders:
        section.shortfalls.append(f"throughput: orders answered other than 201: {lam.bad_orders}")
    if lam.emails_sent < lam.emails and lam.email_s == lam.email_s:  # not NaN: the run happened
        section.shortfalls.append(
            f"throughput: only {lam.emails_sent} of {lam.emails} queued e-mails were sent"
        )
    section.data = {
        "orders_per_s": lam.orders_per_s,
        "emails_per_s": lam.emails_per_s,
        "cold_starts_ms": lam.cold_starts,
    }
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

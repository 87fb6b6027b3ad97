"""Fault injection for the reliability tests: make a dependency fail or slow down on purpose.

- AWS services (`sns`, `ses`, `sqs`, `dynamodb`, `secretsmanager`, ...): a WSGI middleware in front
  of the embedded emulator answers matching requests with a 503 `ServiceUnavailable` AWS error
  (or sleeps first, `mode: slow`). The service is the SigV4 credential scope's service, the action
  the `X-Amz-Target` header or the form body's `Action`. The stack's own clients (pollers, dev
  routes, the test harness) identify themselves with INTERNAL_USER_AGENT and are never faulted.
- `redis`: the functions reach Redis through `TcpFaultProxy`, which refuses connections (and
  drops the open ones) while the fault is on, or delays each request (`mode: slow`).
- `products-api`: handled by the stack (the stand-in has its own controls).

`times` counts matching requests (AWS) or connections (Redis); without it the fault lasts until
cleared. A `dynamodb` fault with `table` matches only requests naming that table (one function's
writes, not another's that happens to run at the same time). Note that boto3 retries 5xx answers
(the shared layer's `max_attempts: 3` means 3 retries, 4 attempts per call), so a fault with
`times` < 4 is absorbed by the retries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

from sam_runner.serving import read_body

log = logging.getLogger("shop_local.faults")

INTERNAL_USER_AGENT = "shop-local-internal"
AWS_SERVICES = ("sns", "ses", "sqs", "dynamodb", "secretsmanager", "sts", "lambda")
TCP_SERVICES = ("redis",)
HTTP_SERVICES = ("products-api",)
SERVICES = AWS_SERVICES + TCP_SERVICES + HTTP_SERVICES
MODES = ("error", "slow", "down")
MAX_SECONDS = 120.0

_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/aws4_request")


class FaultError(ValueError):
    """A fault request the stack cannot honour (unknown service, bad mode ...)."""


@dataclass
class Fault:
    id: str
    service: str
    mode: str  # "error" (AWS), "down" (redis, products-api) or "slow"
    action: str | None = None
    times: int | None = None
    seconds: float = 0.0
    hits: int = 0
    table: str | None = None  # dynamodb: only requests naming this table

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: dict[str, Any]) -> Fault:
    service = str(spec.get("service", "")).lower()
    if service not in SERVICES:
        raise FaultError(f"service must be one of {', '.join(SERVICES)}")
    default_mode = "error" if service in AWS_SERVICES else "down"
    mode = str(spec.get("mode") or default_mode).lower()
    if mode == "down" and service in AWS_SERVICES:
        mode = "error"
    if mode == "error" and service not in AWS_SERVICES:
        mode = "down"
    if mode not in MODES:
        raise FaultError(f"mode must be one of {', '.join(MODES)}")
    action = spec.get("action")
    if action is not None and (not isinstance(action, str) or not action):
        raise FaultError("action must be an AWS action name such as 'Publish'")
    if action is not None and service not in AWS_SERVICES:
        raise FaultError("action only applies to AWS services")
    table = spec.get("table")
    if table is not None and (not isinstance(table, str) or not table):
        raise FaultError("table must be a DynamoDB table's name")
    if table is not None and service != "dynamodb":
        raise FaultError("table only applies to dynamodb")
    times = spec.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise FaultError("times must be a positive integer")
    seconds = spec.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise FaultError("seconds must be a number")
    if mode == "slow" and not 0 < float(seconds) <= MAX_SECONDS:
        raise FaultError(f"a slow fault needs 0 < seconds <= {MAX_SECONDS:g}")
    return Fault(
        id=uuid.uuid4().hex[:12],
        service=service,
        mode=mode,
        action=action,
        times=times,
        seconds=float(seconds),
        table=table,
    )


class FaultBook:
    """The active faults, shared by every injection point; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._listeners: list[Callable[[Fault], None]] = []

    def on_add(self, listener: Callable[[Fault], None]) -> None:
        self._listeners.append(listener)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        log.warning(
            "fault on: %s %s%s%s",
            fault.service,
            fault.mode + (f" {fault.seconds:g}s" if fault.mode == "slow" else ""),
            f" action={fault.action}" if fault.action else "",
            f" times={fault.times}" if fault.times else "",
        )
        for listener in self._listeners:
            listener(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            had = bool(self._faults)
            self._faults.clear()
        if had:
            log.warning("faults cleared")

    def active(self) -> list[Fault]:
        with self._lock:
            return [Fault(**fault.as_dict()) for fault in self._faults]

    def affects(self, service: str) -> bool:
        with self._lock:
            return any(fault.service == service for fault in self._faults)

    def names_tables(self, service: str) -> bool:
        with self._lock:
            return any(fault.service == service and fault.table for fault in self._faults)

    def take(
        self,
        service: str,
        action: str | None = None,
        mode: str | None = None,
        tables: frozenset[str] = frozenset(),
    ) -> Fault | None:
        """The first fault matching this request, counted as used (removed once `times` is spent).
        `tables`: the DynamoDB tables the request names."""
        with self._lock:
            for fault in self._faults:
                if fault.service != service or (mode is not None and fault.mode != mode):
                    continue
                if fault.action is not None and (action is None or fault.action.lower() != action.lower()):
                    continue
                if fault.table is not None and fault.table not in tables:
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults.remove(fault)
                return Fault(**fault.as_dict())
        return None


# ---------------------------------------------------------------------------------------- AWS


def _service_of(environ: dict[str, Any]) -> str | None:
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1).lower() if match else None


def _action_of(environ: dict[str, Any]) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        actions = parse_qs(read_body(environ).decode("utf-8", "replace")).get("Action")
        if actions:
            return actions[0]
    query = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    return query[0] if query else None


def _tables_of(environ: dict[str, Any]) -> frozenset[str]:
    """The tables a DynamoDB request names (`TableName`; the keys of `RequestItems`; each item of
    `TransactItems`)."""
    try:
        request = json.loads(read_body(environ) or b"{}")
    except ValueError:
        return frozenset()
    if not isinstance(request, dict):
        return frozenset()
    names = {request.get("TableName")} | set(request.get("RequestItems") or {})
    for item in request.get("TransactItems") or []:
        names |= {part.get("TableName") for part in item.values() if isinstance(part, dict)}
    return frozenset(name for name in names if isinstance(name, str))


def aws_error_response(
    environ: dict[str, Any], service: str, action: str | None
) -> tuple[str, list[tuple[str, str]], bytes]:
    """A 503 ServiceUnavailable in the protocol the client speaks (JSON or query/XML)."""
    message = f"{service} is unavailable (fault injected by the local stack)"
    request_id = str(uuid.uuid4())
    json_protocol = bool(environ.get("HTTP_X_AMZ_TARGET")) or "json" in environ.get("CONTENT_TYPE", "")
    if json_protocol:
        body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "ServiceUnavailable"),
        ]
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("AmazonSQS"):
            # SQS's JSON protocol still reports the query protocol's error code this way
            headers.append(("x-amzn-query-error", "ServiceUnavailable;Receiver"))
    else:
        body = (
            "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return "503 Service Unavailable", headers, body


class AwsFaultMiddleware:
    """WSGI middleware in front of the emulator's app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], book: FaultBook) -> None:
        self.app = app
        self.book = book

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if INTERNAL_USER_AGENT not in environ.get("HTTP_USER_AGENT", ""):
            service = _service_of(environ)
            if service and self.book.affects(service):
                action = _action_of(environ)
                tables = _tables_of(environ) if self.book.names_tables(service) else frozenset()
                fault = self.book.take(service, action, tables=tables)
                if fault is not None:
                    if fault.mode == "slow":
                        time.sleep(fault.seconds)
                    else:
                        log.info("fault: %s %s -> 503", service, action or "")
                        status, headers, body = aws_error_response(environ, service, action)
                        start_response(status, headers)
                        return [body]
        return self.app(environ, start_response)


# ---------------------------------------------------------------------------------------- TCP


class TcpFaultProxy:
    """A small TCP proxy (one thread per connection) that can refuse or delay traffic.

    Used in front of Redis: the functions get the proxy's address, the tests get the real one.
    """

    def __init__(
        self,
        target: tuple[str, int],
        book: FaultBook,
        service: str = "redis",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.target = target
        self.book = book
        self.service = service
        self._listener = socket.create_server((host, port))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"{service}-proxy", daemon=True)
        book.on_add(self._fault_added)

    def start(self) -> TcpFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.close()
        finally:
            self._drop_all()

    def _fault_added(self, fault: Fault) -> None:
        if fault.service == self.service and fault.mode == "down":
            self._drop_all()  # the server "went away": open connections break too

    def _drop_all(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        fault = self.book.take(self.service, mode="down") if self.book.affects(self.service) else None
        if fault is not None:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._connections.update((client, upstream))
        try:
            self._pump(client, upstream)
        finally:
            with self._lock:
                self._connections.discard(client)
                self._connections.discard(upstream)
            client.close()
            upstream.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([client, upstream], [], [], 1.0)
            except (OSError, ValueError):
                return
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if sock is client and self.book.affects(self.service):
                    fault = self.book.take(self.service)
                    if fault is not None and fault.mode == "slow":
                        time.sleep(fault.seconds)
                    elif fault is not None:
                        return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return

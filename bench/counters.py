"""Counts (and optionally records) the AWS, Redis and upstream HTTP calls a piece of code makes, by
hooking the libraries themselves rather than by reading our code:

- botocore: handlers added to `botocore.handlers.BUILTIN_HANDLERS`, which every botocore session
  copies when it is created (moto hooks itself in the same way), so the clients `shop_shared.aws`
  and Powertools create are counted wherever they come from. `before-call` fires once per API
  call, `before-send` once per HTTP attempt (retries included).
- redis-py: `AbstractConnection.send_packed_command` is wrapped; one call is one round trip (a
  pipeline sends all its commands in one), and the packed RESP is parsed for the command names.
- the upstream product API: urllib3's `HTTPConnectionPool.urlopen` for the stand-in's port.

`install()` must run before the first boto3 session is created.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SERVICE_LABELS = {
    "dynamodb": "DynamoDB",
    "sns": "SNS",
    "sqs": "SQS",
    "ses": "SES",
    "sesv2": "SES",
    "secretsmanager": "SecretsManager",
}
COLUMNS = ("DynamoDB", "SNS", "SQS", "SES", "SecretsManager", "Redis", "upstream HTTP")


@dataclass
class AwsCall:
    service: str  # botocore's service name: dynamodb, sns ...
    operation: str  # PutItem ...
    params: dict[str, Any]  # the low-level API parameters (recorded only when asked)


@dataclass
class Calls:
    aws_calls: list[AwsCall] = field(default_factory=list)
    aws_attempts: Counter[str] = field(default_factory=Counter)
    redis_trips: list[list[list[bytes]]] = field(default_factory=list)  # per trip: its commands
    upstream: list[str] = field(default_factory=list)
    sequence: list[tuple[str, int]] = field(default_factory=list)  # ("aws"|"redis", index), in call order
    record_params: bool = False
    enabled: bool = True  # off while timing, so that the hooks cost next to nothing
    _pending: dict[int, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.aws_calls.clear()
        self.aws_attempts.clear()
        self.redis_trips.clear()
        self.upstream.clear()
        self.sequence.clear()
        self._pending.clear()

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(COLUMNS, 0)
        for call in self.aws_calls:
            label = SERVICE_LABELS.get(call.service, call.service)
            out[label] = out.get(label, 0) + 1
        out["Redis"] = len(self.redis_trips)
        out["upstream HTTP"] = len(self.upstream)
        return out

    def describe(self) -> str:
        """`dynamodb:GetItem, dynamodb:PutItem, redis:[MGET], redis:[MULTI ZADD EXEC]` ..."""
        parts = [f"{call.service}:{call.operation}" for call in self.aws_calls]
        for trip in self.redis_trips:
            names = " ".join(command[0].decode(errors="replace").upper() for command in trip if command)
            parts.append(f"redis:[{names}]")
        parts.extend(f"GET {path}" for path in self.upstream)
        return ", ".join(parts)


CALLS = Calls()
_state = {"installed": False}
_upstream_ports: set[int] = set()


def parse_resp_commands(data: bytes) -> list[list[bytes]]:
    """The commands in a packed request: RESP arrays of bulk strings."""
    commands: list[list[bytes]] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 1] != b"*":
            break
        end = data.index(b"\r\n", pos)
        count = int(data[pos + 1 : end])
        pos = end + 2
        args: list[bytes] = []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            size = int(data[pos + 1 : end])
            pos = end + 2
            args.append(data[pos : pos + size])
            pos += size + 2
        commands.append(args)
    return commands


def _before_parameter_build(params: dict[str, Any], **kwargs: Any) -> None:
    # boto3's DynamoDB resource rewrites `params` in place after this handler (it registers later),
    # so keep a reference and copy it at before-call, when it holds the low-level parameters.
    if CALLS.enabled and CALLS.record_params:
        CALLS._pending[id(kwargs.get("context"))] = params


def _before_call(model: Any, context: Any = None, **kwargs: Any) -> None:
    if not CALLS.enabled:
        return
    params: dict[str, Any] = {}
    if CALLS.record_params:
        pending = CALLS._pending.pop(id(context), None)
        params = copy.deepcopy(pending) if pending is not None else {}
    CALLS.aws_calls.append(AwsCall(model.service_model.service_name, model.name, params))
    CALLS.sequence.append(("aws", len(CALLS.aws_calls) - 1))


def _before_send(event_name: str = "", **kwargs: Any) -> None:
    if not CALLS.enabled:
        return
    CALLS.aws_attempts[event_name.split(".")[1] if "." in event_name else event_name] += 1


def install(upstream_port: int | None = None) -> Calls:
    if upstream_port:
        _upstream_ports.add(upstream_port)
    if _state["installed"]:
        return CALLS
    _state["installed"] = True

    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
    handlers.BUILTIN_HANDLERS.append(("before-call", _before_call))
    handlers.BUILTIN_HANDLERS.append(("before-send", _before_send))

    from redis import connection

    original_send = connection.AbstractConnection.send_packed_command

    def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
        if not CALLS.enabled:
            return original_send(self, command, check_health=check_health)
        chunks = [command] if isinstance(command, (bytes, str)) else list(command)
        data = b"".join(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in chunks)
        CALLS.redis_trips.append(parse_resp_commands(data))
        CALLS.sequence.append(("redis", len(CALLS.redis_trips) - 1))
        return original_send(self, command, check_health=check_health)

    connection.AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]

    from urllib3 import connectionpool

    original_urlopen = connectionpool.HTTPConnectionPool.urlopen

    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if CALLS.enabled and self.port in _upstream_ports:
            CALLS.upstream.append(url)
        return original_urlopen(self, method, url, *args, **kwargs)

    connectionpool.HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
    return CALLS

"""`python -m bench.iam_overhead`: what the emulator's IAM check (sam_runner.iam_enforcement) adds
to one request, in the emulator's process: the same WSGI request through the enforcement front
and straight to a trivial app behind it, interleaved, with the template's real roles. Typical
requests of the functions: a DynamoDB GetItem, a TransactWriteItems of three items, an SES
SendRawEmail (two identities), an SNS PublishBatch. Prints microseconds per request (medians).
Not part of `make bench` (a figure for docs/architecture.md, "IAM enforced locally")."""

from __future__ import annotations

import base64
import io
import json
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from sam_runner import iam_roles
from sam_runner.builder import load
from sam_runner.iam_enforcement import IamEnforcement

ROUNDS = 7
CALLS = 2000


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # as moto reads the body
    start_response("200 OK", [])
    return [b"{}"]


def _environ(key: str, service: str, body: bytes, target: str = "") -> Callable[[], dict[str, Any]]:
    scope = f"{key}/20261207/us-east-1/{service}/aws4_request"

    def make() -> dict[str, Any]:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        }
        if target:
            environ["HTTP_X_AMZ_TARGET"] = target
        return environ

    return make


def requests(template: Any) -> dict[str, Callable[[], dict[str, Any]]]:
    users = template.resource_name("UsersTable")
    key = {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}}
    raw = base64.b64encode(b"From: orders@example.com\r\nTo: jo@example.org\r\n\r\nhi").decode()
    topic = f"arn:aws:sns:us-east-1:123456789012:{template.resource_name('OrderEventsTopic')}"
    entries = {f"PublishBatchRequestEntries.member.{i}.Message": "{}" for i in range(1, 11)}
    auth = iam_roles.access_key("AuthFunction")
    return {
        "DynamoDB GetItem": _environ(
            iam_roles.access_key("AuthorizerFunction"),
            "dynamodb",
            json.dumps({"TableName": users, "Key": key}).encode(),
            "DynamoDB_20120810.GetItem",
        ),
        "DynamoDB TransactWriteItems (3 items)": _environ(
            auth,
            "dynamodb",
            json.dumps(
                {"TransactItems": [{"Put": {"TableName": users, "Item": {**key, "n": {"S": "x" * 200}}}}] * 3}
            ).encode(),
            "DynamoDB_20120810.TransactWriteItems",
        ),
        "SES SendRawEmail": _environ(
            auth,
            "ses",
            urlencode(
                {
                    "Action": "SendRawEmail",
                    "Source": "orders@example.com",
                    "Destinations.member.1": "jo@example.org",
                    "RawMessage.Data": raw,
                }
            ).encode(),
        ),
        "SNS PublishBatch (10)": _environ(
            iam_roles.access_key("OrderEventsPublisherFunction"),
            "sns",
            urlencode({"Action": "PublishBatch", "TopicArn": topic, **entries}).encode(),
        ),
    }


def _time(app: Callable[..., Iterable[bytes]], make: Callable[[], dict[str, Any]]) -> float:
    environs = [make() for _ in range(CALLS)]
    began = time.perf_counter()
    for environ in environs:
        list(app(environ, lambda *_: None))
    return (time.perf_counter() - began) / CALLS


def main() -> int:
    template = load()
    front = IamEnforcement(_app)
    roles = iam_roles.roles(template)
    front.configure(
        {"roles": [role.as_dict() for role in roles.values()], "names": iam_roles.names(template)}
    )
    print(f"{'request':<40} {'direct µs':>10} {'with IAM µs':>12} {'added µs':>9}")
    for name, make in requests(template).items():
        direct, checked = [], []
        for _ in range(ROUNDS):  # interleaved: both see the same machine load
            direct.append(_time(_app, make))
            checked.append(_time(front, make))
        base, with_iam = statistics.median(direct) * 1e6, statistics.median(checked) * 1e6
        print(f"{name:<40} {base:>10.1f} {with_iam:>12.1f} {with_iam - base:>9.1f}")
    assert front.report()["denied"] == 0, front.report()["denials"]
    round_trips()
    return 0


def round_trips() -> None:
    """boto3 round trips to the embedded emulator (moto behind the fault middleware and the
    lock), IAM checking and not, interleaved: the share of a whole AWS call the check is."""
    import boto3

    from sam_runner import iam_enforcement
    from sam_runner.builder import build
    from sam_runner.emulator import EmbeddedMoto
    from sam_runner.faults import FaultBook

    server = EmbeddedMoto(FaultBook()).start()
    try:
        built = build(endpoint_url=server.url)
        template = built.template
        found = iam_roles.roles(template)
        names = iam_roles.names(template)
        client = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=iam_roles.access_key("AuthorizerFunction"),
            aws_secret_access_key=iam_roles.FUNCTION_SECRET_KEY,
        )
        table = template.physical("UsersTable")["Ref"]
        key = {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}}
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(ROUNDS):
            for enabled in (False, True):
                iam_enforcement.configure(
                    server.url, [role.as_dict() for role in found.values()], names, enabled=enabled
                )
                began = time.perf_counter()
                for _ in range(200):
                    client.get_item(TableName=table, Key=key)
                timings[enabled].append((time.perf_counter() - began) / 200)
        off, on = (statistics.median(timings[flag]) * 1e6 for flag in (False, True))
        print(f"\nGetItem round trip to the embedded emulator: {off:.0f} µs unchecked, {on:.0f} µs checked")
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())

"""IAM in the embedded emulator's front: every request a function signs with its own access key
(`sam_runner.iam_roles.access_key`) is checked against its role before moto sees it; a request
its role does not allow gets the answer AWS gives, so the function's own error handling runs as
it would in production.

- The outermost WSGI middleware of the emulator (`sam_runner.emulator`): a denied request is
  neither faulted nor served. The stack's own credentials (provisioning, `/_dev`, the tests, the
  pollers' own calls) and any key that is not a function's pass unchecked.
- What a request asks for: `sam_runner.iam_requests`; the evaluation: `sam_runner.iam_policy`.
  An operation the mapping does not know is denied (and says so in the log).
- The denial, per protocol (as AWS answers it): JSON services (DynamoDB, Streams, Secrets Manager,
  KMS) 400 `AccessDeniedException`; SQS's JSON protocol the same, with the query protocol's code
  `AccessDenied` in `x-amzn-query-error` (botocore reports that one); SNS 403 `AuthorizationError`
  (SNS API reference, common errors); SES and any other query service 403 `AccessDenied`. The
  message is AWS's: `User: <role session> is not authorized to perform: <action> on resource:
  <arn> because no identity-based policy allows the <action> action`.
- `/_shop/iam`: `POST` sets the roles and the stack's names (the stack, after provisioning);
  `GET` gives the counts, the last denials and the grants exercised so far.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from sam_runner.iam_policy import (
    Decision,
    Statement,
    applies_ignoring_conditions,
    evaluate,
    exercised,
    grants,
    statements,
)
from sam_runner.iam_requests import Check, Names, credential, map_request
from sam_runner.serving import read_body

log = logging.getLogger("shop_local.iam")

CONTROL_PATH = "/_shop/iam"
DENIALS_KEPT = 100
MATCHES_KEPT = 10_000  # (action, resource) pairs per role: a stack's requests name a few dozen


class _Role:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.function_id: str = spec["function_id"]
        self.principal = f"arn:aws:sts::123456789012:assumed-role/{spec['role_name']}/{spec['function_name']}"
        self.statements: list[Statement] = [
            statement
            for policy in spec["policies"]
            for statement in statements(policy["name"], policy["document"])
        ]
        self.grants = [grant for statement in self.statements for grant in grants(statement)]
        # per (action, resource): the statements whose Action and Resource match, and the grants
        # each would use. Only their conditions depend on the request (matching every pattern
        # of every statement cost most of the check's 300 µs).
        self._matching: dict[tuple[str, str], list[tuple[Statement, list[str]]]] = {}

    def decide(self, check: Check) -> tuple[Decision, list[str]]:
        """The decision on one check, and the grants it used when allowed."""
        key = (check.action, check.resource)
        matching = self._matching.get(key)
        if matching is None:
            matching = [
                (statement, exercised(statement, check.action, check.resource))
                for statement in self.statements
                if applies_ignoring_conditions(statement, check.action, check.resource)
            ]
            if len(self._matching) < MATCHES_KEPT:
                self._matching[key] = matching
        decision = evaluate(
            [statement for statement, _ in matching], check.action, check.resource, check.context
        )
        if not decision.allowed:
            return decision, []
        used = [
            grant
            for statement, grants_used in matching
            if statement in decision.statements
            for grant in grants_used
        ]
        return decision, used


def denial_message(principal: str, action: str, resource: str, explicit: bool) -> str:
    reason = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {reason}"


def denial_response(
    service: str, json_protocol: bool, sqs: bool, message: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "AccessDeniedException"),
        ]
        if sqs:
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        status = "400 Bad Request"
    else:
        code = "AuthorizationError" if service == "sns" else "AccessDenied"
        escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escaped}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        status = "403 Forbidden"
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


class IamEnforcement:
    """WSGI middleware: the IAM check of every function's request, then `app`."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.enabled = False
        self.roles: dict[str, _Role] = {}  # by access key
        self.names = Names()
        self.allowed: Counter[str] = Counter()  # by function
        self.denied: Counter[str] = Counter()
        self.used: dict[str, Counter[str]] = {}  # function -> grant -> requests
        self.denials: deque[dict[str, Any]] = deque(maxlen=DENIALS_KEPT)
        self.seconds = 0.0  # time spent checking, for the overhead figure
        self.checked = 0

    # ------------------------------------------------------------------ control
    def configure(self, spec: dict[str, Any]) -> None:
        roles = {role["access_key"]: _Role(role) for role in spec.get("roles", [])}
        names = Names(**spec.get("names", {}))
        with self._lock:
            self.roles, self.names = roles, names
            self.enabled = bool(spec.get("enabled", True))
            for role in roles.values():
                self.used.setdefault(role.function_id, Counter())
        log.info("IAM: enforcing the roles of %d functions", len(roles))

    def report(self) -> dict[str, Any]:
        with self._lock:
            functions = {
                role.function_id: {
                    "allowed": self.allowed[role.function_id],
                    "denied": self.denied[role.function_id],
                    "grants": role.grants,
                    "exercised": dict(self.used.get(role.function_id, {})),
                }
                for role in self.roles.values()
            }
            return {
                "enabled": self.enabled,
                "allowed": sum(self.allowed.values()),
                "denied": sum(self.denied.values()),
                "checked": self.checked,
                "check_seconds": round(self.seconds, 6),
                "functions": functions,
                "denials": list(self.denials),
            }

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            self.configure(json.loads(read_body(environ) or b"{}"))
        data = json.dumps(self.report()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    # ------------------------------------------------------------------ requests
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        if not self.enabled or path.startswith("/_shop/"):
            return self.app(environ, start_response)
        signed = credential({"authorization": environ.get("HTTP_AUTHORIZATION", "")})
        role = self.roles.get(signed.access_key) if signed is not None else None
        if signed is None or role is None:
            return self.app(environ, start_response)  # the stack's own, or nobody's function
        began = time.perf_counter()
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        mapped = map_request(
            signed.service,
            signed.region,
            headers={"x-amz-target": target},
            body=read_body(environ),
            query=environ.get("QUERY_STRING", ""),
            names=self.names,
        )
        refused: tuple[Check, bool] | None = None
        used: list[str] = []
        if mapped.unknown:
            log.warning(
                "IAM: %s called %s, an operation the local IAM check does not know: denied",
                role.function_id,
                mapped.operation,
            )
            refused = (Check(mapped.operation, "*"), False)
        for check in mapped.checks:
            decision, grants_used = role.decide(check)
            if not decision.allowed:
                refused = (check, bool(decision.statements))
                break
            used += grants_used
        with self._lock:
            self.seconds += time.perf_counter() - began
            self.checked += 1
            if refused is None:
                self.allowed[role.function_id] += 1
                counter = self.used.setdefault(role.function_id, Counter())
                counter.update(used)
            else:
                self.denied[role.function_id] += 1
        if refused is None:
            return self.app(environ, start_response)
        check, explicit = refused
        log.warning("IAM denied: %s %s on %s", role.function_id, check.action, check.resource)
        with self._lock:
            self.denials.append(
                {
                    "function": role.function_id,
                    "action": check.action,
                    "resource": check.resource,
                    "operation": mapped.operation,
                }
            )
        json_protocol = bool(target)
        message = denial_message(role.principal, check.action, check.resource, explicit)
        status, headers, body = denial_response(
            signed.service, json_protocol, target.startswith("AmazonSQS"), message
        )
        start_response(status, headers)
        return [body]


# ---------------------------------------------------------------------- the stack's side
def _call(url: str, method: str, body: Any = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        url + CONTROL_PATH, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def configure(
    emulator_url: str, roles: list[dict[str, Any]], names: dict[str, Any], enabled: bool = True
) -> None:
    _call(emulator_url, "POST", {"roles": roles, "names": names, "enabled": enabled})


def report(emulator_url: str) -> dict[str, Any]:
    return _call(emulator_url, "GET")

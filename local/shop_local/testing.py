"""Test harness: the whole local stack (`shop dev --port 0`) in a subprocess, driven over HTTP.

Integration tests use the session-scoped `stack` fixture (tests/conftest.py), which is a
`ShopStack` on the test run's Redis database::

    def test_something(stack):
        alice = stack.new_user()                       # registered and logged in over HTTP
        r = stack.get("/orders/nope", token=alice["token"])
        assert r.status_code == 404

What a `ShopStack` offers:

- `url` (the API, e.g. `http://127.0.0.1:43117`), `aws_endpoint` (the embedded moto server),
  `product_api_url` (what the functions use, the stand-in's `.../api`), `redis_url` (the test
  Redis database the functions write to — they reach it through the stack's fault proxy, the
  test reads it directly), `admin_password` (the user `admin` exists with it).
- HTTP: `get/post/put/delete/patch(path, token=None, **requests_kwargs)` → `requests.Response`;
  `new_user(verified=True, **fields)` → `{"user", "token", "refresh_token", "headers", "username",
  "password", "email"}` (a fresh customer whose e-mail is verified through the link mailed to
  them, as a user would: only verified users may order; `verified=False` skips it);
  `login(username, password)` → the access token; `login_tokens(...)` → the whole login answer;
  `admin_token()`; `mailed_token(email, subject)` → the `token=` of a link mailed to `email`;
  `verify_email(email)` → follows the verification link.
- Shopping steps: `add_address(who, **fields)` → the new address (fields override
  `DEFAULT_ADDRESS`); `new_shopper(address=None, **fields)` → `new_user(**fields)` with an address,
  its id under `"address_id"`; `place_order(who, items, address_id=None, **requests_kwargs)` →
  the `POST /orders` response (shipped to `who["address_id"]` unless told otherwise).
- AWS: `client("sqs")` (boto3 on the emulator, never hit by injected faults),
  `resources()` (table names, queue URLs and ARNs, topic ARN, stream ARN, functions: the JSON of
  `GET /_dev/resources`), `queue_url("OrderEmailDLQ")`, `queue_depth("OrderEmailDLQ")`,
  `since = order_event_counts()` first, then `wait_for_order_events(since, n)`: until the e-mail
  function has finished with n order events since, every one published since among them, and
  nothing is left on its queue; `wait_for_order_pipeline()`: until every order created and every
  status changed through the API has been published and e-mailed (no function still at work).
- Metrics: `metric_total(name)`, the sum of a metric over the functions' EMF lines so far (assert
  on what a metric counts rather than on a log line's wording).
- Mail: `emails()` (every e-mail SES accepted, oldest first, each `{to, from, subject, html, text,
  time}`), `wait_for_emails(predicate, timeout=10, count=1)` → the matching e-mails (AssertionError
  with what arrived if fewer than `count` match in time).
- Faults (`/_dev/faults`): `fail(service, action=None, times=None)` makes an AWS service
  (`sns`, `ses`, `sqs`, `dynamodb`, `secretsmanager`) answer 503 ServiceUnavailable (all its
  actions, or only `action`, e.g. "Publish"; `times` requests, or until cleared — the functions'
  boto3 clients retry 5xx (`max_attempts: 3` retries = 4 attempts per call), so `times` < 4 is
  absorbed by the retries: use `times` >= 4, or none and `clear_faults()`);
  `fail("redis")` cuts the functions off Redis (connections refused and dropped);
  `fail("products-api")` makes the product API answer 503; `slow(service, seconds)` delays them
  instead; `clear_faults()` ends them all. Clear what you set (e.g. in a `finally`), the stack is
  shared by the whole session.
- `forget_authorizations()`: the gateway caches an authorizer's answer per token for
  `ReauthorizeEvery` (60 s), as API Gateway does; call this to make the next request run the
  authorizer again.
- `wait_until(condition, timeout=10)`, `log_text()` (the stack's output so far: its request and
  invocation log and the functions' own logs: the stack runs with `--verbose`), `stop()`, then
  `exit_code` (0 = clean shutdown).
- Another stack (other settings, e.g. `env={"ORDER_RATE_LIMIT": "2/60"}`) costs a few seconds:
  `with ShopStack(redis_url=redis_url, env={...}) as other: ...`.

The functions run as the stack runs them for `make run`: in execution environments of AWS's runtime
interface client (`sam_runner.lambda_runtime`), several per function under concurrent requests.

The subprocess never outlives the test run: it is stopped at exit, and on Linux it also dies with
its parent (PR_SET_PDEATHSIG).

For code that calls a handler directly (unit tests, races, benchmarks): `proxy_event(...)`, the REST
proxy event API Gateway sends (the local gateway's own is in `sam_runner.gateway`), and
`lambda_context(function_id)`, the context. `wait_quiet(depth)` waits until a
backlog counter has stayed 0 for a while (how the benchmarks see a queue drained).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from sam_runner.faults import INTERNAL_USER_AGENT

if TYPE_CHECKING:  # the cold-start benchmark's child imports this module: no YAML on its clock
    from sam_runner.template import Template

READY = re.compile(r"Shop running at (http://[^\s]+)")
# Settings inherited from the developer's shell that would point the stack elsewhere.
NOT_INHERITED = ("AWS_ENDPOINT_URL", "PORT", "PRODUCT_API_URL", "SHOP_ADMIN_PASSWORD", "AWS_PROFILE")
DEFAULT_ADMIN_PASSWORD = "admin-password-1"  # noqa: S105 - a local test stack's admin
DEFAULT_ADDRESS = {
    "street": "1 Main St",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "country": "US",
}


def proxy_event(
    method: str,
    resource: str,
    *,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The REST API proxy event (payload 1.0) of a request to `resource` (the template's path, e.g.
    `/orders/{order_id}`, filled in from `path_params`), on stage `dev`. `body`: a string is sent
    as it is, anything else as JSON. `authorizer`: what the TOKEN authorizer passed on
    (`principalId` defaults to its `user_id`)."""
    path = resource
    for name, value in (path_params or {}).items():
        path = path.replace("{" + name + "}", value)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    request_context: dict[str, Any] = {
        "resourcePath": resource,
        "httpMethod": method,
        "path": f"/dev{path}",
        "stage": "dev",
        "requestId": str(uuid.uuid4()),
        "accountId": "123456789012",
        "apiId": "local",
        "protocol": "HTTP/1.1",
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "shop-local-test"},
    }
    if authorizer is not None:
        request_context["authorizer"] = {"principalId": authorizer.get("user_id"), **authorizer}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


@dataclass
class LambdaContext:
    """What the Python runtime passes as `context` (awslambdaric's attributes and their types)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # a string in the real runtime too (it comes from an env variable)
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))

    @classmethod
    def start(cls, function_name: str, function_arn: str, memory_size: int, timeout: int) -> LambdaContext:
        """The context of one invocation starting now: its deadline is `timeout` seconds away."""
        return cls(
            function_name=function_name,
            function_version="$LATEST",
            invoked_function_arn=function_arn,
            memory_limit_in_mb=str(memory_size),
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function_name}",
            log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
            deadline_ms=int(time.time() * 1000) + timeout * 1000,
        )


@lru_cache(maxsize=1)
def _default_template() -> Template:
    from sam_runner.template import Template

    return Template()


def function_name_and_arn(function_id: str, template: Template | None = None) -> tuple[str, str]:
    """The name and ARN the local stack gives the template's function (`<stack>-<logical id>`)."""
    template = template or _default_template()
    name = f"{template.stack_name}-{function_id}"
    return name, f"arn:aws:lambda:{template.region}:{template.account_id}:function:{name}"


def lambda_context(function_id: str, template: Template | None = None) -> LambdaContext:
    """A fresh context for one invocation of the template's function `function_id` (its name,
    memory and Timeout), for tests and benchmarks that call a handler directly."""
    template = template or _default_template()
    spec = template.functions()[function_id]
    name, arn = function_name_and_arn(function_id, template)
    return LambdaContext.start(name, arn, spec.memory_size, spec.timeout)


def wait_until(
    condition: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.2,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """Poll `condition` until it returns something truthy (returned), or AssertionError after
    `timeout` seconds: a wait for the condition itself, never a fixed sleep. Exceptions of the
    `ignoring` types count as "not yet" (a server that is still starting refuses connections)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout:g}s")
        time.sleep(interval)


def link_token(mail: dict[str, Any]) -> str | None:
    """The `token=` of the link in a mailbox e-mail (`GET /_dev/emails`), if it has one."""
    match = re.search(r"[?&]token=([A-Za-z0-9_-]+)", str(mail.get("text") or mail.get("html")))
    return match.group(1) if match else None


def wait_quiet(depth: Callable[[], int], quiet: float, timeout: float) -> bool:
    """Poll `depth` until it has stayed 0 for `quiet` seconds (True), or `timeout` passed (False)."""
    deadline = time.monotonic() + timeout
    empty_since: float | None = None
    while time.monotonic() < deadline:
        if depth():
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since >= quiet:
            return True
        time.sleep(0.2)
    return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ShopStack:
    """`shop dev --port 0` in a subprocess. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        *,
        redis_url: str,
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        env: dict[str, str] | None = None,
        startup_timeout: float = 90.0,
        state_file: Path | None = None,
        fresh: bool = False,
    ) -> None:
        self.state_file = state_file  # None: starts empty, keeps nothing (`--no-state`)
        self.fresh = fresh  # with a state file: `--fresh`
        self.redis_url = redis_url
        self.admin_password = admin_password
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.url = ""
        self.aws_endpoint = ""
        self.product_api_url = ""
        self._resources: dict[str, Any] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="shop-stack-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self.http = requests.Session()
        self._clients: dict[str, Any] = {}
        self.exit_code: int | None = None  # once stopped: 0 for a clean shutdown

    # ------------------------------------------------------------------ life cycle
    def __enter__(self) -> ShopStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ShopStack:
        from sam_runner.builder import load
        from sam_runner.lambda_runtime import prepare_packages

        # the environments' layer and runtime folders: installed once (pip) on a fresh clone,
        # here rather than inside the stack's start-up timeout
        prepare_packages(load())
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update(
            {
                "REDIS_URL": self.redis_url,
                "SHOP_ADMIN_PASSWORD": self.admin_password,
                "PYTHONUNBUFFERED": "1",
                # a test stack starts empty; the sample events' data only where asked for
                "SHOP_SAMPLE_DATA": "0",
                # every test client is 127.0.0.1: the per-client e-mail budget is tested on its
                # own stack (tests/integration/test_mail_limits.py), not tripped by the others
                "MAIL_CLIENT_LIMIT": "1000000/3600",
            }
        )
        env.update(self.extra_env)
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                *[sys.executable, "-m", "shop_local.cli", "dev", "--port", "0", "--verbose"],
                *(["--state", str(self.state_file)] if self.state_file else ["--no-state"]),
                *(["--fresh"] if self.fresh else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        atexit.register(self.stop)
        try:
            self.url = self._wait_ready()
            resources = self.resources()
            self.aws_endpoint = resources["aws_endpoint"]
            self.product_api_url = resources["product_api_url"]
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> str:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            match = READY.search(self.log_text())
            if match:
                return match.group(1)
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"shop dev exited with {self._process.returncode} before it was ready:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise RuntimeError(f"shop dev was not ready in {self.startup_timeout:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None:
            self.exit_code = process.returncode
        self.http.close()
        self._log.close()
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metric_total(self, name: str, namespace: str = "Shop", **dimensions: str) -> float:
        """The sum of the metric `name` (with these dimension values, e.g. `Use="order_rate_limit"`)
        over every EMF line the functions printed so far (their Powertools metrics, as CloudWatch
        would add them up): count what happened by the metric, not by a log line's wording."""
        total = 0.0
        for line in self.log_text().splitlines():
            if not line.startswith("{") or f'"{name}"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if any(entry.get(key) != value for key, value in dimensions.items()):
                continue
            directives = (entry.get("_aws") or {}).get("CloudWatchMetrics") or []
            if any(
                directive.get("Namespace") == namespace
                and any(metric.get("Name") == name for metric in directive.get("Metrics") or [])
                for directive in directives
            ):
                value = entry.get(name, 0)
                total += sum(value) if isinstance(value, list) else value
        return total

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # ------------------------------------------------------------------ HTTP
    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, self.url + path, headers=headers, **kwargs)

    def get(self, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token=token, **kwargs)

    def post(self, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, token=token, **kwargs)

    def put(self, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, token=token, **kwargs)

    def delete(self, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, token=token, **kwargs)

    def patch(self, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, token=token, **kwargs)

    def login(self, username: str, password: str) -> str:
        return str(self.login_tokens(username, password)["access_token"])

    def login_tokens(self, username: str, password: str) -> dict[str, Any]:
        """`POST /auth/login`: `{access_token, refresh_token, token_type, expires_in}`."""
        response = self.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, f"login {username}: {response.status_code} {response.text}"
        return dict(response.json())

    def admin_token(self) -> str:
        return self.login("admin", self.admin_password)

    def mailed_token(self, email: str, subject: str, timeout: float = 10.0) -> str:
        """The `token=` of the newest e-mail to `email` whose subject contains `subject`."""
        mails = self.wait_for_emails(
            lambda mail: email.lower() in [to.lower() for to in mail["to"]] and subject in mail["subject"],
            timeout=timeout,
        )
        token = link_token(mails[-1])
        assert token, f"no token= link in the e-mail to {email}"
        return token

    def verify_email(self, email: str) -> dict[str, Any]:
        """Follow the verification link mailed to `email` (as a user would): the verified user."""
        token = self.mailed_token(email, "Verify your e-mail")
        response = self.post("/auth/verify-email", json={"token": token})
        assert response.status_code == 200, f"verify-email: {response.status_code} {response.text}"
        return dict(response.json())

    def new_user(self, *, verified: bool = True, **fields: Any) -> dict[str, Any]:
        """Register a fresh customer over HTTP, verify the e-mail through the mailbox link (unless
        `verified=False`: then they cannot order) and log in.

        Returns {user, token, refresh_token, headers, username, password, email}; `fields` override
        the body."""
        suffix = uuid.uuid4().hex[:10]
        body = {
            "username": f"user_{suffix}",
            "email": f"user_{suffix}@example.com",
            "first_name": "Test",
            "last_name": "User",
            "password": f"pw-{suffix}-secret",
            **fields,
        }
        response = self.post("/auth/register", json=body)
        assert response.status_code == 201, f"register: {response.status_code} {response.text}"
        user = dict(response.json())
        if verified:
            user = self.verify_email(body["email"])
        tokens = self.login_tokens(body["username"], body["password"])
        return {
            "user": user,
            "token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "headers": {"Authorization": f"Bearer {tokens['access_token']}"},
            "username": body["username"],
            "password": body["password"],
            "email": body["email"],
        }

    def add_address(self, who: dict[str, Any], **fields: str) -> dict[str, Any]:
        """Add a shipping address for `who` (a `new_user()`); `fields` override DEFAULT_ADDRESS."""
        response = self.post(
            f"/auth/user/{who['user']['id']}/addresses",
            token=who["token"],
            json={**DEFAULT_ADDRESS, **fields},
        )
        assert response.status_code == 201, f"add address: {response.status_code} {response.text}"
        return dict(response.json())

    def new_shopper(self, address: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        """`new_user(**fields)` with a shipping address (`address` overrides DEFAULT_ADDRESS), its
        id under `"address_id"`."""
        who = self.new_user(**fields)
        who["address_id"] = self.add_address(who, **(address or {}))["id"]
        return who

    def place_order(
        self, who: dict[str, Any], items: list[dict[str, Any]], address_id: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """`POST /orders` as `who`, shipped to `address_id` (default: `who["address_id"]`)."""
        body = {"items": items, "shipping_address_id": address_id or who["address_id"]}
        return self.post("/orders", token=who["token"], json=body, **kwargs)

    # ------------------------------------------------------------------ AWS
    def client(self, service: str) -> Any:
        """boto3 on the emulator; never affected by injected faults (it is the test's eye)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.session.Session().client(  # type: ignore[call-overload]
                service,
                endpoint_url=self.aws_endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy credentials
                config=Config(user_agent_extra=INTERNAL_USER_AGENT),
            )
        return self._clients[service]

    def resources(self) -> dict[str, Any]:
        if self._resources is None:
            response = self.http.get(f"{self.url}/_dev/resources", timeout=10)
            response.raise_for_status()
            self._resources = response.json()
        return self._resources

    def queue_url(self, logical_id: str) -> str:
        return str(self.resources()["queues"][logical_id]["url"])

    def queue_depth(self, logical_id: str) -> int:
        """Messages in the queue, visible or in flight."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def order_event_counts(self) -> tuple[float, float]:
        """(published, finished): order events the publisher has published (`OrderEventPublished`),
        and those the e-mail function has finished with: sent, recognised as a duplicate, or
        refused by SES for good (a malformed message or a failed send is not finished)."""
        finished = ("OrderEmailSent", "OrderEmailDuplicate", "OrderEmailRefused")
        return self.metric_total("OrderEventPublished"), sum(self.metric_total(name) for name in finished)

    def wait_for_order_events(self, since: tuple[float, float], finished: int, timeout: float = 60.0) -> None:
        """Until, since the counts `since` (`order_event_counts()`), the e-mail function has finished
        with `finished` order events at least and with every one published meanwhile, and the
        e-mail queue holds nothing, visible or in flight: what was on its way has arrived,
        duplicates included."""

        def done() -> bool:
            published, handled = self.order_event_counts()
            new = handled - since[1]
            return (
                new >= finished and new >= published - since[0] and self.queue_depth("OrderEmailQueue") == 0
            )

        self.wait_until(done, timeout=timeout, interval=0.2)

    def wait_for_order_pipeline(self, timeout: float = 60.0) -> None:
        """Until nothing of the order pipeline is on its way: every order the API created and every
        status it changed has been published (`OrderCreated` + `OrderStatusChanged` <=
        `OrderEventPublished`), the e-mail function has finished with every event published, and
        its queue holds nothing. After it, no function writes unless a request asks it to."""

        def done() -> bool:
            produced = self.metric_total("OrderCreated") + self.metric_total("OrderStatusChanged")
            published, handled = self.order_event_counts()
            return published >= produced and handled >= published and self.queue_depth("OrderEmailQueue") == 0

        self.wait_until(done, timeout=timeout, interval=0.2)

    # ------------------------------------------------------------------ mail
    def emails(self) -> list[dict[str, Any]]:
        # an outside emulator's mailbox is read from a dump that can take a while under load
        response = self.http.get(f"{self.url}/_dev/emails", timeout=60)
        response.raise_for_status()
        return list(response.json())

    def wait_for_emails(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, count: int = 1
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            mails = self.emails()
            found = [mail for mail in mails if predicate(mail)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = [(mail.get("to"), mail.get("subject")) for mail in mails[-10:]]
                raise AssertionError(
                    f"{len(found)} of {count} e-mails arrived in {timeout:g}s; last seen: {seen}"
                )
            time.sleep(0.2)

    # ------------------------------------------------------------------ faults
    def _fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.url}/_dev/faults", json=spec, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def fail(self, service: str, action: str | None = None, times: int | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"service": service}
        if action is not None:
            spec["action"] = action
        if times is not None:
            spec["times"] = times
        return self._fault(spec)

    def slow(self, service: str, seconds: float) -> dict[str, Any]:
        return self._fault({"service": service, "mode": "slow", "seconds": seconds})

    def clear_faults(self) -> None:
        self.http.delete(f"{self.url}/_dev/faults", timeout=10).raise_for_status()

    def forget_authorizations(self) -> None:
        """Drop the gateway's cached authorizer answers (as if their TTL had passed): needed to
        see a deactivated user or a changed role refused on a token the gateway already allowed."""
        self.http.delete(f"{self.url}/_dev/authorizer-cache", timeout=10).raise_for_status()

    # ------------------------------------------------------------------ waiting
    @staticmethod
    def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.2) -> Any:
        """Poll `condition` until it returns something truthy (returned), or AssertionError."""
        return wait_until(condition, timeout=timeout, interval=interval)

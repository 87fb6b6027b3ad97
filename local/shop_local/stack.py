"""The docker-free local stack behind `shop dev` (`make run`), in parts with one job each:

1. `LocalAws`: the embedded moto server (`sam_runner.emulator`, a child process on a loopback port,
   behind the fault middleware), or the emulator `AWS_ENDPOINT_URL` points at (LocalStack); the
   mailbox of what SES accepted.
2. `LocalRedis`: `REDIS_URL`, or an embedded fakeredis server when nothing answers there. The
   functions reach it through a small TCP proxy so that the reliability tests can cut it off.
3. `ProductApi`: `PRODUCT_API_URL`, or the built-in stand-in on a fixed loopback port (`PORT` + 1,
   so the image URLs it hands out, which the functions cache, stay valid across restarts).
4. Every resource of template.yaml (`sam_runner.builder`, the one stack builder), the functions
   in execution environments of AWS's runtime interface client (`sam_runner.lambda_runtime`), and
   the local admin user (`ensure_admin`).
5. `DevRoutes`: `/_dev/*` and `/openapi.json`; the API gateway (`sam_runner.gateway`) on `PORT`;
   the event source pollers (`sam_runner.pollers`).

`DevStack` starts the parts in that order and stops them in reverse.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from sam_runner.faults import (
    AWS_SERVICES,
    INTERNAL_USER_AGENT,
    Fault,
    FaultBook,
    FaultError,
    TcpFaultProxy,
    parse_fault,
)
from sam_runner.serving import WsgiServer
from sam_runner.template import DEFAULT_TEMPLATE, ROOT, Template

if TYPE_CHECKING:
    from sam_runner.emulator import EmulatorProcess
    from sam_runner.lambda_runtime import LambdaRuntime

log = logging.getLogger("shop_local.stack")

REGION = "us-east-1"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Environment variables that set a template parameter (the template's value would win otherwise:
# the functions' environment comes from the template).
PARAMETER_ENV = {
    "ORDER_RATE_LIMIT": "OrderRateLimit",
    "LOG_LEVEL": "LogLevel",
    "SENDER_EMAIL": "SenderEmail",
    "MAIL_CLIENT_LIMIT": "MailClientLimit",
    "MAIL_RECIPIENT_LIMIT": "MailRecipientLimit",
}


def redis_parameters(url: str) -> dict[str, str]:
    """The template's two required Redis parameters for a local stack: its Redis is reached
    directly, outside any VPC (RedisNetwork=internet; the Rules ask for no AUTH with an emulator's
    AwsEndpointUrl), or there is none."""
    return {"RedisUrl": url, "RedisNetwork": "none" if url == "none" else "internet"}


@dataclass
class Settings:
    port: int = 3000
    host: str = "127.0.0.1"
    standin_port: int | None = None  # None: PORT + 1 (any free port when PORT is 0)
    redis_url: str = DEFAULT_REDIS_URL
    product_api_url: str | None = None
    aws_endpoint_url: str | None = None
    admin_password: str | None = None
    admin_email: str = "admin@example.com"
    template_path: Path = DEFAULT_TEMPLATE
    web_root: Path | None = ROOT / "web"
    parameters: dict[str, str] = field(default_factory=dict)
    verbose: bool = False  # the functions' own log lines on the console too
    # what the sample events in events/ refer to (shop_local.samples): `make run` seeds it
    sample_data: bool = False
    # `shop backing`: the interface the emulator, Redis and the stand-in listen on (0.0.0.0 for
    # containers on Linux), and fixed ports for the emulator and Redis (0 = any)
    bind_host: str = "127.0.0.1"
    aws_port: int = 0
    redis_port: int = 0
    function_log: Path = ROOT / ".cache" / "functions.log"
    # the embedded emulator's tables and mailbox kept across restarts (sam_runner.dev_state); None:
    # start empty and keep nothing (test stacks, `shop backing`)
    dev_state: Path | None = None
    # each function calls AWS as its own role, checked by the emulator (SHOP_IAM=off: not)
    iam: bool = True

    @classmethod
    def from_env(cls, port: int | None = None) -> Settings:
        env = os.environ
        parameters = {param: env[name] for name, param in PARAMETER_ENV.items() if env.get(name)}
        return cls(
            port=int(env.get("PORT", "3000")) if port is None else port,
            standin_port=int(env["STANDIN_PORT"]) if env.get("STANDIN_PORT") else None,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            product_api_url=env.get("PRODUCT_API_URL") or None,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            admin_password=env.get("SHOP_ADMIN_PASSWORD") or None,
            admin_email=env.get("SHOP_ADMIN_EMAIL") or "admin@example.com",
            parameters=parameters,
            function_log=Path(env.get("SHOP_FUNCTION_LOG") or ROOT / ".cache" / "functions.log"),
            sample_data=env.get("SHOP_SAMPLE_DATA", "1") != "0",
            template_path=Path(env["SHOP_TEMPLATE"]) if env.get("SHOP_TEMPLATE") else DEFAULT_TEMPLATE,
            iam=env.get("SHOP_IAM", "on").lower() != "off",
        )


def aws_client(
    service: str, endpoint_url: str, *, internal: bool = True, credentials: dict[str, str] | None = None
) -> Any:
    """A boto3 client on the emulator; `internal` ones are never hit by injected faults;
    `credentials` (a function's, `sam_runner.iam_roles.function_credentials`) sign as its role."""
    import boto3
    from botocore.config import Config

    config = Config(
        user_agent_extra=INTERNAL_USER_AGENT if internal else None,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
    )
    keys = {}
    if credentials:
        keys = {
            "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
        }
    return boto3.session.Session(region_name=REGION).client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, config=config, region_name=REGION, **keys
    )


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _with_address(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{userinfo}{host}:{port}", parts.path, parts.query, parts.fragment))


def _free_port(host: str, port: int) -> int:
    """`port` if it can be listened on, else 0 (any)."""
    import socket

    if port == 0:
        return 0
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class LocalAws:
    """The AWS the stack and the functions talk to: the embedded moto server (a child process,
    `sam_runner.emulator`), or an outside emulator (`AWS_ENDPOINT_URL`); the mailbox of what its
    SES accepted, and (embedded only) the AWS faults, which the child keeps and applies."""

    def __init__(
        self,
        endpoint_url: str | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: Path | None = None,
    ) -> None:
        self.state_file = state_file
        self.host = host
        self.port = port
        self.url = endpoint_url or ""
        self.moto: EmulatorProcess | None = None
        self.mailbox: Any = None

    @property
    def embedded(self) -> bool:
        return self.moto is not None

    def start(self) -> None:
        # The functions and the stack talk to an emulator only: dummy credentials, one region.
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        if self.url:
            from sam_runner.mail import RemoteMailbox

            self.mailbox = RemoteMailbox(self.url)
            log.info("AWS: using the emulator at %s", self.url)
        else:
            from sam_runner.emulator import EmulatorProcess

            self.moto = EmulatorProcess(host=self.host, port=self.port, state_file=self.state_file).start()
            self.url = self.moto.url
            self.mailbox = self.moto
            log.info("AWS: embedded moto server at %s (pid %s)", self.url, self.moto.pid)
        os.environ["AWS_ENDPOINT_URL"] = self.url

    def note(self) -> str:
        return f"embedded moto at {self.url}" if self.embedded else self.url

    def emails(self) -> list[dict[str, Any]]:
        return list(self.mailbox.emails()) if self.mailbox is not None else []

    def stop(self) -> None:
        if self.moto is not None:
            self.moto.stop()


class LocalRedis:
    """The Redis the functions use: `REDIS_URL`, or an embedded fakeredis when nothing answers
    there; always behind a TCP fault proxy (`url` is the proxy's, `target_url` the real one)."""

    def __init__(self, url: str, faults: FaultBook, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.faults = faults
        self.host = host
        self.port = port
        self.target_url = url
        self.url = url
        self.note = ""
        self._fake: Any = None
        self._proxy: TcpFaultProxy | None = None

    def start(self) -> None:
        target = self.target_url
        if not _redis_answers(target):
            from fakeredis import TcpFakeServer

            self._fake = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
            self._fake.daemon_threads = True  # never keep the process alive at exit
            port = self._fake.server_address[1]
            threading.Thread(target=self._fake.serve_forever, name="fakeredis", daemon=True).start()
            fallback = _with_address(target, "127.0.0.1", port)
            self.note = f"embedded fakeredis at {fallback}, because nothing answers at {target}"
            log.warning(
                "Redis: nothing answers at %s; using an embedded Redis-compatible server (fakeredis) "
                "at %s instead. Its data lives in memory and is lost when the stack stops.",
                target,
                fallback,
            )
            target = fallback
        self.target_url = target
        parts = urlsplit(target)
        self._proxy = TcpFaultProxy(
            (parts.hostname or "127.0.0.1", parts.port or 6379), self.faults, host=self.host, port=self.port
        ).start()
        self.url = _with_address(target, "127.0.0.1", self._proxy.port)

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
        if self._fake is not None:
            self._fake.shutdown()
            self._fake.server_close()


class ProductApi:
    """The product API the functions call: `PRODUCT_API_URL`, or the built-in stand-in."""

    def __init__(self, url: str | None, host: str, port: int) -> None:
        self.url = url or ""
        self.note = ""
        self.host = host
        self.port = port
        self.standin: Any = None
        self._server: WsgiServer | None = None

    def start(self) -> None:
        if self.url:
            self.note = self.url
            return
        try:
            from shop_local.standin import make_app
        except ImportError as exc:
            log.warning("product API: no stand-in available (%s); set PRODUCT_API_URL", exc)
            self.url = "http://127.0.0.1:9/api"  # nothing listens there: requests fail fast
            self.note = "none (no stand-in available, set PRODUCT_API_URL)"
            return
        self.standin = make_app()
        port = _free_port(self.host, self.port)
        if self.port and not port:
            log.warning(
                "product stand-in: port %s is in use, using another one (product image URLs cached "
                "by an earlier run will not load until their cache entries expire)",
                self.port,
            )
        self._server = WsgiServer("product-standin", self.standin, self.host, port)
        self.url = f"http://127.0.0.1:{self._server.port}/api"  # this process reaches it on loopback
        self.note = f"stand-in at {self.url}"

    def set_fault(self, mode: str, seconds: float) -> None:
        from werkzeug.test import Client

        if self.standin is None:
            raise FaultError("products-api faults need the built-in stand-in (PRODUCT_API_URL is set)")
        response = Client(self.standin).post("/_standin/faults", json={"mode": mode, "seconds": seconds})
        if response.status_code != 200:
            raise FaultError(f"the stand-in refused the fault: {response.get_data(as_text=True)}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def ensure_admin(template: Template, password: str, email: str) -> None:
    """The local admin user (`SHOP_ADMIN_PASSWORD`): created, or its password and role reset.

    A local-only step (`shop_local.admin`): it runs in this process with the auth function's code
    and variables (the tables, the secret), not in an execution environment."""
    for spec in template.functions().values():
        if (spec.code_uri / "auth_service.py").is_file():
            os.environ.update(spec.environment)
            break
    try:
        from shop_local.admin import ensure_admin as ensure
    except ImportError as exc:
        log.warning("SHOP_ADMIN_PASSWORD is set but the auth function's code is missing (%s)", exc)
        return
    ensure("admin", password, email)
    log.info("admin user 'admin' is ready")


class DevRoutes:
    """`/_dev/*` and `/openapi.json`: what the stack offers developers and tests next to the API."""

    def __init__(self, stack: DevStack) -> None:
        self.stack = stack
        self._openapi: dict[str, Any] | None = None

    def routes(self) -> dict[str, Any]:
        return {
            "/_dev/emails": self.emails,
            "/_dev/faults": self.faults,
            "/_dev/resources": lambda request: _json(200, self.stack.resources()),
            "/_dev/iam": lambda request: _json(200, self.stack.iam.report()),
            "/_dev/health": lambda request: _json(200, {"status": "ok"}),
            "/_dev/authorizer-cache": self.authorizer_cache,
            "/openapi.json": self.openapi,
        }

    def emails(self, request: Request) -> Response:
        if request.method != "GET":
            return _json(405, {"message": "GET only", "code": "method_not_allowed"})
        try:
            return _json(200, self.stack.emails())
        except Exception as exc:
            log.exception("cannot read the emulator's mailbox")
            return _json(
                502, {"message": f"cannot read the emulator's mailbox: {exc}", "code": "mailbox_error"}
            )

    def authorizer_cache(self, request: Request) -> Response:
        """DELETE forgets every cached authorizer answer (API Gateway keeps them for their TTL)."""
        if request.method != "DELETE":
            return _json(405, {"message": "DELETE only", "code": "method_not_allowed"})
        if self.stack.gateway is not None:
            self.stack.gateway.cache.clear()
        return _json(200, {"cleared": True})

    def openapi(self, request: Request) -> Response:
        from shop_local import openapi

        template = self.stack.template
        assert template is not None
        if self._openapi is None:
            # the document comes from the handlers' code, imported here (not in an environment)
            self._openapi = openapi.build(template)
        response = _json(200, self._openapi)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.stack.clear_faults()
        elif request.method == "POST":
            try:
                spec = json.loads(request.get_data(as_text=True) or "{}")
                if not isinstance(spec, dict):
                    raise FaultError("body must be a JSON object")
                self.stack.add_fault(spec)
            except (ValueError, FaultError) as exc:
                return _json(400, {"message": str(exc), "code": "bad_fault"})
        elif request.method != "GET":
            return _json(405, {"message": "GET, POST or DELETE", "code": "method_not_allowed"})
        return _json(200, {"faults": [fault.as_dict() for fault in self.stack.active_faults()]})


class DevStack:
    """Everything `shop dev` runs. `start()` returns when the API answers; `stop()` ends it all."""

    def __init__(self, settings: Settings, *, serve_api: bool = True, run_functions: bool = True) -> None:
        self.settings = settings
        self.serve_api = serve_api
        self.run_functions = run_functions  # False: `shop backing`, the functions run elsewhere
        self.faults = FaultBook()
        self.aws = LocalAws(
            settings.aws_endpoint_url,
            host=settings.bind_host,
            port=settings.aws_port,
            state_file=settings.dev_state,
        )
        self._fault_order: list[str] = []  # the ids of every fault added, the emulator's included
        self._fault_lock = threading.Lock()
        self.redis = LocalRedis(
            settings.redis_url, self.faults, host=settings.bind_host, port=settings.redis_port
        )
        standin_port = settings.standin_port
        if standin_port is None:
            standin_port = settings.port + 1 if settings.port else 0
        self.products = ProductApi(settings.product_api_url, settings.host, standin_port)
        self.dev_routes = DevRoutes(self)
        from sam_runner.iam_roles import StackIam

        self.iam = StackIam(self)
        self.template: Template | None = None
        self.runtime: LambdaRuntime | None = None
        self.gateway: Any = None
        self.url = ""
        self._api_server: WsgiServer | None = None
        self._pollers: list[Any] = []
        self._stopped = False

    # ------------------------------------------------------------------ start
    def start(self) -> DevStack:
        started = time.perf_counter()
        steps = [
            self._bind_api,
            self.aws.start,
            self.redis.start,
            self.products.start,
            self._provision,
            self.iam.start,
            self._start_functions,
            self._ensure_admin,
            self._seed_samples,
        ]
        if self.serve_api:
            steps += [self._start_gateway, self._start_pollers]
        try:
            for step in steps:
                began = time.perf_counter()
                step()
                log.debug("%s took %.2fs", step.__name__, time.perf_counter() - began)
        except BaseException:
            self.stop()
            raise
        log.info("started in %.1fs", time.perf_counter() - started)
        return self

    def _bind_api(self) -> None:
        """Bind the API's port first (served once the gateway is ready: until then requests wait
        in its backlog), so the template gets this stack's own URL: its storefront, where the
        account e-mails' links lead."""
        if self.serve_api:
            self._api_server = WsgiServer(
                "api", self._gateway_app, self.settings.host, self.settings.port, serve=False
            )
            self.url = self._api_server.url

    def _gateway_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.gateway(environ, start_response)

    def _provision(self) -> None:
        from sam_runner.builder import build

        parameters = {
            **redis_parameters(self.redis.url),
            "ProductApiUrl": self.products.url,
            **self.settings.parameters,
        }
        self.built = build(
            endpoint_url=self.aws.url,
            parameters=parameters,
            path=self.settings.template_path,
            region=REGION,
            if_declared={"StorefrontUrl": self.url} if self.url else None,  # it serves web/ too
        )
        self.template = self.built.template

    def _start_functions(self) -> None:
        if not self.run_functions:
            return
        from sam_runner.lambda_runtime import RuntimeSettings

        runtime_settings = RuntimeSettings.from_env(
            echo_logs=self.settings.verbose, function_log=self.settings.function_log
        )
        if not self.serve_api:
            runtime_settings.max_environments = 1  # `shop invoke`: one environment, as `sam local invoke`
        # A local-only setting the template never declares: the test stacks' cheap argon2 profile
        # (shop_shared.passwords); unset, the functions hash as on AWS.
        profile = os.environ.get("PASSWORD_HASH_PROFILE")
        extra = {"PASSWORD_HASH_PROFILE": profile} if profile else None
        self.runtime = self.built.lambda_runtime(runtime_settings, extra_variables=extra)
        log.info(
            "functions: AWS's runtime interface client, up to %d environments per function; their logs: %s",
            runtime_settings.max_environments,
            self.settings.function_log,
        )

    def _ensure_admin(self) -> None:
        if self.settings.admin_password:
            assert self.template is not None
            ensure_admin(self.template, self.settings.admin_password, self.settings.admin_email)

    def _seed_samples(self) -> None:
        if self.settings.sample_data:
            from shop_local.samples import seed

            seed(self.built.function_environment())

    def _start_gateway(self) -> None:
        from sam_runner.gateway import Gateway

        assert self.template is not None and self.runtime is not None
        web_root = (
            self.settings.web_root if self.settings.web_root and self.settings.web_root.is_dir() else None
        )
        self.gateway = Gateway(
            self.template, self.runtime, web_root=web_root, dev_routes=self.dev_routes.routes()
        )
        assert self._api_server is not None
        self._api_server.serve()

    def _start_pollers(self) -> None:
        from sam_runner.pollers import SqsPoller, StreamPoller, batches_at_once

        assert self.template is not None and self.runtime is not None
        from sam_runner.iam_roles import function_credentials

        sqs = aws_client("sqs", self.aws.url)
        for source in self.template.event_sources():
            function = self.runtime[source.function_id]
            # Lambda's event source mapping reads the source as the function's role
            role = function_credentials(source.function_id)
            if source.kind == "SQS":
                poller: Any = SqsPoller(
                    source, function, self.template, aws_client("sqs", self.aws.url, credentials=role)
                )
                poller.stack_client = sqs
                poller.concurrency = batches_at_once(source, getattr(function, "max_environments", 1))
            else:
                streams = aws_client("dynamodbstreams", self.aws.url, credentials=role)
                poller = StreamPoller(source, function, self.template, streams, sqs)
            if function.available:
                poller.start()
                self._pollers.append(poller)
            else:
                log.warning(
                    "%s is not available: %s is not polled", source.function_id, source.source_logical_id
                )

    # ------------------------------------------------------------------ what the dev routes do
    def emails(self) -> list[dict[str, Any]]:
        return self.aws.emails()

    def add_fault(self, spec: dict[str, Any]) -> None:
        fault = parse_fault(spec)
        if fault.service == "products-api":
            if fault.times is not None:
                raise FaultError("products-api faults last until cleared (no 'times')")
            self.products.set_fault(fault.mode, fault.seconds)
        if fault.service in AWS_SERVICES and self.aws.moto is None:
            raise FaultError("AWS faults need the embedded emulator (AWS_ENDPOINT_URL is set)")
        with self._fault_lock:
            if self.aws.moto is not None and fault.service in AWS_SERVICES:
                self.aws.moto.add_fault(fault)  # the emulator's process applies and counts it
            else:
                self.faults.add(fault)
            self._fault_order.append(fault.id)

    def active_faults(self) -> list[Fault]:
        """Every active fault, in the order they were added: the emulator's (AWS) and this
        process's own (Redis, the product API)."""
        with self._fault_lock:
            faults = {fault.id: fault for fault in self.faults.active()}
            if self.aws.moto is not None:
                faults.update((fault.id, fault) for fault in self.aws.moto.faults())
            self._fault_order = [fault_id for fault_id in self._fault_order if fault_id in faults]
            return [faults[fault_id] for fault_id in self._fault_order]

    def clear_faults(self) -> None:
        # a fault may have made the authorizer fail; its successes stay cached, as in AWS
        with self._fault_lock:
            self.faults.clear()
            if self.aws.moto is not None:
                self.aws.moto.clear_faults()
            self._fault_order.clear()
        if self.products.standin is not None:
            self.products.set_fault("ok", 0)

    def resources(self) -> dict[str, Any]:
        template = self.template
        assert template is not None
        tables, queues, topics, secrets = {}, {}, {}, {}
        for name in template.resources_of("AWS::DynamoDB::Table"):
            physical = template.physical(name)
            tables[name] = {"name": physical.get("Ref"), "arn": physical.get("Arn")}
            if physical.get("StreamArn"):
                tables[name]["stream_arn"] = physical["StreamArn"]
        for name in template.resources_of("AWS::SQS::Queue"):
            physical = template.physical(name)
            queues[name] = {
                "name": physical.get("QueueName"),
                "url": physical.get("QueueUrl"),
                "arn": physical.get("Arn"),
            }
        for name in template.resources_of("AWS::SNS::Topic"):
            topics[name] = {"arn": template.physical(name).get("TopicArn")}
        for name in template.resources_of("AWS::SecretsManager::Secret"):
            secrets[name] = {"arn": template.physical(name).get("Ref")}
        functions: dict[str, Any] = {}
        if self.runtime is not None:
            for function_id, function in self.runtime.functions.items():
                functions[function_id] = {
                    "name": function.name,
                    "arn": function.arn,
                    "handler": function.spec.handler,
                    "available": function.available,
                }
                if hasattr(function, "environments"):
                    functions[function_id]["environments"] = function.environments()
        return {
            "api_url": self.url,
            "aws_endpoint": self.aws.url,
            "aws_embedded": self.aws.embedded,
            "aws_emulator_pid": self.aws.moto.pid if self.aws.moto is not None else None,
            "region": REGION,
            "redis_url": self.redis.target_url,
            "functions_redis_url": self.redis.url,
            "product_api_url": self.products.url,
            "product_api_standin": self.products.standin is not None,
            "tables": tables,
            "queues": queues,
            "topics": topics,
            "secrets": secrets,
            "functions": functions,
        }

    def ready_line(self) -> str:
        redis_note = self.redis.note or self.redis.target_url
        return (
            f"Shop running at {self.url} "
            f"(AWS emulator: {self.aws.note()}, Redis: {redis_note}, product API: {self.products.note}, "
            f"functions: {self._functions_note()})"
        )

    def _functions_note(self) -> str:
        suffix = "" if self.settings.verbose else "; --verbose shows them here too"
        runtime = "AWS's Runtime Interface Emulator + runtime interface client"
        return f"{runtime}, logs in {self.settings.function_log}{suffix}"

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        steps = [
            ("api", self._api_server.stop if self._api_server else None),
            ("pollers", self._stop_pollers),
            ("functions", getattr(self.runtime, "stop", None)),
            ("iam record", self.iam.record),
            ("stand-in", self.products.stop),
            ("redis", self.redis.stop),
            ("aws", self.aws.stop),
        ]
        for name, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception:
                log.exception("stopping %s failed", name)

    def _stop_pollers(self) -> None:
        for poller in self._pollers:
            poller.stop()
        for poller in self._pollers:
            poller.join(timeout=10)

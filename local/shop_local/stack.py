"""The docker-free local stack behind `shop dev` (`make run`): one process that runs everything.

1. AWS: the embedded moto server on a loopback port (behind the fault middleware), or the emulator
   `AWS_ENDPOINT_URL` points at (LocalStack).
2. Redis: `REDIS_URL`, or an embedded fakeredis server when nothing answers there. The functions
   reach it through a small TCP proxy so that the reliability tests can cut it off.
3. The product API: `PRODUCT_API_URL`, or the built-in stand-in on a loopback port.
4. Every resource of template.yaml, created through the service APIs (`shop_local.provision`).
5. The functions in-process (`shop_local.runtime`), the API gateway (`shop_local.gateway`) on
   `PORT`, and the event source pollers (`shop_local.pollers`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from shop_local.faults import INTERNAL_USER_AGENT, FaultBook, FaultError, TcpFaultProxy, parse_fault
from shop_local.template import DEFAULT_TEMPLATE, ROOT, Template

log = logging.getLogger("shop_local.stack")

REGION = "us-east-1"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Environment variables that set a template parameter (the template's value would win otherwise:
# the functions' environment comes from the template).
PARAMETER_ENV = {
    "ORDER_RATE_LIMIT": "OrderRateLimit",
    "LOG_LEVEL": "LogLevel",
    "SENDER_EMAIL": "SenderEmail",
}


@dataclass
class Settings:
    port: int = 3000
    host: str = "127.0.0.1"
    redis_url: str = DEFAULT_REDIS_URL
    product_api_url: str | None = None
    aws_endpoint_url: str | None = None
    admin_password: str | None = None
    admin_email: str = "admin@example.com"
    template_path: Path = DEFAULT_TEMPLATE
    web_root: Path | None = ROOT / "web"
    parameters: dict[str, str] = field(default_factory=dict)
    # "lambda": every function in execution environments of its own (shop_local.lambda_runtime);
    # "in-process": the old mode, one process calls every handler (kept as a benchmark baseline)
    runtime: str = "lambda"
    verbose: bool = False  # the functions' own log lines on the console too
    function_log: Path = ROOT / ".cache" / "functions.log"

    @classmethod
    def from_env(cls, port: int | None = None) -> Settings:
        env = os.environ
        parameters = {param: env[name] for name, param in PARAMETER_ENV.items() if env.get(name)}
        return cls(
            port=int(env.get("PORT", "3000")) if port is None else port,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            product_api_url=env.get("PRODUCT_API_URL") or None,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            admin_password=env.get("SHOP_ADMIN_PASSWORD") or None,
            admin_email=env.get("SHOP_ADMIN_EMAIL") or "admin@example.com",
            parameters=parameters,
            runtime=env.get("SHOP_LOCAL_RUNTIME") or "lambda",
            function_log=Path(env.get("SHOP_FUNCTION_LOG") or ROOT / ".cache" / "functions.log"),
        )


def aws_client(service: str, endpoint_url: str, *, internal: bool = True) -> Any:
    """A boto3 client on the emulator; `internal` ones are never hit by injected faults."""
    import boto3
    from botocore.config import Config

    config = Config(
        user_agent_extra=INTERNAL_USER_AGENT if internal else None,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session(region_name=REGION).client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, config=config, region_name=REGION
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


class _Server:
    """A werkzeug threaded server in a daemon thread."""

    def __init__(self, name: str, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.port: int = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class DevStack:
    """Everything `shop dev` runs. `start()` returns when the API answers; `stop()` ends it all."""

    def __init__(self, settings: Settings, *, serve_api: bool = True) -> None:
        self.settings = settings
        self.serve_api = serve_api
        self.faults = FaultBook()
        self.moto: Any = None
        self.aws_endpoint = settings.aws_endpoint_url or ""
        self.redis_target_url = settings.redis_url
        self.redis_url = settings.redis_url  # what the functions use (through the proxy)
        self.redis_note = ""
        self.product_api_url = settings.product_api_url or ""
        self.product_note = ""
        self.template: Template | None = None
        self.runtime: Any = None
        self.gateway: Any = None
        self.url = ""
        self._fake_redis: Any = None
        self._redis_proxy: TcpFaultProxy | None = None
        self._standin: Any = None
        self._standin_server: _Server | None = None
        self._api_server: _Server | None = None
        self._pollers: list[Any] = []
        self._mailbox: Any = None
        self._openapi: dict[str, Any] | None = None
        self._stopped = False

    # ------------------------------------------------------------------ start
    def start(self) -> DevStack:
        started = time.perf_counter()
        steps = [
            self._start_aws,
            self._start_redis,
            self._start_product_api,
            self._provision,
            self._start_functions,
            self._ensure_admin,
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

    def _start_aws(self) -> None:
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
        if self.aws_endpoint:
            from shop_local.mail import RemoteMailbox

            self._mailbox = RemoteMailbox(self.aws_endpoint)
            log.info("AWS: using the emulator at %s", self.aws_endpoint)
        else:
            from shop_local.emulator import EmbeddedMoto
            from shop_local.mail import MotoMailbox

            self.moto = EmbeddedMoto(self.faults).start()
            self.aws_endpoint = self.moto.url
            self._mailbox = MotoMailbox("123456789012", REGION)
            log.info("AWS: embedded moto server at %s", self.aws_endpoint)
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint

    def _start_redis(self) -> None:
        target = self.settings.redis_url
        if not _redis_answers(target):
            from fakeredis import TcpFakeServer

            self._fake_redis = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
            self._fake_redis.daemon_threads = True  # never keep the process alive at exit
            port = self._fake_redis.server_address[1]
            threading.Thread(target=self._fake_redis.serve_forever, name="fakeredis", daemon=True).start()
            fallback = _with_address(target, "127.0.0.1", port)
            self.redis_note = f"embedded fakeredis at {fallback}, because nothing answers at {target}"
            log.warning(
                "Redis: nothing answers at %s; using an embedded Redis-compatible server (fakeredis) "
                "at %s instead. Its data lives in memory and is lost when the stack stops.",
                target,
                fallback,
            )
            target = fallback
        self.redis_target_url = target
        parts = urlsplit(target)
        self._redis_proxy = TcpFaultProxy(
            (parts.hostname or "127.0.0.1", parts.port or 6379), self.faults
        ).start()
        self.redis_url = _with_address(target, "127.0.0.1", self._redis_proxy.port)

    def _start_product_api(self) -> None:
        if self.product_api_url:
            self.product_note = self.product_api_url
            return
        try:
            from shop_local.standin import make_app
        except ImportError as exc:
            log.warning("product API: no stand-in available (%s); set PRODUCT_API_URL", exc)
            self.product_api_url = "http://127.0.0.1:9/api"  # nothing listens there: requests fail fast
            self.product_note = "none (no stand-in available, set PRODUCT_API_URL)"
            return
        self._standin = make_app()
        self._standin_server = _Server("product-standin", self._standin)
        self.product_api_url = f"{self._standin_server.url}/api"
        self.product_note = f"stand-in at {self.product_api_url}"

    def _provision(self) -> None:
        from shop_local.provision import Provisioner

        overrides = {
            "TracingEnabled": "false",
            "RedisUrl": self.redis_url,
            "ProductApiUrl": self.product_api_url,
            **self.settings.parameters,
        }
        self.template = Template(self.settings.template_path, parameter_overrides=overrides, region=REGION)
        Provisioner(self.template, endpoint_url=self.aws_endpoint).provision()

    def _start_functions(self) -> None:
        assert self.template is not None
        if self.settings.runtime == "in-process":
            from shop_local.runtime import Runtime

            self.runtime = Runtime(self.template)
            self.runtime.apply_environment()
            self.runtime.load_all()
            return
        from shop_local.lambda_runtime import LambdaRuntime, RuntimeSettings

        runtime_settings = RuntimeSettings.from_env(
            echo_logs=self.settings.verbose, function_log=self.settings.function_log
        )
        if not self.serve_api:
            runtime_settings.max_environments = 1  # `shop invoke`: one environment, as `sam local invoke`
        # What a function's execution role and the emulator give it (real Lambda sets the role's
        # credentials as these variables too).
        aws_variables = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": self.aws_endpoint,
        }
        self.runtime = LambdaRuntime(self.template, runtime_settings, extra_variables=aws_variables)
        log.info(
            "functions: AWS's runtime interface client, up to %d environments per function; their logs: %s",
            runtime_settings.max_environments,
            self.settings.function_log,
        )

    def _ensure_admin(self) -> None:
        password = self.settings.admin_password
        if not password:
            return
        assert self.template is not None
        # A local-only step that runs here, not in an environment: it gets the auth function's
        # variables (tables, secret) for the call.
        for spec in self.template.functions().values():
            if (spec.code_uri / "auth_service.py").is_file():
                os.environ.update(spec.environment)
                break
        try:
            import auth_service
        except ImportError as exc:
            log.warning("SHOP_ADMIN_PASSWORD is set but functions/auth/auth_service.py is missing (%s)", exc)
            return
        ensure = getattr(auth_service, "ensure_admin", None)
        if ensure is None:
            log.warning("SHOP_ADMIN_PASSWORD is set but auth_service has no ensure_admin()")
            return
        ensure("admin", password, self.settings.admin_email)
        log.info("admin user 'admin' is ready")

    def _start_gateway(self) -> None:
        from shop_local.gateway import Gateway

        assert self.template is not None
        web_root = (
            self.settings.web_root if self.settings.web_root and self.settings.web_root.is_dir() else None
        )
        self.gateway = Gateway(self.template, self.runtime, web_root=web_root, dev_routes=self._dev_routes())
        self._api_server = _Server("api", self.gateway, self.settings.host, self.settings.port)
        self.url = self._api_server.url

    def _start_pollers(self) -> None:
        from shop_local.pollers import SqsPoller, StreamPoller

        assert self.template is not None
        sqs = aws_client("sqs", self.aws_endpoint)
        streams = None
        for source in self.template.event_sources():
            function = self.runtime[source.function_id]
            if source.kind == "SQS":
                poller: Any = SqsPoller(source, function, self.template, sqs)
                poller.concurrency = min(5, getattr(function, "max_environments", 1))
            else:
                streams = streams or aws_client("dynamodbstreams", self.aws_endpoint)
                poller = StreamPoller(source, function, self.template, streams, sqs)
                if self.moto is not None:
                    poller.forget_iterator = self.moto.forget_shard_iterator(self.template.account_id, REGION)
            if function.available:
                poller.start()
                self._pollers.append(poller)
            else:
                log.warning(
                    "%s is not available: %s is not polled", source.function_id, source.source_logical_id
                )

    # ------------------------------------------------------------------ dev routes
    def _dev_routes(self) -> dict[str, Any]:
        return {
            "/_dev/emails": self._route_emails,
            "/_dev/faults": self._route_faults,
            "/_dev/resources": self._route_resources,
            "/_dev/health": lambda request: _json(200, {"status": "ok"}),
            "/_dev/authorizer-cache": self._route_authorizer_cache,
            "/openapi.json": self._route_openapi,
        }

    def _route_emails(self, request: Request) -> Response:
        if request.method != "GET":
            return _json(405, {"message": "GET only", "code": "method_not_allowed"})
        try:
            return _json(200, self.emails())
        except Exception as exc:
            log.exception("cannot read the emulator's mailbox")
            return _json(
                502, {"message": f"cannot read the emulator's mailbox: {exc}", "code": "mailbox_error"}
            )

    def _route_authorizer_cache(self, request: Request) -> Response:
        """DELETE forgets every cached authorizer answer (API Gateway keeps them for their TTL)."""
        if request.method != "DELETE":
            return _json(405, {"message": "DELETE only", "code": "method_not_allowed"})
        if self.gateway is not None:
            self.gateway.cache.clear()
        return _json(200, {"cleared": True})

    def _route_resources(self, request: Request) -> Response:
        return _json(200, self.resources())

    def _route_openapi(self, request: Request) -> Response:
        from shop_local import openapi

        assert self.template is not None
        if self._openapi is None:
            from shop_local.runtime import Runtime

            # the document comes from the handlers' code, imported here (not in an environment)
            docs = Runtime(self.template)
            docs.apply_environment()
            self._openapi = openapi.build(self.template, docs)
        response = _json(200, self._openapi)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    def _route_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
        elif request.method == "POST":
            try:
                spec = json.loads(request.get_data(as_text=True) or "{}")
                if not isinstance(spec, dict):
                    raise FaultError("body must be a JSON object")
                self.add_fault(spec)
            except (ValueError, FaultError) as exc:
                return _json(400, {"message": str(exc), "code": "bad_fault"})
        elif request.method != "GET":
            return _json(405, {"message": "GET, POST or DELETE", "code": "method_not_allowed"})
        return _json(200, {"faults": [fault.as_dict() for fault in self.faults.active()]})

    # ------------------------------------------------------------------ what the dev routes do
    def emails(self) -> list[dict[str, Any]]:
        return list(self._mailbox.emails()) if self._mailbox is not None else []

    def add_fault(self, spec: dict[str, Any]) -> None:
        fault = parse_fault(spec)
        if fault.service == "products-api":
            if self._standin is None:
                raise FaultError("products-api faults need the built-in stand-in (PRODUCT_API_URL is set)")
            if fault.times is not None:
                raise FaultError("products-api faults last until cleared (no 'times')")
            self._standin_faults({"mode": fault.mode, "seconds": fault.seconds})
        elif fault.service in ("sns", "ses", "sqs", "dynamodb", "secretsmanager", "sts", "lambda") and (
            self.moto is None
        ):
            raise FaultError("AWS faults need the embedded emulator (AWS_ENDPOINT_URL is set)")
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()
        if self._standin is not None:
            self._standin_faults({"mode": "ok", "seconds": 0})
        if self.gateway is not None:
            # a fault may have made the authorizer fail; its successes stay cached, as in AWS
            pass

    def _standin_faults(self, body: dict[str, Any]) -> None:
        from werkzeug.test import Client

        response = Client(self._standin).post("/_standin/faults", json=body)
        if response.status_code != 200:
            raise FaultError(f"the stand-in refused the fault: {response.get_data(as_text=True)}")

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
        functions = {}
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
            "aws_endpoint": self.aws_endpoint,
            "aws_embedded": self.moto is not None,
            "region": REGION,
            "redis_url": self.redis_target_url,
            "functions_redis_url": self.redis_url,
            "product_api_url": self.product_api_url,
            "product_api_standin": self._standin is not None,
            "tables": tables,
            "queues": queues,
            "topics": topics,
            "secrets": secrets,
            "functions": functions,
        }

    def ready_line(self) -> str:
        aws = f"embedded moto at {self.aws_endpoint}" if self.moto is not None else self.aws_endpoint
        redis_note = self.redis_note or self.redis_target_url
        return (
            f"Shop running at {self.url} "
            f"(AWS emulator: {aws}, Redis: {redis_note}, product API: {self.product_note}, "
            f"functions: {self._functions_note()})"
        )

    def _functions_note(self) -> str:
        if self.settings.runtime == "in-process":
            return "in this process"
        suffix = "" if self.settings.verbose else "; --verbose shows them here too"
        return f"Lambda runtime interface client, logs in {self.settings.function_log}{suffix}"

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        steps = [
            ("api", self._api_server.stop if self._api_server else None),
            ("pollers", self._stop_pollers),
            ("functions", getattr(self.runtime, "stop", None)),
            ("stand-in", self._standin_server.stop if self._standin_server else None),
            ("redis proxy", self._redis_proxy.stop if self._redis_proxy else None),
            ("fakeredis", self._stop_fake_redis if self._fake_redis else None),
            ("moto", self.moto.stop if self.moto is not None else None),
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

    def _stop_fake_redis(self) -> None:
        self._fake_redis.shutdown()
        self._fake_redis.server_close()


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("shop_local").setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

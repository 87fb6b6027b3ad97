"""The local API Gateway: template routes, the TOKEN authorizer, proxy events, CORS, gateway responses.

It behaves like an API Gateway REST API with Lambda proxy integrations:
- the request is matched against the template's `Api` events (the most literal resource wins, as
  in API Gateway's resource tree); an unknown path gets the `MISSING_AUTHENTICATION_TOKEN`
  gateway response (404 JSON in our template), a known path with another method 405 JSON;
- routes with an authorizer need its identity header (missing → `UNAUTHORIZED` without calling
  the authorizer); the authorizer gets the TOKEN event; `Exception("Unauthorized")` → 401, any
  other error or a malformed answer → 500, a policy that does not allow this method ARN → 403;
  policies are cached per token for `ReauthorizeEvery` seconds and re-evaluated against each
  method ARN (as API Gateway does, so a policy for one route only would deny the next route);
- the handler gets the REST proxy event (context values stringified, plus `principalId` and
  `integrationLatency`, as API Gateway passes them) and its proxy response becomes the HTTP
  response; an error or a malformed response is a 502 (`DEFAULT_5XX`);
- OPTIONS on a known path answers the CORS preflight from the API's `Cors` settings.

Not emulated: stage throttling (`MethodSettings`), usage plans, binary media types.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from sam_runner.lambda_runtime import LambdaRuntime
from sam_runner.template import ApiRoute, AuthorizerSpec, Template

log = logging.getLogger("shop_local.gateway")

API_ID = "local"
# A REST API's integration timeout (29 s, AWS's default and maximum): past it API Gateway answers
# 504 "Endpoint request timed out". A Lambda that times out sooner is a function error: 502.
INTEGRATION_TIMEOUT_SECONDS = 29.0
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_GATEWAY_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "THROTTLED": 429,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
}
DEFAULT_GATEWAY_MESSAGES = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "AUTHORIZER_FAILURE": None,
    "AUTHORIZER_CONFIGURATION_ERROR": None,
    "DEFAULT_5XX": "Internal server error",
}

DevHandler = Callable[[Request], Response]


def _unquote(value: Any) -> str:
    """SAM/API Gateway header values are quoted literals: "'*'" → "*"."""
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "^" + ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")) + "$"
    )


class AuthorizerRefused(Exception):
    def __init__(self, response_type: str) -> None:
        super().__init__(response_type)
        self.response_type = response_type


@dataclass
class Authorization:
    principal_id: str
    statements: list[dict[str, Any]]
    context: dict[str, str]
    latency_ms: int

    def allows(self, method_arn: str) -> bool:
        """IAM evaluation of the returned policy for this method ARN: an explicit Deny wins, then Allow."""
        allowed = False
        for statement in self.statements:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if not any(_glob(action).match("execute-api:Invoke") for action in actions):
                continue
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if not any(_glob(resource).match(method_arn) for resource in resources):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
        return allowed


def _parse_authorizer_output(output: Any, latency_ms: int) -> Authorization:
    """Validate what the authorizer returned the way API Gateway does (else a 500)."""
    if not isinstance(output, dict) or not output.get("principalId"):
        raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR")
    policy = output.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR")
    context = output.get("context") or {}
    if not isinstance(context, dict):
        raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR")
    flat: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            flat[key] = str(value)
        elif value is None:
            continue
        else:  # nested objects and arrays make API Gateway fail the request
            raise AuthorizerRefused("AUTHORIZER_CONFIGURATION_ERROR")
    return Authorization(str(output["principalId"]), statements, flat, latency_ms)


class AuthorizerCache:
    """Policies per (authorizer, token) for the authorizer's TTL (failures are not cached)."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Authorization]] = {}

    def get(self, key: tuple[str, str]) -> Authorization | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: tuple[str, str], value: Authorization, ttl: int) -> None:
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Gateway:
    """The WSGI app behind `http://127.0.0.1:PORT`."""

    def __init__(
        self,
        template: Template,
        runtime: LambdaRuntime,
        *,
        stage: str | None = None,
        web_root: Path | None = None,
        dev_routes: dict[str, DevHandler] | None = None,
    ) -> None:
        self.template = template
        self.runtime = runtime
        self.stage = stage or str(template.parameters.get("Stage", "dev"))
        self.routes = template.api_routes()
        self.authorizers: dict[str, AuthorizerSpec] = template.authorizers()
        self.gateway_responses = template.gateway_responses()
        self.cors = self._cors_settings()
        self.web_root = web_root
        self.dev_routes = dev_routes or {}
        self.cache = AuthorizerCache()
        self.integration_timeout = INTEGRATION_TIMEOUT_SECONDS

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self.dispatch(request)
        except Exception:
            log.exception("gateway error on %s %s", request.method, request.path)
            response = self.gateway_response("DEFAULT_5XX", status=500)
        elapsed = (time.perf_counter() - started) * 1000
        invocation = request.environ.get("shop.invocation")
        function = ""
        if invocation is not None:
            function = f" {invocation.function_id} {'cold' if getattr(invocation, 'cold', False) else 'warm'}"
        log.info(
            "%s %s %s %.0f ms%s",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            elapsed,
            function,
        )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        dev = self.dev_routes.get(path)
        if dev is None and path.startswith("/_dev/"):
            dev = self.dev_routes.get(path.rstrip("/"))
        if dev is not None:
            return dev(request)
        if request.content_length and request.content_length > MAX_REQUEST_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE")

        matches = [route for route in self.routes if route.regex.match(path)]
        if matches:
            resource = matches[0].path  # the most literal resource, as API Gateway's tree picks it
            on_resource = [route for route in matches if route.path == resource]
            if request.method == "OPTIONS" and self.cors:
                return self.preflight()
            for route in on_resource:
                if route.method in (request.method, "ANY"):
                    return self.call_route(route, request)
            allowed = sorted({route.method for route in on_resource} | ({"OPTIONS"} if self.cors else set()))
            body = {
                "message": f"Method {request.method} is not allowed on {path}",
                "code": "method_not_allowed",
            }
            response = self._json(405, body, self._cors_origin())
            response.headers["Allow"] = ", ".join(allowed)
            return response

        if request.method in ("GET", "HEAD") and self.web_root is not None:
            static = self.static_file(request)
            if static is not None:
                return static
        return self.gateway_response("MISSING_AUTHENTICATION_TOKEN")

    # ------------------------------------------------------------------ gateway answers
    def _cors_settings(self) -> dict[str, str]:
        for api_id in self.template.resources_of("AWS::Serverless::Api"):
            props = self.template.resources[api_id].get("Properties") or {}
            cors = props.get("Cors")
            if cors is None:
                continue
            if isinstance(cors, str):
                return {"AllowOrigin": _unquote(cors)}
            return {key: _unquote(self.template.resolve(value)) for key, value in cors.items()}
        return {}

    def _cors_origin(self) -> dict[str, str]:
        origin = self.cors.get("AllowOrigin")
        return {"Access-Control-Allow-Origin": origin} if origin else {}

    def preflight(self) -> Response:
        headers = self._cors_origin()
        for key, header in (
            ("AllowHeaders", "Access-Control-Allow-Headers"),
            ("AllowMethods", "Access-Control-Allow-Methods"),
            ("MaxAge", "Access-Control-Max-Age"),
        ):
            if key in self.cors:
                headers[header] = self.cors[key]
        if self.cors.get("AllowCredentials") in ("true", True):
            headers["Access-Control-Allow-Credentials"] = "true"
        response = Response(b"", status=200, headers=headers)
        response.headers["Content-Type"] = "application/json"
        return response

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        response = Response(json.dumps(body), status=status, headers=headers or {})
        response.headers["Content-Type"] = "application/json"
        return response

    def gateway_response(self, response_type: str, status: int | None = None) -> Response:
        """A gateway response of the template (or API Gateway's default for that type)."""
        spec = self.gateway_responses.get(response_type)
        if spec is None:
            fallback = (
                "DEFAULT_5XX" if DEFAULT_GATEWAY_STATUS.get(response_type, 500) >= 500 else "DEFAULT_4XX"
            )
            spec = self.gateway_responses.get(fallback)
        code = status or DEFAULT_GATEWAY_STATUS.get(response_type, 500)
        if spec is not None and spec.get("StatusCode") and status is None:
            code = int(self.template.resolve(spec["StatusCode"]))
        body: str
        headers: dict[str, str] = {}
        if spec is not None:
            templates = spec.get("ResponseTemplates") or {}
            body = str(self.template.resolve(templates.get("application/json", "")))
            for name, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
                headers[name] = _unquote(self.template.resolve(value))
        else:
            message = DEFAULT_GATEWAY_MESSAGES.get(response_type)
            body = json.dumps({"message": message})
        response = Response(body, status=code, headers=headers)
        response.headers["Content-Type"] = "application/json"
        response.headers["x-amzn-ErrorType"] = response_type
        return response

    def static_file(self, request: Request) -> Response | None:
        from werkzeug.utils import send_from_directory

        assert self.web_root is not None
        relative = request.path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        try:
            response = send_from_directory(self.web_root, relative, request.environ, max_age=0)
        except NotFound:
            return None
        response.headers["Cache-Control"] = "no-cache"
        return response

    # ------------------------------------------------------------------ the authorizer
    def method_arn(self, method: str, path: str) -> str:
        return (
            f"arn:aws:execute-api:{self.template.region}:{self.template.account_id}:"
            f"{API_ID}/{self.stage}/{method}{path}"
        )

    def authorize(self, spec: AuthorizerSpec, token: str, method_arn: str) -> Authorization:
        key = (spec.name, token)
        cached = self.cache.get(key)
        if cached is None:
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            result = self.runtime[spec.function_id].invoke(
                event,
                what=f"(authorizer {spec.name})",
                expected=lambda exc: str(exc) == "Unauthorized",
            )
            if result.error is not None and str(result.error) == "Unauthorized" and not result.timed_out:
                raise AuthorizerRefused("UNAUTHORIZED")
            if not result.ok:
                raise AuthorizerRefused("AUTHORIZER_FAILURE")
            cached = _parse_authorizer_output(result.response, int(result.duration_ms))
            self.cache.put(key, cached, spec.ttl_seconds)
        if not cached.allows(method_arn):
            raise AuthorizerRefused("ACCESS_DENIED")
        return cached

    # ------------------------------------------------------------------ the integration
    def call_route(self, route: ApiRoute, request: Request) -> Response:
        authorization: Authorization | None = None
        if route.authorizer:
            spec = self.authorizers.get(route.authorizer)
            if spec is None:
                log.error(
                    "route %s %s names an unknown authorizer %s", route.method, route.path, route.authorizer
                )
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR")
            token = request.headers.get(spec.identity_header, "")
            if not token.strip():
                return self.gateway_response("UNAUTHORIZED")
            try:
                authorization = self.authorize(spec, token, self.method_arn(request.method, request.path))
            except AuthorizerRefused as refused:
                return self.gateway_response(refused.response_type)
        event = self.proxy_event(route, request, authorization)
        result = self.integrate(route, request, event)
        if result is None:
            body = {"message": "Endpoint request timed out"}
            timed_out = self._json(504, body, self._cors_origin())
            timed_out.headers["x-amzn-ErrorType"] = "INTEGRATION_TIMEOUT"
            return timed_out
        request.environ["shop.invocation"] = result
        if not result.ok:  # an unhandled error, an init error or a Lambda timeout: a function error
            return self.gateway_response("DEFAULT_5XX", status=502)
        response = self.proxy_response(result.response)
        if response is None:
            log.error("%s returned a malformed proxy response: %r", route.function_id, result.response)
            return self.gateway_response("DEFAULT_5XX", status=502)
        return response

    def integrate(self, route: ApiRoute, request: Request, event: dict[str, Any]) -> Any:
        """Invoke the route's function; None if it did not answer within the integration timeout."""
        function = self.runtime[route.function_id]
        what = f"{request.method} {route.path}"
        trace = event["headers"].get("X-Amzn-Trace-Id") if event.get("headers") else None
        kwargs: dict[str, Any] = {"what": what, "quiet": True, "trace_id": trace}
        if function.spec.timeout <= self.integration_timeout:
            return function.invoke(event, **kwargs)
        outcome: list[Any] = []

        def call() -> None:
            outcome.append(function.invoke(event, **kwargs))

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(self.integration_timeout)
        return outcome[0] if outcome else None

    def proxy_event(
        self, route: ApiRoute, request: Request, authorization: Authorization | None
    ) -> dict[str, Any]:
        """The REST API proxy event (payload 1.0) that API Gateway sends for this request."""
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        source_ip = request.remote_addr or "127.0.0.1"
        host = request.host
        port = host.rsplit(":", 1)[1] if ":" in host else "80"
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        for name, value in (
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", port),
            ("X-Forwarded-Proto", request.scheme),
            ("X-Amzn-Trace-Id", trace),
        ):
            headers.setdefault(name, value)
            multi_headers.setdefault(name, [value])

        query = {key: values[-1] for key, values in request.args.lists()} or None
        multi_query = {key: list(values) for key, values in request.args.lists()} or None
        match = route.regex.match(request.path)
        path_parameters = dict(match.groupdict()) if match else {}

        raw = request.get_data(cache=True)
        body: str | None
        is_base64 = False
        if not raw:
            body = None
        else:
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(raw).decode("ascii"), True

        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        request_context: dict[str, Any] = {
            "accountId": self.template.account_id,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "extendedRequestId": uuid.uuid4().hex[:16] + "=",
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": request.headers.get("User-Agent"),
                "userArn": None,
            },
            "path": f"/{self.stage}{request.path}",
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": uuid.uuid4().hex[:6],
            "resourcePath": route.path,
            "stage": self.stage,
        }
        if authorization is not None:
            request_context["authorizer"] = {
                **authorization.context,
                "principalId": authorization.principal_id,
                "integrationLatency": authorization.latency_ms,
            }
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    @staticmethod
    def proxy_response(output: Any) -> Response | None:
        """The HTTP response for a proxy integration's answer, or None if API Gateway would reject it."""
        if not isinstance(output, dict):
            return None
        try:
            status = int(output.get("statusCode", 200))
        except (TypeError, ValueError):
            return None
        body = output.get("body")
        if body is not None and not isinstance(body, str):
            return None
        payload: bytes = b""
        if body:
            if output.get("isBase64Encoded"):
                try:
                    payload = base64.b64decode(body)
                except ValueError:
                    return None
            else:
                payload = body.encode("utf-8")
        response = Response(payload, status=status)
        response.headers.clear()
        headers = output.get("headers") or {}
        multi = output.get("multiValueHeaders") or {}
        if not isinstance(headers, dict) or not isinstance(multi, dict):
            return None
        for name, value in headers.items():
            response.headers.add(str(name), str(value))
        for name, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                if str(value) not in response.headers.getlist(str(name)):
                    response.headers.add(str(name), str(value))
        if "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        response.headers["Content-Length"] = str(len(payload))
        return response

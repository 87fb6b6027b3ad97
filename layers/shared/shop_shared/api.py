"""Everything an HTTP function shares: the Powertools resolver with the contract's error format, the
body-size limit, and the caller identity the Lambda authorizer put in the request context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths

from shop_shared import jsonutil
from shop_shared.errors import ApiError, Unauthorized
from shop_shared.observability import TracerLike

MAX_BODY_BYTES = 1024 * 1024
JSON_HEADERS = {"Content-Type": content_types.APPLICATION_JSON}
JSON_MEDIA_TYPE = "application/json"
# A JSON integer must fit a signed 64-bit integer (the contract's bound; DynamoDB and every client
# language hold that much). At most 19 digits, checked before converting: Python refuses to convert
# strings of more than 4300 digits with a ValueError (a 500), and converting long ones is slow.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT64_DIGITS = len(str(INT64_MAX))

# CORS, in one place: the resolver adds these to the functions' answers, and template.yaml's
# `ShopApi.Cors` (the preflight API Gateway answers) and its gateway responses must say the same
# (tests/template/test_template_matches_code.py checks them against these).
CORS_ALLOW_ORIGIN = "*"
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
CORS_ALLOW_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
CORS_EXPOSE_HEADERS = ("Retry-After",)
CORS_MAX_AGE = 600


def _int64(text: str) -> int:
    if len(text.lstrip("-")) <= _INT64_DIGITS:
        value = int(text)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    # A JSONDecodeError is what the resolver's validation turns into 400 `invalid_json`.
    raise json.JSONDecodeError("number does not fit in 64 bits", text[:32], 0)


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def loads_body(body: str | bytes) -> Any:
    """A request body as JSON, strictly: integers within 64 bits, no NaN/Infinity (which
    `json.loads` accepts by default although they are not JSON)."""
    return json.loads(body, parse_int=_int64, parse_constant=_no_constant)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=jsonutil.dumps(body),
        headers=headers or {},
    )


def error_body(message: str, code: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if details is not None:
        body["details"] = details
    return body


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    # Never echo `input`: it could be a password.
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": error.get("msg", ""),
            "type": error.get("type"),
        }
        for error in errors
    ]


def _validation_message(details: list[dict[str, Any]]) -> str:
    parts = []
    for detail in details[:3]:
        loc = [part for part in detail["loc"] if part not in ("body", "query", "path", "header")]
        field = ".".join(loc)
        parts.append(f"{field}: {detail['msg']}" if field else detail["msg"])
    return "Invalid request: " + "; ".join(parts)


def make_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation, CORS and JSON errors in the contract's format."""
    cors = CORSConfig(
        allow_origin=CORS_ALLOW_ORIGIN,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE,
    )
    app = APIGatewayRestResolver(
        enable_validation=True, cors=cors, serializer=jsonutil.dumps, json_body_deserializer=loads_body
    )

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        if exc.status >= 500:
            logger.warning("request failed", extra={"status": exc.status, "code": exc.code})
        return json_response(exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in errors):
            return json_response(400, error_body("Request body is not valid JSON", "invalid_json"))
        details = _validation_details(errors)
        return json_response(422, error_body(_validation_message(details), "validation_error", details))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_: RequestUnsupportedContentType) -> Response:
        # api_handler answers these before the resolver runs; this is the backstop.
        return json_response(415, error_body(UNSUPPORTED_MESSAGE, "unsupported_media_type"))

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response:
        # json.loads gives up on bodies nested deeper than the interpreter's recursion limit.
        return json_response(400, error_body("Request body is nested too deeply", "invalid_json"))

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        return json_response(404, error_body("Not found", "not_found"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return json_response(500, error_body("Internal server error", "internal_error"))

    return app


def _body_too_large(event: dict[str, Any]) -> bool:
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8", "surrogatepass"))
    return size > MAX_BODY_BYTES


def _body_not_text(event: dict[str, Any]) -> bool:
    """A base64 body (API Gateway's form for binary payloads) that is not UTF-8 text cannot be JSON;
    Powertools would raise UnicodeDecodeError (a 500) while decoding it."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return False
    import base64
    import binascii

    try:
        base64.b64decode(event["body"]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return True
    return False


UNSUPPORTED_MESSAGE = "Request body must be JSON (Content-Type: application/json)"


def _content_type(event: dict[str, Any]) -> str | None:
    """The request's Content-Type header, whatever case the client spelled its name in."""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "content-type" and value is not None:
            return str(value)
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if name.lower() == "content-type" and values:
            return str(values[0])
    return None


def _with_json_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event ready for the resolver, or None when its body is declared as something else than
    JSON (415). The media type is matched case-insensitively, parameters allowed (RFC 9110 8.3.1);
    the header is handed on as `application/json`, the only form Powertools parses as JSON (it
    compares case-sensitively, and parses form bodies too, which the contract does not accept).
    A body without a Content-Type is read as JSON, as API Gateway itself does (see
    docs/architecture.md)."""
    value = _content_type(event) if event.get("body") else None
    if value is None or value == JSON_MEDIA_TYPE:
        return event
    if value.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        return None
    event = dict(event)
    for key, plain in (("headers", JSON_MEDIA_TYPE), ("multiValueHeaders", [JSON_MEDIA_TYPE])):
        headers = event.get(key) or {}
        event[key] = {
            name: plain if name.lower() == "content-type" else sent for name, sent in headers.items()
        }
    return event


def _proxy_error(status: int, message: str, code: str) -> dict[str, Any]:
    """An error answered before the resolver runs, as a proxy response."""
    body = jsonutil.dumps(error_body(message, code))
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": body, "isBase64Encoded": False}


def api_handler(
    app: APIGatewayRestResolver, logger: Logger, metrics: Metrics, tracer: TracerLike
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of an HTTP function: logging with the API request id as correlation id,
    metrics, tracing, the 1 MB body limit, JSON bodies only (415), then the resolver."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if _body_too_large(event):
            return _proxy_error(413, "Request body is larger than 1 MB", "payload_too_large")
        json_event = _with_json_media_type(event)
        if json_event is None:
            return _proxy_error(415, UNSUPPORTED_MESSAGE, "unsupported_media_type")
        event = json_event
        if _body_not_text(event):
            return _proxy_error(400, "Request body is not valid JSON", "invalid_json")
        return app.resolve(event, context)

    return handler


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the Lambda authorizer verified it (handlers never decode the token again)."""

    user_id: str
    username: str
    email: str
    role: str
    email_verified: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_access_user(self, user_id: str) -> bool:
        return self.is_admin or self.user_id == user_id


def current_caller(app: APIGatewayRestResolver) -> Caller:
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    user_id = context.get("user_id")
    if not user_id:
        raise Unauthorized("Missing or invalid token")
    return Caller(
        user_id=str(user_id),
        username=str(context.get("username", "")),
        email=str(context.get("email", "")),
        role=str(context.get("role", "customer")),
        # API Gateway passes context values on as strings ("true"); the local gateway may not.
        email_verified=str(context.get("email_verified", "")).lower() == "true",
    )

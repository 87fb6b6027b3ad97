"""A shorter way into moto for the embedded emulator's process (`shop_local.emulator`), with the same
responses. Local-only: nothing under functions/ or layers/ imports this.

Every AWS request went through moto's Flask app (`DomainDispatcherApplication` picks one per
service): Flask pushes a request context, matches the URL map, calls moto's view
(`convert_to_flask_response`), runs its after-request functions (flask-cors) and pops the
context, and in debug mode (moto's apps are) its Request decorates the form data on each load.
That was 15-23 % of the emulator process's CPU per call (PutItem 0.60 ms, 0.51 ms here; Publish
0.56 ms, 0.43 ms) and none of it changes the answer: the view builds moto's `BackendRequest` from
the WSGI environ and calls the service's `dispatch(request, request.raw_url,
dict(request.headers))`, whose (status, headers, body) becomes a `flask.Response`. `FastPath`
does just that for the operations in `ROUTED`:

- the backend app is still moto's choice (`get_application`: the SigV4 scope, the target); the
  fast path is taken only where it is the app of the service the request names, and the view that
  Flask's URL map gives for `POST /` on it is that service's `dispatch` (found once per app, by
  Flask, in a test request context);
- the request: `POST /`, no query string, no Content-Encoding, no CORS request headers (`Origin`,
  `Access-Control-Request-Private-Network`), signed (SigV4), and either a JSON-protocol target
  (`X-Amz-Target: DynamoDB_20120810.PutItem`) or a query-protocol body that begins `Action=`;
- what the view does, in its order: `moto_api.recorder._record_request(request)`, the dispatch,
  a botocore `ClientError` as `400, {}, message`, `flask.Response(content, status, headers)`;
- what Flask's after-request functions add to such a request's response (flask-cors:
  `Access-Control-Allow-Origin: *`, unless the response has one), found once per app by running
  the app's own `process_response` in a test request context for `POST /`;
- an HTTP exception out of the dispatch goes through Flask's own handling (`handle_user_exception`,
  `finalize_request`, in a request context pushed for it); any other exception propagates, as
  Flask does in debug mode.
moto's services here never read Flask's request context (`flask.request`, `current_app`): only
moto_server, moto_api's responses and `convert_to_flask_response` import flask. Outside a context
Flask's Request reads the same limits as inside (MAX_CONTENT_LENGTH, MAX_FORM_PARTS: Flask's
defaults are werkzeug's; moto sets max_form_memory_size itself) and only skips the debug helper
that swaps `request.files` for a class with a friendlier KeyError (empty for these requests).

The proof is tests/component/test_emulator_fastpath.py: every operation in `ROUTED`, driven
through boto3 against the emulator's app with the fast path and without it, from the same moto
state and random seed, gives the same status, headers and body, byte for byte. It holds for the
releases it was made against (`PROVEN`): with any other, `FastPath` passes every request to moto's
app (that test then fails: re-check the view and Flask's handling, then the pins).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from shop_local import emulator_speedups
from shop_local.serving import read_body

log = logging.getLogger("shop_local.emulator")

# The distributions whose code makes the response on moto's path.
PROVEN = {"moto": "5.2.5", "flask": "3.1.3", "werkzeug": "3.1.9", "flask-cors": "6.0.5"}

# Per moto service (its app's `service`): the operations taken the short way.
ROUTED: dict[str, frozenset[str]] = {
    # DynamoDB's item operations (the ones emulator_speedups serialises) and DescribeTable
    "dynamodb": frozenset((*emulator_speedups.OPERATIONS["dynamodb"], "DescribeTable")),
    "dynamodbstreams": frozenset({"GetRecords", "GetShardIterator", "DescribeStream"}),
    "sqs": frozenset(
        {
            "SendMessage",
            "SendMessageBatch",
            "ReceiveMessage",
            "DeleteMessage",
            "DeleteMessageBatch",
            "ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch",
            "GetQueueAttributes",
            "GetQueueUrl",
        }
    ),
    "sns": frozenset({"Publish", "PublishBatch"}),
    "ses": frozenset({"SendRawEmail", "SendEmail"}),
}
# JSON protocol: the target's prefix names the service; query protocol: the action does.
TARGETS = {"DynamoDB_20120810": "dynamodb", "DynamoDBStreams_20120810": "dynamodbstreams", "AmazonSQS": "sqs"}
QUERY_ACTIONS = {action: service for service in ("sns", "ses") for action in ROUTED[service]}
# The response class whose dispatch each service's `POST /` view calls.
HANDLERS = {
    "dynamodb": ("moto.dynamodb.responses", "DynamoHandler"),
    "dynamodbstreams": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "sqs": ("moto.sqs.responses", "SQSResponse"),
    "sns": ("moto.sns.responses", "SNSResponse"),
    "ses": ("moto.ses.responses", "EmailResponse"),
}
_DECLINED_HEADERS = ("HTTP_ORIGIN", "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "HTTP_CONTENT_ENCODING")
_ACL_ORIGIN = "Access-Control-Allow-Origin"


def proven() -> bool:
    """Whether the installed releases are the ones the fast path was proven against."""
    installed: dict[str, str | None] = {}
    for name in PROVEN:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed[name] = None
    if installed != PROVEN:
        log.warning("emulator fast path off: %s, proven with %s", installed, PROVEN)
        return False
    return True


@dataclass(frozen=True)
class _Plan:
    """How one of moto's apps answers `POST /` for a routed service."""

    service: str
    dispatch: Callable[..., Any]  # the view's callback: the response class's dispatch
    added: tuple[tuple[str, str], ...]  # what the app's after-request functions add


def _service(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service, action) when the request is one the fast path may take, else None."""
    if (
        environ.get("REQUEST_METHOD") != "POST"
        or environ.get("PATH_INFO") != "/"
        or environ.get("QUERY_STRING")
        or "AWS4-HMAC-SHA256 Credential=" not in environ.get("HTTP_AUTHORIZATION", "")
        or any(name in environ for name in _DECLINED_HEADERS)
    ):
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, action = target.partition(".")
        service = TARGETS.get(prefix)
        if service is None or action not in ROUTED[service]:
            return None
        return service, action
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = read_body(environ)
    if not body.startswith(b"Action="):
        return None
    action = body[7:].partition(b"&")[0].decode("latin-1")
    service = QUERY_ACTIONS.get(action)
    return None if service is None else (service, action)


class FastPath:
    """WSGI app: moto's dispatcher (`DomainDispatcherApplication`), with the routed requests given
    straight to their service's dispatch (see the module's docstring)."""

    def __init__(self, dispatcher: Any, *, enabled: bool | None = None) -> None:
        self.dispatcher = dispatcher
        self.enabled = proven() if enabled is None else enabled
        self._plans: dict[int, tuple[Any, _Plan | None]] = {}  # id(app): (app, plan)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        wanted = _service(environ) if self.enabled else None
        if wanted is None:
            return self.dispatcher(environ, start_response)
        app = self.dispatcher.get_application(environ)  # moto's choice, as on its path
        plan = self._plan(app)
        if plan is None or plan.service != wanted[0]:
            return app(environ, start_response)
        return self._answer(app, plan, environ, start_response)

    def _plan(self, app: Any) -> _Plan | None:
        known = self._plans.get(id(app))
        if known is None or known[0] is not app:
            with self._lock:
                known = self._plans[id(app)] = (app, _make_plan(app))
        return known[1]

    @staticmethod
    def _answer(
        app: Any, plan: _Plan, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # what moto's view (`convert_to_flask_response.__call__`) does, without Flask's context
        from botocore.exceptions import ClientError
        from flask import Response
        from moto.moto_api import recorder
        from moto.moto_server.werkzeug_app import BackendRequest
        from werkzeug.exceptions import HTTPException

        request = BackendRequest(environ)
        recorder._record_request(request)
        try:
            result = plan.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        except HTTPException as exc:  # Flask makes it a response
            with app.request_context(environ):
                response = app.finalize_request(app.handle_user_exception(exc))
            return response(environ, start_response)
        if len(result) == 3:
            status, headers, content = result
        else:
            status, headers, content = 200, {}, result
        response = Response(response=content, status=status, headers=headers)
        # Flask's process_response: flask-cors adds its headers unless the response has them
        if _ACL_ORIGIN not in response.headers:
            for name, value in plan.added:
                response.headers.add(name, value)
        return response(environ, start_response)


def _make_plan(app: Any) -> _Plan | None:
    """The view Flask's URL map gives `POST /` on `app`, if it is a routed service's dispatch,
    and what the app's after-request functions add to a response to it (flask-cors)."""
    import importlib

    import flask
    from moto.core.utils import convert_to_flask_response

    service = getattr(app, "service", None)
    if service not in HANDLERS or app.response_class is not flask.Response:
        return None
    module, name = HANDLERS[service]
    handler = getattr(importlib.import_module(module), name)
    with app.test_request_context("/", method="POST"):
        rule = flask.request.url_rule
        if rule is None:
            return None
        view = app.view_functions[rule.endpoint]
        dispatch: Callable[..., Any] | None = getattr(view, "callback", None)
        if (
            dispatch is None
            or type(view) is not convert_to_flask_response
            or getattr(dispatch, "__name__", None) != "dispatch"
            or getattr(dispatch, "__self__", None) is not handler
        ):
            log.warning("emulator fast path: %s's POST / is %r: moto's path", service, view)
            return None
        response = app.response_class()
        before = list(response.headers.items())
        response = app.process_response(response)
        after = list(response.headers.items())
    if after[: len(before)] != before:
        log.warning("emulator fast path: %s's after-request functions change headers: moto's path", service)
        return None
    return _Plan(service, dispatch, tuple(after[len(before) :]))

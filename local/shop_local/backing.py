"""`shop backing`: the local stack without its functions, for `sam local start-api` / `sam local invoke`.

SAM CLI runs each function in a Docker container with the template's variables, where a `!Ref` to
a resource arrives as its bare logical id (`USERS_TABLE=UsersTable`) and nothing points at an
emulator (samcli/lib/providers/sam_function_provider.py, samcli/local/lambdafn/env_vars.py). Its
`--env-vars` file overrides the variables a function declares, per function logical id
(samcli/commands/local/lib/local_lambda.py, `_make_env_vars`).

This mode runs what the functions need (the AWS emulator provisioned from template.yaml, Redis or
the embedded fallback, the product stand-in, the sample data, the mailbox at `/_dev/emails`) on an
interface a container can reach, and writes that file from the template itself: every function's
variables as the local stack resolved them (real table names, ARNs, queue URLs), with each
loopback address of a backing service rewritten to the host name containers use to reach the host.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from shop_local.stack import DevStack

DEFAULT_PUBLIC_HOST = "host.docker.internal"
DEFAULT_ENV_VARS_FILE = Path(".cache") / "sam-env-vars.json"


def _public(url: str, public_host: str) -> str:
    """`url` on `public_host` when it points at this machine's loopback, else unchanged."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "0.0.0.0") or parts.port is None:  # noqa: S104
        return url
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    netloc = f"{userinfo}{public_host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sam_env_vars(
    stack: DevStack, public_host: str, storefront_url: str | None = None
) -> dict[str, dict[str, str]]:
    """`{FunctionLogicalId: {VARIABLE: value}}` for `sam local --env-vars`: every variable each
    function declares, as the local stack resolved it, reachable from a container. The mailed links
    (`STOREFRONT_URL`) open `storefront_url`, the storefront this mode serves: under `sam local
    start-api` the local stack's default (the API's own 127.0.0.1:3000) serves no page."""
    assert stack.template is not None
    services = {stack.aws.url, stack.redis.url, stack.products.url}
    result: dict[str, dict[str, str]] = {}
    for function_id, spec in stack.template.functions().items():
        variables = {}
        for name, value in spec.environment.items():
            variables[name] = _public(value, public_host) if value in services else value
        if storefront_url and "STOREFRONT_URL" in variables:
            variables["STOREFRONT_URL"] = storefront_url  # opened by a browser on this machine
        result[function_id] = variables
    return result


def write_env_vars(path: Path, env_vars: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(env_vars, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def mailbox_app(stack: DevStack, api_url: str | None = None) -> Any:
    """The dev routes (`/_dev/emails`, `/_dev/resources` ...) without the API gateway; with
    `api_url`, also the storefront (web/), its `config.js` pointing at that API (another origin)."""
    from werkzeug.exceptions import NotFound
    from werkzeug.utils import send_from_directory
    from werkzeug.wrappers import Request, Response

    routes = stack.dev_routes.routes()
    web_root = stack.settings.web_root

    @Request.application
    def app(request: Request) -> Response:
        handler = routes.get(request.path)
        if handler is None and api_url and web_root is not None:
            if request.path == "/config.js":
                script = f"window.SHOP_API_BASE = {json.dumps(api_url)};\n"
                return Response(script, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})
            try:
                page: Response = send_from_directory(
                    web_root, request.path.lstrip("/") or "index.html", request.environ, max_age=0
                )
                return page
            except NotFound:
                pass
        if handler is None:
            return Response(
                json.dumps({"message": "Not found", "code": "not_found"}), 404, mimetype="application/json"
            )
        response: Response = handler(request)
        return response

    return app

"""One OpenAPI document for the whole API, generated from the code.

Each API function's module has a Powertools resolver `app`; their documents are merged (paths and
component schemas), and the routes the template protects with the authorizer get the bearer
security requirement. Served at `/openapi.json` and written to `docs/openapi.json` (`shop openapi`).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from sam_runner.template import ROOT, Template

log = logging.getLogger("shop_local.openapi")

DOC_PATH = ROOT / "docs" / "openapi.json"
TITLE = "Serverless shop API"
DESCRIPTION = (
    "Auth, products and orders of the serverless shop. Errors are JSON `{message, code}`; protected "
    "routes take `Authorization: Bearer <access_token>`."
)


def _operation_ids_unique(paths: dict[str, Any]) -> None:
    seen: set[str] = set()
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and "operationId" in operation:
                op_id = operation["operationId"]
                while op_id in seen:
                    op_id += "_"
                operation["operationId"] = op_id
                seen.add(op_id)


def _resolver(template: Template, function_id: str) -> Any:
    """The function's Powertools resolver, imported into this process. A module reads its
    environment when it is imported, so each function's variables are set first (only those not
    already set: the functions agree on every variable the API modules read at import)."""
    spec = template.functions()[function_id]
    for name, value in spec.environment.items():
        os.environ.setdefault(name, value)
    return getattr(importlib.import_module(spec.module), "app", None)


def build(template: Template, version: str = "1.0.0") -> dict[str, Any]:
    routes = template.api_routes()
    api_functions = sorted({route.function_id for route in routes})
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    for function_id in api_functions:
        try:
            app = _resolver(template, function_id)
        except Exception as exc:
            log.warning("openapi: %s is not available (%s)", function_id, exc)
            continue
        if app is None or not hasattr(app, "get_openapi_json_schema"):
            log.warning("openapi: %s has no Powertools resolver named `app`", function_id)
            continue
        part = json.loads(app.get_openapi_json_schema(title=TITLE, version=version))
        for path, operations in (part.get("paths") or {}).items():
            document["paths"].setdefault(path, {}).update(operations)
        for name, schema in ((part.get("components") or {}).get("schemas") or {}).items():
            document["components"]["schemas"].setdefault(name, schema)
    protected = {(route.path, route.method.lower()) for route in routes if route.authorizer}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) in protected and isinstance(operation, dict):
                operation.setdefault("security", [{"bearerAuth": []}])
    document["paths"] = dict(sorted(document["paths"].items()))
    _operation_ids_unique(document["paths"])
    return document


def write(document: dict[str, Any], path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path

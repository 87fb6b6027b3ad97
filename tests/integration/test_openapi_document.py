"""The OpenAPI document kept in the repo is the one the code generates, and it covers every route."""

from __future__ import annotations

import json
import subprocess
import sys

from sam_runner.builder import load
from shop_local.openapi import DOC_PATH


def test_docs_openapi_json_matches_the_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shop_local.cli", "openapi", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + "\n(regenerate it with `.venv/bin/shop openapi`)"


def test_the_document_describes_every_route_of_the_template_and_its_security() -> None:
    """Exactly the template's routes (which are the resolvers' routes:
    tests/template/test_template_matches_code.py), each with the security the gateway applies."""
    document = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    routes = {(route.path, route.method.lower()): route for route in load().api_routes()}
    assert documented == set(routes)
    for (path, method), route in routes.items():
        security = document["paths"][path][method].get("security")
        assert security == ([{"bearerAuth": []}] if route.authorizer else None), (method, path)
    assert "security" not in document["paths"]["/auth/login"]["post"]
    assert document["paths"]["/orders"]["post"]["security"] == [{"bearerAuth": []}]

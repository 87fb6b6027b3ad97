"""The OpenAPI document kept in the repo is the one the code generates, and it covers the contract."""

from __future__ import annotations

import json
import subprocess
import sys

from shop_local.openapi import DOC_PATH

CONTRACT = {
    ("/auth/register", "post"),
    ("/auth/login", "post"),
    ("/auth/verify-token", "post"),
    ("/auth/user/{user_id}", "get"),
    ("/auth/user/{user_id}/addresses", "get"),
    ("/auth/user/{user_id}/addresses", "post"),
    ("/products", "get"),
    ("/products/{product_id}", "get"),
    ("/products/categories", "get"),
    ("/orders", "post"),
    ("/orders/{order_id}", "get"),
    ("/users/{user_id}/orders", "get"),
    ("/orders/{order_id}/status", "put"),
}


def test_docs_openapi_json_matches_the_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shop_local.cli", "openapi", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + "\n(regenerate it with `.venv/bin/shop openapi`)"


def test_the_document_describes_every_route_of_the_contract_and_its_security() -> None:
    document = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented >= CONTRACT
    assert "security" not in document["paths"]["/auth/login"]["post"]
    assert document["paths"]["/orders"]["post"]["security"] == [{"bearerAuth": []}]

"""Every sample event in events/ runs through `shop invoke` and gets a well-formed answer.

The file name says which function takes the event (see events/README.md). The invokes run against
the session's stack (`AWS_ENDPOINT_URL` = its emulator), one `shop invoke` per function with all
of that function's events, as a developer would run them.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shop_local.template import ROOT, Template
from shop_local.testing import ShopStack

EVENTS = ROOT / "events"
# Longest prefix first: `orders-publisher-*` before `orders-*`, `authorizer-*` before `auth-*`.
PREFIXES = {
    "orders-publisher-": "OrderEventsPublisherFunction",
    "authorizer-": "AuthorizerFunction",
    "products-": "ProductsFunction",
    "orders-": "OrdersFunction",
    "email-": "EmailFunction",
    "auth-": "AuthFunction",
}
API_FUNCTIONS = {"AuthFunction", "ProductsFunction", "OrdersFunction"}
BATCH_FUNCTIONS = {"OrderEventsPublisherFunction", "EmailFunction"}

# The answer each sample event gets from a fresh test stack: (status, error code or None) for the
# API functions, the failed item ids for the batch consumers, the error for the authorizer. The
# samples' users and orders do not exist there (so: 404, or 401 from the functions that check the
# caller); their token is not signed with the stack's secret; `auth-login` runs before
# `auth-register` (files in name order) so the user it names does not exist yet.
EXPECTED: dict[str, Any] = {
    "auth-add-address.json": (404, "user_not_found"),
    "auth-get-user.json": (404, "user_not_found"),
    "auth-list-addresses.json": (404, "user_not_found"),
    "auth-login.json": (401, "invalid_credentials"),
    "auth-register.json": (201, None),
    "auth-verify-token.json": (401, "invalid_token"),
    "authorizer-token.json": "Unauthorized",
    "email-order-created.json": [],
    "email-status-updated.json": [],
    "orders-create.json": (401, "unknown_user"),
    "orders-get.json": (404, "order_not_found"),
    "orders-list.json": (200, None),
    "orders-queue.json": (200, None),
    "orders-status.json": (404, "order_not_found"),
    "orders-publisher-insert.json": [],
    "orders-publisher-modify.json": [],
    "products-categories.json": (200, None),
    "products-get.json": (200, None),
    "products-list.json": (200, None),
}


def function_for(event_file: Path) -> str | None:
    for prefix, function_id in PREFIXES.items():
        if event_file.name.startswith(prefix):
            return function_id
    return None


def event_files() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


def by_function() -> dict[str, list[Path]]:
    grouped: dict[str, list[Path]] = {}
    for path in event_files():
        function_id = function_for(path)
        if function_id is not None:
            grouped.setdefault(function_id, []).append(path)
    return grouped


def invoke(function_id: str, files: list[Path], env: dict[str, str]) -> tuple[int, list[Any], str]:
    args = [sys.executable, "-m", "shop_local.cli", "invoke", function_id]
    for path in files:
        args += ["-e", str(path)]
    completed = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=180, cwd=ROOT, check=False
    )
    outputs = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, outputs, completed.stderr


def stack_env(stack: ShopStack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "SHOP_ADMIN_PASSWORD")}
    env.update(
        {
            "AWS_ENDPOINT_URL": stack.aws_endpoint,
            "REDIS_URL": stack.redis_url,
            "PRODUCT_API_URL": stack.product_api_url,
        }
    )
    return env


def assert_answer(function_id: str, name: str, output: Any) -> None:
    """Well formed for its kind of function, and exactly EXPECTED[name]."""
    assert isinstance(output, dict), f"{name}: {output!r}"
    expected = EXPECTED[name]
    if function_id in API_FUNCTIONS:
        assert isinstance(output.get("statusCode"), int), f"{name}: {output}"
        body = json.loads(output.get("body") or "null")
        status, code = expected
        assert output["statusCode"] == status, f"{name}: {output}"
        if status >= 400:
            assert isinstance(body, dict) and body.get("message"), f"{name}: {output}"
            assert body.get("code") == code, f"{name}: {output}"
        else:
            assert isinstance(body, dict), f"{name}: {output}"
    elif function_id in BATCH_FUNCTIONS:
        assert output.get("batchItemFailures") == expected, f"{name}: {output}"
    elif isinstance(expected, str):  # the authorizer: API Gateway's 401 signal
        assert output.get("errorMessage") == expected, f"{name}: {output}"
    else:  # the authorizer: a policy
        assert output.get("principalId"), f"{name}: {output}"
        assert output["policyDocument"]["Statement"] == expected, f"{name}: {output}"


def test_every_function_of_the_template_imports() -> None:
    """A handler that cannot be imported fails here by name (and fails every test that runs it)."""
    for function_id, spec in Template().functions().items():
        module = importlib.import_module(spec.module)
        assert callable(getattr(module, spec.attribute, None)), function_id


def test_every_sample_event_has_its_expected_answer_and_every_function_a_sample() -> None:
    assert sorted(EXPECTED) == [path.name for path in event_files()]
    assert set(by_function()) == set(Template().functions())


def test_every_event_file_names_its_function() -> None:
    unnamed = [path.name for path in event_files() if function_for(path) is None]
    assert not unnamed, f"rename these after their function (see events/README.md): {unnamed}"


@pytest.mark.parametrize("function_id", sorted(set(PREFIXES.values())))
def test_sample_events_get_well_formed_answers(stack: ShopStack, function_id: str) -> None:
    files = by_function()[function_id]
    code, outputs, stderr = invoke(function_id, files, stack_env(stack))
    assert len(outputs) == len(files), f"shop invoke printed {len(outputs)} answers:\n{stderr[-3000:]}"
    for path, output in zip(files, outputs, strict=True):
        assert_answer(function_id, path.name, output)
    failed = [output for output in outputs if "errorMessage" in output]
    assert code == (1 if failed else 0), stderr[-3000:]


def test_invoke_without_an_endpoint_runs_its_own_emulator(redis_url: str) -> None:
    files = by_function()["ProductsFunction"]
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PRODUCT_API_URL", "PORT")}
    env["REDIS_URL"] = redis_url
    code, outputs, stderr = invoke("ProductsFunction", files[:1], env)
    assert code == 0, stderr[-3000:]
    assert outputs[0]["statusCode"] == 200


def test_invoke_refuses_an_unknown_function(redis_url: str, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PORT")}
    env["REDIS_URL"] = redis_url
    code, outputs, stderr = invoke("NoSuchFunction", [event], env)
    assert code == 2
    assert outputs == []
    assert "OrdersFunction" in stderr  # it lists the functions it knows

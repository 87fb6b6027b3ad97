"""Every sample event in events/ runs through `shop invoke` and gets a well-formed answer.

The file name says which function takes the event (see events/README.md). The invokes run against
a stack started as `make run` starts it (`AWS_ENDPOINT_URL` = its emulator), one `shop invoke` per
function with all of that function's events, as a developer would run them.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_runner.template import ROOT, Template
from shop_local import samples
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

# The answer each sample event gets from a stack started as `make run` starts it (sample data
# seeded, shop_local.samples): (status, error code or None) for the API functions, the failed item
# ids for the batch consumers, the policy's statements for the authorizer. Two answers are refusals
# on purpose: `auth-register` registers the seeded `jane_doe` again (409), and `auth-verify-token`
# carries a token that is not signed with the samples' secret (401).
ALLOW_SAMPLE_USER = [
    {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/*/*",
    }
]
EXPECTED: dict[str, Any] = {
    "auth-add-address.json": (201, None),
    "auth-get-user.json": (200, None),
    "auth-list-addresses.json": (200, None),
    "auth-login.json": (200, None),
    "auth-register.json": (409, "username_taken"),
    "auth-verify-token.json": (401, "invalid_token"),
    "authorizer-token.json": ALLOW_SAMPLE_USER,
    "email-order-created.json": [],
    "email-status-updated.json": [],
    "orders-create.json": (201, None),
    "orders-get.json": (200, None),
    "orders-list.json": (200, None),
    "orders-queue.json": (200, None),
    "orders-status.json": (200, None),
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
    else:  # the authorizer: a policy for the sample user
        assert output.get("principalId") == samples.USER_ID, f"{name}: {output}"
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


@pytest.fixture(scope="module")
def sample_stack(redis_url: str) -> Iterator[ShopStack]:
    """A stack started as `make run` starts it: with the data the samples refer to."""
    with ShopStack(redis_url=redis_url, env={"SHOP_SAMPLE_DATA": "1"}) as running:
        yield running


@pytest.mark.parametrize("function_id", sorted(set(PREFIXES.values())))
def test_sample_events_get_their_answers_from_make_runs_stack(
    sample_stack: ShopStack, function_id: str
) -> None:
    """`shop invoke` against a running `make run` (its emulator, Redis and stand-in), as the README
    shows: every sample gets its expected answer, none fails, and the exit status is 0."""
    files = by_function()[function_id]
    code, outputs, stderr = invoke(function_id, files, stack_env(sample_stack))
    assert len(outputs) == len(files), f"shop invoke printed {len(outputs)} answers:\n{stderr[-3000:]}"
    for path, output in zip(files, outputs, strict=True):
        assert_answer(function_id, path.name, output)
    assert code == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]


def test_the_readme_example_creates_the_order_on_its_own_emulator(redis_url: str) -> None:
    """`make invoke FN=OrdersFunction EVENT=events/orders-create.json` without a running stack:
    shop invoke seeds its own emulator, so the sample's user and address exist."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PRODUCT_API_URL", "PORT")}
    env["REDIS_URL"] = redis_url
    code, outputs, stderr = invoke("OrdersFunction", [EVENTS / "orders-create.json"], env)
    assert code == 0, stderr[-3000:]
    assert outputs[0]["statusCode"] == 201, outputs
    order = json.loads(outputs[0]["body"])
    assert order["user_id"] == samples.USER_ID
    assert order["order_number"] != samples.ORDER_NUMBER  # the counter is past the seeded order's


def test_invoke_exits_non_zero_when_the_function_answers_5xx(stack: ShopStack, tmp_path: Path) -> None:
    """The product API unreachable: the products function answers 5xx, and shop invoke says so."""
    event = json.loads((EVENTS / "products-get.json").read_text())
    event["pathParameters"] = {"product_id": "918273"}  # never cached by another test
    event["path"] = "/products/918273"
    (tmp_path / "products-get.json").write_text(json.dumps(event))
    env = stack_env(stack)
    env["PRODUCT_API_URL"] = "http://127.0.0.1:9/api"  # nothing listens on the discard port
    code, outputs, stderr = invoke("ProductsFunction", [tmp_path / "products-get.json"], env)
    assert outputs and outputs[0]["statusCode"] >= 500, outputs
    assert code == 1, stderr[-3000:]


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

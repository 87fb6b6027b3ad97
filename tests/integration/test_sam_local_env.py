"""`sam local start-api` / `sam local invoke` against `shop backing`, checked without Docker.

Each function's environment is resolved by SAM CLI's own code, used as a library, exactly as
`sam local ... --env-vars FILE` resolves it before starting a container: the template through
`SamLocalStackProvider` / `SamFunctionProvider`, the variables through `LocalLambdaRunner
._make_env_vars` and `EnvironmentVariables.resolve` (samcli/commands/local/lib/local_lambda.py,
samcli/local/lambdafn/env_vars.py). Then each handler runs with exactly that environment, in an
execution environment of the local Lambda runtime, against the backing services.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sam_runner.template import ROOT, Template
from shop_local import samples

READY = re.compile(r"Backing services ready .*mailbox: (http://[^\s]+)/_dev/emails\)")
EVENTS = ROOT / "events"
# One sample per function, with the answer it gets from the seeded backing services.
SAMPLES = {
    "AuthFunction": "auth-get-user.json",
    "AuthorizerFunction": "authorizer-token.json",
    "ProductsFunction": "products-get.json",
    "OrdersFunction": "orders-get.json",
    "OrderEventsPublisherFunction": "orders-publisher-modify.json",
    "EmailFunction": "email-order-created.json",
}


class Backing:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, env_vars: Path) -> None:
        self.process, self.log, self.env_vars_path = process, log, env_vars
        self.url = ""

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = READY.search(self.log.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"shop backing did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def env_vars(self) -> dict[str, dict[str, str]]:
        return dict(json.loads(self.env_vars_path.read_text(encoding="utf-8")))

    def resources(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/_dev/resources", timeout=10).json())

    def emails(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.url}/_dev/emails", timeout=10).json())


@pytest.fixture(scope="module")
def backing(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backing]:
    """`shop backing` as the README runs it, with 127.0.0.1 as the containers' name for the host
    (the handlers run on this machine here)."""
    from sam_runner.builder import load
    from sam_runner.lambda_runtime import prepare_packages

    prepare_packages(load())
    folder = tmp_path_factory.mktemp("backing")
    log, env_vars = folder / "backing.log", folder / "sam-env-vars.json"
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PRODUCT_API_URL", "PORT")}
    env.update({"REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"})
    args = [sys.executable, "-m", "shop_local.cli", "backing", "--port", "0", "--public-host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*args, "--env-vars", str(env_vars)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    running = Backing(process, log, env_vars)
    try:
        running.wait_ready()
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def sam_environments(env_vars: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Every function's variables as `sam local` gives them to its container (SAM CLI's code)."""
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
    provider = SamFunctionProvider(stacks)
    runner = LocalLambdaRunner(
        local_runtime=None,  # type: ignore[arg-type]  # only its environment resolution is used
        function_provider=provider,
        cwd=str(ROOT),
        real_path=str(ROOT),
        aws_region="us-east-1",
        env_vars_values=env_vars,
    )
    return {function.name: runner._make_env_vars(function).resolve() for function in provider.get_all()}


@pytest.fixture
def clean_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """SAM gives a shell variable of a declared name priority over the template's value: a developer
    shell without them, as the README's commands assume (the file overrides them anyway)."""
    for spec in Template().functions().values():
        for name in spec.environment:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_without_the_file_sam_passes_bare_logical_ids_and_no_endpoint(clean_shell: None) -> None:
    """What the env-vars file is for: SAM alone resolves a `!Ref` to a resource as its logical id."""
    environments = sam_environments(None)
    orders = environments["OrdersFunction"]
    assert orders["USERS_TABLE"] == "UsersTable"
    assert orders["AWS_ENDPOINT_URL"] == ""  # declared by the template, empty: boto3 would call AWS


def test_sam_gives_every_function_the_emulator_and_the_real_names(
    backing: Backing, clean_shell: None
) -> None:
    resources = backing.resources()
    env_vars = backing.env_vars()
    environments = sam_environments(env_vars)
    template = Template()
    logical_ids = set(template.resources)
    tables = {logical: table["name"] for logical, table in resources["tables"].items()}

    assert set(environments) == set(template.functions()) == set(env_vars)
    for function_id, environment in environments.items():
        declared = set(template.functions()[function_id].environment)
        assert declared <= set(env_vars[function_id]), function_id  # the file sets every one
        assert environment["AWS_ENDPOINT_URL"] == resources["aws_endpoint"], function_id
        assert environment["USERS_TABLE"] == tables["UsersTable"] != "UsersTable"
        assert environment["ORDERS_TABLE"] == tables["OrdersTable"]
        assert environment["JWT_SECRET_ARN"] == resources["secrets"]["JwtSecret"]["arn"]
        assert environment["ORDER_EVENTS_TOPIC_ARN"] == resources["topics"]["OrderEventsTopic"]["arn"]
        assert environment["PRODUCT_API_URL"] == resources["product_api_url"]
        if "REDIS_URL" in declared:
            assert environment["REDIS_URL"] == resources["functions_redis_url"], function_id
        # (SAM's own AWS_LAMBDA_FUNCTION_NAME / _LOG_GROUP_NAME are logical ids too: not ours to set)
        bare = {
            name: value for name, value in environment.items() if name in declared and value in logical_ids
        }
        assert bare == {}, function_id


def test_every_handler_answers_with_exactly_that_environment(
    backing: Backing, clean_shell: None, tmp_path: Path
) -> None:
    from sam_runner.builder import load
    from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings

    environments = sam_environments(backing.env_vars())
    runtime = LambdaRuntime(
        load(), RuntimeSettings(max_environments=1, function_log=tmp_path / "functions.log")
    )
    try:
        answers = {}
        for function_id, name in SAMPLES.items():
            pool = runtime[function_id]
            pool.env_spec.variables = environments[function_id]  # nothing of the local stack's own
            result = pool.invoke(json.loads((EVENTS / name).read_text(encoding="utf-8")), what="(sam env)")
            assert result.ok, f"{function_id}: {result.describe_error()}"
            answers[function_id] = result.response
    finally:
        runtime.stop()

    for function_id in ("AuthFunction", "ProductsFunction", "OrdersFunction"):
        assert answers[function_id]["statusCode"] == 200, answers[function_id]
    assert json.loads(answers["OrdersFunction"]["body"])["order_number"] == samples.ORDER_NUMBER
    assert answers["AuthorizerFunction"]["principalId"] == samples.USER_ID
    assert answers["AuthorizerFunction"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answers["OrderEventsPublisherFunction"] == {"batchItemFailures": []}
    assert answers["EmailFunction"] == {"batchItemFailures": []}
    assert backing.emails(), "the e-mail function's SES call reached the backing emulator"

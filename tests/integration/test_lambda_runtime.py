"""The local Lambda runtime (sam_runner.lambda_runtime): execution environments of AWS's Runtime
Interface Emulator (aws-lambda-rie + awslambdaric), behind the local API Gateway.

The functions are the small ones of `lambda_layout/template.yaml` (they inspect their
environment, import what Lambda would not give them, or sleep), served by the real `Gateway` in
this process, so each test sees one request's whole path: gateway → pool → aws-lambda-rie →
awslambdaric → gateway.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sam_runner.gateway import Gateway
from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings, prepare_packages
from sam_runner.template import ROOT, Template

LAYOUT = Path(__file__).parent / "lambda_layout"


class Stack:
    def __init__(self, template: Template, runtime: LambdaRuntime, log_path: Path) -> None:
        self.template = template
        self.runtime = runtime
        self.gateway = Gateway(template, runtime)
        self.log_path = log_path

    def get(self, path: str) -> tuple[int, Any]:
        response = Client(self.gateway).get(path)
        text = response.get_data(as_text=True)
        try:
            return response.status_code, json.loads(text)
        except ValueError:
            return response.status_code, text

    def function_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""


def _stack(tmp_path: Path, **settings: Any) -> Stack:
    template = Template(LAYOUT / "template.yaml")
    prepare_packages(template)
    log_path = tmp_path / "functions.log"
    runtime = LambdaRuntime(template, RuntimeSettings.from_env(function_log=log_path, **settings))
    return Stack(template, runtime, log_path)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = _stack(tmp_path)
    yield running
    running.runtime.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child stays a zombie until reaped; that is not a running environment
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


# ---------------------------------------------------------------------------- what it sees
def test_an_environment_sees_its_folder_the_layer_and_lambdas_variables_only(stack: Stack) -> None:
    status, body = stack.get("/inspect")

    assert status == 200, body
    task_root = str(LAYOUT / "inspect")
    assert body["cwd"] == task_root
    env = body["environ"]
    assert env["LAMBDA_TASK_ROOT"] == task_root
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == body["function_name"] == "shop-local-InspectFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == body["memory_limit_in_mb"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "inspect_handler.lambda_handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["FROM_TEMPLATE"] == "template value"
    assert body["invoked_function_arn"].endswith(":function:shop-local-InspectFunction")
    assert 4000 < body["remaining_ms"] <= 5000  # the template's Timeout: 5
    # the layer: its requirements from the cached install, its own folder as it is
    assert body["pydantic"].startswith(str(stack.runtime.settings.cache / "layer-"))
    assert body["shop_shared"].startswith(str(ROOT / "layers" / "shared"))
    # nothing of the project's virtualenv
    assert not [entry for entry in body["sys_path"] if "site-packages" in entry or ".venv" in entry]
    assert body["sys_path"][0] == task_root


def test_a_handler_importing_a_package_only_the_virtualenv_has_fails_with_502(stack: Stack) -> None:
    status, body = stack.get("/venv-only")

    assert status == 502
    assert body == {"message": "Internal server error"}
    log = stack.function_log()
    assert "Runtime.ImportModuleError" in log
    assert "No module named 'yaml'" in log


def test_a_handler_importing_another_functions_module_fails_with_502(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = stack.get("/sibling")

    assert status == 502
    assert body == {"message": "Internal server error"}
    assert "Unable to import module 'sibling_handler': No module named 'orders_service'" in caplog.text
    assert "Runtime.ImportModuleError" in stack.function_log()


# ---------------------------------------------------------------------------- timeouts
def test_a_function_timeout_is_a_502_and_the_environment_is_replaced(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    status, first = stack.get("/slow")
    assert status == 200

    status, body = stack.get("/slow?seconds=4")  # Timeout: 2

    # a Lambda timeout within the integration timeout is a function error: API Gateway's 502
    assert status == 502
    assert body == {"message": "Internal server error"}
    assert "Task timed out after 2.00 seconds" in caplog.text
    assert not _alive(first["pid"])
    status, after = stack.get("/slow")
    assert status == 200
    assert after["pid"] != first["pid"]


def test_a_cold_start_does_not_eat_into_the_functions_timeout(stack: Stack) -> None:
    # 1.5 s of init, Timeout 2 s: the deadline counts from when the environment takes the event
    status, body = stack.get("/slow-init")

    assert status == 200, body
    assert body["remaining_ms"] > 1500


def test_a_cold_start_runs_its_handler_for_the_whole_timeout_after_init(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # 1.5 s of init then 1 s of work: more than the Timeout (2 s) from the invoke, within it after init
    status, body = stack.get("/slow-init?seconds=1")

    assert status == 200, body
    assert 0 < body["remaining_ms"] <= 1000  # Timeout less the 1 s it ran, in whole ms
    assert "Task timed out" not in caplog.text


def test_a_cold_start_that_overruns_its_timeout_after_init_times_out(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = stack.get("/slow-init?seconds=3")  # Timeout: 2, counted after init

    assert status == 502
    assert body == {"message": "Internal server error"}
    assert "Task timed out after 2.00 seconds" in caplog.text


def test_an_integration_timeout_is_a_504(stack: Stack) -> None:
    stack.gateway.integration_timeout = 0.5  # AWS's is 29 s; the function's Timeout is 2 s here

    status, body = stack.get("/slow?seconds=1.5")

    assert status == 504
    assert body == {"message": "Endpoint request timed out"}


# ---------------------------------------------------------------------------- concurrency
def _parallel(stack: Stack, path: str, count: int) -> list[tuple[int, Any]]:
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def one() -> None:
        start.wait()
        outcome = stack.get(path)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_requests_are_served_by_several_environments(stack: Stack) -> None:
    results = _parallel(stack, "/slow?seconds=1", 4)

    assert [status for status, _ in results] == [200] * 4
    assert len({body["request_id"] for _, body in results}) == 4
    # four requests that each hold an environment for a second: four environments
    assert len({body["pid"] for _, body in results}) == 4
    assert len(stack.runtime["SlowFunction"].environments()) == 4


def test_environments_scale_out_no_further_than_the_limit(tmp_path: Path) -> None:
    limited = _stack(tmp_path, max_environments=2)
    try:
        results = _parallel(limited, "/slow?seconds=0.5", 5)
    finally:
        limited.runtime.stop()

    assert [status for status, _ in results] == [200] * 5
    assert len({body["pid"] for _, body in results}) == 2


def test_a_warm_environment_is_reused_and_an_idle_one_stopped(tmp_path: Path) -> None:
    short = _stack(tmp_path, idle_seconds=0.5)
    try:
        _, first = short.get("/slow")
        _, second = short.get("/slow")
        assert second["pid"] == first["pid"]  # warm
        assert short.runtime["SlowFunction"].reap(time.monotonic() + 1) == 1
        assert not _alive(first["pid"])
        _, third = short.get("/slow")
    finally:
        short.runtime.stop()

    assert third["pid"] != first["pid"]  # a cold start after the idle one was stopped


def test_stopping_the_runtime_leaves_no_environment_running(tmp_path: Path) -> None:
    running = _stack(tmp_path)
    _parallel(running, "/slow?seconds=0.3", 3)
    pids = running.runtime.pids()
    assert len(pids) == 3

    running.runtime.stop()

    assert [pid for pid in pids if _alive(pid)] == []


# ---------------------------------------------------------------------------- the whole stack
def test_the_stack_serves_through_environments_and_sigterm_stops_them_all(redis_url: str) -> None:
    """`shop dev` (SIGTERM, as Ctrl-C): no environment outlives it, nor the AWS emulator's process;
    it had served the API from processes of awslambdaric, the pids /_dev/resources reports."""
    from shop_local.testing import ShopStack

    with ShopStack(redis_url=redis_url) as shop:
        assert shop.get("/products/1").status_code == 200
        shop.new_user()  # the auth function and the authorizer
        resources = shop.http.get(f"{shop.url}/_dev/resources", timeout=10).json()
        functions = resources["functions"]
        pids = [env["pid"] for info in functions.values() for env in info.get("environments", [])]
        assert len(pids) >= 2
        for pid in pids:
            assert "awslambdaric" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        emulator = resources["aws_emulator_pid"]
        assert "sam_runner.emulator" in Path(f"/proc/{emulator}/cmdline").read_bytes().decode()
        assert "ProductsFunction cold" in shop.log_text()

    assert shop.exit_code == 0
    assert [pid for pid in [*pids, emulator] if _alive(pid)] == []

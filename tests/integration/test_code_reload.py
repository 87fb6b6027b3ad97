"""Code changes picked up live (issue 28): an edited handler is served by the running runtime's
next invocation, in a new environment, without a restart."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from sam_runner.gateway import Gateway
from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings, prepare_packages
from sam_runner.template import ROOT, Template

LAYOUT = Path(__file__).parent / "lambda_layout"
HANDLER = """
import json, os

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"version": VERSION, "pid": os.getpid()})}

VERSION = "%s"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the test layout's template and one function folder, the layer from the repository."""
    text = (LAYOUT / "template.yaml").read_text(encoding="utf-8")
    text = text.replace("ContentUri: ../../../layers/shared/", f"ContentUri: {ROOT / 'layers' / 'shared'}/")
    (tmp_path / "template.yaml").write_text(text, encoding="utf-8")
    for folder in ("inspect", "venv_only", "sibling", "slow_init"):
        shutil.copytree(LAYOUT / folder, tmp_path / folder)
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "slow_handler.py").write_text(HANDLER % "one", encoding="utf-8")
    return tmp_path


@pytest.fixture
def served(project: Path, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Client, LambdaRuntime]]:
    template = Template(project / "template.yaml")
    prepare_packages(template)
    settings = RuntimeSettings.from_env(function_log=project / "functions.log", code_check_seconds=0)
    runtime = LambdaRuntime(template, settings)
    yield Client(Gateway(template, runtime)), runtime
    runtime.stop()


def _get(client: Client) -> dict[str, str]:
    response = client.get("/slow")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_an_edited_handler_is_served_by_the_next_invocation_in_a_new_environment(
    served: tuple[Client, LambdaRuntime], project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shop_local.lambda_runtime")
    client, runtime = served
    first = _get(client)
    assert _get(client)["pid"] == first["pid"]  # warm, same code

    # another size: Python trusts a cached .pyc whose source has the same size and mtime second
    (project / "slow" / "slow_handler.py").write_text(HANDLER % "two, edited", encoding="utf-8")
    after = _get(client)

    assert after["version"] == "two, edited"
    assert after["pid"] != first["pid"]
    assert "SlowFunction: code changed" in caplog.text
    # the old environment does not serve again: only the new one is left
    assert [env["pid"] for env in runtime["SlowFunction"].environments()] != [first["pid"]]


def test_an_unchanged_function_keeps_its_warm_environment(served: tuple[Client, LambdaRuntime]) -> None:
    client, _ = served
    first = _get(client)

    assert _get(client)["pid"] == first["pid"]


def test_a_change_in_any_watched_folder_is_seen_once_and_bytecode_is_not_a_change(tmp_path: Path) -> None:
    from sam_runner.lambda_runtime import CodeWatch

    function, layer = tmp_path / "function", tmp_path / "layer" / "shop_shared"
    function.mkdir()
    layer.mkdir(parents=True)
    (function / "handler.py").write_text("x = 1\n")
    (layer / "rules.py").write_text("y = 1\n")
    watch = CodeWatch([function, layer.parent], every=0)
    assert not watch.changed()

    (layer / "__pycache__").mkdir()
    (layer / "__pycache__" / "rules.cpython-311.pyc").write_bytes(b"\0")
    assert not watch.changed()

    (layer / "rules.py").write_text("y = 22\n")  # the layer's code
    assert watch.changed()
    assert not watch.changed()


def test_a_changed_template_is_reported_as_needing_a_restart(
    served: tuple[Client, LambdaRuntime], project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shop_local.lambda_runtime")
    template = project / "template.yaml"
    template.write_text(
        template.read_text(encoding="utf-8") + "# a new route would go here\n", encoding="utf-8"
    )

    deadline = time.monotonic() + 10  # the reaper's thread looks once a second
    while "restart the stack" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.1)

    assert "template.yaml changed: restart the stack (make run)" in caplog.text

"""The artifacts `sam build` made (.aws-sam/build), run the way Lambda runs them: a Python that sees
only the function's build folder and the layer's `python/` folder (`-I -S`: no site-packages, no
PYTHON* variables, no current directory), never this venv. A module the layer lacks, or code that
only works from the source tree, fails here before it fails in AWS.

Every function's handler is imported (its cold start); the products function is also invoked with
its sample event, end to end, with Redis off and the product API unreachable: a 503 in the
contract's JSON shape, built with the layer's Powertools, pydantic and requests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sam_template import BUILD, ROOT, require_the_build, sam_document

LAYER = BUILD / "SharedLayer" / "python"


@pytest.fixture(autouse=True, scope="module")
def _the_build_exists() -> None:
    require_the_build()


RUNNER = r"""
import json, sys
function_dir, layer_dir, module_name, attribute, event_path = sys.argv[1:6]
sys.path[:0] = [function_dir, layer_dir]
import importlib
module = importlib.import_module(module_name)
handler = getattr(module, attribute)
for name in ("boto3", "pydantic", "aws_lambda_powertools", "redis"):
    loaded = sys.modules.get(name)
    if loaded is not None and not loaded.__file__.startswith((function_dir, layer_dir)):
        raise SystemExit(f"{name} came from {loaded.__file__}, outside the build")
result = None
if event_path:
    class Context:
        function_name = module_name
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + module_name
        memory_limit_in_mb = 512
        aws_request_id = "test-request"
        log_group_name = "/aws/lambda/test"
        log_stream_name = "test"
        def get_remaining_time_in_millis(self):
            return 10000
    with open(event_path) as handle:
        result = handler(json.load(handle), Context())
print("RESULT " + json.dumps({"file": module.__file__, "result": result}, default=str))
"""


def functions() -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in sam_document()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def run_built(function_id: str, event: Path | None = None, **environment: str) -> dict[str, Any]:
    handler = functions()[function_id]["Handler"]
    module, attribute = handler.rsplit(".", 1)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Shop",
        "LAMBDA_TASK_ROOT": str(BUILD / function_id),
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUNNER, str(BUILD / function_id), str(LAYER), module, attribute,
         str(event or "")],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0, f"{function_id}: {result.stderr[-3000:]}"
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return dict(json.loads(line.removeprefix("RESULT ")))


@pytest.mark.parametrize("function_id", sorted(functions()))
def test_every_built_function_imports_from_its_build_and_the_layer_only(function_id: str) -> None:
    loaded = run_built(function_id)
    assert loaded["file"].startswith(str(BUILD / function_id)), loaded["file"]


def test_the_built_products_function_answers_its_sample_event() -> None:
    reply = run_built(
        "ProductsFunction",
        ROOT / "events" / "products-categories.json",
        REDIS_URL="none",
        PRODUCT_API_URL="http://127.0.0.1:9/api",  # discard port: nothing answers
        PRODUCT_API_TIMEOUT_SECONDS="0.5",
    )["result"]
    assert reply["statusCode"] == 503
    assert json.loads(reply["body"])["code"] == "product_catalog_unavailable"


def test_the_layer_ships_bytecode_that_python_311_uses_as_it_is() -> None:
    """Lambda's /opt is read-only: a layer module without its .pyc is compiled from source on every
    cold start. Every module must come with Python 3.11's bytecode (the runtime's: `sys.executable`
    here is 3.11, like the template's runtime), `unchecked-hash` (PEP 552 flags 0b01): used without
    comparing it to the source's mtime, which the zip and the deploy do not keep."""
    assert sys.version_info[:2] == (3, 11)
    sources = sorted(LAYER.rglob("*.py"))
    assert len(sources) > 1000  # boto3, botocore, pydantic, Powertools ... and shop_shared
    missing, checked = [], []
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if not compiled.exists():
            missing.append(source.relative_to(LAYER))
            continue
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        if flags != 0b01:
            checked.append(source.relative_to(LAYER))
    assert not missing, f"{len(missing)} of {len(sources)} modules without bytecode: {missing[:5]}"
    assert not checked, f"{len(checked)} with bytecode checked against the source: {checked[:5]}"

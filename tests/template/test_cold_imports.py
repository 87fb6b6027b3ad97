"""What each handler imports at cold start, in the Lambda layout (not timed: the benchmark times it).

Each check is a fresh `python -S` that sees only what `sam build` made for Lambda: the function's
build folder (.aws-sam/build/<Function>) and the layer's (.aws-sam/build/SharedLayer/python: the
locked packages and shop_shared), with the variables the template deploys, and lists
`sys.modules` after importing the handler module. Lambda pays for every module imported here on
every cold start. (In tests/template, beside the other proofs that read the build: the unit tier
runs offline, and building a layer needs pip and the network.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

import pytest
from sam_template import BUILD, require_the_build

from sam_runner.template import Template

LAYER = BUILD / "SharedLayer" / "python"
TEMPLATE = Template()  # the template's default parameters: as deployed
FUNCTIONS = TEMPLATE.functions()


@pytest.fixture(autouse=True, scope="module")
def _the_build_exists() -> None:
    require_the_build()


@cache
def imported(function_id: str, trace_disabled: str | None = None) -> frozenset[str]:
    spec = FUNCTIONS[function_id]
    built = BUILD / function_id
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(built), str(LAYER)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function_id,
        "LAMBDA_TASK_ROOT": str(built),
        **{name: str(value) for name, value in spec.environment.items()},
    }
    if trace_disabled is not None:
        env["POWERTOOLS_TRACE_DISABLED"] = trace_disabled
    code = f"import sys, json; import {spec.module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=built,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return frozenset(json.loads(done.stdout.strip().splitlines()[-1]))


def packages(modules: frozenset[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_the_template_deploys_with_the_x_ray_sdk_off() -> None:
    for spec in FUNCTIONS.values():
        assert spec.environment["POWERTOOLS_TRACE_DISABLED"] == "true", spec.logical_id


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_no_handler_imports_the_x_ray_sdk_when_tracing_subsegments_are_off(function_id: str) -> None:
    assert "aws_xray_sdk" not in packages(imported(function_id))


def test_with_tracing_subsegments_on_the_sdk_is_there() -> None:
    """The same check can see the SDK: Powertools Tracer imports it when tracing is on."""
    assert "aws_xray_sdk" in packages(imported("OrdersFunction", trace_disabled="false"))


def test_the_authorizer_imports_neither_redis_pydantic_jinja2_nor_the_resolver() -> None:
    modules = imported("AuthorizerFunction")
    assert packages(modules).isdisjoint({"redis", "pydantic", "pydantic_core", "jinja2", "argon2"})
    assert "aws_lambda_powertools.event_handler" not in modules


@pytest.mark.parametrize("function_id", ["OrdersFunction", "OrderEventsPublisherFunction", "EmailFunction"])
def test_redis_is_imported_only_by_the_requests_that_use_it(function_id: str) -> None:
    """Orders imports redis-py when it creates an order (rate limit, products), not at cold start;
    the stream publisher and the e-mail function never use Redis."""
    assert "redis" not in packages(imported(function_id))


def test_the_stream_publisher_does_not_load_the_e_mail_templates() -> None:
    assert "jinja2" not in packages(imported("OrderEventsPublisherFunction"))


def test_the_auth_function_loads_the_e_mail_templates_only_to_send_an_account_e_mail() -> None:
    """Login, tokens and profiles never render an e-mail; registration and resets import Jinja2
    when they send one."""
    assert "jinja2" not in packages(imported("AuthFunction"))


def test_the_products_function_starts_without_boto3_when_redis_has_no_password() -> None:
    """It calls no AWS API (the cache and the product API only): boto3, the benchmark's whole
    floor, is imported only to read a Redis AUTH secret. (Powertools' user-agent hook imports
    botocore's package itself, a millisecond; its sessions and clients are what costs.)"""
    modules = imported("ProductsFunction")
    assert "boto3" not in packages(modules)
    assert {"botocore.session", "botocore.client"}.isdisjoint(modules)

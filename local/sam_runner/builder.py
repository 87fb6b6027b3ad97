"""Template → provisioned resources → the functions' runtime: the one way every local stack is built.

The dev stack (`shop dev`), the tests' in-process AWS (`tests/conftest.py`), the benchmarks
(`bench/common.py`) and the tests that build a stack of their own all come through here, so the
template is read, its parameters set and its resources created the same way everywhere.

- `build(...)` reads the template with the local parameters (tracing off, plus overrides),
  creates its resources on the emulator (`endpoint_url`, or moto's in-process mock when None)
  and returns a `BuiltStack`.
- `BuiltStack.function_environment(...)`: the variables a function gets from the template (one
  function's, or the union of all for code that calls handlers in one process: unit tests,
  benchmarks' baselines).
- `BuiltStack.lambda_runtime(...)`: execution environments of AWS's runtime interface client for
  every function (`sam_runner.lambda_runtime`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sam_runner.template import DEFAULT_TEMPLATE, Template

if TYPE_CHECKING:
    from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings

REGION = "us-east-1"
# What every local stack sets: X-Ray has nothing to send to locally; the account e-mails link to
# `make run`'s storefront (a running stack passes its own URL).
LOCAL_PARAMETERS = {"TracingEnabled": "false", "StorefrontUrl": "http://127.0.0.1:3000"}
# The template's parameter behind every function's AWS_ENDPOINT_URL (empty on AWS).
ENDPOINT_PARAMETER = "AwsEndpointUrl"


@dataclass
class BuiltStack:
    template: Template
    endpoint_url: str | None = None

    def function_environment(self, function_id: str | None = None) -> dict[str, str]:
        """One function's variables from the template, or (None) every function's together."""
        functions = self.template.functions()
        if function_id is not None:
            return dict(functions[function_id].environment)
        merged: dict[str, str] = {}
        for spec in functions.values():
            merged.update(spec.environment)
        return merged

    def lambda_runtime(
        self, settings: RuntimeSettings | None = None, extra_variables: dict[str, str] | None = None
    ) -> LambdaRuntime:
        from sam_runner.lambda_runtime import LambdaRuntime

        variables = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        if self.endpoint_url:
            variables["AWS_ENDPOINT_URL"] = self.endpoint_url
        variables.update(extra_variables or {})
        return LambdaRuntime(self.template, settings, extra_variables=variables)


def load(
    parameters: dict[str, str] | None = None,
    *,
    path: Path = DEFAULT_TEMPLATE,
    region: str = REGION,
    if_declared: dict[str, str] | None = None,
) -> Template:
    """The template with `parameters`, and with the local stack's own (LOCAL_PARAMETERS, then
    `if_declared`) where the template declares them; nothing created."""
    defaults = {**LOCAL_PARAMETERS, **(if_declared or {})}
    return Template(path, parameter_overrides=parameters, region=region, defaults=defaults)


def build(
    *,
    endpoint_url: str | None = None,
    parameters: dict[str, str] | None = None,
    session: Any = None,
    path: Path = DEFAULT_TEMPLATE,
    region: str = REGION,
    if_declared: dict[str, str] | None = None,
) -> BuiltStack:
    """Read the template and create its resources on the emulator at `endpoint_url` (or wherever
    boto3 points: moto's in-process mock in the unit tests)."""
    from sam_runner.provision import Provisioner

    given = parameters or {}
    if endpoint_url and ENDPOINT_PARAMETER not in given:
        # the functions' AWS_ENDPOINT_URL comes from the template: this emulator
        if_declared = {ENDPOINT_PARAMETER: endpoint_url, **(if_declared or {})}
    template = load(given, path=path, region=region, if_declared=if_declared)
    Provisioner(template, session=session, endpoint_url=endpoint_url).provision()
    return BuiltStack(template, endpoint_url)

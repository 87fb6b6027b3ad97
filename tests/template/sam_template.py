"""template.yaml through SAM's own translator (samtranslator, what `sam deploy` and CloudFormation's
AWS::Serverless transform run), then through the template's conditions for one set of parameters:
what CloudFormation would create for that deploy. No AWS needed.

`deployed(**parameters)` returns the resources of the produced CloudFormation template, with the
resources whose Condition is false left out and every `Fn::If` decided. Other intrinsics
(`Ref`, `Fn::GetAtt`, `Fn::Sub` ...) are kept as they are, so tests can follow references.
"""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.cfn_rules_eval import parameter_values, refused_by_rules

ROOT = Path(__file__).resolve().parents[2]
# Under `make test` (SHOP_REQUIRE_BUILD=1) and CI, what `make template` builds must be there: its
# absence is a failure, never a skip.
REQUIRED = os.environ.get("CI", "").lower() == "true" or os.environ.get("SHOP_REQUIRE_BUILD") == "1"
TEMPLATE = ROOT / "template.yaml"
# `make template` writes it once the build and checkov's venv are ready; `make test` runs the build
# beside the tests (SHOP_WAIT_FOR_BUILD=1), so what needs them waits for it.
BUILD = ROOT / ".aws-sam" / "build"
BUILD_DONE = ROOT / ".aws-sam" / "build.done"
BUILD_WAIT_SECONDS = 900.0


def wait_for_the_build() -> None:
    if os.environ.get("SHOP_WAIT_FOR_BUILD") != "1":
        return
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    while not BUILD_DONE.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"`make template` did not finish within {BUILD_WAIT_SECONDS:g} s")
        time.sleep(0.5)


# The parameter sets a shop deploys with.
NO_REDIS = {"RedisUrl": "none", "RedisNetwork": "none"}
VPC_REDIS = {
    "RedisUrl": "rediss://shop-abc123.serverless.use1.cache.amazonaws.com:6379",
    "RedisNetwork": "vpc",
    "RedisClusterMode": "true",
    "RedisAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-redis",
    "VpcSubnetIds": "subnet-0aaa,subnet-0bbb",
    "VpcSecurityGroupIds": "sg-0ccc",
    "VpcEgress": "nat-gateway",
}
NO_STOREFRONT = {**VPC_REDIS, "DeployStorefront": "false", "StorefrontUrl": "https://shop.example.com"}


def _parameter_sets() -> dict[str, dict[str, str]]:
    """These, and the deploy rehearsal's profiles (the README's command among them)."""
    from tools.rehearse import profiles

    sets = {"no-redis": NO_REDIS, "vpc-redis": VPC_REDIS, "no-storefront": NO_STOREFRONT}
    sets.update({f"rehearsal-{name}": parameters for name, parameters in profiles().items()})
    return sets


PARAMETER_SETS = _parameter_sets()

_NO_VALUE = object()


@cache
def sam_document() -> dict[str, Any]:
    from tools.rehearse import sam_document as parse

    return parse(TEMPLATE)


@cache
def translated() -> dict[str, Any]:
    """The CloudFormation template SAM makes of template.yaml (tools/rehearse.py: code locations as
    `sam package` would have rewritten them)."""
    from tools.rehearse import translate

    return translate(sam_document())


class Deploy:
    """One deploy's view of the translated template."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.template = translated()
        self.given = dict(parameters)
        declared = self.template.get("Parameters") or {}
        unknown = set(parameters) - set(declared)
        assert not unknown, f"not parameters of the template: {unknown}"
        self.parameters: dict[str, Any] = parameter_values(self.template, self.given)
        self.conditions: dict[str, bool] = {}
        for name, expression in (self.template.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.evaluate(expression))
        self.resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.template["Resources"].items():
            if resource.get("Condition") and not self.conditions[resource["Condition"]]:
                continue
            self.resources[logical_id] = self.decide(resource)

    def evaluate(self, expression: Any) -> Any:
        """Condition functions, on parameters only (the Rules: tools/cfn_rules_eval.py)."""
        if not isinstance(expression, dict):
            return expression
        ((function, argument),) = expression.items()
        if function == "Ref":
            return self.parameters[argument]
        if function == "Condition":
            return self.conditions[argument]
        if function == "Fn::Equals":
            left, right = (self.evaluate(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::And":
            return all(self.evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self.evaluate(item) for item in argument)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.evaluate(items))
        raise AssertionError(f"unsupported in a condition: {function}")

    def decide(self, value: Any) -> Any:
        """The value with every Fn::If decided and AWS::NoValue removed."""
        if isinstance(value, list):
            return [item for item in (self.decide(item) for item in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(value) == {"Fn::If"}:
            condition, when_true, when_false = value["Fn::If"]
            return self.decide(when_true if self.conditions[condition] else when_false)
        decided = {key: self.decide(item) for key, item in value.items()}
        return {key: item for key, item in decided.items() if item is not _NO_VALUE}

    def rules_failing(self) -> list[str]:
        """The template's Rules whose assertions CloudFormation would refuse these parameters with
        (tools/cfn_rules_eval.py: the rule functions AWS documents, and only those)."""
        return refused_by_rules(self.template, self.given)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: resource for name, resource in self.resources.items() if resource["Type"] == kind}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})


@cache
def _deploy(items: tuple[tuple[str, str], ...]) -> Deploy:
    return Deploy(dict(items))


def deployed(parameters: dict[str, str]) -> Deploy:
    return _deploy(tuple(sorted(parameters.items())))


def require_the_build() -> None:
    """For the tests that read `sam build`'s output: skipped on a developer's targeted run without a
    build; in CI and in `make test` (which builds beside the tests: SHOP_REQUIRE_BUILD=1) a missing
    build is a failure, never a quiet skip."""
    wait_for_the_build()
    if (BUILD / "template.yaml").exists():
        return
    if not REQUIRED:
        pytest.skip("run `make template` (sam build) first")
    pytest.fail(f"{BUILD} has no build: `make template` (sam build) must run before these tests")

"""The deploy rehearsal (tools/rehearse.py): the profiles are the deploys docs/deploying.md
describes, the README's command among them as written, and each one's translation is a template
CloudFormation can create: its Rules accept the parameters and its resources' dependencies have no
cycle (what cfn-lint reports as E3004 on the translated template; `make template` runs cfn-lint and
checkov on the same files)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.cfn_rules_eval import refused_by_rules
from tools.rehearse import profiles, readme_deploy_parameters, refusals, sam_document, translate, with_values

PROFILES = profiles()


@cache
def _translated(name: str) -> dict[str, Any]:
    return with_values(translate(sam_document(), PROFILES[name]), PROFILES[name])


def test_the_readme_deploy_command_is_read_as_a_user_pastes_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "Deploy:\n\n```sh\nmake template          # checks\n"
        ".venv/bin/sam deploy --parameter-overrides \\\n"
        "  Stage=prod SenderEmail=orders@example.com \\\n"
        "  VpcSubnetIds=subnet-0aaa,subnet-0bbb --no-confirm-changeset\n```\n",
        encoding="utf-8",
    )
    assert readme_deploy_parameters(readme) == {
        "Stage": "prod",
        "SenderEmail": "orders@example.com",
        "VpcSubnetIds": "subnet-0aaa,subnet-0bbb",
    }


def test_the_readme_profile_is_a_redis_in_a_vpc_that_deploys_on_a_new_account() -> None:
    readme = PROFILES["readme"]
    assert {"Stage", "SenderEmail", "RedisUrl", "VpcSubnetIds", "VpcSecurityGroupIds", "VpcEgress"} <= set(
        readme
    )
    assert readme["RedisUrl"].startswith("rediss://")
    assert readme["RedisNetwork"] == "vpc"  # ElastiCache: reachable only from inside its VPC
    default = sam_document()["Parameters"]["AuthorizerReservedConcurrency"]["Default"]
    assert int(readme.get("AuthorizerReservedConcurrency", default)) == 0


def _references(value: Any, resources: set[str]) -> set[str]:
    """The resources a value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub), in every Fn::If branch."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item, resources)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and item in resources:
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) else str(item).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                names = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= names & resources
                if isinstance(item, list):
                    found |= _references(item[1], resources)
            else:
                found |= _references(item, resources)
    return found


def dependency_cycle(template: dict[str, Any]) -> list[str]:
    """A cycle of resources that depend on each other (empty: none), as CloudFormation would refuse."""
    resources = template["Resources"]
    names = set(resources)
    edges = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn") or []
        edges[name] = _references(resource.get("Properties") or {}, names) | set(
            depends if isinstance(depends, list) else [depends]
        )
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(names):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_cycle_check_finds_a_cycle() -> None:
    template = {
        "Resources": {
            "A": {"Properties": {"X": {"Fn::GetAtt": ["B", "Arn"]}}},
            "B": {"Properties": {"Y": {"Fn::Sub": "https://${C.DomainName}"}}},
            "C": {"Properties": {"Z": {"Ref": "A"}}},
            "D": {"Properties": {"Z": {"Ref": "A"}}},
        }
    }
    assert dependency_cycle(template) == ["A", "B", "C", "A"]
    del template["Resources"]["C"]["Properties"]["Z"]
    assert dependency_cycle(template) == []


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_translates_to_a_template_cloudformation_can_create(name: str) -> None:
    template = _translated(name)
    assert dependency_cycle(template) == []
    assert refused_by_rules(template, PROFILES[name]) == []


def test_every_profile_states_its_redis_network() -> None:
    """Where Redis is reached from is said, not guessed from the URL: each way of deploying."""
    networks = {name: parameters["RedisNetwork"] for name, parameters in PROFILES.items()}
    assert networks == {
        "readme": "vpc",
        "elasticache-vpc": "vpc",
        "tls-redis-no-vpc": "internet",
        "no-redis": "none",
        "no-storefront": "internet",
    }


@pytest.mark.parametrize("name", sorted(refusals()))
def test_the_deploys_that_would_fail_after_creating_everything_are_refused_first(name: str) -> None:
    """The rehearsal's other half: parameter sets that would deploy and then fail (issue 24, item 6)
    are refused by the Rules CloudFormation evaluates before it creates anything."""
    parameters, rules = refusals()[name]
    template = with_values(translate(sam_document(), parameters), parameters)
    assert refused_by_rules(template, parameters) == rules

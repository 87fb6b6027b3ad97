"""The deploy rehearsal: what `sam deploy` would hand CloudFormation, for each way a shop deploys,
checked with AWS's own tools before anything reaches an account.

    .venv/bin/python tools/rehearse.py [--out .aws-sam/rehearsal]     # `make template` runs it

For every profile below (the README's deploy command exactly as written, and the other setups
docs/deploying.md describes), SAM's own translator (samtranslator, what CloudFormation's
AWS::Serverless transform runs) turns template.yaml into the CloudFormation template, with the
profile's values as the parameters' defaults. Then:

1. the template's `Rules` are evaluated for the profile's parameters (tools/cfn_rules_eval.py):
   every profile is a deploy a shop makes, so CloudFormation must accept it; and for each of
   `refusals()`, parameter sets that would deploy and then fail, which the Rules must refuse;
2. cfn-lint, with the project's rules (lint/cfn_rules), runs once over every translated template
   (the YAML hides what SAM adds, such as the edges of a dependency cycle: E3004);
3. checkov, with the committed baseline (lint/checkov.yaml), runs over the same files.

Any error fails the rehearsal (exit 1). Nothing here needs AWS or the network.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
README = ROOT / "README.md"
OUT = ROOT / ".aws-sam" / "rehearsal"
BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# A Redis reachable over the internet with TLS (a hosted Redis, not ElastiCache): no VPC, no NAT.
TLS_REDIS = {
    "RedisUrl": "rediss://shop-redis.example.net:6380",
    "RedisNetwork": "internet",
    "RedisAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/redis-AbCdEf",
}
ELASTICACHE_IN_VPC = {
    "RedisUrl": "rediss://shop-abc123.serverless.use1.cache.amazonaws.com:6379",
    "RedisNetwork": "vpc",
    "RedisClusterMode": "true",
    "RedisAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/redis-AbCdEf",
    "VpcSubnetIds": "subnet-0aaa,subnet-0bbb",
    "VpcSecurityGroupIds": "sg-0fn",
    "VpcEgress": "nat-gateway",
    "VpcId": "vpc-0abc",
    "VpcRouteTableIds": "rtb-0aaa,rtb-0bbb",
}


def readme_deploy_parameters(readme: Path = README) -> dict[str, str]:
    """The `--parameter-overrides` of the README's `sam deploy` command, as a user pastes it."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"^\.venv/bin/sam deploy .*?(?=^```)", text, flags=re.M | re.S)
    if not match:
        raise SystemExit("README.md: no `.venv/bin/sam deploy` command found")
    words = shlex.split(match.group(0).replace("\\\n", " "), comments=True)
    start = words.index("--parameter-overrides") + 1
    parameters = {}
    for word in words[start:]:
        if word.startswith("--"):
            break
        name, _, value = word.partition("=")
        parameters[name] = value
    return parameters


def profiles() -> dict[str, dict[str, str]]:
    """The parameter sets a shop deploys with (docs/deploying.md, "Deploy profiles")."""
    readme = readme_deploy_parameters()
    return {
        "readme": readme,
        "elasticache-vpc": {"Stage": "prod", **ELASTICACHE_IN_VPC},
        "tls-redis-no-vpc": {"Stage": "prod", **TLS_REDIS},
        "no-redis": {"Stage": "prod", "RedisUrl": "none", "RedisNetwork": "none"},
        "no-storefront": {
            "Stage": "prod",
            **TLS_REDIS,
            "DeployStorefront": "false",
            "StorefrontUrl": "https://shop.example.com",
        },
    }


def refusals() -> dict[str, tuple[dict[str, str], list[str]]]:
    """Parameter sets that would deploy and then fail (issue 24, item 6), each with the Rules that
    must refuse it before CloudFormation creates anything."""
    elasticache = {"Stage": "prod", **ELASTICACHE_IN_VPC}
    no_vpc = {name: value for name, value in elasticache.items() if not name.startswith("Vpc")}
    return {
        # ElastiCache is reachable only from inside its VPC: outside it every login is a 503
        "elasticache-without-subnets": (no_vpc, ["RedisInTheVpcNeedsSubnets"]),
        "subnets-without-security-groups": (
            {**elasticache, "VpcSecurityGroupIds": ""},
            ["VpcSubnetsNeedSecurityGroups"],
        ),
        "subnets-without-nat": ({**elasticache, "VpcEgress": ""}, ["VpcNeedsEgress"]),
        "subnets-with-an-internet-redis": (
            {**elasticache, "RedisNetwork": "internet"},
            ["VpcSubnetsAreForRedisInTheVpc"],
        ),
        "internet-redis-without-auth": (
            {"Stage": "prod", **TLS_REDIS, "RedisAuthSecretArn": ""},
            ["RedisOnTheInternetNeedsAuth"],
        ),
        "network-none-with-a-redis": (
            {"Stage": "prod", **TLS_REDIS, "RedisNetwork": "none"},
            ["RedisNetworkNoneMeansRedisUrlNone"],
        ),
        "no-redis-with-a-network": (
            {"Stage": "prod", "RedisUrl": "none", "RedisNetwork": "internet"},
            ["RedisUrlNoneMeansRedisNetworkNone"],
        ),
    }


class _Policies:
    """SAM asks IAM for managed policy names it cannot map itself; this template uses none."""

    def load(self) -> dict[str, str]:
        return {}


def sam_document(template: Path = TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    document: dict[str, Any] = yaml_parse(template.read_text(encoding="utf-8"))
    return document


def translate(document: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation template SAM makes of a SAM document (code locations as `sam package`
    would have rewritten them), with `parameters` as the values of the deploy."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(document)
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key].strip('/')}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated: dict[str, Any] = transform(document, dict(parameters or {}), _Policies())
    return translated


def with_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The template with the deploy's values as its parameters' defaults: what the linters see
    is then this deploy, not the template's defaults."""
    declared = template.get("Parameters") or {}
    unknown = set(parameters) - set(declared)
    if unknown:
        raise SystemExit(f"not parameters of the template: {sorted(unknown)}")
    missing = [name for name, spec in declared.items() if "Default" not in spec and name not in parameters]
    if missing:
        raise SystemExit(f"no value for the required parameters {missing}: `sam deploy` would stop")
    result = copy.deepcopy(template)
    for name, value in parameters.items():
        result["Parameters"][name]["Default"] = value
    return result


def run(command: list[str]) -> int:
    print("+", " ".join(shlex.quote(part) for part in command), flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603 - our own tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov (its venv is missing)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "tools"))
    from cfn_rules_eval import refused_by_rules

    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.json"):
        stale.unlink()
    document = sam_document()
    failed = False
    files = []
    for name, parameters in profiles().items():
        template = with_values(translate(document, parameters), parameters)
        refused = refused_by_rules(template, parameters)
        if refused:
            print(f"{name}: CloudFormation's Rules refuse this deploy: {refused}")
            failed = True
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(template, indent=1, sort_keys=True), encoding="utf-8")
        files.append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    print(f"translated {len(files)} profiles into {args.out}")
    for name, (parameters, rules) in refusals().items():
        refused = refused_by_rules(with_values(translate(document, parameters), parameters), parameters)
        if refused != rules:
            print(f"{name}: CloudFormation's Rules should refuse this deploy with {rules}, not {refused}")
            failed = True
    print(f"checked {len(refusals())} deploys that would fail: the Rules must refuse each", flush=True)

    failed |= run([str(BIN / "cfn-lint"), "--append-rules", "lint/cfn_rules", "--", *files]) != 0
    if not args.no_checkov:
        failed |= (
            run(
                [str(CHECKOV), "--config-file", "lint/checkov.yaml", "--framework", "cloudformation"]
                + [arg for path in files for arg in ("-f", path)]
            )
            != 0
        )
    print("rehearsal failed" if failed else "rehearsal passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

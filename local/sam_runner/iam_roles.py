"""Each function's role as AWS would create it: SAM's translation of the template (`samtranslator`,
as `sam deploy` runs it: policy templates expanded, the managed policies SAM adds), its intrinsics
resolved to the names and ARNs the local provisioner created, and the managed policies by their
documented content. And each function's access key: what its execution environments sign with,
and what the emulator maps back to the role.

Managed policies (AWS Managed Policy Reference Guide, one page per policy, version as of 2026):
AWSLambdaBasicExecutionRole, AWSLambdaVPCAccessExecutionRole, AWSXrayWriteOnlyAccess,
AWSXRayDaemonWriteAccess, AWSLambdaSQSQueueExecutionRole, AWSLambdaDynamoDBExecutionRole. A
managed policy not listed here grants nothing locally, and the stack says so when it starts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sam_runner.template import ROOT, Template

log = logging.getLogger("shop_local.iam")

# The stack's own credentials (provisioning, `/_dev`, the tests, the pollers' own calls): never
# checked, as the operator who deploys a stack is not limited by its functions' roles.
STACK_ACCESS_KEY = "testing"
FUNCTION_SECRET_KEY = "local-function-secret"  # noqa: S105 - the emulator checks no signature

_LOGS = {
    "Effect": "Allow",
    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}
_XRAY = {
    "Effect": "Allow",
    "Action": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ],
    "Resource": "*",
}
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [_LOGS],
    "AWSLambdaVPCAccessExecutionRole": [
        _LOGS,
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        },
    ],
    "AWSXrayWriteOnlyAccess": [_XRAY],
    "AWSXRayDaemonWriteAccess": [_XRAY],
    "AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        },
        _LOGS,
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            "Resource": "*",
        },
        _LOGS,
    ],
}


def access_key(function_id: str) -> str:
    """A function's access key id: stable (from its logical id), shaped like AWS's (20 characters,
    `AKIA` then upper-case letters and digits), never the stack's own."""
    digest = hashlib.sha256(function_id.encode()).hexdigest().upper()
    return "AKIA" + digest[:16]


@dataclass
class Role:
    function_id: str
    function_name: str
    role_name: str
    access_key: str
    policies: list[dict[str, Any]] = field(default_factory=list)  # {"name", "document"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def principal(self) -> str:
        """The principal AWS names in a denial: the role's session in Lambda."""
        return f"arn:aws:sts::123456789012:assumed-role/{self.role_name}/{self.function_name}"


class _NoManagedPolicies:
    """SAM asks IAM for managed policy names it cannot map itself; it maps ours itself."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: Template) -> dict[str, Any]:
    """SAM's translation of the template (`sam deploy`'s transform), with its parameter values."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    document: dict[str, Any] = yaml_parse(template.path.read_text(encoding="utf-8"))
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):  # as `sam package` rewrites them
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key].strip('/')}"
    parameters = {
        name: ",".join(value) if isinstance(value, list) else str(value)
        for name, value in template.parameters.items()
    }
    os.environ.setdefault("AWS_DEFAULT_REGION", template.region)
    translated: dict[str, Any] = transform(document, parameters, _NoManagedPolicies())
    return translated


TRANSLATIONS = ROOT / ".cache" / "sam-translation"


def cached_translation(template: Template, cache: Path = TRANSLATIONS) -> dict[str, Any]:
    """`translate(template)`, kept on disk by the template's text and the translator's version:
    importing samtranslator and translating took 1.5-9 s of every stack's start (the tests start
    many), reading the result back takes milliseconds. Not by the parameter values (every stack
    has its own ports in them): SAM keeps parameters as `Ref`s and conditions as `Fn::If`, which
    `roles` resolves with the stack's values (the translation with other values, VPC and tracing
    on, is the same document: tests/unit/test_iam_roles.py)."""
    from importlib.metadata import version

    text = template.path.read_bytes()
    key = hashlib.sha256(b"\0".join([text, version("aws-sam-translator").encode()]))
    path = cache / f"{key.hexdigest()[:32]}.json"
    try:
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    except (OSError, ValueError):
        pass
    translated = translate(template)
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(translated), encoding="utf-8")
    partial.replace(path)  # whole or not at all, with other stacks starting at the same time
    return translated


def _placeholder(template: Template, logical_id: str) -> str:
    """The ARN of a resource the local stack does not create (a KMS key, a bucket): what it
    would be called, so that a policy naming it still reads, and never matches anything made."""
    kind = template.resources.get(logical_id, {}).get("Type", "")
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{template.resource_name(logical_id).lower()}"
    if kind == "AWS::KMS::Key":
        return f"arn:aws:kms:{template.region}:{template.account_id}:key/{logical_id}"
    return f"arn:aws:cloudformation:{template.region}:{template.account_id}:not-created/{logical_id}"


def _known(template: Template, expression: dict[str, Any]) -> bool:
    try:
        template.resolve(expression)
    except KeyError:
        return False
    return True


def _with_placeholders(template: Template, value: Any) -> Any:
    """`value` with every reference to a resource the stack did not create replaced by its
    placeholder ARN (`template.resolve` knows only what exists)."""
    if isinstance(value, list):
        return [_with_placeholders(template, item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        arg = value["Fn::GetAtt"]
        name = arg[0] if isinstance(arg, list) else arg.split(".", 1)[0]
        return value if _known(template, value) else _placeholder(template, name)
    if set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables or "." not in name:
                return match.group(0)
            resource, attribute = name.split(".", 1)
            known = _known(template, {"Fn::GetAtt": [resource, attribute]})
            return match.group(0) if known else _placeholder(template, resource)

        text = re.sub(r"\$\{([^}!]+)\}", replace, text)
        return {"Fn::Sub": [text, _with_placeholders(template, variables)]}
    return {key: _with_placeholders(template, item) for key, item in value.items()}


def roles(template: Template, translated: dict[str, Any] | None = None) -> dict[str, Role]:
    """Every function's role (by the function's logical id), resolved against what was provisioned."""
    translated = translated if translated is not None else cached_translation(template)
    resources = translated.get("Resources", {})
    found: dict[str, Role] = {}
    for function_id in template.functions():
        role_id = _role_of(resources.get(function_id) or {})
        role = resources.get(role_id or "") or {}
        properties = template.resolve(_with_placeholders(template, role.get("Properties") or {}))
        policies = [
            {"name": policy["PolicyName"], "document": policy["PolicyDocument"]}
            for policy in properties.get("Policies") or []
        ]
        for arn in properties.get("ManagedPolicyArns") or []:
            name = str(arn).rsplit("/", 1)[-1]
            statements = MANAGED_POLICIES.get(name)
            if statements is None:
                log.warning(
                    "IAM: %s's managed policy %s is not known locally: it grants nothing here",
                    function_id,
                    arn,
                )
                continue
            policies.append({"name": name, "document": {"Statement": copy.deepcopy(statements)}})
        found[function_id] = Role(
            function_id=function_id,
            function_name=f"{template.stack_name}-{function_id}",
            role_name=f"{template.stack_name}-{role_id or function_id + 'Role'}",
            access_key=access_key(function_id),
            policies=policies,
        )
    return found


def _role_of(function: dict[str, Any]) -> str | None:
    role = (function.get("Properties") or {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        arg = role["Fn::GetAtt"]
        return str(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
    return None


def names(template: Template) -> dict[str, Any]:
    """What the request mapping needs of the provisioned stack (`iam_requests.Names`)."""
    partition_keys: dict[str, str] = {}
    for logical_id in template.resources_of("AWS::DynamoDB::Table"):
        props = template.resources[logical_id].get("Properties") or {}
        table = template.physical(logical_id).get("Ref") or template.resource_name(logical_id)
        partition_keys[table] = _hash_key(props.get("KeySchema"))
        for index in props.get("GlobalSecondaryIndexes") or []:
            partition_keys[f"{table}/index/{index['IndexName']}"] = _hash_key(index.get("KeySchema"))
    secrets = {
        f"{template.stack_name}/{logical_id}": template.physical(logical_id).get("Ref", "")
        for logical_id in template.resources_of("AWS::SecretsManager::Secret")
    }
    return {"account_id": template.account_id, "partition_keys": partition_keys, "secrets": secrets}


def _hash_key(schema: Any) -> str:
    return next((str(key["AttributeName"]) for key in schema or [] if key.get("KeyType") == "HASH"), "")


# Set by the stack (in its own process) once the emulator enforces the roles: only then do the
# environments sign with their function's key (an outside emulator such as LocalStack reads an
# account id out of an `AKIA` key).
KEYS_FLAG = "SHOP_IAM_FUNCTION_KEYS"


def function_credentials(function_id: str) -> dict[str, str]:
    """The variables that make an execution environment call AWS as its function's role."""
    if os.environ.get(KEYS_FLAG) != "1":
        return {}
    return {"AWS_ACCESS_KEY_ID": access_key(function_id), "AWS_SECRET_ACCESS_KEY": FUNCTION_SECRET_KEY}


RECORD_DIR = ROOT / ".cache" / "iam"  # SHOP_IAM_RECORD: where each stack records what it used


class StackIam:
    """The dev stack's IAM: its functions' roles set in the embedded emulator after provisioning
    (`iam_enforcement`), the report behind `/_dev/iam`, and at the stop a record of the grants its
    functions used (for `shop iam-unused`)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.enforced = False

    def start(self) -> None:
        stack = self.stack
        template = stack.template
        if not stack.aws.embedded:
            log.warning(
                "IAM: not enforced: the functions call the emulator at %s as the stack", stack.aws.url
            )
            return
        if not stack.settings.iam:
            log.warning(
                "IAM ENFORCEMENT IS OFF (SHOP_IAM=off): every function may call every AWS API in this "
                "run; a permission missing from template.yaml will NOT be noticed"
            )
            return
        from sam_runner import iam_enforcement

        found = roles(template)
        iam_enforcement.configure(stack.aws.url, [role.as_dict() for role in found.values()], names(template))
        os.environ[KEYS_FLAG] = "1"
        self.enforced = True
        log.info(
            "IAM: each function calls AWS as its role in %s (denials are logged; SHOP_IAM=off turns it off)",
            template.path.name,
        )

    def report(self) -> dict[str, Any]:
        if not self.enforced:
            return {"enabled": False, "allowed": 0, "denied": 0, "functions": {}, "denials": []}
        return iam_enforcement_report(self.stack.aws.url)

    def record(self) -> None:
        """What this stack's functions used, next to what their roles grant: one file per stack.
        (Called as the stack stops, after its functions: a stack started later in this process
        starts its own environments with keys only if it enforces too.)"""
        if not self.enforced:
            return
        os.environ.pop(KEYS_FLAG, None)
        self.enforced = False
        report = iam_enforcement_report(self.stack.aws.url)
        directory = Path(os.environ.get("SHOP_IAM_RECORD") or RECORD_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        template = self.stack.template
        pairs = physical_names(template)
        record = {
            "template": str(template.path),
            "checked": report["checked"],  # requests checked, and the time the checks took
            "check_seconds": report["check_seconds"],
            "functions": {
                function_id: {
                    "grants": [logical(grant, pairs) for grant in entry["grants"]],
                    "exercised": {logical(grant, pairs): n for grant, n in entry["exercised"].items()},
                    "denied": entry["denied"],
                }
                for function_id, entry in report["functions"].items()
            },
        }
        path = directory / f"stack-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json"
        path.write_text(json.dumps(record, indent=1), encoding="utf-8")


_ATTRIBUTES = ("Arn", "StreamArn", "TopicName", "QueueName", "QueueUrl")


def physical_names(template: Template) -> list[tuple[str, str]]:
    """(physical name or ARN, `${Logical}` / `${Logical.Attribute}`) for every resource the stack
    knows, longest first: a grant named the same way by every stack (a secret's ARN ends in a
    random suffix)."""
    pairs: dict[str, str] = {}
    for logical_id in template.resources:
        candidates: list[tuple[dict[str, Any], str]] = [({"Ref": logical_id}, f"${{{logical_id}}}")]
        candidates += [({"Fn::GetAtt": [logical_id, a]}, f"${{{logical_id}.{a}}}") for a in _ATTRIBUTES]
        for expression, name in candidates:
            try:
                value = template.resolve(expression)
            except (KeyError, ValueError):
                continue
            if isinstance(value, str) and len(value) > 3 and value not in pairs:
                pairs[value] = name
    for logical_id in template.resources:  # what iam_roles named but the stack did not create
        pairs.setdefault(_placeholder(template, logical_id), f"${{{logical_id}.Arn}}")
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def logical(text: str, pairs: list[tuple[str, str]]) -> str:
    for physical, name in pairs:
        if physical in text:
            text = text.replace(physical, name)
    return text


def template_grants(template: Template) -> dict[str, list[str]]:
    """Every grant of every function's role, named as the stacks' records name them."""
    from sam_runner.iam_policy import grants, statements

    pairs = physical_names(template)
    found: dict[str, list[str]] = {}
    for function_id, role in roles(template).items():
        found[function_id] = [
            logical(grant, pairs)
            for policy in role.policies
            for statement in statements(policy["name"], policy["document"])
            for grant in grants(statement)
        ]
    return found


def iam_enforcement_report(emulator_url: str) -> dict[str, Any]:
    from sam_runner import iam_enforcement

    return iam_enforcement.report(emulator_url)

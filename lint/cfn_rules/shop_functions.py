"""The shop's own cfn-lint rules: what every function of template.yaml, present or future, must have.

`make template` passes `--append-rules lint/cfn_rules`. cfn-lint hands custom rules the template as
written (AWS::Serverless::Function, with Globals), so the rules read a function's properties as SAM
would make them: its own over Globals.Function. Plain AWS::Lambda::Function resources count too.
"""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def _branches(value: Any) -> list[Any]:
    """The values a property can take: both branches of an Fn::If, AWS::NoValue left out."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        return _branches(when_true) + _branches(when_false)
    if value == {"Ref": "AWS::NoValue"} or value is None:
        return []
    return [value]


def _functions(cfn: Any) -> dict[str, dict[str, Any]]:
    """Every function with its effective properties (SAM's Globals.Function under its own)."""
    globals_ = ((cfn.template.get("Globals") or {}).get("Function")) or {}
    found = {}
    for name, resource in cfn.get_resources(["AWS::Lambda::Function", "AWS::Serverless::Function"]).items():
        own = resource.get("Properties") or {}
        properties = dict(own)
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = {**globals_, **own}
            variables = {
                **(((globals_.get("Environment") or {}).get("Variables")) or {}),
                **(((own.get("Environment") or {}).get("Variables")) or {}),
            }
            properties["Environment"] = {"Variables": variables}
        found[name] = {**resource, "Properties": properties}
    return found


class FunctionLogGroupWithRetention(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "Every function logs to a log group of the stack that has a retention"
    description = (
        "Lambda's own log group keeps logs (with personal data) forever: each function sets "
        "LoggingConfig.LogGroup to an AWS::Logs::LogGroup of the template with RetentionInDays."
    )
    tags = ["shop", "logs"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        groups = cfn.get_resources(["AWS::Logs::LogGroup"])
        for name, function in _functions(cfn).items():
            logging = (function.get("Properties") or {}).get("LoggingConfig") or {}
            target = logging.get("LogGroup")
            group = target.get("Ref") if isinstance(target, dict) else None
            if group not in groups:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"], f"{name}: no LoggingConfig.LogGroup of the stack"
                    )
                )
            elif "RetentionInDays" not in (groups[group].get("Properties") or {}):
                matches.append(RuleMatch(["Resources", group, "Properties"], f"{group}: no RetentionInDays"))
        return matches


class FunctionErrorsAlarm(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "Every function has an alarm on its errors"
    description = (
        "An AWS::CloudWatch::Alarm on AWS/Lambda Errors with the FunctionName dimension of each function."
    )
    tags = ["shop", "alarms"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        alarmed = set()
        for alarm in cfn.get_resources(["AWS::CloudWatch::Alarm"]).values():
            properties = alarm.get("Properties") or {}
            metrics = [properties] + [
                (query.get("MetricStat") or {}).get("Metric") or {}
                for query in properties.get("Metrics") or []
            ]
            for metric in metrics:
                if (metric.get("Namespace"), metric.get("MetricName")) != ("AWS/Lambda", "Errors"):
                    continue
                for dimension in metric.get("Dimensions") or []:
                    value = dimension.get("Value")
                    if dimension.get("Name") == "FunctionName" and isinstance(value, dict) and "Ref" in value:
                        alarmed.add(value["Ref"])
        return [
            RuleMatch(["Resources", name], f"{name}: no alarm on its Errors metric")
            for name in _functions(cfn)
            if name not in alarmed
        ]


class VpcOnlyForRedis(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Only functions that use Redis are in the VPC"
    description = (
        "In the VPC a function reaches AWS and the internet only through the NAT: a function goes "
        "there only to reach ElastiCache, which its REDIS_URL environment variable declares."
    )
    tags = ["shop", "vpc"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, function in _functions(cfn).items():
            properties = function.get("Properties") or {}
            if not _branches(properties.get("VpcConfig")):
                continue
            variables = ((properties.get("Environment") or {}).get("Variables")) or {}
            if "REDIS_URL" not in variables:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "VpcConfig"],
                        f"{name} is in the VPC but does not use Redis",
                    )
                )
        return matches

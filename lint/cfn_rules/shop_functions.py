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


def _statements(cfn: Any) -> list[tuple[list[Any], dict[str, Any]]]:
    """(path, statement) of every IAM statement of the template's roles and policies: inline role
    policies and AWS::IAM::Policy (SAM's translation), and a SAM function's own `Policies`."""
    found: list[tuple[list[Any], dict[str, Any]]] = []

    def document(path: list[Any], value: Any) -> None:
        for branch in _branches(value):
            if not isinstance(branch, dict):
                continue
            statements = branch.get("Statement")
            for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                for item in _branches(statement):
                    if isinstance(item, dict):
                        found.append(([*path, "Statement", index], item))

    for name, resource in cfn.get_resources(["AWS::IAM::Role"]).items():
        for index, policy in enumerate((resource.get("Properties") or {}).get("Policies") or []):
            for branch in _branches(policy):
                if isinstance(branch, dict):
                    path = ["Resources", name, "Properties", "Policies", index, "PolicyDocument"]
                    document(path, branch.get("PolicyDocument"))
    for name, resource in cfn.get_resources(["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]).items():
        properties = resource.get("Properties") or {}
        document(["Resources", name, "Properties", "PolicyDocument"], properties.get("PolicyDocument"))
    for name, resource in cfn.get_resources(["AWS::Serverless::Function"]).items():
        for index, policy in enumerate((resource.get("Properties") or {}).get("Policies") or []):
            document(["Resources", name, "Properties", "Policies", index], policy)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text_of(value: Any) -> str:
    """A literal string, or the template string of an Fn::Sub."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


SENDING_ACTIONS = ("ses:sendemail", "ses:sendrawemail")


class EmailSendersMayAddressAnyIdentityFromTheSender(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "A role that sends e-mail may use any identity, from the sender only"
    description = (
        "SES authorises a send against the sender's identity (its address, or its domain) and, in the "
        "sandbox, every recipient's: a statement allowing ses:SendEmail or ses:SendRawEmail must have "
        "Resource identity/* and Condition StringEquals ses:FromAddress (else the mails of a "
        "domain-verified sender or to sandbox recipients are refused)."
    )
    source_url = "https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html"
    tags = ["shop", "iam", "ses"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        import fnmatch

        matches = []
        for path, statement in _statements(cfn):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(action).lower() for action in _as_list(statement.get("Action"))]
            if not any(fnmatch.fnmatch(sending, action) for action in actions for sending in SENDING_ACTIONS):
                continue
            resources = [_text_of(resource) for resource in _as_list(statement.get("Resource"))]
            from_address = ((statement.get("Condition") or {}).get("StringEquals") or {}).get(
                "ses:FromAddress"
            )
            if not resources or not all(resource.endswith(":identity/*") for resource in resources):
                matches.append(
                    RuleMatch(
                        path, f"{path[1]}: sends e-mail but not on identity/* (SES checks every identity)"
                    )
                )
            if from_address is None:
                matches.append(
                    RuleMatch(path, f"{path[1]}: sends e-mail without the condition ses:FromAddress")
                )
        return matches


def _cors_methods(value: Any) -> set[str] | None:
    """The methods of an Access-Control-Allow-Methods value ("'GET,POST'"), None if not a literal."""
    if not isinstance(value, str):
        return None
    return {method.strip().upper() for method in value.strip("'").split(",") if method.strip()}


HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"}


class CorsCoversEveryMethod(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "The API's CORS methods cover every method it serves"
    description = (
        "A browser on another origin (the storefront on CloudFront) sends a preflight before PATCH, "
        "DELETE, PUT and JSON POSTs: each method a route serves must be in Access-Control-Allow-Methods."
    )
    tags = ["shop", "api", "cors"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        # SAM's translation: the API's OpenAPI body, with an OPTIONS mock per path.
        for name, api in cfn.get_resources(["AWS::ApiGateway::RestApi"]).items():
            body = (api.get("Properties") or {}).get("Body") or {}
            for route, methods in (body.get("paths") or {}).items():
                if not isinstance(methods, dict) or "options" not in methods:
                    continue
                integration = methods["options"].get("x-amazon-apigateway-integration") or {}
                parameters = ((integration.get("responses") or {}).get("default") or {}).get(
                    "responseParameters"
                ) or {}
                allowed = _cors_methods(parameters.get("method.response.header.Access-Control-Allow-Methods"))
                if allowed is None:
                    continue
                served = {m.upper() for m in methods if m != "options"}
                if "X-AMAZON-APIGATEWAY-ANY-METHOD" in served:
                    served = (served - {"X-AMAZON-APIGATEWAY-ANY-METHOD"}) | HTTP_METHODS
                missing = sorted(served - allowed)
                if missing:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "Body", "paths", route],
                            f"{name} {route}: CORS does not allow {','.join(missing)}",
                        )
                    )
        # The SAM template itself: AWS::Serverless::Api's Cors and the functions' Api events.
        apis = cfn.get_resources(["AWS::Serverless::Api"])
        served_by: dict[str, set[str]] = {}
        for function in cfn.get_resources(["AWS::Serverless::Function"]).values():
            for event in ((function.get("Properties") or {}).get("Events") or {}).values():
                properties = event.get("Properties") or {}
                api = properties.get("RestApiId")
                if event.get("Type") == "Api" and isinstance(api, dict) and "Ref" in api:
                    method = str(properties.get("Method", "")).upper()
                    served_by.setdefault(api["Ref"], set()).update(
                        HTTP_METHODS if method == "ANY" else {method}
                    )
        for name, api in apis.items():
            cors = (api.get("Properties") or {}).get("Cors")
            allowed = _cors_methods(cors.get("AllowMethods")) if isinstance(cors, dict) else None
            if allowed is None:
                continue
            missing = sorted(served_by.get(name, set()) - allowed)
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "Cors", "AllowMethods"],
                        f"{name}: CORS does not allow {','.join(missing)}",
                    )
                )
        return matches


class NoReservedConcurrencyByDefault(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "No function reserves concurrency with the template's default parameters"
    description = (
        "Lambda keeps part of an account's concurrency unreserved (100 on a standard account) and a new "
        "account's quota is 10: any reservation fails the first deploy. Reserve only through a "
        "parameter whose default is 0."
    )
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
    tags = ["shop", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        matches = []
        for name, function in _functions(cfn).items():
            value = (function.get("Properties") or {}).get("ReservedConcurrentExecutions")
            for branch in _branches(value):
                literal = branch
                if isinstance(branch, dict) and "Ref" in branch:
                    literal = (parameters.get(branch["Ref"]) or {}).get("Default", 0)
                try:
                    reserved = int(literal)
                except (TypeError, ValueError):
                    continue
                if reserved > 0:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "ReservedConcurrentExecutions"],
                            f"{name} reserves {reserved} concurrent executions with the default parameters",
                        )
                    )
        return matches


def _parameter_default(spec: dict[str, Any]) -> Any:
    value = spec.get("Default", "")
    kind = str(spec.get("Type", "String"))
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return value if isinstance(value, list) else [item.strip() for item in str(value).split(",")]
    return value


def _condition_values(template: dict[str, Any]) -> dict[str, bool] | None:
    """The template's conditions for its parameters' defaults (the rehearsal writes a profile's values
    there), or None when one uses a function this small evaluator does not know."""
    declared = template.get("Parameters") or {}
    parameters = {name: _parameter_default(spec or {}) for name, spec in declared.items()}
    conditions = template.get("Conditions") or {}
    known: dict[str, bool] = {}

    def value(expression: Any) -> Any:
        if not isinstance(expression, dict):
            return [value(item) for item in expression] if isinstance(expression, list) else expression
        ((function, argument),) = expression.items()
        if function == "Ref":
            if argument not in parameters:
                raise KeyError(argument)
            return parameters[argument]
        if function == "Condition":
            return condition(argument)
        if function == "Fn::Equals":
            left, right = (value(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not value(argument[0])
        if function == "Fn::And":
            return all(value(item) for item in argument)
        if function == "Fn::Or":
            return any(value(item) for item in argument)
        if function == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in value(items))
        raise KeyError(function)

    def condition(name: str) -> bool:
        if name not in known:
            known[name] = bool(value(conditions[name]))
        return known[name]

    try:
        for name in conditions:
            condition(name)
    except (KeyError, TypeError, ValueError):
        return None
    return known


def _effective(value: Any, conditions: dict[str, bool]) -> Any:
    """A value as CloudFormation makes it for these conditions: Fn::If chosen, AWS::NoValue dropped."""
    if isinstance(value, list):
        items = [_effective(item, conditions) for item in value]
        return [item for item in items if item is not None]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"} and value["Fn::If"][0] in conditions:
            name, when_true, when_false = value["Fn::If"]
            return _effective(when_true if conditions[name] else when_false, conditions)
        if value == {"Ref": "AWS::NoValue"}:
            return None
        return {key: _effective(item, conditions) for key, item in value.items()}
    return value


ENI_ACTIONS = ("ec2:createnetworkinterface", "ec2:deletenetworkinterface", "ec2:*", "*")


def _grants_eni(role: dict[str, Any]) -> str | None:
    """What in a role (effective properties) lets Lambda attach the function to a VPC, if anything."""
    for arn in role.get("ManagedPolicyArns") or []:
        name = _text_of(arn).rsplit("/", 1)[-1]
        if name in ("AWSLambdaVPCAccessExecutionRole", "AWSLambdaENIManagementAccess"):
            return name
    for policy in role.get("Policies") or []:
        statements = ((policy or {}).get("PolicyDocument") or {}).get("Statement") or []
        for statement in _as_list(statements):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = [str(action).lower() for action in _as_list(statement.get("Action"))]
            if any(action in ENI_ACTIONS for action in actions):
                return f"{policy.get('PolicyName')} allows {', '.join(actions)}"
    return None


class VpcAccessOnlyWithAVpc(CloudFormationLintRule):
    id = "E9107"
    shortdesc = "Only a function with a VpcConfig has a role with VPC (ENI) permissions"
    description = (
        "SAM adds AWSLambdaVPCAccessExecutionRole whenever VpcConfig is written, even as "
        "!If [cond, {...}, !Ref AWS::NoValue]: a deploy without a VPC then grants every such function "
        "the right to create and delete network interfaces it never uses. Checked on SAM's translation "
        "(the rehearsal), with the conditions of the parameters' defaults."
    )
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html"
    tags = ["shop", "vpc", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        conditions = _condition_values(cfn.template)
        if conditions is None:
            return []
        resources = cfn.template.get("Resources") or {}
        matches = []
        for name, function in cfn.get_resources(["AWS::Lambda::Function"]).items():
            properties = _effective(function.get("Properties") or {}, conditions)
            if properties.get("VpcConfig"):
                continue
            role = properties.get("Role")
            if not (isinstance(role, dict) and "Fn::GetAtt" in role):
                continue
            target = role["Fn::GetAtt"]
            role_id = str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
            role_resource = resources.get(role_id) or {}
            if "Condition" in role_resource and not conditions.get(role_resource["Condition"], True):
                continue
            grant = _grants_eni(_effective(role_resource.get("Properties") or {}, conditions))
            if grant:
                matches.append(
                    RuleMatch(
                        ["Resources", role_id, "Properties"],
                        f"{name} has no VpcConfig in this deploy but its role {role_id} "
                        f"has VPC access ({grant})",
                    )
                )
        return matches

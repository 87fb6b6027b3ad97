"""Reads template.yaml, the one source of truth for the local stack.

It loads the SAM template (with CloudFormation's short-form tags), evaluates parameters,
conditions and the intrinsic functions the template uses, and describes the functions, their API
routes, their event sources and the resources to create. Physical ids that only exist once a
resource is created (queue URLs, stream ARNs, secret ARNs) are filled in by the provisioner
through `Template.set_physical`.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = ROOT / "template.yaml"
NO_VALUE = object()


# libyaml's parser where PyYAML has it (the pure-Python one took 0.25 s for template.yaml, and the
# stack, the tests and the tools read it again and again).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    """The template as Python values (a fresh copy each call: callers may change it)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    properties: dict[str, Any]

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class ApiRoute:
    function_id: str
    event_name: str
    method: str  # upper case
    path: str  # /orders/{order_id}
    authorizer: str | None  # None = public
    regex: re.Pattern[str] = field(init=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        parts = []
        literal = 0
        for segment in self.path.strip("/").split("/"):
            match = re.fullmatch(r"\{(\w+)\+?\}", segment)
            if match:
                parts.append(f"(?P<{match.group(1)}>[^/]+)")
            else:
                literal += 1
                parts.append(re.escape(segment))
        self.regex = re.compile("^/" + "/".join(parts) + "/?$") if parts != [""] else re.compile("^/?$")
        self.literal_segments = literal


@dataclass
class EventSource:
    function_id: str
    event_name: str
    kind: str  # "SQS" or "DynamoDB"
    source_logical_id: str
    properties: dict[str, Any]

    @property
    def batch_size(self) -> int:
        return int(self.properties.get("BatchSize", 10 if self.kind == "SQS" else 100))

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.properties.get("FunctionResponseTypes") or [])

    @property
    def maximum_concurrency(self) -> int | None:
        """An SQS source's `ScalingConfig.MaximumConcurrency`: at most this many invocations at once."""
        value = (self.properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return int(value) if value not in (None, "") else None


@dataclass
class AuthorizerSpec:
    name: str
    function_id: str
    payload_type: str
    identity_header: str
    ttl_seconds: int


class Template:
    def __init__(
        self,
        path: Path = DEFAULT_TEMPLATE,
        parameter_overrides: dict[str, str] | None = None,
        *,
        stack_name: str = "shop-local",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        defaults: dict[str, str] | None = None,
    ) -> None:
        """`parameter_overrides` must name declared parameters; `defaults` (a local stack's own
        choices) apply to those the template declares and the overrides leave out."""
        self.path = path
        self.root = path.parent
        self.doc = load_yaml(path)
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.resources: dict[str, dict[str, Any]] = self.doc.get("Resources", {})
        declared = self.doc.get("Parameters") or {}
        chosen = {name: value for name, value in (defaults or {}).items() if name in declared}
        self.parameters = self._parameters({**chosen, **(parameter_overrides or {})})
        self._physical: dict[str, dict[str, str]] = {}
        self.conditions: dict[str, bool] = {}
        for name, expr in (self.doc.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(expr))

    # ------------------------------------------------------------------ parameters and names
    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.doc.get("Parameters") or {}).items():
            raw = overrides.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList":
                values[name] = [item.strip() for item in str(raw).split(",")] if raw != "" else [""]
            else:
                values[name] = str(raw)
        unknown = set(overrides) - set(values)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        return values

    def set_physical(self, logical_id: str, **attributes: str) -> None:
        """Record what creating a resource produced (Ref value, Arn, StreamArn, QueueUrl ...)."""
        self._physical.setdefault(logical_id, {}).update(attributes)

    def physical(self, logical_id: str) -> dict[str, str]:
        return self._physical.get(logical_id, {})

    def resource_name(self, logical_id: str) -> str:
        """The physical name the local stack gives a resource: its explicit name property if the
        template sets one, otherwise `{stack}-{logical id}`, as CloudFormation generates one (less its
        random suffix), so a real name never reads like the bare logical id `sam local` would pass."""
        resource = self.resources[logical_id]
        props = resource.get("Properties") or {}
        for key in ("TableName", "TopicName", "QueueName", "Name", "FunctionName", "LayerName"):
            if key in props:
                return str(self.resolve(props[key]))
        return f"{self.stack_name}-{logical_id}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise KeyError(f"Ref to unknown name {name!r}")
        known = self._physical.get(name, {})
        if "Ref" in known:
            return known["Ref"]
        kind = self.resources[name]["Type"]
        physical_name = self.resource_name(name)
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", physical_name)
        if kind == "AWS::Serverless::Api":
            return "local"
        return physical_name

    def _get_att(self, name: str, attribute: str) -> str:
        known = self._physical.get(name, {})
        if attribute in known:
            return known[attribute]
        kind = self.resources[name]["Type"]
        physical_name = self.resource_name(name)
        if kind == "AWS::SQS::Queue":
            return {"Arn": self._arn("sqs", physical_name), "QueueName": physical_name}[attribute]
        if kind == "AWS::SNS::Topic":
            return {"TopicArn": self._arn("sns", physical_name), "TopicName": physical_name}[attribute]
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return self._arn("dynamodb", f"table/{physical_name}")
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return self._arn("lambda", f"function:{physical_name}")
        if kind == "AWS::SecretsManager::Secret":
            return known.get("Ref", self._arn("secretsmanager", f"secret:{physical_name}"))
        if kind == "AWS::CloudFront::Distribution" and attribute == "DomainName":
            # never created locally (the stack serves web/ itself and passes StorefrontUrl); a name
            # under the reserved .invalid domain where the template is read as deployed
            return f"{physical_name.lower()}.cloudfront.invalid"
        raise KeyError(f"GetAtt {name}.{attribute} is not known before {name} exists")

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._get_att(name, attribute)
            if key == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                variables = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(
                    r"\$\{([^}!]+)\}", lambda m: str(self._sub_var(m.group(1), variables)), template
                )
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.conditions[condition] else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in arg)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in arg)
            if key == "Condition":
                return self.conditions[arg]
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _sub_var(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            resource, attribute = name.split(".", 1)
            return self._get_att(resource, attribute)
        return self._ref(name)

    # ------------------------------------------------------------------ what the stack runs
    def is_enabled(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.conditions[condition]

    def resources_of(self, *types: str) -> list[str]:
        return [
            name
            for name, resource in self.resources.items()
            if resource.get("Type") in types and self.is_enabled(name)
        ]

    def function_globals(self) -> dict[str, Any]:
        return (self.doc.get("Globals") or {}).get("Function") or {}

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.function_globals()
        global_env = (globals_.get("Environment") or {}).get("Variables") or {}
        specs = {}
        for name in self.resources_of("AWS::Serverless::Function"):
            props = self.resources[name].get("Properties") or {}
            own_env = (props.get("Environment") or {}).get("Variables") or {}
            env = {k: str(self.resolve(v)) for k, v in {**global_env, **own_env}.items()}
            specs[name] = FunctionSpec(
                logical_id=name,
                code_uri=(self.root / str(props["CodeUri"])).resolve(),
                handler=str(props["Handler"]),
                environment=env,
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                properties=props,
            )
        return specs

    def function_layers(self, spec: FunctionSpec) -> list[Path]:
        """The folders of the template's own layers the function uses (`ContentUri`), in order."""
        layers = spec.properties.get("Layers", self.function_globals().get("Layers")) or []
        folders = []
        for layer in layers:
            name = layer.get("Ref") if isinstance(layer, dict) else None
            resource = self.resources.get(name or "") or {}
            if resource.get("Type") != "AWS::Serverless::LayerVersion":
                continue  # a published layer's ARN: nothing local to mount
            content = (resource.get("Properties") or {}).get("ContentUri")
            if content:
                folders.append((self.root / str(content)).resolve())
        return folders

    def _events(self, function_id: str) -> dict[str, dict[str, Any]]:
        props = self.resources[function_id].get("Properties") or {}
        return props.get("Events") or {}

    def api_routes(self) -> list[ApiRoute]:
        routes = []
        for function_id in self.resources_of("AWS::Serverless::Function"):
            for event_name, event in self._events(function_id).items():
                if event.get("Type") != "Api":
                    continue
                props = event.get("Properties") or {}
                api_id = (props.get("RestApiId") or {}).get("Ref")
                authorizer = self._default_authorizer(api_id)
                explicit = (props.get("Auth") or {}).get("Authorizer")
                if explicit:
                    authorizer = None if explicit == "NONE" else explicit
                routes.append(
                    ApiRoute(
                        function_id, event_name, str(props["Method"]).upper(), str(props["Path"]), authorizer
                    )
                )
        # API Gateway prefers the most literal match: /products/categories before /products/{id}.
        routes.sort(key=lambda route: -route.literal_segments)
        return routes

    def _api_auth(self, api_id: str | None) -> dict[str, Any]:
        if not api_id or api_id not in self.resources:
            return {}
        return (self.resources[api_id].get("Properties") or {}).get("Auth") or {}

    def _default_authorizer(self, api_id: str | None) -> str | None:
        return self._api_auth(api_id).get("DefaultAuthorizer")

    def authorizers(self) -> dict[str, AuthorizerSpec]:
        specs = {}
        for api_id in self.resources_of("AWS::Serverless::Api"):
            for name, auth in (self._api_auth(api_id).get("Authorizers") or {}).items():
                function_arn = auth["FunctionArn"]
                function_id = function_arn["Fn::GetAtt"][0]
                identity = auth.get("Identity") or {}
                specs[name] = AuthorizerSpec(
                    name=name,
                    function_id=function_id,
                    payload_type=auth.get("FunctionPayloadType", "TOKEN"),
                    identity_header=identity.get("Header", "Authorization"),
                    ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
                )
        return specs

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        responses: dict[str, dict[str, Any]] = {}
        for api_id in self.resources_of("AWS::Serverless::Api"):
            props = self.resources[api_id].get("Properties") or {}
            responses.update(props.get("GatewayResponses") or {})
        return responses

    def event_sources(self) -> list[EventSource]:
        sources = []
        for function_id in self.resources_of("AWS::Serverless::Function"):
            for event_name, event in self._events(function_id).items():
                kind = event.get("Type")
                if kind not in ("SQS", "DynamoDB"):
                    continue
                props = dict(event.get("Properties") or {})
                if "ScalingConfig" in props:  # a parameter, usually
                    props["ScalingConfig"] = self.resolve(props["ScalingConfig"])
                ref: dict[str, Any] = props["Queue"] if kind == "SQS" else props["Stream"]
                source_id = ref["Fn::GetAtt"][0] if "Fn::GetAtt" in ref else ref["Ref"]
                sources.append(EventSource(function_id, event_name, kind, source_id, props))
        return sources

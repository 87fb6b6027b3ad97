"""What CloudFormation would create from template.yaml, as SAM's translator produces it, for the
parameter sets a shop deploys with (no Redis; ElastiCache in a VPC; the same without storefront).
Each test is one promise of docs/deploying.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from sam_template import NO_REDIS, NO_STOREFRONT, ROOT, VPC_REDIS, Deploy, deployed, sam_document

FUNCTION = "AWS::Lambda::Function"


# ------------------------------------------------------------------ the API stage


def test_the_api_has_one_stage_with_throttling_tracing_and_access_logs(each_deploy: Deploy) -> None:
    stages = each_deploy.of_type("AWS::ApiGateway::Stage")
    assert len(stages) == 1, sorted(stages)
    # SAM's stray stage comes from its Deployment: a StageName there creates a second stage, "Stage".
    for name, deployment in each_deploy.of_type("AWS::ApiGateway::Deployment").items():
        assert "StageName" not in deployment["Properties"], f"{name} creates the stray 'Stage' stage"
    (stage,) = (resource["Properties"] for resource in stages.values())
    assert stage["StageName"] == {"Ref": "Stage"}
    (settings,) = stage["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert stage["TracingEnabled"] is True
    log_group = stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert each_deploy.properties(log_group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for field in ("$context.requestId", "$context.status", "$context.authorizer.error"):
        assert field in stage["AccessLogSetting"]["Format"]
    # API Gateway needs the account's logging role before a stage can log.
    assert each_deploy.of_type("AWS::ApiGateway::Account")


def test_gateway_errors_carry_cors_headers(each_deploy: Deploy) -> None:
    """Without them a browser shows a CORS error instead of the 429 or 413."""
    (api,) = each_deploy.of_type("AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    for kind in ("THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED"):
        headers = responses[kind]["responseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'", kind


# ------------------------------------------------------------------ the VPC


def _module_file(name: str, roots: list[Path]) -> Path | None:
    for root in roots:
        for candidate in (
            root / f"{name.replace('.', '/')}.py",
            root / name.replace(".", "/") / "__init__.py",
        ):
            if candidate.exists():
                return candidate
    return None


def _reaches_redis(handler_module: str, code_uri: Path) -> bool:
    """Whether the handler's code imports redis-py, directly or through the shared layer (imports
    inside functions included: they run too)."""
    roots = [code_uri, ROOT / "layers" / "shared"]
    seen: set[str] = set()
    pending = [handler_module]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module, roots)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name == "redis" or name.startswith("redis."):
                    return True
                pending.append(name)
    return False


def _redis_users() -> set[str]:
    users = set()
    for name, resource in sam_document()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        module = properties["Handler"].rsplit(".", 1)[0]
        if _reaches_redis(module, ROOT / properties["CodeUri"]):
            users.add(name)
    return users


def test_the_functions_that_use_redis_are_found_in_their_code() -> None:
    assert _redis_users() == {"AuthFunction", "ProductsFunction", "OrdersFunction"}


def test_only_the_functions_that_use_redis_are_in_the_vpc() -> None:
    """A function in the VPC reaches AWS only through the NAT: the authorizer, the publisher and
    the e-mail function, which do not need Redis, stay out of it."""
    in_vpc = {
        name for name, r in deployed(VPC_REDIS).of_type(FUNCTION).items() if "VpcConfig" in r["Properties"]
    }
    assert in_vpc == _redis_users()
    for name in in_vpc:
        config = deployed(VPC_REDIS).properties(name)["VpcConfig"]
        assert config == {
            "SubnetIds": {"Ref": "VpcSubnetIds"},
            "SecurityGroupIds": {"Ref": "VpcSecurityGroupIds"},
        }
    assert not [r for r in deployed(NO_REDIS).of_type(FUNCTION).values() if "VpcConfig" in r["Properties"]]


def test_a_vpc_without_a_stated_way_out_is_refused_before_anything_is_created() -> None:
    assert deployed(VPC_REDIS).rules_failing() == []
    assert deployed(NO_REDIS).rules_failing() == []
    assert deployed({**VPC_REDIS, "VpcEgress": ""}).rules_failing() == ["VpcNeedsEgress"]


TLS_REDIS_NO_VPC = {
    "RedisUrl": "rediss://shop-redis.example.net:6380",
    "RedisNetwork": "internet",
    "RedisAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-redis",
}
ELASTICACHE_URL = VPC_REDIS["RedisUrl"]
VPC_ONLY = {name: value for name, value in VPC_REDIS.items() if name.startswith("Vpc")}


@pytest.mark.parametrize(
    ("parameters", "refused"),
    [
        # accepted: each way a shop deploys
        (VPC_REDIS, []),
        ({**VPC_REDIS, "VpcId": "vpc-0abc", "VpcRouteTableIds": "rtb-0aaa,rtb-0bbb"}, []),
        (TLS_REDIS_NO_VPC, []),  # a TLS Redis over the internet, no VPC: cheaper, and allowed
        (NO_REDIS, []),
        (NO_STOREFRONT, []),
        # refused before anything is created
        ({**VPC_REDIS, "VpcSecurityGroupIds": ""}, ["VpcSubnetsNeedSecurityGroups"]),
        ({**TLS_REDIS_NO_VPC, "VpcSecurityGroupIds": "sg-0fn"}, ["VpcSecurityGroupsNeedSubnets"]),
        (
            {**TLS_REDIS_NO_VPC, "VpcId": "vpc-0abc", "VpcRouteTableIds": "rtb-0aaa"},
            ["DynamoDbEndpointNeedsTheVpc"],
        ),
        ({**VPC_REDIS, "VpcRouteTableIds": "rtb-0aaa"}, ["DynamoDbEndpointNeedsTheVpc"]),
        # ElastiCache is reachable only from inside its VPC: without subnets every login is a 503
        (
            {"RedisUrl": ELASTICACHE_URL, "RedisNetwork": "vpc", "RedisClusterMode": "true"},
            ["RedisInTheVpcNeedsSubnets"],
        ),
        ({**VPC_REDIS, "VpcSubnetIds": "", "VpcSecurityGroupIds": ""}, ["RedisInTheVpcNeedsSubnets"]),
        # subnets put the Redis functions in the VPC: that is RedisNetwork=vpc, stated as such
        ({**VPC_REDIS, "RedisNetwork": "internet"}, ["VpcSubnetsAreForRedisInTheVpc"]),
        ({**NO_REDIS, **VPC_ONLY}, ["VpcSubnetsAreForRedisInTheVpc"]),
        # "none" on one side only: a Redis nobody reaches, or a network chosen for no Redis
        ({**TLS_REDIS_NO_VPC, "RedisNetwork": "none"}, ["RedisNetworkNoneMeansRedisUrlNone"]),
        ({**NO_REDIS, "RedisNetwork": "internet"}, ["RedisUrlNoneMeansRedisNetworkNone"]),
        ({**VPC_REDIS, "RedisUrl": "none"}, ["RedisUrlNoneMeansRedisNetworkNone"]),
        # a Redis on the internet without AUTH is open to anyone who finds it
        ({**TLS_REDIS_NO_VPC, "RedisAuthSecretArn": ""}, ["RedisOnTheInternetNeedsAuth"]),
    ],
)
def test_parameter_combinations_that_would_deploy_and_then_fail_are_refused(
    parameters: dict[str, str], refused: list[str]
) -> None:
    assert deployed(parameters).rules_failing() == refused


def test_the_dynamodb_gateway_endpoint_is_made_only_with_the_route_tables() -> None:
    """Free, and DynamoDB traffic from the functions in the VPC then bypasses the NAT gateway."""
    with_tables = deployed({**VPC_REDIS, "VpcId": "vpc-0abc", "VpcRouteTableIds": "rtb-0aaa,rtb-0bbb"})
    (endpoint,) = with_tables.of_type("AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"] == {
        "VpcEndpointType": "Gateway",
        "VpcId": {"Ref": "VpcId"},
        "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"},
        "RouteTableIds": {"Ref": "VpcRouteTableIds"},
    }
    assert not deployed(VPC_REDIS).of_type("AWS::EC2::VPCEndpoint")
    assert not deployed(NO_REDIS).of_type("AWS::EC2::VPCEndpoint")


# ------------------------------------------------------------------ Redis settings


def _environment(deploy: Deploy, name: str) -> dict[str, Any]:
    return dict(deploy.properties(name).get("Environment", {}).get("Variables", {}))


def test_the_redis_network_must_be_stated_at_deploy_time() -> None:
    """No default: `sam deploy` stops until the user says where Redis is, the one fact the Rules
    need and cannot read from the URL (no rule function looks inside a string)."""
    spec = sam_document()["Parameters"]["RedisNetwork"]
    assert "Default" not in spec
    assert spec["AllowedValues"] == ["vpc", "internet", "none"]


def test_an_internet_redis_needs_auth_only_on_aws() -> None:
    """An emulator's Redis (AwsEndpointUrl set: the local stack, LocalStack) has no AUTH."""
    local = {**TLS_REDIS_NO_VPC, "RedisUrl": "redis://127.0.0.1:6379/0", "RedisAuthSecretArn": ""}
    assert deployed({**local, "AwsEndpointUrl": "http://127.0.0.1:4566"}).rules_failing() == []
    assert deployed(local).rules_failing() == ["RedisOnTheInternetNeedsAuth"]


def test_the_vpc_and_the_redis_alarm_follow_the_stated_redis_network(each_deploy: Deploy) -> None:
    """In every accepted deploy the conditions say what the parameters do: functions in the VPC
    exactly when subnets are given, the Redis alarm exactly when there is a Redis."""
    assert each_deploy.rules_failing() == []
    subnets = [s for s in each_deploy.parameters["VpcSubnetIds"] if s]
    assert each_deploy.conditions["UseVpc"] == bool(subnets)
    assert each_deploy.conditions["UseRedis"] == (each_deploy.parameters["RedisUrl"] != "none")
    in_vpc = [r for r in each_deploy.of_type(FUNCTION).values() if "VpcConfig" in r["Properties"]]
    assert bool(in_vpc) == (each_deploy.parameters["RedisNetwork"] == "vpc")


def test_redis_must_be_chosen_at_deploy_time() -> None:
    spec = sam_document()["Parameters"]["RedisUrl"]
    assert "Default" not in spec  # `sam deploy` refuses to go on without it
    pattern = re.compile(spec["AllowedPattern"])
    for accepted in (
        "none",
        "rediss://shop-abc.serverless.use1.cache.amazonaws.com:6379",
        "redis://10.0.0.5:6379/0",
        "redis://shop-nodes.abc123.ng.0001.use1.cache.amazonaws.com:6379",  # a node group without TLS
    ):
        assert pattern.fullmatch(accepted), accepted
    for refused in (
        "",
        "redis://shop-abc.serverless.use1.cache.amazonaws.com:6379",  # Serverless speaks TLS only
        "redis://127.0.0.1:6379/5",
        "rediss://:s3cret@host:6379",
        "rediss://user:pw@host:6379",
    ):
        assert not pattern.fullmatch(refused), refused  # never a password in a parameter


def test_only_the_redis_functions_get_the_redis_settings_and_its_secret(each_deploy: Deploy) -> None:
    redis_users = _redis_users()
    for name in each_deploy.of_type(FUNCTION):
        environment = _environment(each_deploy, name)
        assert ("REDIS_URL" in environment) == (name in redis_users), name
        assert not [key for key in environment if "PASSWORD" in key or "TOKEN" in key], name
        if name in redis_users:
            assert environment["REDIS_AUTH_SECRET_ARN"] == {"Ref": "RedisAuthSecretArn"}


def test_the_redis_functions_may_read_the_redis_secret() -> None:
    for name in _redis_users():
        role = deployed(VPC_REDIS).properties(f"{name}Role")
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert any(
            "secretsmanager:GetSecretValue" in s["Action"]
            # The roles are the template's own (VPC access behind UseVpc), not SAM's policy template.
            and s["Resource"] == {"Ref": "RedisAuthSecretArn"}
            for s in statements
        ), name


# ------------------------------------------------------------------ e-mail


@pytest.mark.parametrize("role_name", ["EmailFunctionRole", "AuthFunctionRole"])
def test_the_senders_may_send_from_the_sender_to_any_verified_identity(
    each_deploy: Deploy, role_name: str
) -> None:
    """The order e-mails and the account e-mails (verification, reset): SES authorises the sender's
    address or domain identity and, in the sandbox, every recipient's."""
    role = each_deploy.properties(role_name)
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    (ses,) = [s for s in statements if "ses:SendRawEmail" in str(s["Action"])]
    assert ses["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"
    }
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def test_the_email_consumer_has_a_concurrency_cap(each_deploy: Deploy) -> None:
    (mapping,) = [
        r["Properties"]
        for r in each_deploy.of_type("AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": "EmailFunction"}
    ]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "EmailMaxConcurrency"}}
    assert int(sam_document()["Parameters"]["EmailMaxConcurrency"]["Default"]) >= 2


# ------------------------------------------------------------------ data


@pytest.mark.parametrize("table", ["UsersTable", "OrdersTable"])
def test_users_and_orders_outlive_the_stack(each_deploy: Deploy, table: str) -> None:
    resource = each_deploy.resources[table]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    properties = resource["Properties"]
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_failed_order_events_are_kept_whole(each_deploy: Deploy) -> None:
    """An S3 on-failure destination receives the records themselves; an SQS or SNS one only
    pointers into the stream, which expire with it after 24 h."""
    (mapping,) = [
        r["Properties"]
        for r in each_deploy.of_type("AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": "OrderEventsPublisherFunction"}
    ]
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    bucket = destination["Fn::GetAtt"][0]
    assert each_deploy.resources[bucket]["Type"] == "AWS::S3::Bucket"
    assert each_deploy.resources[bucket]["DeletionPolicy"] == "Retain"
    role = each_deploy.properties("OrderEventsPublisherFunctionRole")
    actions = {
        a for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] for a in _list(s["Action"])
    }
    assert {"s3:PutObject", "s3:ListBucket"} <= actions


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_data_at_rest_is_encrypted(each_deploy: Deploy) -> None:
    topic = each_deploy.properties("OrderEventsTopic")
    key = topic["KmsMasterKeyId"]["Ref"]
    assert each_deploy.properties(key)["EnableKeyRotation"] is True
    role = each_deploy.properties("OrderEventsPublisherFunctionRole")
    kms = [
        s
        for p in role["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if "kms:GenerateDataKey*" in _list(s["Action"])
    ]
    assert kms and kms[0]["Resource"] == {"Fn::GetAtt": [key, "Arn"]}
    for name, table in each_deploy.of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, name
    for name, queue in each_deploy.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
    for name, bucket in each_deploy.of_type("AWS::S3::Bucket").items():
        assert bucket["Properties"]["BucketEncryption"], name


# ------------------------------------------------------------------ operations


def test_every_function_logs_to_a_group_with_retention(each_deploy: Deploy) -> None:
    for name, function in each_deploy.of_type(FUNCTION).items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert each_deploy.resources[group]["Type"] == "AWS::Logs::LogGroup", name
        assert each_deploy.properties(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def _alarms(deploy: Deploy) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in deploy.of_type("AWS::CloudWatch::Alarm").items()}


def _watched(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of every metric an alarm looks at."""
    if "MetricName" in alarm:
        return [
            (
                alarm["Namespace"],
                alarm["MetricName"],
                {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            )
        ]
    found = []
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append(
                (
                    metric["Namespace"],
                    metric["MetricName"],
                    {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                )
            )
    return found


def _watches(deploy: Deploy, namespace: str, metric: str, **dimensions: Any) -> list[str]:
    return [
        name
        for name, alarm in _alarms(deploy).items()
        for watched in _watched(alarm)
        if watched[:2] == (namespace, metric) and all(watched[2].get(k) == v for k, v in dimensions.items())
    ]


def test_the_operational_alarms_exist_and_notify(each_deploy: Deploy) -> None:
    for name, alarm in _alarms(each_deploy).items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    (api,) = each_deploy.of_type("AWS::ApiGateway::RestApi").values()
    assert _watches(
        each_deploy, "AWS/ApiGateway", "5XXError", ApiName=api["Properties"]["Name"], Stage={"Ref": "Stage"}
    )
    for function in each_deploy.of_type(FUNCTION):
        assert _watches(each_deploy, "AWS/Lambda", "Errors", FunctionName={"Ref": function}), function
        assert _watches(each_deploy, "AWS/Lambda", "Throttles", FunctionName={"Ref": function}), function
    assert _watches(
        each_deploy, "AWS/Lambda", "IteratorAge", FunctionName={"Ref": "OrderEventsPublisherFunction"}
    )
    assert _watches(each_deploy, "Shop", "OrderEventInvalid", service="orders-publisher")
    for kind in ("verify_email", "password_reset"):
        assert _watches(each_deploy, "Shop", "AccountEmailFailed", Kind=kind), kind
    assert _watches(each_deploy, "AWS/SQS", "ApproximateNumberOfMessagesVisible")


def test_redis_failing_open_is_alarmed_when_redis_is_used() -> None:
    uses = {"product_cache", "order_rate_limit", "login_throttle", "mail_limits"}
    for parameters in (VPC_REDIS, NO_STOREFRONT):
        watched = {
            dimensions["Use"]
            for alarm in _alarms(deployed(parameters)).values()
            for namespace, metric, dimensions in _watched(alarm)
            if (namespace, metric) == ("Shop", "RedisUnavailable")
        }
        assert watched == uses
    # Deployed without Redis on purpose: nothing fails open, nothing to alarm on.
    assert not _watches(deployed(NO_REDIS), "Shop", "RedisUnavailable")


def test_the_metric_names_the_alarms_watch_are_the_ones_the_code_emits() -> None:
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers/shared/shop_shared").glob("*.py")]
    code = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    for metric in ("OrderEventInvalid", "RedisUnavailable", "AccountEmailFailed"):
        assert f'name="{metric}"' in code, metric
    for kind in ("verify_email", "password_reset"):
        assert f'report_failure("{kind}"' in code, kind
    for use in ("product_cache", "order_rate_limit", "login_throttle", "mail_limits"):
        assert f'redis_unavailable("{use}")' in code, use


def test_the_authorizer_reserves_concurrency_only_when_asked() -> None:
    """A new account (quota 10) refuses any reservation: none by default, the parameter when raised."""
    raised = deployed({**VPC_REDIS, "AuthorizerReservedConcurrency": "20"})
    assert raised.properties("AuthorizerFunction")["ReservedConcurrentExecutions"] == {
        "Ref": "AuthorizerReservedConcurrency"
    }
    for parameters in (VPC_REDIS, NO_REDIS, NO_STOREFRONT):
        function = deployed(parameters).properties("AuthorizerFunction")
        assert "ReservedConcurrentExecutions" not in function


def test_the_storefront_is_optional() -> None:
    assert deployed(VPC_REDIS).of_type("AWS::CloudFront::Distribution")
    assert not deployed(NO_STOREFRONT).of_type("AWS::CloudFront::Distribution")
    assert not deployed(NO_STOREFRONT).of_type("AWS::S3::BucketPolicy").keys() - {
        "OrderEventsFailedBucketPolicy"
    }


def test_account_email_links_lead_to_the_deployed_storefront() -> None:
    """Verification and reset links go to the storefront's distribution, or to StorefrontUrl; a
    deploy without either is refused (the functions' fallback is the local stack's address)."""
    with_storefront = _environment(deployed(VPC_REDIS), "AuthFunction")
    assert with_storefront["STOREFRONT_URL"] == {"Fn::Sub": "https://${StorefrontDistribution.DomainName}"}
    given = {**VPC_REDIS, "StorefrontUrl": "https://shop.example.com"}
    assert _environment(deployed(given), "AuthFunction")["STOREFRONT_URL"] == {"Ref": "StorefrontUrl"}
    assert _environment(deployed(NO_STOREFRONT), "AuthFunction")["STOREFRONT_URL"] == {"Ref": "StorefrontUrl"}
    assert deployed(NO_STOREFRONT).rules_failing() == []
    unset = {**NO_STOREFRONT, "StorefrontUrl": ""}
    assert deployed(unset).rules_failing() == ["AccountLinksNeedAStorefront"]


def test_the_template_has_no_resource_the_local_stack_cannot_ignore() -> None:
    """The local stack reads the same template: new resource kinds must be ones it skips cleanly."""
    from sam_runner.provision import creation_order
    from sam_runner.template import Template

    parameters = {"RedisUrl": "redis://127.0.0.1:6379/0", "RedisNetwork": "internet"}
    assert creation_order(Template(ROOT / "template.yaml", parameters))


def test_the_storefronts_csp_lets_the_page_talk_to_api_gateway_of_its_region_only() -> None:
    """connect-src names API Gateway's domain in the stack's region (not the API's id: that closes a
    dependency cycle, see docs/deploying.md); scripts come from the page's own origin only."""
    policy = deployed(VPC_REDIS).properties("StorefrontHeadersPolicy")
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    directives = dict(d.strip().split(" ", 1) for d in csp["ContentSecurityPolicy"]["Fn::Sub"].split(";"))
    assert directives["connect-src"] == "'self' https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_sam_adds_the_authorizers_permission_and_the_destinations_s3_policy_once(each_deploy: Deploy) -> None:
    """Statements the template wrote a second time beside SAM's own: one of each is enough."""
    permissions = [
        name
        for name, r in each_deploy.of_type("AWS::Lambda::Permission").items()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    ]
    assert permissions == ["ShopApiJwtAuthorizerAuthorizerPermission"]
    role = each_deploy.properties("OrderEventsPublisherFunctionRole")
    puts = [
        s
        for p in role["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if "s3:PutObject" in _list(s["Action"])
    ]
    assert len(puts) == 1, puts


def test_the_storefront_bucket_outlives_the_stack() -> None:
    """A bucket with files cannot be deleted by CloudFormation: retained, stack deletion succeeds."""
    bucket = deployed(VPC_REDIS).resources["StorefrontBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_local_stacks_and_localstacks_parameters_are_deploys_the_rules_accept() -> None:
    """`make run`, the tests' stacks and samconfig.toml's LocalStack profile give every required
    parameter (RedisNetwork among them) and a combination CloudFormation's Rules accept."""
    import shlex
    import tomllib

    from sam_runner.builder import ENDPOINT_PARAMETER, LOCAL_PARAMETERS
    from shop_local.stack import redis_parameters

    for url in ("redis://127.0.0.1:6379/0", "none"):
        local = {**LOCAL_PARAMETERS, **redis_parameters(url), ENDPOINT_PARAMETER: "http://127.0.0.1:4566"}
        assert deployed(local).rules_failing() == [], url
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = samconfig["localstack"]["deploy"]["parameters"]["parameter_overrides"]
    localstack = dict(word.split("=", 1) for word in shlex.split(overrides))
    assert localstack["RedisNetwork"] == "internet"
    assert deployed(localstack).rules_failing() == []

"""Creates the template's resources through the AWS service APIs (moto's server, moto in-process,
or LocalStack), in dependency order, and records their physical ids in the Template.

Not through moto's CloudFormation: it silently skips `AWS::SNS::Subscription`. Creating through
the service APIs also works against any endpoint. Every step is idempotent, so provisioning an
existing stack again is harmless.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import string
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sam_runner.template import Template

log = logging.getLogger("shop_local.provision")

SUPPORTED = (
    "AWS::SecretsManager::Secret",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
)


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                found |= _references(arg)
            else:
                found |= _references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def creation_order(template: Template) -> list[str]:
    wanted = template.resources_of(*SUPPORTED)
    deps = {
        name: _references(template.resources[name].get("Properties") or {}) & set(wanted) for name in wanted
    }
    ordered: list[str] = []
    while deps:
        ready = sorted(name for name, needs in deps.items() if needs <= set(ordered))
        if not ready:
            raise ValueError(f"circular references between {sorted(deps)}")
        ordered.extend(ready)
        for name in ready:
            del deps[name]
    return ordered


@functools.cache
def _session(region: str) -> boto3.session.Session:
    """One boto3 session per process and region: a session loads each service's model once, and a
    fresh one per provisioning made its ten clients cost 125 ms (every component test provisions)."""
    return boto3.session.Session(region_name=region)


class Provisioner:
    def __init__(
        self,
        template: Template,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
    ):
        self.template = template
        self.session = session or _session(template.region)
        self.endpoint_url = endpoint_url

    def client(self, service: str) -> Any:
        return self.session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, region_name=self.template.region
        )

    def provision(self) -> None:
        creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
        }
        for name in creation_order(self.template):
            resource = self.template.resources[name]
            props = self.template.resolve(resource.get("Properties") or {})
            creators[resource["Type"]](name, props)
        self._verify_sender()

    # ------------------------------------------------------------------ resources
    def _secret(self, name: str, props: dict[str, Any]) -> None:
        sm = self.client("secretsmanager")
        secret_name = f"{self.template.stack_name}/{name}"
        try:
            arn = sm.describe_secret(SecretId=secret_name)["ARN"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            generate = props.get("GenerateSecretString") or {}
            length = int(generate.get("PasswordLength", 64))
            alphabet = string.ascii_letters + string.digits
            value = props.get("SecretString") or "".join(secrets.choice(alphabet) for _ in range(length))
            arn = sm.create_secret(Name=secret_name, SecretString=value)["ARN"]
        self.template.set_physical(name, Ref=arn, Id=arn)

    def _table(self, name: str, props: dict[str, Any]) -> None:
        ddb = self.client("dynamodb")
        table_name = self.template.resource_name(name)
        args: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        try:
            description = ddb.create_table(**args)["TableDescription"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            description = ddb.describe_table(TableName=table_name)["Table"]
        ddb.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            try:
                ddb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
            except ClientError as exc:  # already enabled
                if exc.response["Error"]["Code"] != "ValidationException":
                    raise
        attributes = {"Ref": table_name, "Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        self.template.set_physical(name, **attributes)

    def _queue(self, name: str, props: dict[str, Any]) -> None:
        sqs = self.client("sqs")
        queue_name = self.template.resource_name(name)
        attributes: dict[str, str] = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        if "MessageRetentionPeriod" in props:
            attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.template.set_physical(name, Ref=url, Arn=arn, QueueName=queue_name, QueueUrl=url)

    def _topic(self, name: str, props: dict[str, Any]) -> None:
        arn = self.client("sns").create_topic(Name=self.template.resource_name(name))["TopicArn"]
        self.template.set_physical(name, Ref=arn, TopicArn=arn, TopicName=arn.rsplit(":", 1)[1])

    def _subscription(self, name: str, props: dict[str, Any]) -> None:
        if props.get("Protocol") != "sqs":
            log.info("skipping %s: only sqs subscriptions are delivered locally", name)
            return
        sns = self.client("sns")
        topic_arn, endpoint = props["TopicArn"], props["Endpoint"]
        existing = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        for subscription in existing:
            if subscription["Endpoint"] == endpoint and subscription["Protocol"] == "sqs":
                self.template.set_physical(name, Ref=subscription["SubscriptionArn"])
                return
        attributes = {}
        if props.get("RawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        if props.get("FilterPolicy"):
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        arn = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.template.set_physical(name, Ref=arn)

    def _verify_sender(self) -> None:
        sender = self.template.parameters.get("SenderEmail")
        if sender:
            self.client("ses").verify_email_identity(EmailAddress=sender)


def provision(
    template: Template, session: boto3.session.Session | None = None, endpoint_url: str | None = None
) -> Template:
    Provisioner(template, session, endpoint_url).provision()
    return template

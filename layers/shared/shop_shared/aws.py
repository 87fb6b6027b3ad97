"""boto3 clients, created once per container (module-level cache), never per request.

botocore honours AWS_ENDPOINT_URL, which is how the same code talks to AWS, LocalStack or the
local stack's embedded emulator. The template declares it for every function (so that
`sam local --env-vars` can set it) and leaves it empty on AWS: empty means AWS's own endpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

# Short timeouts and standard retries: a Lambda must fail fast rather than hang on a dependency.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)

# Secrets are read at cold start, inside the authorizer's 5 s: when Secrets Manager cannot be reached
# (a function in a VPC without a way out), give up after about 2 s instead of botocore's 60 s.
SECRETS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=1,
    read_timeout=1,
    tcp_keepalive=True,
)


ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


def ignore_an_empty_endpoint() -> None:
    """Remove an empty AWS_ENDPOINT_URL before any client is made (ours, or Powertools' own).

    botocore reads the variable itself, and its EnvironmentProvider hands back "" rather than None
    for an empty one (botocore/configprovider.py), which it then treats as a configured endpoint
    override; that an empty override still resolves to AWS's endpoints is an accident of the
    current resolver, not a promise. Without the variable there is nothing to interpret."""
    if os.environ.get(ENDPOINT_VARIABLE) == "":
        del os.environ[ENDPOINT_VARIABLE]


ignore_an_empty_endpoint()


@cache
def client(service: str) -> Any:
    ignore_an_empty_endpoint()
    config = SECRETS_CLIENT_CONFIG if service == "secretsmanager" else CLIENT_CONFIG
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


@cache
def dynamodb() -> DynamoDBServiceResource:
    ignore_an_empty_endpoint()
    return boto3.session.Session().resource("dynamodb", config=CLIENT_CONFIG)


@cache
def table(name: str) -> Table:
    return dynamodb().Table(name)


def projection(fields: Iterable[str]) -> dict[str, Any]:
    """ProjectionExpression arguments reading only `fields`, every name aliased (`state`, `role`
    ... are DynamoDB reserved words)."""
    names = {f"#{field}": field for field in fields}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


# The low-level client with items converted here does what the resource layer (`table()`) does
# without the resource's deep copy and shape walk of every request and response: the order's hot
# path (BatchGetItem, PutItem, the counter's UpdateItem) uses it, and never builds the resource.
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def wire_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain item (str, int, Decimal, bool, bytes, lists, maps, sets; no floats, as the resource
    layer) in DynamoDB's wire format."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A wire-format item as plain Python values (numbers as Decimal), as the resource layer
    returns them."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}

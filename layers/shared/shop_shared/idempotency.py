"""Powertools idempotency records in the shared `IdempotencyTable` (order creation, e-mail sends)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from shop_shared import aws
from shop_shared.config import get_settings


def idempotency_store() -> DynamoDBPersistenceLayer:
    """A persistence layer on the idempotency table through the container's DynamoDB client.

    Cheap to build (the client is cached); built per use because Powertools configures a layer
    only once, from the first config it is given, and the callers build their config per invocation.
    """
    return DynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb")
    )

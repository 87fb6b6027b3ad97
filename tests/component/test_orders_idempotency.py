"""The idempotency record's own lost reply: which stored record is this call's own write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from moto import mock_aws

from orders_idempotency import ATTEMPT_ATTR, RetrySafeDynamoDBPersistenceLayer, is_own_record

TABLE = "idempotency"
FIELDS: dict[str, Any] = {
    "idempotency_key": "orders.create#abc",
    "status": "INPROGRESS",
    "expiry_timestamp": 4_000_000_000,
    "in_progress_expiry_timestamp": 4_000_000_000_123,
    "payload_hash": "5f1d",
}


def test_only_the_record_stamped_with_this_attempt_is_its_own() -> None:
    assert is_own_record({ATTEMPT_ATTR: {"S": "a1"}, "status": {"S": "INPROGRESS"}}, "a1")
    assert not is_own_record({ATTEMPT_ATTR: {"S": "a2"}, "status": {"S": "INPROGRESS"}}, "a1")
    assert not is_own_record({"status": {"S": "INPROGRESS"}}, "a1")  # written by another version
    assert not is_own_record(None, "a1")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


class LostFirstReply:
    """A client whose PutItem is stored but whose reply is lost, so it is sent again (botocore's
    retry sends the very same request)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **request: Any) -> Any:
        self._client.put_item(**request)  # stored; the answer never arrives
        return self._client.put_item(**request)  # the retry


def layer(client: Any) -> RetrySafeDynamoDBPersistenceLayer:
    store = RetrySafeDynamoDBPersistenceLayer(table_name=TABLE, boto3_client=client)
    # as order creation configures it: the body's hash is stored and compared
    store.configure(IdempotencyConfig(payload_validation_jmespath="request"), function_name="create")
    return store


def test_a_put_whose_reply_was_lost_is_taken_as_written(dynamodb: Any) -> None:
    layer(LostFirstReply(dynamodb))._put_record(DataRecord(**FIELDS))  # no "already in progress"
    assert dynamodb.scan(TableName=TABLE)["Count"] == 1


def test_another_request_with_the_same_key_and_deadline_is_still_refused(dynamodb: Any) -> None:
    # Two requests with one Idempotency-Key and body whose deadlines fall in the same millisecond:
    # the second is someone else's, whatever fields the records share.
    layer(dynamodb)._put_record(DataRecord(**FIELDS))
    with pytest.raises(IdempotencyItemAlreadyExistsError):
        layer(dynamodb)._put_record(DataRecord(**FIELDS))

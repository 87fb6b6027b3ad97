"""The order creation's idempotency store: Powertools' DynamoDB layer, safe to retry after a lost reply.

Powertools writes the INPROGRESS record with a conditional PutItem. When DynamoDB stores it but its
answer is lost (slower than the client's read timeout), botocore sends the very same PutItem again,
the retry fails its condition on our own record, and Powertools reports "already in progress": the
client would get a 409 for a request that nobody else is processing.

So each put is stamped with an attempt id of its own (a random `attempt` attribute, the same in
botocore's retries of that put, different for every other request), and a conditional failure on a
record carrying this attempt's id is taken as success. Nothing else can tell the two apart: two
requests with one Idempotency-Key and body can start in the same millisecond with the same deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from botocore.exceptions import ClientError

from shop_shared import aws
from shop_shared.config import get_settings

ATTEMPT_ATTR = "attempt"


def is_own_record(stored: Mapping[str, Any] | None, attempt: str) -> bool:
    """`stored`: the item DynamoDB returned with the failed condition (ALL_OLD, wire format)."""
    return stored is not None and stored.get(ATTEMPT_ATTR, {}).get("S") == attempt


class _StampedPuts:
    """The DynamoDB client with every PutItem stamped with the current attempt's id."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.attempt = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **request: Any) -> Any:
        request["Item"] = {**request["Item"], ATTEMPT_ATTR: {"S": self.attempt}}
        return self._client.put_item(**request)


class RetrySafeDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    def __init__(self, *, table_name: str, boto3_client: Any) -> None:
        self._stamped = _StampedPuts(boto3_client)
        super().__init__(table_name=table_name, boto3_client=self._stamped)  # type: ignore[arg-type]

    def _put_record(self, data_record: DataRecord) -> None:
        self._stamped.attempt = uuid.uuid4().hex
        try:
            super()._put_record(data_record)
        except IdempotencyItemAlreadyExistsError as exc:
            cause = exc.__cause__
            stored: Any = cause.response.get("Item") if isinstance(cause, ClientError) else None
            if not is_own_record(stored, self._stamped.attempt):
                raise


def idempotency_store() -> RetrySafeDynamoDBPersistenceLayer:
    """Built per use, like `shop_shared.idempotency.idempotency_store` (Powertools configures a
    layer only once, from the first config it is given)."""
    return RetrySafeDynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb")
    )

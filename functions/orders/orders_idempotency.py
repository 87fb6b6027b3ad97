"""The order creation's idempotency store: Powertools' DynamoDB layer, safe to retry after a lost reply.

Powertools writes the INPROGRESS record with a conditional PutItem. When DynamoDB stores it but its
answer is lost (slower than the client's read timeout), botocore sends the PutItem again, the retry
fails its condition on our own record, and Powertools reports "already in progress": the client
would get a 409 for a request that nobody else is processing. Here a conditional failure on a record
that is exactly the one this call wrote is taken as success.

"Exactly the one this call wrote": INPROGRESS, same payload hash, same expiry (seconds) and same
in-progress expiry, which Powertools sets to the invocation's deadline in milliseconds. A second
request with the same key would have to start in the same millisecond with the same deadline to be
taken for ours; without a Lambda context (no in-progress expiry) nothing is taken for ours.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from shop_shared import aws
from shop_shared.config import get_settings

INPROGRESS = "INPROGRESS"


def is_own_record(stored: DataRecord | None, written: DataRecord) -> bool:
    return (
        stored is not None
        and stored.status == INPROGRESS == written.status
        and written.in_progress_expiry_timestamp is not None
        and stored.in_progress_expiry_timestamp == written.in_progress_expiry_timestamp
        and stored.expiry_timestamp == written.expiry_timestamp
        and stored.payload_hash == written.payload_hash
        and stored.idempotency_key == written.idempotency_key
    )


class RetrySafeDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    def _put_record(self, data_record: DataRecord) -> None:
        try:
            super()._put_record(data_record)
        except IdempotencyItemAlreadyExistsError as exc:
            if not is_own_record(exc.old_data_record, data_record):
                raise


def idempotency_store() -> RetrySafeDynamoDBPersistenceLayer:
    """Built per use, like `shop_shared.idempotency.idempotency_store` (Powertools configures a
    layer only once, from the first config it is given)."""
    return RetrySafeDynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb")
    )

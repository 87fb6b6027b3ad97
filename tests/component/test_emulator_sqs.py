"""The embedded emulator's SQS: what the stack relies on (counts, deletes by any receipt handle, FIFO
deduplication), through the emulator's own process and boto3, as the functions use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sam_runner.emulator import EmulatorProcess


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    emulator = EmulatorProcess().start()
    try:
        yield boto3.client(
            "sqs",
            endpoint_url=emulator.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        emulator.stop()


def counts(sqs: Any, url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: int(attributes[name]) for name in names}


def test_a_standard_queue_counts_what_was_sent_received_and_deleted(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="standard")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(10)])
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    assert counts(sqs, url) == {"ApproximateNumberOfMessages": 11, "ApproximateNumberOfMessagesNotVisible": 0}
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4)["Messages"]
    assert len(received) == 4
    assert counts(sqs, url) == {"ApproximateNumberOfMessages": 7, "ApproximateNumberOfMessagesNotVisible": 4}
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in received]
    )
    assert len(deleted["Successful"]) == 4 and not deleted.get("Failed")
    assert counts(sqs, url) == {"ApproximateNumberOfMessages": 7, "ApproximateNumberOfMessagesNotVisible": 0}


def test_a_message_is_deleted_by_an_earlier_receipt_handle_and_deleting_again_succeeds(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="redelivered")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="twice")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    assert first["ReceiptHandle"] != second["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # the older handle
    assert counts(sqs, url) == {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 0}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])  # already gone: no error


def test_an_unknown_receipt_handle_is_refused(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="unknown-handle")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    with pytest.raises(ClientError) as refused:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert refused.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, url)["ApproximateNumberOfMessages"] == 1


def test_a_fifo_queue_with_content_based_deduplication_keeps_one_of_two_equal_bodies(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="dedup.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert counts(sqs, url)["ApproximateNumberOfMessages"] == 2
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ContentBasedDeduplication"] == "true"


def test_a_fifo_queue_without_it_needs_a_deduplication_id(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="no id", MessageGroupId="g")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="1")
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="1")
    assert counts(sqs, url)["ApproximateNumberOfMessages"] == 1

"""The event source pollers behave like Lambda's SQS and DynamoDB stream mappings.

The embedded moto server runs in-process, provisioned from a small template of our own whose
consumers are real handlers written for the test: they record what they receive and fail on
purpose for some records.
"""

from __future__ import annotations

import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shop_local.emulator import EmbeddedMoto
from shop_local.faults import FaultBook
from shop_local.pollers import SqsPoller, StreamPoller
from shop_local.provision import Provisioner
from shop_local.runtime import Runtime
from shop_local.stack import aws_client
from shop_local.template import Template

CONSUMERS = """
SQS_SEEN = []      # (body, ApproximateReceiveCount, record)
STREAM_SEEN = []   # (key, sequence number, record)
STREAM_FAILS = {}  # key -> how many more times to fail it
STREAM_RAISES = {} # key -> how many more times to raise on a batch holding it


def sqs_handler(event, context):
    failures = []
    for record in event["Records"]:
        SQS_SEEN.append((record["body"], record["attributes"]["ApproximateReceiveCount"], record))
        if record["body"].startswith("raise-once") and record["attributes"]["ApproximateReceiveCount"] == "1":
            raise RuntimeError("the whole batch fails")
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def stream_handler(event, context):
    failures = []
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        if STREAM_RAISES.get(key, 0) > 0:
            STREAM_RAISES[key] -= 1
            raise RuntimeError("SNS is down")
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        sequence = record["dynamodb"]["SequenceNumber"]
        if failures:
            continue  # after a failure Lambda retries from it, so later records come back anyway
        if STREAM_FAILS.get(key, 0) > 0:
            STREAM_FAILS[key] -= 1
            failures.append({"itemIdentifier": sequence})
            continue
        STREAM_SEEN.append((key, sequence, record))
    return {"batchItemFailures": failures}
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  Dlq:
    Type: AWS::SQS::Queue
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: 2
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: pk
          AttributeType: S
      KeySchema:
        - AttributeName: pk
          KeyType: HASH
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
  QueueConsumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: lsp_consumers.sqs_handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  StreamConsumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: lsp_consumers.stream_handler
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Things.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
"""


class Harness:
    def __init__(self, template: Template, runtime: Runtime, endpoint: str) -> None:
        self.template = template
        self.runtime = runtime
        self.sqs = aws_client("sqs", endpoint)
        self.ddb = aws_client("dynamodb", endpoint)
        self.streams = aws_client("dynamodbstreams", endpoint)

    @property
    def consumers(self) -> Any:
        import lsp_consumers

        return lsp_consumers

    def queue_url(self, name: str) -> str:
        return self.template.physical(name)["QueueUrl"]


def wait_until(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder = tmp_path_factory.mktemp("poller_functions")
    (folder / "lsp_consumers.py").write_text(textwrap.dedent(CONSUMERS))
    (folder / "template.yaml").write_text(TEMPLATE)
    sys.path.insert(0, str(folder))
    moto = EmbeddedMoto(FaultBook()).start()
    pollers: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("SHOP_LOCAL_RETRY_DELAY", "0")
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        try:
            template = Template(folder / "template.yaml", stack_name=f"pollers-{uuid.uuid4().hex[:6]}")
            Provisioner(template, endpoint_url=moto.url).provision()
            runtime = Runtime(template)
            harness = Harness(template, runtime, moto.url)
            for source in template.event_sources():
                function = runtime[source.function_id]
                if source.kind == "SQS":
                    pollers.append(SqsPoller(source, function, template, harness.sqs))
                else:
                    pollers.append(StreamPoller(source, function, template, harness.streams, harness.sqs))
            for poller in pollers:
                poller.start()
            yield harness
        finally:
            for poller in pollers:
                poller.stop()
            for poller in pollers:
                poller.join(timeout=10)
            moto.stop()
            sys.path.remove(str(folder))
            sys.modules.pop("lsp_consumers", None)


def sqs_deliveries(harness: Harness, body: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [seen for seen in harness.consumers.SQS_SEEN if seen[0] == body]


def in_flight(harness: Harness, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue, as SQS counts them."""
    attributes = harness.sqs.get_queue_attributes(
        QueueUrl=harness.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_sqs_records_have_lambdas_shape_and_successes_are_deleted(harness: Harness) -> None:
    body = f"ok-{uuid.uuid4()}"
    harness.sqs.send_message(QueueUrl=harness.queue_url("WorkQueue"), MessageBody=body)
    wait_until(lambda: sqs_deliveries(harness, body))
    _, count, record = sqs_deliveries(harness, body)[0]
    assert count == "1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == harness.template.physical("WorkQueue")["Arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    # Deleted once handled: nothing of the queue is left in flight. (Not deleting would go unseen
    # by counting deliveries: the message would stay hidden for the queue's 60 s visibility timeout.)
    wait_until(lambda: in_flight(harness, "WorkQueue") == (0, 0), timeout=5)
    assert len(sqs_deliveries(harness, body)) == 1  # ... and never delivered again


def test_a_reported_failure_is_retried_then_dead_lettered_while_the_rest_succeeds(harness: Harness) -> None:
    ok, bad = f"ok-{uuid.uuid4()}", f"fail-{uuid.uuid4()}"
    queue = harness.queue_url("WorkQueue")
    harness.sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": ok}, {"Id": "2", "MessageBody": bad}]
    )

    def in_dlq() -> bool:
        messages = harness.sqs.receive_message(
            QueueUrl=harness.queue_url("Dlq"), MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return any(message["Body"] == bad for message in messages)

    wait_until(in_dlq)
    assert [count for _, count, _ in sqs_deliveries(harness, bad)] == ["1", "2"]  # maxReceiveCount 2
    assert len(sqs_deliveries(harness, ok)) == 1


def test_a_raising_function_fails_the_whole_batch_which_comes_back(harness: Harness) -> None:
    body = f"raise-once-{uuid.uuid4()}"
    harness.sqs.send_message(QueueUrl=harness.queue_url("WorkQueue"), MessageBody=body)
    wait_until(lambda: len(sqs_deliveries(harness, body)) >= 2)
    assert [count for _, count, _ in sqs_deliveries(harness, body)] == ["1", "2"]


def stream_keys(harness: Harness, prefix: str) -> list[str]:
    return [key for key, _, _ in harness.consumers.STREAM_SEEN if key.startswith(prefix)]


def test_stream_records_arrive_in_order_with_their_images(harness: Harness) -> None:
    prefix = f"a-{uuid.uuid4().hex[:6]}"
    table = harness.template.physical("Things")["Ref"]
    harness.ddb.put_item(TableName=table, Item={"pk": {"S": f"{prefix}-1"}, "n": {"N": "1"}})
    harness.ddb.put_item(TableName=table, Item={"pk": {"S": f"{prefix}-1"}, "n": {"N": "2"}})
    wait_until(lambda: len(stream_keys(harness, prefix)) == 2)
    (_, _, insert), (_, _, modify) = [
        seen for seen in harness.consumers.STREAM_SEEN if seen[0].startswith(prefix)
    ]
    assert insert["eventName"] == "INSERT" and modify["eventName"] == "MODIFY"
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"] == harness.template.physical("Things")["StreamArn"]
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(modify["dynamodb"]["ApproximateCreationDateTime"], int)
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])


def test_a_failing_stream_record_is_retried_and_never_skipped(harness: Harness) -> None:
    prefix = f"b-{uuid.uuid4().hex[:6]}"
    keys = [f"{prefix}-{i}" for i in range(4)]
    harness.consumers.STREAM_FAILS[keys[1]] = 2  # reported as failed twice
    harness.consumers.STREAM_RAISES[keys[2]] = 2  # the function raises twice on its batch
    table = harness.template.physical("Things")["Ref"]
    for key in keys:
        harness.ddb.put_item(TableName=table, Item={"pk": {"S": key}})
    wait_until(lambda: len(stream_keys(harness, prefix)) >= 4)
    assert stream_keys(harness, prefix) == keys  # each once, in order, none skipped
    assert harness.consumers.STREAM_FAILS[keys[1]] == 0
    assert harness.consumers.STREAM_RAISES[keys[2]] == 0

"""The event source pollers behave like Lambda's SQS and DynamoDB stream mappings.

The embedded moto server runs in a process of its own (`sam_runner.emulator`), as in the local
stack, provisioned from a small template of our own by the one stack builder (`sam_runner.builder`);
its consumers are real handlers written for the test, run in execution environments of AWS's
runtime interface client (`sam_runner.lambda_runtime`) as the local stack runs every function: they
record what they receive and fail on purpose for some records.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_runner.builder import BuiltStack, build
from sam_runner.emulator import EmulatorProcess
from sam_runner.lambda_runtime import LambdaRuntime, RuntimeSettings, prepare_packages
from sam_runner.pollers import SqsPoller, StreamPoller
from shop_local.stack import aws_client

# The consumers run in execution environments of their own (processes), so what they see and how
# often they have failed on purpose is kept in files of the test's folder (RECORDS_DIR), one JSON
# line per entry, appended (an O_APPEND write of one line is atomic between processes).
CONSUMERS = """
import json
import os

RECORDS = os.environ["RECORDS_DIR"]


def _append(name, entry):
    with open(os.path.join(RECORDS, name), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\\n")


def _lines(name):
    try:
        with open(os.path.join(RECORDS, name), encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def _plan(kind, key):
    # how many more times to `kind` ("fail" or "raise") on `key`: plan.json's number less those done
    try:
        with open(os.path.join(RECORDS, "plan.json"), encoding="utf-8") as handle:
            wanted = json.load(handle).get(kind, {}).get(key, 0)
    except FileNotFoundError:
        return 0
    done = sum(1 for entry in _lines("done.jsonl") if entry == [kind, key])
    return wanted - done


def sqs_handler(event, context):
    failures = []
    for record in event["Records"]:
        count = record["attributes"]["ApproximateReceiveCount"]
        _append("sqs.jsonl", [record["body"], count, record])
        if record["body"].startswith("raise-once") and count == "1":
            raise RuntimeError("the whole batch fails")
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def stream_handler(event, context):
    failures = []
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        if _plan("raise", key) > 0:
            _append("done.jsonl", ["raise", key])
            raise RuntimeError("SNS is down")
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        sequence = record["dynamodb"]["SequenceNumber"]
        if failures:
            continue  # after a failure Lambda retries from it, so later records come back anyway
        if _plan("fail", key) > 0:
            _append("done.jsonl", ["fail", key])
            failures.append({"itemIdentifier": sequence})
            continue
        _append("stream.jsonl", [key, sequence, record])
    return {"batchItemFailures": failures}
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  TracingEnabled:  # every local stack sets it (sam_runner.builder.LOCAL_PARAMETERS)
    Type: String
    Default: "false"
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
    def __init__(self, built: BuiltStack, endpoint: str, runtime: LambdaRuntime, records: Path) -> None:
        self.template = built.template
        self.runtime = runtime
        self.records = records
        self.sqs = aws_client("sqs", endpoint)
        self.ddb = aws_client("dynamodb", endpoint)
        self.streams = aws_client("dynamodbstreams", endpoint)

    def seen(self, name: str) -> list[list[Any]]:
        """What the consumers recorded in `name` (sqs.jsonl, stream.jsonl), in order."""
        path = self.records / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def plan(self, **kinds: dict[str, int]) -> None:
        """How often the stream consumer fails on purpose, per key: plan(fail={key: 2}, raise_={...})."""
        path = self.records / "plan.json"
        plan = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        for kind, keys in kinds.items():
            plan.setdefault(kind.rstrip("_"), {}).update(keys)
        path.write_text(json.dumps(plan), encoding="utf-8")

    def done(self, kind: str, key: str) -> int:
        """How many times the consumer failed on `key` on purpose (`kind`: "fail" or "raise")."""
        return sum(1 for entry in self.seen("done.jsonl") if entry == [kind, key])

    def queue_url(self, name: str) -> str:
        return self.template.physical(name)["QueueUrl"]


def wait_until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
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
    records = folder / "records"
    records.mkdir()
    moto = EmulatorProcess().start()
    pollers: list[Any] = []
    runtime: LambdaRuntime | None = None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("SHOP_LOCAL_RETRY_DELAY", "0")
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        try:
            # The one stack builder and the functions in execution environments of their own,
            # as the local stack runs them (shop_local.stack).
            built = build(endpoint_url=moto.url, path=folder / "template.yaml")
            prepare_packages(built.template)
            runtime = built.lambda_runtime(
                RuntimeSettings.from_env(function_log=folder / "functions.log"),
                extra_variables={"RECORDS_DIR": str(records)},
            )
            harness = Harness(built, moto.url, runtime, records)
            for source in built.template.event_sources():
                function = runtime[source.function_id]
                if source.kind == "SQS":
                    pollers.append(SqsPoller(source, function, built.template, harness.sqs))
                else:
                    pollers.append(
                        StreamPoller(source, function, built.template, harness.streams, harness.sqs)
                    )
            for poller in pollers:
                poller.start()
            yield harness
        finally:
            for poller in pollers:
                poller.stop()
            for poller in pollers:
                poller.join(timeout=10)
            if runtime is not None:
                runtime.stop()
            moto.stop()


def sqs_deliveries(harness: Harness, body: str) -> list[list[Any]]:
    """(body, ApproximateReceiveCount, record) of each delivery of `body`."""
    return [seen for seen in harness.seen("sqs.jsonl") if seen[0] == body]


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
    return [key for key, _, _ in harness.seen("stream.jsonl") if key.startswith(prefix)]


def test_stream_records_arrive_in_order_with_their_images(harness: Harness) -> None:
    prefix = f"a-{uuid.uuid4().hex[:6]}"
    table = harness.template.physical("Things")["Ref"]
    harness.ddb.put_item(TableName=table, Item={"pk": {"S": f"{prefix}-1"}, "n": {"N": "1"}})
    harness.ddb.put_item(TableName=table, Item={"pk": {"S": f"{prefix}-1"}, "n": {"N": "2"}})
    wait_until(lambda: len(stream_keys(harness, prefix)) == 2)
    (_, _, insert), (_, _, modify) = [
        seen for seen in harness.seen("stream.jsonl") if seen[0].startswith(prefix)
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
    # keys[1] is reported as failed twice; the function raises twice on a batch holding keys[2]
    harness.plan(fail={keys[1]: 2}, raise_={keys[2]: 2})
    table = harness.template.physical("Things")["Ref"]
    for key in keys:
        harness.ddb.put_item(TableName=table, Item={"pk": {"S": key}})
    wait_until(lambda: len(stream_keys(harness, prefix)) >= 4)
    assert stream_keys(harness, prefix) == keys  # each once, in order, none skipped
    assert harness.done("fail", keys[1]) == 2
    assert harness.done("raise", keys[2]) == 2

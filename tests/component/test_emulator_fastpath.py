"""The emulator's fast path (shop_local.emulator_fastpath) answers exactly as moto's Flask app does.

The emulator's app (fault middleware, `Serialised`, then moto's dispatcher with the fast path in
front of it or not) is served on a loopback port and boto3 drives it: one scenario with every
routed operation (DynamoDB, DynamoDB Streams, SQS in the JSON protocol, SNS and SES in the query
protocol), their errors, and a few operations that are not routed. The scenario runs twice from
the same moto state (reset) and random seed (moto's request ids, message ids and receipt handles
come from it): once on moto's path, once with the fast path. Every response must be the same:
status, every header in order, and the body byte for byte. Normalised, and only there: the clock's
readings in DynamoDB's answers (`...DateTime` numbers: a table's creation, a stream record's
write; the table's creation time in its stream's ARN, label and shard iterators; a stream
record's SizeBytes, the length of its JSON with the time in it; a shard
iterator's id, from os.urandom), and then that
response's `x-amz-crc32` and Content-Length (checked against each path's own body instead).
Request ids need no normalising: they come from moto's seeded random.
"""

from __future__ import annotations

import binascii
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from shop_local import emulator, emulator_fastpath, emulator_speedups
from shop_local.emulator_fastpath import FastPath
from shop_local.faults import AwsFaultMiddleware, FaultBook
from shop_local.serving import WsgiServer, read_body

SEED = 20240501
RAW_EMAIL = (
    b"From: shop@example.com\r\nTo: ada@example.com\r\nSubject: =?utf-8?q?Order_=E2=98=83?=\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nThanks for your order & welcome <back>.\r\n"
)


@dataclass
class Exchange:
    action: str
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    fast: bool = False  # answered by the fast path


@dataclass
class Emulator:
    """The emulator's app around a switch: moto's dispatcher or the fast path in front of it."""

    url: str
    fast_path: FastPath
    fast: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    answered_fast: int = 0


def _action(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    match = re.match(rb"Action=([A-Za-z]+)", read_body(environ))
    return match.group(1).decode() if match else "?"


@pytest.fixture(scope="module")
def served() -> Iterator[Emulator]:
    from moto.moto_server.werkzeug_app import create_backend_app

    emulator_speedups.install()  # as the emulator has it
    dispatcher = emulator._dispatcher()(create_backend_app)
    fast_path = FastPath(dispatcher)
    assert fast_path.enabled, "not the proven releases: the fast path is off"
    state = Emulator("", fast_path)

    def switch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = fast_path if state.fast else dispatcher
        return app(environ, start_response)  # type: ignore[no-any-return]

    inner = AwsFaultMiddleware(emulator.Serialised(switch), FaultBook())

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        action = _action(environ)
        seen: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        before = state.answered_fast
        try:
            body = b"".join(inner(environ, start))
        except Exception as failure:  # the server answers 500
            fast = state.answered_fast > before
            state.exchanges.append(Exchange(action, "raised", [], repr(failure).encode(), fast))
            raise
        state.exchanges.append(Exchange(action, seen[0], seen[1], body, state.answered_fast > before))
        return [body]

    server = WsgiServer("moto-fastpath", recording)
    state.url = server.url
    try:
        yield state
    finally:
        server.stop()
        emulator_speedups.uninstall()


@pytest.fixture
def counted(served: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Counts the requests the fast path answers (its `_answer`)."""
    answer = FastPath._answer

    def counting(*args: Any) -> Any:
        served.answered_fast += 1
        return answer(*args)

    monkeypatch.setattr(FastPath, "_answer", staticmethod(counting))
    return served


class Clients:
    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.dynamodb = boto3.client("dynamodb", **options)
        self.streams = boto3.client("dynamodbstreams", **options)
        self.sqs = boto3.client("sqs", **options)
        self.sns = boto3.client("sns", **options)
        self.ses = boto3.client("ses", **options)
        self.options = options

    def once(self, service: str) -> Any:
        """A client that does not retry (a 5xx answer is the answer)."""
        return boto3.client(service, **self.options, config=Config(retries={"max_attempts": 0}))


def failing(code: str | None, call: Callable[..., Any], **request: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as failed:
        call(**request)
    assert code is None or failed.value.response["Error"]["Code"] == code
    return failed.value.response  # type: ignore[no-any-return]


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"order#{n}"}, "sk": {"N": str(n)}}


def item(n: int) -> dict[str, Any]:
    return {
        **key(n),
        "status": {"S": "NEW"},
        "total": {"N": "12.50"},
        "note": {"S": 'naïve ☃ "quoted" & <xml>'},
        "blob": {"B": b"\x00\xff"},
        "lines": {"L": [{"M": {"sku": {"S": "A1"}, "qty": {"N": "2"}}}]},
        "tags": {"SS": ["a", "b"]},
    }


def dynamodb_scenario(clients: Clients) -> None:
    db = clients.dynamodb
    db.create_table(  # not routed
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    db.describe_table(TableName="orders")
    failing("ResourceNotFoundException", db.describe_table, TableName="missing")
    for n in range(1, 4):
        db.put_item(TableName="orders", Item=item(n), ConditionExpression="attribute_not_exists(pk)")
    db.put_item(TableName="orders", Item=item(1), ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    refused = failing(
        "ConditionalCheckFailedException",
        db.put_item,
        TableName="orders",
        Item=item(2),
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert refused["Item"]["blob"] == {"B": b"\x00\xff"}
    failing("ResourceNotFoundException", db.put_item, TableName="missing", Item=item(1))
    failing("ValidationException", db.put_item, TableName="orders", Item={"pk": {"S": "no sort key"}})
    db.get_item(TableName="orders", Key=key(1), ConsistentRead=True)
    db.get_item(TableName="orders", Key=key(99))
    db.update_item(
        TableName="orders",
        Key=key(1),
        UpdateExpression="SET #s = :s, updated = :u ADD tags :t",
        ConditionExpression="#s = :new",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": {"S": "PAID"},
            ":u": {"S": "2024"},
            ":t": {"SS": ["c"]},
            ":new": {"S": "NEW"},
        },
        ReturnValues="ALL_NEW",
    )
    failing(
        "ConditionalCheckFailedException",
        db.update_item,
        TableName="orders",
        Key=key(1),
        UpdateExpression="SET #s = :s",
        ConditionExpression="#s = :new",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "SHIPPED"}, ":new": {"S": "NEW"}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    failing(
        "ValidationException", db.update_item, TableName="orders", Key=key(1), UpdateExpression="SET = :x"
    )
    db.batch_get_item(
        RequestItems={"orders": {"Keys": [key(1), key(2), key(99)]}}, ReturnConsumedCapacity="TOTAL"
    )
    db.batch_write_item(
        RequestItems={
            "orders": [{"PutRequest": {"Item": item(4)}}, {"DeleteRequest": {"Key": key(3)}}],
        }
    )
    db.query(
        TableName="orders",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "order#1"}},
    )
    db.scan(TableName="orders", Limit=2)
    db.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "orders", "Key": key(1)}},
            {"Get": {"TableName": "orders", "Key": key(9)}},
        ]
    )
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "orders", "Item": item(5)}},
            {
                "Update": {
                    "TableName": "orders",
                    "Key": key(2),
                    "UpdateExpression": "SET #s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": {"S": "PAID"}},
                }
            },
        ]
    )
    failing(
        "TransactionCanceledException",
        db.transact_write_items,
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": "orders",
                    "Key": key(1),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ],
    )
    db.delete_item(TableName="orders", Key=key(4), ReturnValues="ALL_OLD")
    db.list_tables()  # not routed

    streams = clients.streams
    arn = db.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    page = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=4)
    streams.get_records(ShardIterator=page["NextShardIterator"])
    missing = "arn:aws:dynamodb:us-east-1:123456789012:table/missing/stream/2024-05-01T00:00:00.000"
    failing("ResourceNotFoundException", streams.describe_stream, StreamArn=missing)
    # moto fails on an unknown iterator (a KeyError): the server's 500, on both paths
    failing("500", clients.once("dynamodbstreams").get_records, ShardIterator=missing + "|1|abc")
    streams.list_streams()  # not routed


def sqs_scenario(clients: Clients) -> None:
    sqs = clients.sqs
    url = sqs.create_queue(QueueName="emails")["QueueUrl"]  # not routed
    assert sqs.get_queue_url(QueueName="emails")["QueueUrl"] == url
    failing("AWS.SimpleQueueService.NonExistentQueue", sqs.get_queue_url, QueueName="missing")
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"order": "naïve ☃ <1>"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "OrderPlaced"}},
    )
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(4)])
    failing("AWS.SimpleQueueService.EmptyBatchRequest", sqs.send_message_batch, QueueUrl=url, Entries=[])
    received = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=3,
        MessageAttributeNames=["All"],
        AttributeNames=["ApproximateReceiveCount"],
    )["Messages"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "ReceiptHandle": received[1]["ReceiptHandle"], "VisibilityTimeout": 0}],
    )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[2]["ReceiptHandle"])
    failing("ReceiptHandleIsInvalid", sqs.delete_message, QueueUrl=url, ReceiptHandle="not-a-handle")
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(rest)]
        + [{"Id": "bad", "ReceiptHandle": "not-a-handle"}],
    )
    sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)  # a long poll on an empty queue: outside the lock


def notifications_scenario(clients: Clients) -> None:
    sns, ses = clients.sns, clients.ses
    topic = sns.create_topic(Name="orders")["TopicArn"]  # not routed
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({"order": "naïve ☃ & <1>"}),
        Subject="Order placed",
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": "OrderPlaced"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
    )
    failing("NotFound", sns.publish, TopicArn=topic + "-missing", Message="lost")
    # the publisher's call
    sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {
                "Id": "0",
                "Message": json.dumps({"order": "naïve ☃ & <2>"}),
                "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "order.created"}},
            },
            {"Id": "1", "Message": "second"},
        ],
    )
    failing(  # moto refuses the whole batch for one bad entry
        "InvalidParameter",
        sns.publish_batch,
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "0", "Message": "fine"},
            {
                "Id": "1",
                "Message": "bad attribute",
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "not a number"}},
            },
        ],
    )
    failing(
        "NotFound",
        sns.publish_batch,
        TopicArn=topic + "-missing",
        PublishBatchRequestEntries=[{"Id": "0", "Message": "lost"}],
    )
    failing(
        "InvalidParameter",
        sns.publish,
        TopicArn=topic,
        Message="bad attribute",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "not a number"}},
    )
    ses.verify_email_identity(EmailAddress="shop@example.com")  # not routed
    ses.send_raw_email(RawMessage={"Data": RAW_EMAIL})
    ses.send_raw_email(
        Source="shop@example.com", Destinations=["ada@example.com"], RawMessage={"Data": RAW_EMAIL}
    )
    ses.send_email(
        Source="shop@example.com",
        Destination={"ToAddresses": ["ada@example.com"]},
        Message={"Subject": {"Data": "Order ☃"}, "Body": {"Text": {"Data": "Thanks & <welcome>"}}},
    )
    failing(
        "MessageRejected",
        ses.send_email,
        Source="stranger@example.com",
        Destination={"ToAddresses": ["ada@example.com"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )


def scenario(clients: Clients) -> None:
    dynamodb_scenario(clients)
    sqs_scenario(clients)
    notifications_scenario(clients)


def run(served: Emulator, fast: bool, what: Callable[[Clients], None] = scenario) -> list[Exchange]:
    """`what` from a fresh moto and the same random seed, on moto's path or the fast path."""
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    mock_random.seed(SEED)
    served.fast = fast
    served.exchanges.clear()
    try:
        what(Clients(served.url))
    finally:
        served.fast = False
    return list(served.exchanges)


# The clock in DynamoDB's answers: a number in a field named ...DateTime (a table's creation, a
# stream record's write), and the table's creation as an ISO time in its stream's ARN and label
# (in shard iterators too), and a stream record's SizeBytes (moto's length of the record as JSON,
# its time included); and a shard iterator's id, which moto draws from os.urandom, not from
# its seeded random.
_CLOCK = (
    (re.compile(rb'("[A-Za-z]*DateTime": )[0-9.]+'), rb"\g<1>0"),
    (re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"), b"(time)"),
    (re.compile(rb"\|1\|[A-Za-z0-9+/=]+"), b"|1|(os.urandom)"),  # a shard iterator's id
    (re.compile(rb'("SizeBytes": )[0-9]+'), rb"\g<1>0"),  # a record's: the length of its JSON, time and all
)


def normalised(exchange: Exchange) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """The exchange without the clock's readings; where the body had one, its CRC and length are
    checked against the body as sent (Streams' answers have no CRC; a failure no headers), then left
    out."""
    headers, body = exchange.headers, exchange.body
    if exchange.action.startswith("DynamoDB"):
        for pattern, replacement in _CLOCK:
            body = pattern.sub(replacement, body)
    if body != exchange.body:
        sent = dict(headers)
        as_sent = {
            "x-amz-crc32": str(binascii.crc32(exchange.body)),
            "Content-Length": str(len(exchange.body)),
        }
        assert all(sent[name] == value for name, value in as_sent.items() if name in sent)
        headers = [
            (name, "(as sent)" if name in ("x-amz-crc32", "Content-Length") else value)
            for name, value in headers
        ]
    return exchange.action, exchange.status, headers, body


def routed(exchange: Exchange) -> bool:
    action = exchange.action.rpartition(".")[2]
    return any(action in actions for actions in emulator_fastpath.ROUTED.values())


def compare(moto: list[Exchange], fast: list[Exchange]) -> None:
    assert [exchange.action for exchange in fast] == [exchange.action for exchange in moto]
    for before, after in zip(moto, fast, strict=True):
        assert normalised(after) == normalised(before), after.action


def test_every_routed_operation_answers_as_moto_does(counted: Emulator) -> None:
    moto = run(counted, fast=False)
    assert not any(exchange.fast for exchange in moto)
    fast = run(counted, fast=True)
    compare(moto, fast)
    # every routed operation was in the scenario and answered by the fast path; nothing else was
    taken = {exchange.action.rpartition(".")[2] for exchange in fast if exchange.fast}
    assert taken == set().union(*emulator_fastpath.ROUTED.values())
    assert [exchange.fast for exchange in fast] == [routed(exchange) for exchange in fast]
    assert {"200", "400", "404"} <= {exchange.status[:3] for exchange in fast if exchange.fast}  # errors too


def test_the_scenario_is_repeatable_on_moto_s_path(counted: Emulator) -> None:
    """What the comparison rests on: the same scenario from the same state and seed, answered the
    same way twice by moto's own path."""
    compare(
        run(counted, fast=False, what=notifications_scenario),
        run(counted, fast=False, what=notifications_scenario),
    )


def test_moto_runs_outside_flask_s_request_context_on_the_fast_path(
    counted: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's services never look at Flask's request: on the fast path there is none (reading
    `flask.request` would raise) and the answers above are still the same."""
    import flask
    from moto.core.responses import BaseResponse

    contexts: list[bool] = []
    call_action = BaseResponse.call_action

    def recording(self: Any) -> Any:
        contexts.append(flask.has_request_context())
        return call_action(self)

    monkeypatch.setattr(BaseResponse, "call_action", recording)
    fast = run(counted, fast=True, what=notifications_scenario)
    assert contexts == [not exchange.fast for exchange in fast]


@pytest.mark.parametrize("raised", ["BadRequest", "BadRequestKeyError", "RuntimeError", "ClientError"])
def test_a_failing_dispatch_answers_as_on_moto_s_path(
    counted: Emulator, monkeypatch: pytest.MonkeyPatch, raised: str
) -> None:
    """An exception out of moto's dispatch: an HTTP exception is Flask's response (debug mode
    traps a missing form key: a 500 as well), a botocore ClientError moto's view's 400, anything
    else propagates (the server's 500)."""
    from botocore.exceptions import ClientError as BotoClientError
    from moto.core.responses import BaseResponse
    from werkzeug import exceptions

    setup_class = BaseResponse.setup_class

    def failing_setup(self: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        setup_class(self, request, *args, **kwargs)
        if self._get_action() == "Publish":
            if raised == "ClientError":
                raise BotoClientError({"Error": {"Code": "X", "Message": "refused by a test"}}, "Publish")
            error = {
                "BadRequest": exceptions.BadRequest("refused by a test"),
                "BadRequestKeyError": exceptions.BadRequestKeyError("Missing"),
                "RuntimeError": RuntimeError("a bug"),
            }[raised]
            raise error

    monkeypatch.setattr(BaseResponse, "setup_class", failing_setup)

    def publish(clients: Clients) -> None:
        topic = clients.sns.create_topic(Name="orders")["TopicArn"]
        with pytest.raises((ClientError, ResponseParserError)):  # not all of them are XML
            clients.once("sns").publish(TopicArn=topic, Message="hi")

    moto = run(counted, fast=False, what=publish)
    fast = run(counted, fast=True, what=publish)
    compare(moto, fast)
    assert fast[-1].fast and fast[-1].status[:3] == {"BadRequest": "400", "ClientError": "400"}.get(
        raised, "rai"
    )


# ---------------------------------------------------------------- the comparison catches mistakes


@pytest.mark.parametrize("mistake", ["no CORS header", "always 200", "headers lower-cased"])
def test_a_broken_fast_path_is_caught(
    counted: Emulator, monkeypatch: pytest.MonkeyPatch, mistake: str
) -> None:
    from flask import Response

    moto = run(counted, fast=False, what=notifications_scenario)
    if mistake == "no CORS header":
        monkeypatch.setattr(counted.fast_path, "_plans", {})
        make_plan = emulator_fastpath._make_plan

        def plan(app: Any) -> Any:
            made = make_plan(app)
            return made and emulator_fastpath._Plan(made.service, made.dispatch, ())

        monkeypatch.setattr(emulator_fastpath, "_make_plan", plan)
    else:

        class Broken(Response):
            def __init__(self, response: Any, status: int, headers: dict[str, str]) -> None:
                if mistake == "always 200":
                    status = 200
                else:
                    headers = {name.lower(): value for name, value in headers.items()}
                super().__init__(response=response, status=status, headers=headers)

        monkeypatch.setattr("flask.Response", Broken)
    with pytest.raises((Exception, pytest.fail.Exception)):  # the comparison, or boto3 first
        compare(moto, run(counted, fast=True, what=notifications_scenario))


# ---------------------------------------------------------------- what is routed


def environ(**overrides: Any) -> dict[str, Any]:
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=t/20240501/us-east-1/dynamodb/aws4_request, S",
        "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "wsgi.input": io.BytesIO(b"{}"),
        "CONTENT_LENGTH": "2",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def form(body: bytes) -> dict[str, Any]:
    return environ(
        HTTP_X_AMZ_TARGET=None,
        CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8",
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(body)},
    )


@pytest.mark.parametrize(
    ("request_environ", "expected"),
    [
        (environ(), ("dynamodb", "PutItem")),
        (environ(HTTP_X_AMZ_TARGET="DynamoDBStreams_20120810.GetRecords"), ("dynamodbstreams", "GetRecords")),
        (environ(HTTP_X_AMZ_TARGET="AmazonSQS.ReceiveMessage"), ("sqs", "ReceiveMessage")),
        (form(b"Action=Publish&Version=2010-03-31&TopicArn=x"), ("sns", "Publish")),
        (form(b"Action=SendRawEmail&Version=2010-12-01"), ("ses", "SendRawEmail")),
        (environ(HTTP_X_AMZ_TARGET="DynamoDB_20120810.CreateTable"), None),  # not routed
        (environ(HTTP_X_AMZ_TARGET="DynamoDB_20111205.PutItem"), None),  # the old API
        (environ(HTTP_X_AMZ_TARGET="AmazonSQS.CreateQueue"), None),
        (environ(REQUEST_METHOD="GET"), None),
        (environ(PATH_INFO="/123456789012/queue"), None),
        (environ(QUERY_STRING="Action=PutItem"), None),
        (environ(HTTP_ORIGIN="http://localhost:3000"), None),  # CORS answers it
        (environ(HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK="true"), None),
        (environ(HTTP_CONTENT_ENCODING="gzip"), None),
        (environ(HTTP_AUTHORIZATION=None), None),  # unsigned: moto looks elsewhere for the service
        (environ(CONTENT_TYPE="application/json", HTTP_X_AMZ_TARGET=None), None),
        (form(b"Version=2010-03-31&Action=Publish"), None),  # the action not first
        (form(b"Action=CreateTopic&Name=x"), None),
    ],
)
def test_what_the_fast_path_takes(request_environ: dict[str, Any], expected: Any) -> None:
    body = request_environ["wsgi.input"].getvalue()
    assert emulator_fastpath._service(request_environ) == expected
    assert request_environ["wsgi.input"].read() == body  # left for moto to read


def test_other_releases_keep_moto_s_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert emulator_fastpath.proven()
    monkeypatch.setitem(emulator_fastpath.PROVEN, "moto", "5.2.6")
    assert not emulator_fastpath.proven()
    taken: list[dict[str, Any]] = []

    def dispatcher(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        taken.append(environ)
        return []

    fast_path = FastPath(dispatcher)
    assert not fast_path.enabled
    fast_path(environ(), lambda *args: None)
    assert len(taken) == 1


def test_the_emulator_has_the_fast_path_in_front_of_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator, "_faster_sqs", lambda: None)  # moto's SQS patched for good otherwise
    monkeypatch.setattr(emulator, "_expiring_shard_iterators", lambda: None)
    moto = emulator.EmbeddedMoto(FaultBook())
    try:
        fault_middleware = moto._server.server.app.app
        assert isinstance(fault_middleware, AwsFaultMiddleware)
        assert isinstance(fault_middleware.app, emulator.Serialised)
        assert isinstance(fault_middleware.app.app, FastPath) and fault_middleware.app.app.enabled
    finally:
        moto.stop()
        emulator_speedups.uninstall()

"""The emulator's DynamoDB fast path (shop_local.emulator_speedups) answers exactly as moto does.

moto's server app runs on a loopback port and boto3 drives it (DynamoDB and DynamoDB Streams).
Every response the fast path gives is also serialised by moto's own serializer from the same
result, and the two must be the same: status, headers and body, byte for byte (so the body parsed
as JSON too, and the CRC32 moto adds after). The items carry every attribute type (S, N as ints,
decimals and 38 digits, B with bytes that are not UTF-8, BS, SS, NS, L, nested M, BOOL, NULL,
empty values); stream records carry them in their images, and a timestamp.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError

from shop_local import emulator_speedups

Response = tuple[int, dict[str, str], str]

ITEM: dict[str, Any] = {
    "pk": {"S": "order#1"},
    "sk": {"N": "1"},
    "gsi_pk": {"S": "customer#ada"},
    "gsi_sk": {"S": "2024-05-01"},
    "text": {"S": 'naïve ☃ "quoted" <RequestId>'},
    "empty": {"S": ""},
    "int": {"N": "42"},
    "negative": {"N": "-7"},
    "decimal": {"N": "3.14159"},
    "large": {"N": "12345678901234567890123456789012345678"},
    "tiny": {"N": "0.000000000000000000000000000000000001"},
    "blob": {"B": b"\x00\xff\x10binary"},
    "blobs": {"BS": [b"\x01", b"\xfe\xfd", b"text"]},
    "strings": {"SS": ["a", "b", "ç"]},
    "numbers": {"NS": ["1", "2.5", "-3"]},
    "things": {
        "L": [
            {"S": "x"},
            {"N": "1.5"},
            {"B": b"\x80"},
            {"NULL": True},
            {"BOOL": False},
            {"L": []},
            {"M": {"deep": {"BS": [b"\x00"]}}},
        ]
    },
    "map": {
        "M": {
            "name": {"S": "Ada"},
            "blob": {"B": b"\xff"},
            "nested": {"M": {"list": {"L": [{"N": "7"}, {"SS": ["s"]}]}, "empty": {"M": {}}}},
            "flag": {"BOOL": True},
        }
    },
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "empty_list": {"L": []},
    "empty_map": {"M": {}},
}


@dataclass
class Answer:
    action: str
    fast: Response | None
    moto: Any


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto-speedups", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Answer]]:
    """The fast path installed; each response it is asked for, with moto's own for the same result
    (the fast one is computed first: had it changed the result, moto's would differ)."""
    from moto.core.responses import BaseResponse

    moto_serialized = BaseResponse.serialized
    fast_response = emulator_speedups.fast_response
    recorded: list[Answer] = []

    def both(handler: Any, action_result: Any) -> Response | None:
        fast = fast_response(handler, action_result)
        snapshot = None if fast is None else (fast[0], dict(fast[1]), fast[2])  # moto adds headers
        recorded.append(Answer(handler._get_action(), snapshot, moto_serialized(handler, action_result)))
        return fast

    emulator_speedups.install()
    monkeypatch.setattr(emulator_speedups, "fast_response", both)
    yield recorded
    emulator_speedups.uninstall()
    differing = [answer for answer in recorded if answer.fast not in (None, answer.moto)]
    assert not differing, "the fast path answered differently from moto (boto3 may have failed first)"


@pytest.fixture
def client(endpoint: str, answers: list[Answer]) -> Iterator[Any]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client


@pytest.fixture
def table(client: Any, answers: list[Answer]) -> Iterator[str]:
    name = f"speedups-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "gsi_pk", "AttributeType": "S"},
            {"AttributeName": "gsi_sk", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-customer",
                "KeySchema": [
                    {"AttributeName": "gsi_pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for sk in range(1, 6):
        client.put_item(
            TableName=name, Item={**ITEM, "sk": {"N": str(sk)}, "gsi_sk": {"S": f"2024-05-0{sk}"}}
        )
    answers.clear()
    yield name
    client.delete_table(TableName=name)


def check(answers: list[Answer], action: str) -> None:
    """Every response since the last check was the fast path's, for `action`, and moto's own."""
    assert [answer.action for answer in answers] == [action]
    for answer in answers:
        assert answer.fast is not None, f"{answer.action}: the fast path declined"
        status, headers, body = answer.fast
        moto_status, moto_headers, moto_body = answer.moto
        assert json.loads(body) == json.loads(moto_body), answer.action
        assert (status, headers, body) == (moto_status, moto_headers, moto_body), answer.action
    answers.clear()


def key(sk: int = 1) -> dict[str, Any]:
    return {"pk": {"S": "order#1"}, "sk": {"N": str(sk)}}


def test_get_item(client: Any, table: str, answers: list[Answer]) -> None:
    item = client.get_item(TableName=table, Key=key())["Item"]
    check(answers, "GetItem")
    assert item["blob"] == {"B": ITEM["blob"]["B"]}  # base64 on the wire, bytes again in boto3
    assert item["map"] == ITEM["map"] and item["things"] == ITEM["things"]

    for capacity in ("TOTAL", "INDEXES"):
        client.get_item(TableName=table, Key=key(), ConsistentRead=True, ReturnConsumedCapacity=capacity)
        check(answers, "GetItem")
    got = client.get_item(
        TableName=table,
        Key=key(),
        ProjectionExpression="#m.nested, things[2], #b, blobs, #large, #nothing",
        ExpressionAttributeNames={"#m": "map", "#b": "blob", "#large": "large", "#nothing": "nothing"},
    )
    check(answers, "GetItem")
    assert got["Item"]["things"] == {"L": [{"B": b"\x80"}]}
    missing = client.get_item(TableName=table, Key=key(99))
    check(answers, "GetItem")
    assert "Item" not in missing


def test_put_item(client: Any, table: str, answers: list[Answer]) -> None:
    client.put_item(TableName=table, Item={**ITEM, "sk": {"N": "10"}})
    check(answers, "PutItem")
    old = client.put_item(
        TableName=table,
        Item={**ITEM, "int": {"N": "43"}},
        ReturnValues="ALL_OLD",
        ReturnConsumedCapacity="TOTAL",
    )
    check(answers, "PutItem")
    assert old["Attributes"]["blob"] == ITEM["blob"] and old["Attributes"]["int"] == {"N": "42"}
    client.put_item(TableName=table, Item={**ITEM, "sk": {"N": "11"}}, ReturnValues="ALL_OLD")  # nothing old
    check(answers, "PutItem")
    client.put_item(
        TableName=table,
        Item={**ITEM, "sk": {"N": "12"}},
        ReturnConsumedCapacity="INDEXES",
        ReturnItemCollectionMetrics="SIZE",
    )
    check(answers, "PutItem")


@pytest.mark.parametrize("returns", ["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])
def test_update_item(client: Any, table: str, answers: list[Answer], returns: str) -> None:
    client.update_item(
        TableName=table,
        Key=key(),
        UpdateExpression="SET #m.#n = :name, #b = :blob, #l[0] = :x ADD numbers :ns, #i :inc REMOVE tiny",
        ExpressionAttributeNames={"#m": "map", "#n": "name", "#l": "things", "#i": "int", "#b": "blob"},
        ExpressionAttributeValues={
            ":name": {"S": "Grace"},
            ":blob": {"B": b"\xfa\xfb"},
            ":x": {"M": {"y": {"NS": ["9"]}}},
            ":ns": {"NS": ["4.25"]},
            ":inc": {"N": "0.5"},
        },
        ReturnValues=returns,
        ReturnConsumedCapacity="TOTAL",
    )
    check(answers, "UpdateItem")
    client.update_item(  # a new item
        TableName=table,
        Key=key(42),
        UpdateExpression="SET fresh = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
        ReturnValues=returns,
    )
    check(answers, "UpdateItem")


@pytest.mark.parametrize("returns", ["NONE", "ALL_OLD"])
def test_delete_item(client: Any, table: str, answers: list[Answer], returns: str) -> None:
    client.delete_item(TableName=table, Key=key(2), ReturnValues=returns, ReturnConsumedCapacity="INDEXES")
    check(answers, "DeleteItem")
    client.delete_item(TableName=table, Key=key(99), ReturnValues=returns)  # nothing there
    check(answers, "DeleteItem")


def test_batch_get_and_write(client: Any, table: str, answers: list[Answer]) -> None:
    got = client.batch_get_item(
        RequestItems={table: {"Keys": [key(1), key(3), key(99)]}}, ReturnConsumedCapacity="TOTAL"
    )
    check(answers, "BatchGetItem")
    assert len(got["Responses"][table]) == 2 and got["UnprocessedKeys"] == {}
    client.batch_get_item(
        RequestItems={
            table: {
                "Keys": [key(2)],
                "ProjectionExpression": "#b, blobs, #m.nested",
                "ExpressionAttributeNames": {"#b": "blob", "#m": "map"},
                "ConsistentRead": True,
            }
        }
    )
    check(answers, "BatchGetItem")
    client.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": {**ITEM, "sk": {"N": "20"}}}},
                {"DeleteRequest": {"Key": key(4)}},
            ]
        },
        ReturnConsumedCapacity="TOTAL",
        ReturnItemCollectionMetrics="SIZE",
    )
    check(answers, "BatchWriteItem")


@pytest.mark.parametrize("operation", ["query", "scan"])
def test_query_and_scan_pages(client: Any, table: str, answers: list[Answer], operation: str) -> None:
    action = {"query": "Query", "scan": "Scan"}[operation]
    call = getattr(client, operation)
    request: dict[str, Any] = {"TableName": table, "Limit": 2, "ReturnConsumedCapacity": "TOTAL"}
    if operation == "query":
        request |= {
            "KeyConditionExpression": "pk = :pk AND sk >= :one",
            "ExpressionAttributeValues": {":pk": {"S": "order#1"}, ":one": {"N": "1"}},
        }
    pages = []
    while True:
        page = call(**request)
        check(answers, action)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert len(pages) == 3 and sum(page["Count"] for page in pages) == 5


def test_query_variants(client: Any, table: str, answers: list[Answer]) -> None:
    by_customer = {
        "TableName": table,
        "IndexName": "by-customer",
        "KeyConditionExpression": "gsi_pk = :c AND begins_with(gsi_sk, :month)",
        "ExpressionAttributeValues": {":c": {"S": "customer#ada"}, ":month": {"S": "2024-05"}},
    }
    client.query(**by_customer, ReturnConsumedCapacity="INDEXES", ScanIndexForward=False, Limit=3)
    check(answers, "Query")
    client.query(**by_customer, Select="COUNT")
    check(answers, "Query")
    client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        FilterExpression="#i > :zero AND contains(strings, :a)",
        ProjectionExpression="sk, #i, #m.#n, blobs",
        ExpressionAttributeNames={"#i": "int", "#m": "map", "#n": "nested"},
        ExpressionAttributeValues={":pk": {"S": "order#1"}, ":zero": {"N": "0"}, ":a": {"S": "a"}},
    )
    check(answers, "Query")
    client.query(  # nothing found
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "order#none"}},
    )
    check(answers, "Query")
    client.scan(TableName=table, FilterExpression="sk > :two", ExpressionAttributeValues={":two": {"N": "2"}})
    check(answers, "Scan")
    client.scan(TableName=table, IndexName="by-customer", Select="COUNT", ReturnConsumedCapacity="INDEXES")
    check(answers, "Scan")


@pytest.mark.parametrize("capacity", ["NONE", "TOTAL", "INDEXES"])
def test_transactions(client: Any, table: str, answers: list[Answer], capacity: str) -> None:
    got = client.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": table, "Key": key(1)}},
            {"Get": {"TableName": table, "Key": key(99)}},
            {"Get": {"TableName": table, "Key": key(3)}},
        ],
        ReturnConsumedCapacity=capacity,
    )
    check(answers, "TransactGetItems")
    assert got["Responses"][1] == {} and got["Responses"][0]["Item"]["blob"] == ITEM["blob"]
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**ITEM, "sk": {"N": "30"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": key(1),
                    "UpdateExpression": "SET yes = :f",
                    "ExpressionAttributeValues": {":f": {"BOOL": False}},
                }
            },
            {"Delete": {"TableName": table, "Key": key(5)}},
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key(2),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
        ReturnConsumedCapacity=capacity,
    )
    check(answers, "TransactWriteItems")


def test_errors_are_moto_s_own(client: Any, table: str, answers: list[Answer]) -> None:
    """A conditional failure (with the item: ALL_OLD) and a cancelled transaction are moto's errors,
    never serialised: the fast path is not asked."""
    with pytest.raises(ClientError) as failed:
        client.put_item(
            TableName=table,
            Item=ITEM,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert cast(dict[str, Any], failed.value.response)["Item"]["blob"] == ITEM["blob"]
    with pytest.raises(ClientError) as failed:
        client.update_item(
            TableName=table,
            Key=key(),
            UpdateExpression="SET yes = :f",
            ConditionExpression="#i = :wrong",
            ExpressionAttributeNames={"#i": "int"},
            ExpressionAttributeValues={":f": {"BOOL": False}, ":wrong": {"N": "0"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as failed:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**ITEM, "sk": {"N": "40"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key(1),
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = failed.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert answers == []
    client.get_item(TableName=table, Key=key(40))  # the cancelled transaction wrote nothing
    check(answers, "GetItem")


def test_other_operations_keep_moto_s_serializer(client: Any, table: str, answers: list[Answer]) -> None:
    client.describe_table(TableName=table)
    assert [(answer.action, answer.fast) for answer in answers] == [("DescribeTable", None)]


# Results the fast path has to decline (moto's serializer answers them), or mirror, made directly.
DECLINED: list[dict[str, Any]] = [
    {"Item": {"a": {"N": Decimal("1.5")}}},  # moto: str(Decimal)
    {"Item": {"a": {"SS": {"x"}}}},  # a set: moto iterates it
    {"Item": {"a": {"L": [None]}}},  # moto keeps a null in a list
    {"Item": {"a": None}},  # moto drops it from the map
    {"Item": {"a": {"S": "x", "s": "y"}}},  # "s" is what moto would also try for S
    {"item": {"a": {"S": "x"}}},  # moto picks "item" for Item
    {"Item": {"a": {"BOOL": "true"}}},
    {"Item": {"a": {"B": bytearray(b"x")}}},
    {"Item": {1: {"S": "x"}}},
    {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": Decimal("0.5")}},
    {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": True}},
]
MIRRORED: list[dict[str, Any]] = [
    {"Item": {"a": {"B": "aGk="}}},  # a str blob: moto encodes its UTF-8 again
    {"Item": {"a": {"S": "x"}}, "Unknown": object(), "ConsumedCapacityUnits": 0.5},  # dropped
    {"Item": {"a": {"S": "x", "Other": 1}}},  # not a spelling of any member: dropped
    {"Item": {"a": {}, "b": {"NULL": None}, "c": {"S": None, "N": "1"}}},  # None members left out
    {"Item": None, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 2, "Table": {}}},
]


def _handler(action: str, streams: bool = False) -> Any:
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    handler = DynamoDBStreamsHandler() if streams else DynamoHandler()
    handler.querystring = {}
    handler.headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amz-target": f"{'DynamoDBStreams_20120810' if streams else 'DynamoDB_20120810'}.{action}",
    }
    handler.response_headers = {"server": "amazon.com"}
    return handler


@pytest.mark.parametrize("result", DECLINED, ids=range(len(DECLINED)))
def test_unexpected_results_go_to_moto(result: dict[str, Any]) -> None:
    from moto.dynamodb.responses import DynamoResult

    assert emulator_speedups.fast_response(_handler("GetItem"), DynamoResult(result)) is None


@pytest.mark.parametrize("result", MIRRORED, ids=range(len(MIRRORED)))
def test_odd_results_are_mirrored(result: dict[str, Any]) -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoResult

    handler = _handler("GetItem")
    fast = emulator_speedups.fast_response(handler, DynamoResult(result))
    assert fast is not None
    assert fast == BaseResponse.serialized(handler, DynamoResult(result))


def test_method_names_are_kept_per_class() -> None:
    from moto.core import responses, utils
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    emulator_speedups.install()
    try:
        for handler in (DynamoHandler, SQSResponse):
            names = responses.method_names_from_class(handler)
            assert names == utils.method_names_from_class(handler)
            assert responses.method_names_from_class(handler) is names  # listed once
    finally:
        emulator_speedups.uninstall()
    assert responses.method_names_from_class is utils.method_names_from_class


# DynamoDB Streams: what the local stream poller reads (DescribeStream, GetShardIterator,
# GetRecords), and ListStreams. Records carry a timestamp, moto's naive UTC datetime of the write.

VIEW_TYPES = ["NEW_AND_OLD_IMAGES", "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE"]
BINARY_KEY = b"\x00\xffkey"  # the KEYS_ONLY table's hash key is a blob: Keys carry B values


@dataclass
class StreamTable:
    name: str
    arn: str
    shard: str
    view_type: str

    def key(self, n: int) -> dict[str, Any]:
        if self.view_type == "KEYS_ONLY":
            return {"pk": {"B": BINARY_KEY + bytes([n])}}
        return key(n)

    def item(self, n: int, **attributes: Any) -> dict[str, Any]:
        return {**ITEM, **attributes, **self.key(n)}

    def record_keys(self, n: int) -> dict[str, Any]:
        """A record's Keys in boto3: moto 5.2.5 base64s a blob key twice (`DynamoType.to_json`,
        then its serializer), and the fast path with it."""
        if self.view_type == "KEYS_ONLY":
            return {"pk": {"B": base64.b64encode(BINARY_KEY + bytes([n]))}}
        return key(n)


@pytest.fixture
def streams(endpoint: str, answers: list[Answer]) -> Any:
    return boto3.client(
        "dynamodbstreams",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(params=VIEW_TYPES)
def stream_table(
    request: pytest.FixtureRequest, client: Any, streams: Any, answers: list[Answer]
) -> Iterator[StreamTable]:
    view_type = request.param
    name = f"speedups-stream-{uuid.uuid4().hex[:8]}"
    if view_type == "KEYS_ONLY":
        schema = {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "B"}],
        }
    else:
        schema = {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
        }
    arn = client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
        **schema,
    )["TableDescription"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    answers.clear()
    yield StreamTable(name, arn, shard, view_type)
    client.delete_table(TableName=name)


def write_changes(client: Any, table: StreamTable, answers: list[Answer]) -> list[str]:
    """INSERT, MODIFY and REMOVE records of items with every attribute type; their event names."""
    client.put_item(TableName=table.name, Item=table.item(1))
    client.put_item(TableName=table.name, Item=table.item(2))
    client.update_item(
        TableName=table.name,
        Key=table.key(1),
        UpdateExpression="SET #m.#n = :name, #b = :blob ADD numbers :ns REMOVE tiny",
        ExpressionAttributeNames={"#m": "map", "#n": "name", "#b": "blob"},
        ExpressionAttributeValues={":name": {"S": "Grace"}, ":blob": {"B": b"\xfa"}, ":ns": {"NS": ["4.25"]}},
    )
    client.put_item(TableName=table.name, Item=table.item(2, int={"N": "43"}, things={"L": []}))
    client.delete_item(TableName=table.name, Key=table.key(2))
    client.batch_write_item(
        RequestItems={
            table.name: [
                {"PutRequest": {"Item": table.item(3)}},
                {"DeleteRequest": {"Key": table.key(1)}},
            ]
        }
    )
    answers.clear()
    return ["INSERT", "INSERT", "MODIFY", "MODIFY", "REMOVE", "INSERT", "REMOVE"]


def shard_iterator(
    streams: Any, table: StreamTable, answers: list[Answer], kind: str, after: str = ""
) -> str:
    sequence = {"SequenceNumber": after} if after else {}
    iterator = streams.get_shard_iterator(
        StreamArn=table.arn, ShardId=table.shard, ShardIteratorType=kind, **sequence
    )["ShardIterator"]
    check(answers, "GetShardIterator")
    return str(iterator)


def test_stream_descriptions(streams: Any, stream_table: StreamTable, answers: list[Answer]) -> None:
    description = streams.describe_stream(StreamArn=stream_table.arn)["StreamDescription"]
    check(answers, "DescribeStream")
    assert description["StreamViewType"] == stream_table.view_type
    assert isinstance(description["CreationRequestDateTime"], datetime)  # a timestamp on the wire
    listed = streams.list_streams(TableName=stream_table.name)["Streams"]
    check(answers, "ListStreams")
    assert [stream["StreamArn"] for stream in listed] == [stream_table.arn]
    streams.list_streams()  # every table's
    check(answers, "ListStreams")


def test_stream_records(client: Any, streams: Any, stream_table: StreamTable, answers: list[Answer]) -> None:
    events = write_changes(client, stream_table, answers)
    iterator = shard_iterator(streams, stream_table, answers, "TRIM_HORIZON")
    pages = []
    while True:  # pages of 3, then an empty one
        page = streams.get_records(ShardIterator=iterator, Limit=3)
        check(answers, "GetRecords")
        pages.append(page["Records"])
        iterator = page["NextShardIterator"]
        if not page["Records"]:
            break
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    records = [record for page in pages for record in page]
    assert [record["eventName"] for record in records] == events
    first = records[0]["dynamodb"]
    assert isinstance(first["ApproximateCreationDateTime"], datetime)
    assert first["Keys"] == stream_table.record_keys(1)
    if stream_table.view_type in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE"):
        assert first["NewImage"] == stream_table.item(1)  # B and BS: bytes again in boto3
    if stream_table.view_type in ("NEW_AND_OLD_IMAGES", "OLD_IMAGE"):
        assert records[2]["dynamodb"]["OldImage"] == stream_table.item(1)

    # the empty page's iterator, and a LATEST one, give what is written next
    latest = shard_iterator(streams, stream_table, answers, "LATEST")
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    check(answers, "GetRecords")
    client.put_item(TableName=stream_table.name, Item=stream_table.item(4))
    answers.clear()
    for start in (iterator, latest):
        (record,) = streams.get_records(ShardIterator=start, Limit=5)["Records"]
        check(answers, "GetRecords")
        assert record["eventName"] == "INSERT" and record["dynamodb"]["Keys"] == stream_table.record_keys(4)

    after = shard_iterator(
        streams, stream_table, answers, "AFTER_SEQUENCE_NUMBER", records[1]["dynamodb"]["SequenceNumber"]
    )
    rest = streams.get_records(ShardIterator=after)["Records"]
    check(answers, "GetRecords")
    assert [record["eventName"] for record in rest] == [*events[2:], "INSERT"]


def _records(when: Any, **dynamodb: Any) -> dict[str, Any]:
    """A GetRecords result as moto's backend makes it."""
    record = {
        "eventID": "0123456789abcdef",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "ApproximateCreationDateTime": when,
            "SequenceNumber": "1100000000017454423009",
            "SizeBytes": 42,
            "Keys": {"pk": {"S": "order#1"}},
            "NewImage": {"pk": {"S": "order#1"}, "b": {"B": "AP8="}},
            **dynamodb,
        },
    }
    return {"NextShardIterator": "arn|1|id", "Records": [record]}


class _LaterDatetime(datetime):
    pass


NOON = datetime(2024, 5, 1, 12, 0, 0)
STREAM_MIRRORED: list[tuple[str, dict[str, Any]]] = [
    ("GetRecords", _records(NOON)),  # whole seconds: an int
    ("GetRecords", _records(NOON.replace(microsecond=500))),  # under a millisecond: 1714564800.0
    ("GetRecords", _records(NOON.replace(microsecond=123456))),  # milliseconds truncated: .123
    ("GetRecords", _records(NOON.replace(microsecond=999999))),
    ("GetRecords", _records(datetime(1969, 12, 31, 23, 59, 59, 999000))),  # before the epoch: -0.001
    ("GetRecords", _records(NOON.replace(microsecond=1000, tzinfo=timezone(timedelta(hours=5, minutes=30))))),
    ("GetRecords", _records(NOON.replace(tzinfo=UTC), OldImage={}, userIdentity=None)),
    ("GetRecords", {"NextShardIterator": "arn|1|id", "Records": []}),
    (
        "DescribeStream",
        {
            "StreamDescription": {
                "StreamArn": "arn",
                "StreamLabel": "2024-05-01T12:00:00.000",
                "StreamStatus": "ENABLED",
                "StreamViewType": "KEYS_ONLY",
                "CreationRequestDateTime": NOON.replace(microsecond=7000),
                "TableName": "t",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "Shards": [{"ShardId": "s", "SequenceNumberRange": {"StartingSequenceNumber": "1"}}],
            }
        },
    ),
]
STREAM_DECLINED: list[dict[str, Any]] = [
    _records(1714564800.5),  # botocore would parse a number, or a str
    _records(1714564800),
    _records("2024-05-01T12:00:00Z"),
    _records(date(2024, 5, 1)),
    _records(_LaterDatetime(2024, 5, 1)),
    _records(NOON, SizeBytes=Decimal("42")),
    _records(NOON, NewImage={"a": {"N": Decimal("1")}}),
]


@pytest.mark.parametrize(("action", "result"), STREAM_MIRRORED, ids=range(len(STREAM_MIRRORED)))
def test_stream_results_are_mirrored(action: str, result: dict[str, Any]) -> None:
    from moto.core.responses import ActionResult, BaseResponse

    handler = _handler(action, streams=True)
    fast = emulator_speedups.fast_response(handler, ActionResult(result))
    assert fast is not None
    assert fast == BaseResponse.serialized(handler, ActionResult(result))


def test_stream_timestamps_on_the_wire() -> None:
    """What the mirrored results above write (moto's serializer agrees with each, above)."""
    from moto.core.responses import ActionResult

    def wire(when: datetime) -> str:
        fast = emulator_speedups.fast_response(
            _handler("GetRecords", streams=True), ActionResult(_records(when))
        )
        assert fast is not None
        return fast[2].split('"ApproximateCreationDateTime": ')[1].split(",")[0]

    assert wire(NOON) == "1714564800"
    assert wire(NOON.replace(microsecond=500)) == "1714564800.0"
    assert wire(NOON.replace(microsecond=123999)) == "1714564800.123"
    assert wire(NOON.replace(microsecond=1000, tzinfo=timezone(timedelta(hours=2)))) == "1714557600.001"


@pytest.mark.parametrize("result", STREAM_DECLINED, ids=range(len(STREAM_DECLINED)))
def test_unexpected_stream_results_go_to_moto(result: dict[str, Any]) -> None:
    from moto.core.responses import ActionResult

    assert emulator_speedups.fast_response(_handler("GetRecords", streams=True), ActionResult(result)) is None


def test_install_patches_both_handlers() -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    emulator_speedups.install()
    emulator_speedups.install()  # idempotent
    try:
        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            assert handler.serialized is not BaseResponse.serialized
    finally:
        emulator_speedups.uninstall()
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        assert handler.serialized is BaseResponse.serialized

"""The emulator's DynamoDB fast path (shop_local.emulator_speedups) answers exactly as moto does.

moto's server app runs on a loopback port and boto3 drives it. Every response the fast path gives
is also serialised by moto's own serializer from the same result, and the two must be the same:
status, headers and body, byte for byte (so the body parsed as JSON too, and the CRC32 moto adds
after). The items carry every attribute type (S, N as ints, decimals and 38 digits, B with bytes
that are not UTF-8, BS, SS, NS, L, nested M, BOOL, NULL, empty values).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


def _handler(action: str) -> Any:
    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler()
    handler.querystring = {}
    handler.headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amz-target": f"DynamoDB_20120810.{action}",
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

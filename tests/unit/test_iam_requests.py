"""What each AWS request the functions make asks IAM for (local/sam_runner/iam_requests.py): the
action and resource ARN(s) of the Service Authorization Reference, and the condition keys the
template uses. Requests as botocore sends them (JSON with `X-Amz-Target`, or query forms)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from sam_runner.iam_requests import Check, Names, credential, map_request

REGION = "us-east-1"
ACCOUNT = "123456789012"
NAMES = Names(
    account_id=ACCOUNT,
    partition_keys={"users": "pk", "orders": "pk", "orders/index/ByUser": "user_id"},
    secrets={
        "shop-local/JwtSecret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop-local/JwtSecret-AbCd"
    },
)
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table"


def json_request(service: str, target: str, body: dict[str, Any]) -> list[Check]:
    mapped = map_request(
        service, REGION, headers={"x-amz-target": target}, body=json.dumps(body).encode(), names=NAMES
    )
    assert not mapped.unknown
    return mapped.checks


def query_request(service: str, form: dict[str, str]) -> list[Check]:
    mapped = map_request(service, REGION, headers={}, body=urlencode(form).encode(), names=NAMES)
    assert not mapped.unknown
    return mapped.checks


def test_the_credential_of_a_sigv4_request() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261207/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    signed = credential({"authorization": header})
    assert signed is not None
    assert (signed.access_key, signed.region, signed.service) == ("AKIAEXAMPLE", "us-east-1", "dynamodb")
    assert credential({"authorization": ""}) is None


def test_get_item_names_the_table_and_its_partition_key() -> None:
    (check,) = json_request(
        "dynamodb",
        "DynamoDB_20120810.GetItem",
        {"TableName": "users", "Key": {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}}},
    )
    assert check == Check("dynamodb:GetItem", f"{TABLE}/users", {"dynamodb:LeadingKeys": ["USER#1"]})


def test_query_on_an_index_names_the_index_and_its_key() -> None:
    (check,) = json_request(
        "dynamodb",
        "DynamoDB_20120810.Query",
        {
            "TableName": "orders",
            "IndexName": "ByUser",
            "KeyConditionExpression": "#u = :u AND created_at < :t",
            "ExpressionAttributeNames": {"#u": "user_id"},
            "ExpressionAttributeValues": {":u": {"S": "u-1"}, ":t": {"S": "2026"}},
        },
    )
    assert check == Check("dynamodb:Query", f"{TABLE}/orders/index/ByUser", {"dynamodb:LeadingKeys": ["u-1"]})


def test_a_transaction_is_checked_item_by_item() -> None:
    # DynamoDB Developer Guide, "Using IAM with DynamoDB transactions": Put, Update, Delete and
    # ConditionCheck need PutItem, UpdateItem, DeleteItem and ConditionCheckItem
    checks = json_request(
        "dynamodb",
        "DynamoDB_20120810.TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "users", "Item": {"pk": {"S": "USER#1"}}}},
                {"Put": {"TableName": "users", "Item": {"pk": {"S": "USERNAME#al"}}}},
                {"ConditionCheck": {"TableName": "orders", "Key": {"pk": {"S": "O#1"}}}},
            ]
        },
    )
    assert [(c.action, c.resource, c.context["dynamodb:LeadingKeys"]) for c in checks] == [
        ("dynamodb:PutItem", f"{TABLE}/users", ["USER#1"]),
        ("dynamodb:PutItem", f"{TABLE}/users", ["USERNAME#al"]),
        ("dynamodb:ConditionCheckItem", f"{TABLE}/orders", ["O#1"]),
    ]


def test_batch_get_is_checked_per_table_with_every_key() -> None:
    checks = json_request(
        "dynamodb",
        "DynamoDB_20120810.BatchGetItem",
        {"RequestItems": {"users": {"Keys": [{"pk": {"S": "USER#1"}}, {"pk": {"S": "USER#2"}}]}}},
    )
    assert checks == [
        Check("dynamodb:BatchGetItem", f"{TABLE}/users", {"dynamodb:LeadingKeys": ["USER#1", "USER#2"]})
    ]


def test_publish_batch_is_authorised_as_publish() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:order-events"
    checks = query_request("sns", {"Action": "PublishBatch", "TopicArn": topic, "Version": "2010-03-31"})
    assert checks == [Check("sns:Publish", topic)]


def test_sqs_batch_calls_are_their_single_actions_on_the_queue() -> None:
    checks = json_request(
        "sqs",
        "AmazonSQS.DeleteMessageBatch",
        {"QueueUrl": f"http://127.0.0.1:5000/{ACCOUNT}/shop-local-OrderEmailQueue", "Entries": []},
    )
    assert checks == [
        Check("sqs:DeleteMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:shop-local-OrderEmailQueue")
    ]


def test_an_email_is_checked_against_the_sender_and_every_recipient_identity() -> None:
    # SES: every identity a send involves, the sender's and (sandbox) each recipient's
    raw = base64.b64encode(b"From: Shop <orders@example.com>\r\nTo: jo@example.org\r\n\r\nhi").decode()
    checks = query_request(
        "ses",
        {
            "Action": "SendRawEmail",
            "Source": "orders@example.com",
            "Destinations.member.1": "jo@example.org",
            "RawMessage.Data": raw,
        },
    )
    context = {"ses:FromAddress": "orders@example.com", "ses:Recipients": ["jo@example.org"]}
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity"
    assert checks == [
        Check("ses:SendRawEmail", f"{identity}/orders@example.com", context),
        Check("ses:SendRawEmail", f"{identity}/jo@example.org", context),
    ]


def test_a_raw_email_without_source_is_read_from_its_headers() -> None:
    raw = base64.b64encode(b"From: Shop <orders@example.com>\r\nTo: a@example.org, b@example.org\r\n\r\nhi")
    checks = query_request("ses", {"Action": "SendRawEmail", "RawMessage.Data": raw.decode()})
    assert [check.resource.rsplit("/", 1)[1] for check in checks] == [
        "orders@example.com",
        "a@example.org",
        "b@example.org",
    ]
    assert checks[0].context["ses:FromAddress"] == "orders@example.com"


def test_a_secret_named_by_name_is_checked_on_its_arn() -> None:
    (check,) = json_request(
        "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "shop-local/JwtSecret"}
    )
    assert check == Check("secretsmanager:GetSecretValue", NAMES.secrets["shop-local/JwtSecret"])


def test_kms_key_ids_become_key_arns() -> None:
    (check,) = json_request(
        "kms", "TrentService.GenerateDataKey", {"KeyId": "1234abcd", "KeySpec": "AES_256"}
    )
    assert check == Check("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd")


def test_stream_reads_as_lambda_makes_them() -> None:
    stream = f"{TABLE}/orders/stream/2026-12-07T00:00:00.000"
    (describe,) = json_request("dynamodb", "DynamoDBStreams_20120810.DescribeStream", {"StreamArn": stream})
    assert describe == Check("dynamodb:DescribeStream", stream)
    (records,) = json_request("dynamodb", "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": "x"})
    assert records.action == "dynamodb:GetRecords"


def test_an_operation_it_does_not_know_is_unknown() -> None:
    mapped = map_request(
        "dynamodb", REGION, headers={"x-amz-target": "DynamoDB_20120810.DeleteTable"}, body=b"{}"
    )
    assert mapped.unknown and mapped.operation == "dynamodb:DeleteTable"
    mapped = map_request("s3", REGION, headers={}, body=b"")
    assert mapped.unknown


def test_get_caller_identity_needs_no_permission() -> None:
    mapped = map_request("sts", REGION, headers={}, body=b"Action=GetCallerIdentity&Version=2011-06-15")
    assert not mapped.unknown and mapped.checks == []

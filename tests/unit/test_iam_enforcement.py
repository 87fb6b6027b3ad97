"""The emulator's IAM front (local/sam_runner/iam_enforcement.py) as a WSGI middleware: a function's
request its role refuses gets AWS's answer for its protocol and never reaches the emulator behind;
the stack's own requests pass unchecked. botocore parses the answers as it would AWS's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from sam_runner.iam_enforcement import IamEnforcement

KEY = "AKIAFUNCTIONKEY00001"
TOPIC = "arn:aws:sns:us-east-1:123456789012:order-events"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/users"
ROLE = {
    "function_id": "OrdersFunction",
    "function_name": "shop-local-OrdersFunction",
    "role_name": "shop-local-OrdersFunctionRole",
    "access_key": KEY,
    "policies": [
        {
            "name": "Policy0",
            "document": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}]},
        }
    ],
}


class Emulator:
    """Stands in for moto behind the middleware: counts what reaches it."""

    def __init__(self) -> None:
        self.served = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.served += 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


@pytest.fixture
def front() -> tuple[IamEnforcement, Emulator]:
    emulator = Emulator()
    enforcement = IamEnforcement(emulator)
    enforcement.configure({"roles": [ROLE], "names": {"partition_keys": {"users": "pk"}}})
    return enforcement, emulator


def signed(key: str, service: str) -> str:
    scope = f"{key}/20261207/us-east-1/{service}/aws4_request"
    return f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"


def dynamodb(app: IamEnforcement, key: str, operation: str) -> Any:
    body = json.dumps({"TableName": "users", "Key": {"pk": {"S": "USER#1"}}})
    return Client(app).post(
        "/",
        data=body,
        headers={
            "Authorization": signed(key, "dynamodb"),
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )


def botocore_error(service: str, operation: str, response: Any) -> dict[str, Any]:
    """What botocore makes of the answer (the code a function's `except ClientError` sees)."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    model = client.meta.service_model.operation_model(operation)
    parser = client._response_parser  # type: ignore[attr-defined]
    parsed = parser.parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.get_data()},
        model.output_shape,
    )
    return dict(ClientError(parsed, operation).response["Error"])


def test_an_allowed_request_reaches_the_emulator_and_is_counted(
    front: tuple[IamEnforcement, Emulator],
) -> None:
    app, emulator = front
    assert dynamodb(app, KEY, "GetItem").status_code == 200
    assert emulator.served == 1
    report = app.report()
    assert report["allowed"] == 1 and report["denied"] == 0
    assert report["functions"]["OrdersFunction"]["exercised"] == {f"Policy0#0 dynamodb:GetItem on {TABLE}": 1}


def test_a_refused_dynamodb_request_is_access_denied(front: tuple[IamEnforcement, Emulator]) -> None:
    app, emulator = front
    response = dynamodb(app, KEY, "DeleteItem")
    assert response.status_code == 400 and emulator.served == 0
    error = botocore_error("dynamodb", "DeleteItem", response)
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/shop-local-OrdersFunctionRole/shop-local-OrdersFunction"
        f" is not authorized to perform: dynamodb:DeleteItem on resource: {TABLE}"
        " because no identity-based policy allows the dynamodb:DeleteItem action"
    )
    assert app.report()["denials"] == [
        {
            "function": "OrdersFunction",
            "action": "dynamodb:DeleteItem",
            "resource": TABLE,
            "operation": "dynamodb:DeleteItem",
        }
    ]


def test_a_refused_sns_publish_is_an_authorization_error(front: tuple[IamEnforcement, Emulator]) -> None:
    app, emulator = front
    response = Client(app).post(
        "/",
        data=urlencode({"Action": "Publish", "TopicArn": TOPIC, "Message": "m"}),
        headers={"Authorization": signed(KEY, "sns"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403 and emulator.served == 0
    assert botocore_error("sns", "Publish", response)["Code"] == "AuthorizationError"


def test_a_refused_sqs_json_request_reports_the_query_code(front: tuple[IamEnforcement, Emulator]) -> None:
    app, _ = front
    response = Client(app).post(
        "/",
        data=json.dumps({"QueueUrl": "http://x/123456789012/q", "MessageBody": "m"}),
        headers={
            "Authorization": signed(KEY, "sqs"),
            "X-Amz-Target": "AmazonSQS.SendMessage",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert botocore_error("sqs", "SendMessage", response)["Code"] == "AccessDenied"


def test_an_unknown_operation_is_denied(front: tuple[IamEnforcement, Emulator], caplog: Any) -> None:
    app, emulator = front
    assert dynamodb(app, KEY, "DeleteTable").status_code == 400 and emulator.served == 0
    assert "does not know" in caplog.text


def test_the_stack_and_unsigned_requests_pass_unchecked(front: tuple[IamEnforcement, Emulator]) -> None:
    app, emulator = front
    assert dynamodb(app, "testing", "DeleteItem").status_code == 200
    assert Client(app).get("/_shop/health").status_code == 200
    assert emulator.served == 2
    assert app.report()["checked"] == 0


def test_control_route_sets_and_reports(front: tuple[IamEnforcement, Emulator]) -> None:
    app, _ = front
    response = Client(app).post("/_shop/iam", data=json.dumps({"roles": [], "enabled": False}))
    assert response.status_code == 200 and json.loads(response.get_data())["enabled"] is False
    assert dynamodb(app, KEY, "DeleteItem").status_code == 200  # no role, nothing checked

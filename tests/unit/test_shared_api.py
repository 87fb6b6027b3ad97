"""The shared HTTP entry point (shop_shared.api): what every function answers before its route runs.

A tiny resolver with one JSON route, wrapped by `api_handler` exactly as the real functions are,
and invoked with API Gateway proxy events.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from shop_local.testing import lambda_context
from shop_shared import api
from shop_shared.observability import observability

logger, metrics, tracer = observability("api-test")
app = api.make_resolver(logger)


class Body(BaseModel):
    quantity: int
    note: str = ""


@app.post("/things")
def create(body: Body) -> Any:
    return api.json_response(201, {"quantity": body.quantity})


handler = api.api_handler(app, logger, metrics, tracer)


def post(body: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    event = {
        "resource": "/things",
        "path": "/things",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "r-1", "resourcePath": "/things", "httpMethod": "POST"},
        "body": body,
        "isBase64Encoded": False,
    }
    response = handler(event, lambda_context("OrdersFunction"))
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",  # what `curl -d` sends
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "text/json",
    ],
)
def test_a_body_that_is_not_declared_json_is_415(content_type: str) -> None:
    status, body = post('{"quantity": 1}', {"Content-Type": content_type})

    assert (status, body["code"]) == (415, "unsupported_media_type")
    assert body["message"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        "application/json; charset=utf-8",
        "application/json ;charset=utf-8",
    ],
)
def test_json_media_types_match_case_insensitively_with_parameters(content_type: str) -> None:
    assert post('{"quantity": 2}', {"content-type": content_type}) == (201, {"quantity": 2})


def test_a_body_without_a_content_type_is_read_as_json() -> None:
    assert post('{"quantity": 3}') == (201, {"quantity": 3})
    assert post("quantity=3")[0] == 400


@pytest.mark.parametrize("digits", [5000, 100_000])
def test_a_number_of_thousands_of_digits_is_invalid_json(digits: int) -> None:
    status, body = post('{"quantity": ' + "9" * digits + "}", {"Content-Type": "application/json"})

    assert (status, body["code"]) == (400, "invalid_json")


@pytest.mark.parametrize(
    "number",
    [str(2**63), str(-(2**63) - 1), "123456789012345678901234567890", '{"deep": [1, 99999999999999999999]}'],
)
def test_a_number_too_large_for_64_bits_is_refused_anywhere_in_the_body(number: str) -> None:
    # Even in a field the route ignores: nothing downstream (DynamoDB, upstream ids) holds it.
    status, body = post('{"quantity": 1, "extra": ' + number + "}", {"Content-Type": "application/json"})

    assert (status, body["code"]) == (400, "invalid_json")


def test_the_64_bit_limits_themselves_are_numbers() -> None:
    status, body = post('{"quantity": ' + str(2**63 - 1) + ', "x": ' + str(-(2**63)) + "}")

    assert (status, body) == (201, {"quantity": 2**63 - 1})


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_invalid_json(constant: str) -> None:
    status, body = post('{"quantity": 1, "x": ' + constant + "}", {"Content-Type": "application/json"})

    assert (status, body["code"]) == (400, "invalid_json")

"""Which requests an injected AWS fault matches (local/sam_runner/faults.py): a `dynamodb` fault
with `table` matches only requests naming that table, however the request names it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sam_runner.faults import FaultBook, FaultError, _tables_of, parse_fault


def request(body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    return {"CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw)}


@pytest.mark.parametrize(
    ("body", "tables"),
    [
        ({"TableName": "orders", "Item": {}}, {"orders"}),
        ({"RequestItems": {"users": {}, "orders": {}}}, {"users", "orders"}),
        (
            {"TransactItems": [{"Put": {"TableName": "users"}}, {"ConditionCheck": {"TableName": "guards"}}]},
            {"users", "guards"},
        ),
        ({"QueueUrl": "nothing of DynamoDB"}, set()),
    ],
)
def test_the_tables_a_request_names_are_found_and_its_body_kept(
    body: dict[str, Any], tables: set[str]
) -> None:
    environ = request(body)
    assert _tables_of(environ) == tables
    assert json.loads(environ["wsgi.input"].read()) == body  # the emulator still reads it whole


def test_a_table_fault_takes_only_requests_naming_its_table() -> None:
    book = FaultBook()
    book.add(parse_fault({"service": "dynamodb", "action": "PutItem", "table": "orders", "times": 1}))
    assert book.names_tables("dynamodb")
    assert book.take("dynamodb", "PutItem", tables=frozenset({"idempotency"})) is None
    assert book.take("dynamodb", "PutItem") is None  # a request whose tables were not read
    taken = book.take("dynamodb", "PutItem", tables=frozenset({"orders"}))
    assert taken is not None and taken.table == "orders"
    assert book.active() == []  # `times` spent


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"service": "sns", "table": "orders"}, "table only applies to dynamodb"),
        ({"service": "dynamodb", "table": ""}, "table must be"),
        ({"service": "dynamodb", "table": 7}, "table must be"),
    ],
)
def test_a_table_is_only_for_dynamodb_and_must_name_one(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(FaultError, match=error):
        parse_fault(spec)

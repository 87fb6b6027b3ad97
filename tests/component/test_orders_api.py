"""The orders function through its Lambda handler: API Gateway proxy events in, responses out.

moto in-process (every resource from template.yaml), real Redis (the test database), and the
product stand-in served over real HTTP on a free port, so the products client, the rate limit and
the idempotency store all run for real.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

import orders_api
import orders_service
from shop_local.testing import lambda_context, proxy_event
from shop_shared import aws, config, keys, redis_client
from shop_shared.api import Caller
from shop_shared.jsonutil import money
from shop_shared.models import Order, OrderStatus, StatusUpdateRequest

EVENTS = Path(__file__).resolve().parents[2] / "events"
ORDER_NUMBER = re.compile(r"^ORD-(\d{4})-(\d{6})$")


# ------------------------------------------------------------------------------------ helpers


class Gate:
    """WSGI middleware in front of the stand-in: while closed, product requests wait, so a test can
    hold one order creation in flight."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open = threading.Event()
        self.open.set()
        self.waiting = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/api/products/") and not self.open.is_set():
            self.waiting.set()
            self.open.wait(10)
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[str, Gate, Any]]:
    from werkzeug.serving import make_server

    from shop_local.standin import make_app

    app = make_app()
    gate = Gate(app)
    server = make_server("127.0.0.1", 0, gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api", gate, app
    server.shutdown()
    thread.join(5)


@pytest.fixture
def shop(aws: Any, redis_conn: redis.Redis, standin: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The orders function's world: moto, Redis (emptied after), the stand-in as upstream."""
    url, gate, _ = standin
    monkeypatch.setenv("PRODUCT_API_URL", url)
    monkeypatch.setenv("ORDER_RATE_LIMIT", "3/300")
    config.get_settings.cache_clear()
    redis_client.get_redis.cache_clear()
    gate.open.set()
    return aws


CATALOG = {
    int(p["id"]): p
    for p in json.loads(
        (Path(orders_api.__file__).resolve().parents[2] / "local/shop_local/standin/catalog.json").read_text()
    )
}


def users_table() -> Any:
    return aws.table(config.get_settings().users_table)


def orders_table() -> Any:
    return aws.table(config.get_settings().orders_table)


def add_user(role: str = "customer", name: str = "jane", *, verified: bool = True) -> tuple[Caller, str]:
    """A user (profile item as the auth service writes it, with a hash that must never leak) and
    one address of theirs; returns the caller the authorizer would verify and the address id."""
    user_id, address_id = str(uuid.uuid4()), str(uuid.uuid4())
    username = f"{name}_{user_id[:6]}"
    users_table().put_item(
        Item={
            **keys.user_key(user_id),
            "id": user_id,
            "username": username,
            "email": f"{username}@example.com",
            "first_name": name.title(),
            "last_name": "Doe",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$c2VjcmV0",
            "role": role,
            "is_active": True,
            "email_verified": verified,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    add_address(user_id, address_id)
    caller = Caller(
        user_id=user_id, username=username, email=f"{username}@example.com", role=role, email_verified=True
    )
    return caller, address_id


def add_address(user_id: str, address_id: str, street: str = "1 Main St") -> None:
    users_table().put_item(
        Item={
            **keys.address_key(user_id, address_id),
            "id": address_id,
            "street": street,
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
            "is_default": True,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )


def api_event(
    method: str, resource: str, caller: Caller, *, headers: dict[str, str] | None = None, **request: Any
) -> dict[str, Any]:
    """A request from `caller`, as API Gateway passes it on once the authorizer allowed it."""
    authorizer = {
        "user_id": caller.user_id,
        "username": caller.username,
        "email": caller.email,
        "role": caller.role,
        "email_verified": "true" if caller.email_verified else "false",
    }
    all_headers = {"Authorization": "Bearer x", **(headers or {})}
    return proxy_event(method, resource, headers=all_headers, authorizer=authorizer, **request)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(event: dict[str, Any]) -> Reply:
    response = orders_api.lambda_handler(event, lambda_context("OrdersFunction"))
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(name, values[-1])
    return Reply(
        response["statusCode"], json.loads(response["body"]) if response.get("body") else None, headers
    )


def create(caller: Caller, address_id: str, items: list[dict[str, Any]] | None = None, **extra: Any) -> Reply:
    headers = extra.pop("headers", None)
    body = {"items": items or [{"product_id": 1, "quantity": 1}], "shipping_address_id": address_id, **extra}
    return call(api_event("POST", "/orders", caller, body=body, headers=headers))


def get(caller: Caller, order_id: str) -> Reply:
    return call(api_event("GET", "/orders/{order_id}", caller, path_params={"order_id": order_id}))


def list_orders(caller: Caller, user_id: str, **query: str) -> Reply:
    return call(
        api_event(
            "GET", "/users/{user_id}/orders", caller, path_params={"user_id": user_id}, query=query or None
        )
    )


def set_status(caller: Caller, order_id: str, status: str) -> Reply:
    return call(
        api_event(
            "PUT",
            "/orders/{order_id}/status",
            caller,
            path_params={"order_id": order_id},
            body={"status": status},
        )
    )


def price(product_id: int) -> Decimal:
    return money(str(CATALOG[product_id]["price"]))


def stored_orders() -> list[dict[str, Any]]:
    items = orders_table().scan()["Items"]
    return [item for item in items if item["sk"] == keys.ORDER_SK]


def rate_limit_slots(redis_conn: redis.Redis, user_id: str) -> int:
    return int(redis_conn.zcard(f"ratelimit:orders:{user_id}"))


# ------------------------------------------------------------------------------------ create


def test_a_user_whose_email_is_not_verified_cannot_order(shop: Any) -> None:
    # The stored profile decides, not the authorizer's answer, which API Gateway caches for a minute
    # (it may still say "verified" right after an e-mail change).
    caller, address_id = add_user(verified=False)
    reply = create(caller, address_id)
    assert (reply.status, reply.body["code"]) == (403, "email_not_verified")
    assert stored_orders() == []


def test_a_user_who_has_just_verified_can_order_while_the_authorizer_answer_is_cached(shop: Any) -> None:
    caller, address_id = add_user(verified=True)
    stale = dataclasses.replace(caller, email_verified=False)  # cached from before the verification
    assert create(stale, address_id).status == 201


def test_create_order_prices_from_catalog_not_client(shop: Any) -> None:
    caller, address_id = add_user()
    reply = create(
        caller,
        address_id,
        [
            {"product_id": 1, "quantity": 2, "price": 0.01, "product_price": 0.01, "product_name": "x"},
            {"product_id": 3, "quantity": 1},
        ],
        total_amount=0.01,
        status="delivered",
    )
    assert reply.status == 201, reply.body
    order = reply.body
    assert order["status"] == "pending"
    assert order["payment_method"] == "cash_on_delivery"
    assert order["user_id"] == caller.user_id
    assert reply.headers["Location"] == f"/orders/{order['id']}"
    lines = {line["product_id"]: line for line in order["items"]}
    assert lines[1]["product_name"] == CATALOG[1]["title"]
    assert Decimal(str(lines[1]["product_price"])) == price(1)
    assert Decimal(str(lines[1]["subtotal"])) == price(1) * 2
    expected_total = price(1) * 2 + price(3)
    assert Decimal(str(order["total_amount"])) == expected_total
    assert isinstance(order["total_amount"], float | int)  # a JSON number, not a string
    assert order["shipping_address"] == {
        "id": address_id,
        "street": "1 Main St",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "country": "US",
    }
    assert order["created_at"] == order["updated_at"]
    # the stored item carries the customer for the e-mails, and never the password hash
    (item,) = stored_orders()
    assert item["customer"] == {
        "user_id": caller.user_id,
        "email": caller.email,
        "first_name": "Jane",
        "last_name": "Doe",
        "username": caller.username,
    }
    assert "password_hash" not in json.dumps(item, default=str)
    assert item["total_amount"] == expected_total


def test_payment_method_is_kept_and_checked(shop: Any) -> None:
    caller, address_id = add_user()
    reply = create(caller, address_id, payment_method="paypal")
    assert reply.status == 201
    assert reply.body["payment_method"] == "paypal"
    bad = create(caller, address_id, payment_method="bitcoin")
    assert bad.status == 422
    assert bad.body["code"] == "validation_error"


def test_order_numbers_have_the_year_and_increase(shop: Any) -> None:
    caller, address_id = add_user()
    other, other_address = add_user(name="john")
    numbers = [
        create(caller, address_id).body["order_number"],
        create(other, other_address).body["order_number"],
        create(caller, address_id).body["order_number"],
    ]
    year = datetime.now(UTC).year
    parsed = [ORDER_NUMBER.match(number) for number in numbers]
    assert all(match and int(match.group(1)) == year for match in parsed), numbers
    sequence = [int(match.group(2)) for match in parsed if match]
    assert sequence == sorted(sequence) and len(set(sequence)) == 3


def test_the_same_product_twice_is_merged_into_one_line(shop: Any) -> None:
    caller, address_id = add_user()
    reply = create(caller, address_id, [{"product_id": 2, "quantity": 2}, {"product_id": 2, "quantity": 3}])
    assert reply.status == 201
    (line,) = reply.body["items"]
    assert line["quantity"] == 5
    assert Decimal(str(line["subtotal"])) == price(2) * 5


def test_merged_quantity_over_100_is_refused(shop: Any, redis_conn: redis.Redis) -> None:
    caller, address_id = add_user()
    reply = create(caller, address_id, [{"product_id": 2, "quantity": 60}, {"product_id": 2, "quantity": 41}])
    assert reply.status == 422
    assert reply.body["code"] == "quantity_too_large"
    assert stored_orders() == []
    assert rate_limit_slots(redis_conn, caller.user_id) == 0


INVALID_BODIES = {
    "no-items": {"items": [], "shipping_address_id": "a"},
    "quantity-0": {"items": [{"product_id": 1, "quantity": 0}], "shipping_address_id": "a"},
    "quantity-101": {"items": [{"product_id": 1, "quantity": 101}], "shipping_address_id": "a"},
    "quantity-text": {"items": [{"product_id": 1, "quantity": "many"}], "shipping_address_id": "a"},
    "no-quantity": {"items": [{"product_id": 1}], "shipping_address_id": "a"},
    "product-id-0": {"items": [{"product_id": 0, "quantity": 1}], "shipping_address_id": "a"},
    "no-address": {"items": [{"product_id": 1, "quantity": 1}]},
    "items-not-a-list": {"items": {"product_id": 1}, "shipping_address_id": "a"},
    "empty": {},
}


def test_invalid_bodies_are_422(shop: Any, redis_conn: redis.Redis) -> None:
    caller, _ = add_user()
    for name, body in INVALID_BODIES.items():
        reply = call(api_event("POST", "/orders", caller, body=body))
        assert (reply.status, reply.body["code"]) == (422, "validation_error"), name
        assert reply.body["message"].startswith("Invalid request"), name
    assert stored_orders() == []
    assert rate_limit_slots(redis_conn, caller.user_id) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "2"),
        ("quantity", 2.0),
        ("quantity", True),
        ("product_id", "1"),
        ("product_id", "01"),
        ("product_id", 1.0),
        ("product_id", True),
    ],
)
def test_quantity_and_product_id_must_be_json_integers(
    shop: Any, standin: Any, redis_conn: redis.Redis, field: str, value: Any
) -> None:
    caller, address_id = add_user()
    before = upstream_requests(standin)
    reply = create(caller, address_id, [{"product_id": 1, "quantity": 2, field: value}])
    assert (reply.status, reply.body["code"]) == (422, "validation_error"), reply.body
    assert field in reply.body["message"]
    assert stored_orders() == []
    assert upstream_requests(standin) == before


def test_body_that_is_not_json_is_400(shop: Any) -> None:
    caller, _ = add_user()
    reply = call(api_event("POST", "/orders", caller, body="{not json"))
    assert reply.status == 400
    assert reply.body["code"] == "invalid_json"


def test_unknown_product_is_422_naming_it(shop: Any, redis_conn: redis.Redis) -> None:
    caller, address_id = add_user()
    reply = create(
        caller, address_id, [{"product_id": 1, "quantity": 1}, {"product_id": 9999, "quantity": 1}]
    )
    assert reply.status == 422
    assert reply.body["code"] == "unknown_product"
    assert "9999" in reply.body["message"]
    assert reply.body["details"] == {"product_ids": [9999]}
    assert stored_orders() == []
    assert rate_limit_slots(redis_conn, caller.user_id) == 0


def test_someone_elses_address_is_refused_without_revealing_it(shop: Any) -> None:
    caller, _ = add_user()
    _, others_address = add_user(name="john")
    reply = create(caller, others_address)
    unknown = create(caller, str(uuid.uuid4()))
    assert reply.status == unknown.status == 422
    assert reply.body == unknown.body
    assert reply.body["code"] == "address_not_found"
    assert stored_orders() == []


def test_the_address_is_copied_so_later_changes_do_not_alter_the_order(shop: Any) -> None:
    caller, address_id = add_user()
    order = create(caller, address_id).body
    add_address(caller.user_id, address_id, street="99 Elsewhere Rd")
    assert get(caller, order["id"]).body["shipping_address"]["street"] == "1 Main St"


def test_products_upstream_down_is_503_and_counts_nothing(
    shop: Any, standin: Any, redis_conn: redis.Redis
) -> None:
    _, _, app = standin
    caller, address_id = add_user()
    app._fault_mode = "down"
    try:
        reply = create(caller, address_id, [{"product_id": 5, "quantity": 1}])
    finally:
        app._fault_mode = "ok"
    assert reply.status == 503
    assert stored_orders() == []
    assert rate_limit_slots(redis_conn, caller.user_id) == 0


def test_create_makes_two_dynamodb_calls_while_the_environment_holds_order_numbers(shop: Any) -> None:
    """Without Idempotency-Key: BatchGetItem and PutItem; the counter's UpdateItem only when the
    environment's block of order numbers is used up (one order in order_numbers.BLOCK_SIZE)."""
    caller, address_id = add_user()
    create(caller, address_id)  # warm the product cache and the clients, reserve a block
    calls: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    for client in (aws.dynamodb().meta.client, aws.client("dynamodb")):
        client.meta.events.register("before-call.dynamodb", count)
    assert create(caller, address_id).status == 201
    assert sorted(calls) == ["BatchGetItem", "PutItem"]


# ------------------------------------------------------------------------------------ rate limit


def test_fourth_order_in_the_window_is_429_and_refusals_do_not_count(
    shop: Any, redis_conn: redis.Redis
) -> None:
    caller, address_id = add_user()
    # refused requests first: none of them may use up the allowance
    assert create(caller, address_id, [{"product_id": 9999, "quantity": 1}]).status == 422
    assert create(caller, str(uuid.uuid4())).status == 422
    assert create(caller, address_id, [{"product_id": 1, "quantity": 0}]).status == 422
    for _ in range(3):
        assert create(caller, address_id).status == 201
    refused = create(caller, address_id)
    assert refused.status == 429
    assert refused.body["code"] == "order_rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    # the 429 took no slot either, and other users are not affected
    assert rate_limit_slots(redis_conn, caller.user_id) == 3
    other, other_address = add_user(name="john")
    assert create(other, other_address).status == 201
    assert len(stored_orders()) == 4


def test_rate_limit_setting_is_read_from_the_environment(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_RATE_LIMIT", "1/60")
    config.get_settings.cache_clear()
    caller, address_id = add_user()
    assert create(caller, address_id).status == 201
    refused = create(caller, address_id)
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_redis_down_orders_still_work(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    caller, address_id = add_user()
    assert create(caller, address_id).status == 201  # caches the product while Redis is up
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("ORDER_RATE_LIMIT", "1/300")
    config.get_settings.cache_clear()
    redis_client.get_redis.cache_clear()
    # the limit (1) is already used up, but it cannot be checked: it fails open
    assert create(caller, address_id).status == 201
    assert create(caller, address_id).status == 201
    assert len(stored_orders()) == 3


# ------------------------------------------------------------------------------------ idempotency


def test_idempotent_retry_returns_the_first_order_and_counts_once(shop: Any, redis_conn: redis.Redis) -> None:
    caller, address_id = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = create(caller, address_id, headers=key)
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    replays = [create(caller, address_id, headers=key) for _ in range(4)]
    assert {reply.status for reply in replays} == {201}
    assert all(reply.body == first.body for reply in replays)
    assert replays[0].headers["Idempotent-Replayed"] == "true"
    assert len(stored_orders()) == 1
    assert rate_limit_slots(redis_conn, caller.user_id) == 1
    # two more orders fit in the window: the replays did not count
    assert create(caller, address_id).status == 201
    assert create(caller, address_id).status == 201
    assert create(caller, address_id).status == 429


def test_same_key_with_a_different_body_is_refused(shop: Any) -> None:
    caller, address_id = add_user()
    key = {"Idempotency-Key": "order-attempt-1"}
    assert create(caller, address_id, [{"product_id": 1, "quantity": 1}], headers=key).status == 201
    reply = create(caller, address_id, [{"product_id": 1, "quantity": 2}], headers=key)
    assert reply.status == 422
    assert reply.body["code"] == "idempotency_key_reused"
    assert len(stored_orders()) == 1


def test_idempotency_keys_are_per_user(shop: Any) -> None:
    jane, jane_address = add_user()
    john, john_address = add_user(name="john")
    key = {"Idempotency-Key": "same-key"}
    first = create(jane, jane_address, headers=key)
    second = create(john, john_address, headers=key)
    assert first.status == second.status == 201
    assert first.body["id"] != second.body["id"]
    assert second.body["user_id"] == john.user_id


def test_a_refused_request_is_not_stored_as_the_keys_result(shop: Any) -> None:
    caller, _ = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    new_address = str(uuid.uuid4())
    assert create(caller, new_address, headers=key).status == 422  # address does not exist yet
    add_address(caller.user_id, new_address)
    retry = create(caller, new_address, headers=key)
    assert retry.status == 201
    assert len(stored_orders()) == 1


def test_a_duplicate_while_the_first_is_in_flight_is_409(shop: Any, standin: Any) -> None:
    _, gate, _ = standin
    caller, address_id = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    items = [{"product_id": 7, "quantity": 1}]  # not cached yet: the first request goes upstream
    results: list[Reply] = []
    gate.waiting.clear()
    gate.open.clear()
    first = threading.Thread(target=lambda: results.append(create(caller, address_id, items, headers=key)))
    first.start()
    try:
        assert gate.waiting.wait(10), "the first request never reached the product API"
        duplicate = create(caller, address_id, items, headers=key)
    finally:
        gate.open.set()
        first.join(15)
    assert duplicate.status == 409
    assert duplicate.body["code"] == "idempotency_in_progress"
    assert results[0].status == 201
    assert len(stored_orders()) == 1


def test_without_the_header_no_idempotency_record_is_written(shop: Any) -> None:
    caller, address_id = add_user()
    assert create(caller, address_id).status == 201
    table = aws.table(config.get_settings().idempotency_table)
    assert table.scan()["Count"] == 0


def test_blank_idempotency_key_is_400(shop: Any) -> None:
    caller, address_id = add_user()
    reply = create(caller, address_id, headers={"Idempotency-Key": "  "})
    assert reply.status == 400
    assert reply.body["code"] == "invalid_idempotency_key"


class Killed(BaseException):
    """The function's process ending mid-request (a timeout, out of memory): nothing runs after it."""


@contextlib.contextmanager
def idempotency_record_updates_fail(error: BaseException) -> Iterator[None]:
    """Every UpdateItem on the idempotency table (Powertools completing its record) raises `error`."""
    client = aws.client("dynamodb")
    table = config.get_settings().idempotency_table

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == table:
            raise error

    client.meta.events.register("provide-client-params.dynamodb.UpdateItem", refuse)
    try:
        yield
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.UpdateItem", refuse)


def let_in_progress_records_expire() -> None:
    """What the passing of time does to a record left INPROGRESS: its invocation's deadline passes."""
    table = aws.table(config.get_settings().idempotency_table)
    for record in table.scan()["Items"]:
        if record.get("status") == "INPROGRESS":
            table.update_item(
                Key={"id": record["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": int(time.time() * 1000) - 1},
            )


UNAVAILABLE = ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "UpdateItem")


def test_an_order_stored_while_its_idempotency_record_cannot_be_completed_is_answered_as_created(
    shop: Any, redis_conn: redis.Redis
) -> None:
    caller, address_id = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with idempotency_record_updates_fail(UNAVAILABLE):
        first = create(caller, address_id, headers=key)
    # The order was stored (and will be mailed): a 5xx would tell the customer it was not.
    assert first.status == 201, first.body
    assert [order["id"] for order in stored_orders()] == [first.body["id"]]
    let_in_progress_records_expire()
    retry = create(caller, address_id, headers=key)
    assert retry.status == 201
    assert retry.body == first.body
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(stored_orders()) == 1
    assert rate_limit_slots(redis_conn, caller.user_id) == 1


def test_a_retry_after_the_function_died_mid_request_returns_the_stored_order(
    shop: Any, redis_conn: redis.Redis
) -> None:
    caller, address_id = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with idempotency_record_updates_fail(Killed()), pytest.raises(Killed):
        create(caller, address_id, headers=key)  # the client sees a 502
    [stored] = stored_orders()
    let_in_progress_records_expire()
    retry = create(caller, address_id, headers=key)
    assert retry.status == 201
    assert retry.body["id"] == stored["id"]
    assert retry.body["order_number"] == stored["order_number"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(stored_orders()) == 1
    assert rate_limit_slots(redis_conn, caller.user_id) == 1
    again = create(caller, address_id, headers=key)  # now a replay of the completed record
    assert (again.status, again.body) == (201, retry.body)


def test_after_the_record_was_lost_the_same_key_with_another_body_is_still_refused(shop: Any) -> None:
    caller, address_id = add_user()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with idempotency_record_updates_fail(Killed()), pytest.raises(Killed):
        create(caller, address_id, [{"product_id": 1, "quantity": 1}], headers=key)
    let_in_progress_records_expire()
    reply = create(caller, address_id, [{"product_id": 1, "quantity": 2}], headers=key)
    assert reply.status == 422
    assert reply.body["code"] == "idempotency_key_reused"
    assert len(stored_orders()) == 1


# ------------------------------------------------------------------------------------ read


def test_owner_and_admin_read_the_order_others_get_404(shop: Any) -> None:
    caller, address_id = add_user()
    other, _ = add_user(name="john")
    admin, _ = add_user(role="admin", name="root")
    order = create(caller, address_id).body
    mine = get(caller, order["id"])
    assert mine.status == 200
    assert mine.body == order
    assert get(admin, order["id"]).body == order
    foreign = get(other, order["id"])
    missing = get(other, str(uuid.uuid4()))
    assert foreign.status == missing.status == 404
    assert foreign.body == missing.body == {"message": "Order not found", "code": "order_not_found"}
    assert "customer" not in mine.body


def test_money_keeps_two_places_after_a_round_trip_through_dynamodb(shop: Any) -> None:
    caller, address_id = add_user()
    order = create(caller, address_id, [{"product_id": 1, "quantity": 3}]).body
    stored = Order.model_validate(orders_table().get_item(Key=keys.order_key(order["id"]))["Item"])
    assert stored.total_amount == price(1) * 3
    assert stored.total_amount.as_tuple().exponent == -2


def test_list_is_newest_first_and_pages_with_a_cursor(shop: Any) -> None:
    caller, address_id = add_user()
    created = [create(caller, address_id).body["id"] for _ in range(3)]
    other, other_address = add_user(name="john")
    create(other, other_address)
    page1 = list_orders(caller, caller.user_id, limit="2")
    assert page1.status == 200
    assert [o["id"] for o in page1.body["orders"]] == created[::-1][:2]
    assert page1.body["next"]
    page2 = list_orders(caller, caller.user_id, limit="2", next=page1.body["next"])
    assert [o["id"] for o in page2.body["orders"]] == created[:1]
    assert page2.body["next"] is None
    everything = list_orders(caller, caller.user_id)
    assert [o["id"] for o in everything.body["orders"]] == created[::-1]
    assert everything.body["next"] is None
    assert all("customer" not in o for o in everything.body["orders"])


def test_list_exactly_one_page_has_no_next(shop: Any) -> None:
    caller, address_id = add_user()
    for _ in range(2):
        create(caller, address_id)
    reply = list_orders(caller, caller.user_id, limit="2")
    assert len(reply.body["orders"]) == 2
    assert reply.body["next"] is None


def test_list_of_a_user_without_orders_is_empty(shop: Any) -> None:
    caller, _ = add_user()
    assert list_orders(caller, caller.user_id).body == {"orders": [], "next": None}


def test_only_the_user_or_an_admin_can_list(shop: Any) -> None:
    caller, address_id = add_user()
    other, _ = add_user(name="john")
    admin, _ = add_user(role="admin", name="root")
    order = create(caller, address_id).body
    forbidden = list_orders(other, caller.user_id)
    assert forbidden.status == 403
    assert forbidden.body["code"] == "forbidden"
    assert [o["id"] for o in list_orders(admin, caller.user_id).body["orders"]] == [order["id"]]


def test_list_limit_out_of_range_is_422(shop: Any) -> None:
    caller, _ = add_user()
    for limit in ("0", "101", "ten", "-1"):
        reply = list_orders(caller, caller.user_id, limit=limit)
        assert (reply.status, reply.body["code"]) == (422, "validation_error"), limit
        assert "limit" in reply.body["message"]
    assert list_orders(caller, caller.user_id, limit="100").status == 200


def test_a_bad_or_foreign_cursor_is_400(shop: Any) -> None:
    caller, address_id = add_user()
    other, other_address = add_user(name="john")
    admin, _ = add_user(role="admin", name="root")
    for _ in range(2):
        create(other, other_address)
        create(caller, address_id)
    others_cursor = list_orders(other, other.user_id, limit="1").body["next"]
    assert others_cursor
    forged = base64.urlsafe_b64encode(json.dumps({"pk": "USER#x", "sk": "PROFILE"}).encode()).decode()
    for cursor in (others_cursor, "not-a-cursor!", forged, base64.urlsafe_b64encode(b"[1,2]").decode()):
        reply = list_orders(caller, caller.user_id, next=cursor)
        assert reply.status == 400, cursor
        assert reply.body["code"] == "invalid_cursor"
    # an admin listing the other user may use that user's cursor
    assert list_orders(admin, other.user_id, next=others_cursor).status == 200


# ------------------------------------------------------------------------------------ status


def test_admin_moves_an_order_through_its_life_cycle(shop: Any) -> None:
    caller, address_id = add_user()
    admin, _ = add_user(role="admin", name="root")
    order = create(caller, address_id).body
    updated_at = order["updated_at"]
    for status in ("confirmed", "shipped", "delivered"):
        reply = set_status(admin, order["id"], status)
        assert reply.status == 200, reply.body
        assert reply.body["status"] == status
        assert reply.body["updated_at"] > updated_at
        assert reply.body["created_at"] == order["created_at"]
        updated_at = reply.body["updated_at"]
    assert get(caller, order["id"]).body["status"] == "delivered"


FORBIDDEN_MOVES = [
    ([], "shipped"),
    ([], "delivered"),
    ([], "pending"),
    (["confirmed"], "delivered"),
    (["confirmed"], "pending"),
    (["confirmed"], "confirmed"),
    (["confirmed", "shipped"], "cancelled"),
    (["confirmed", "shipped"], "confirmed"),
    (["confirmed", "shipped", "delivered"], "cancelled"),
    (["confirmed", "shipped", "delivered"], "shipped"),
    (["cancelled"], "confirmed"),
    (["cancelled"], "cancelled"),
]


def test_moves_outside_the_life_cycle_are_409(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_RATE_LIMIT", "100/300")
    config.get_settings.cache_clear()
    caller, address_id = add_user()
    admin, _ = add_user(role="admin", name="root")
    for path, target in FORBIDDEN_MOVES:
        order_id = create(caller, address_id).body["id"]
        for status in path:
            assert set_status(admin, order_id, status).status == 200
        reply = set_status(admin, order_id, target)
        assert (reply.status, reply.body["code"]) == (409, "invalid_transition"), (path, target)
        assert target in reply.body["message"]
        assert get(admin, order_id).body["status"] == (path[-1] if path else "pending")


def test_admin_cancels_a_confirmed_order(shop: Any) -> None:
    caller, address_id = add_user()
    admin, _ = add_user(role="admin", name="root")
    order_id = create(caller, address_id).body["id"]
    set_status(admin, order_id, "confirmed")
    assert set_status(admin, order_id, "cancelled").body["status"] == "cancelled"


def test_the_owner_may_only_cancel(shop: Any) -> None:
    caller, address_id = add_user()
    admin, _ = add_user(role="admin", name="root")
    order_id = create(caller, address_id).body["id"]
    for status in ("confirmed", "shipped", "delivered"):
        reply = set_status(caller, order_id, status)
        assert reply.status == 403
        assert reply.body["code"] == "forbidden"
    assert get(caller, order_id).body["status"] == "pending"
    assert set_status(caller, order_id, "cancelled").body["status"] == "cancelled"
    # and cannot cancel once it has shipped
    second = create(caller, address_id).body["id"]
    set_status(admin, second, "confirmed")
    set_status(admin, second, "shipped")
    late = set_status(caller, second, "cancelled")
    assert late.status == 409
    assert late.body["code"] == "invalid_transition"


def test_another_users_order_is_404_even_to_cancel(shop: Any) -> None:
    caller, address_id = add_user()
    other, _ = add_user(name="john")
    order_id = create(caller, address_id).body["id"]
    for status in ("cancelled", "shipped"):
        reply = set_status(other, order_id, status)
        assert reply.status == 404
        assert reply.body["code"] == "order_not_found"
    assert set_status(other, str(uuid.uuid4()), "cancelled").status == 404
    assert get(caller, order_id).body["status"] == "pending"


def test_unknown_status_is_422(shop: Any) -> None:
    caller, address_id = add_user()
    admin, _ = add_user(role="admin", name="root")
    order_id = create(caller, address_id).body["id"]
    reply = set_status(admin, order_id, "lost")
    assert reply.status == 422
    assert reply.body["code"] == "validation_error"


def test_of_two_racing_status_changes_one_wins(shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two admins move one order at the same moment, to two different statuses: both read
    `pending`, both write expecting it; the conditional write lets exactly one through, the other
    is 409 and the order ends in the winner's status."""
    from moto.dynamodb.models import DynamoDBBackend

    caller, address_id = add_user()
    first_admin, _ = add_user(role="admin", name="root")
    second_admin, _ = add_user(role="admin", name="boss")
    order_id = create(caller, address_id).body["id"]

    # Each change has read the order and found its move allowed before either writes: that is the
    # race (without it, one thread could finish before the other starts).
    both_have_read = threading.Barrier(2, timeout=10)
    real_check = orders_service.check_transition

    def check_then_wait(*args: Any, **kwargs: Any) -> None:
        real_check(*args, **kwargs)
        both_have_read.wait()

    monkeypatch.setattr(orders_service, "check_transition", check_then_wait)
    # DynamoDB applies the writes to one item one at a time; moto's in-memory table has no lock.
    one_at_a_time = threading.Lock()
    real_update = DynamoDBBackend.update_item

    def serialised_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        with one_at_a_time:
            return real_update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", serialised_update)

    outcomes: dict[str, Any] = {}

    def change(admin: Caller, status: OrderStatus) -> None:
        try:
            outcomes[status] = orders_service.change_status(
                order_id, StatusUpdateRequest(status=status), admin
            )[0].status
        except orders_service.Conflict as exc:
            outcomes[status] = exc
        except BaseException as exc:  # shown by the assertions below
            outcomes[status] = repr(exc)

    threads = [
        threading.Thread(target=change, args=(first_admin, "confirmed")),
        threading.Thread(target=change, args=(second_admin, "cancelled")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [status for status, outcome in outcomes.items() if outcome == status]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, orders_service.Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert (losers[0].status, losers[0].code) == (409, "status_conflict")
    assert get(caller, order_id).body["status"] == winners[0]


# ------------------------------------------------------------------------------------ misc


def test_unknown_route_is_404_json(shop: Any) -> None:
    caller, _ = add_user()
    reply = call(api_event("DELETE", "/orders/{order_id}", caller, path_params={"order_id": "x"}))
    assert reply.status == 404
    assert reply.body["code"] == "not_found"
    assert reply.body["message"]


def test_missing_caller_is_401(shop: Any) -> None:
    caller, _ = add_user()
    event = api_event("GET", "/orders/{order_id}", caller, path_params={"order_id": "x"})
    event["requestContext"]["authorizer"] = {}
    assert call(event).status == 401


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("orders-create", 401, "unknown_user"),
        ("orders-get", 404, "order_not_found"),
        # its admin is not in the empty users table, and an admin write checks the stored role
        ("orders-status", 403, "forbidden"),
    ],
)
def test_sample_events_reach_their_routes(shop: Any, name: str, status: int, code: str) -> None:
    """The samples in events/ are API Gateway events of our routes; against an empty stack they get
    the route's own clean answer (not a routing 404 or a 500)."""
    reply = call(json.loads((EVENTS / f"{name}.json").read_text()))
    assert (reply.status, reply.body["code"]) == (status, code)


def test_sample_list_event_lists(shop: Any) -> None:
    reply = call(json.loads((EVENTS / "orders-list.json").read_text()))
    assert reply.status == 200
    assert reply.body == {"orders": [], "next": None}


# ------------------------------------------------------------------------ upstream amplification


def upstream_requests(standin: Any) -> int:
    """Product API requests the stand-in received so far (all paths)."""
    import requests

    root = standin[0].removesuffix("/api")
    return sum(requests.get(f"{root}/_standin/stats", timeout=5).json()["requests"].values())


@pytest.mark.parametrize(
    ("product_id", "status", "code"),
    [
        (2**31, 422, "validation_error"),  # fits 64 bits: the model's 32-bit bound refuses it
        (2**63, 400, "invalid_json"),  # beyond 64 bits: refused while the body is read
        (10**40, 400, "invalid_json"),
    ],
)
def test_a_product_id_above_32_bits_is_refused_and_never_sent_upstream(
    shop: Any, standin: Any, product_id: int, status: int, code: str
) -> None:
    caller, address_id = add_user()
    before = upstream_requests(standin)
    reply = create(caller, address_id, [{"product_id": product_id, "quantity": 1}])
    assert (reply.status, reply.body["code"]) == (status, code)
    if status == 422:
        assert "product_id" in reply.body["message"]
    assert upstream_requests(standin) == before
    assert stored_orders() == []


def test_refused_order_attempts_have_their_own_budget(
    shop: Any, standin: Any, redis_conn: redis.Redis
) -> None:
    """20 refused attempts per 5 minutes (ORDER_REFUSED_LIMIT default): after that even a good order
    is 429 and nothing reaches the product API, so unknown ids cannot be sent upstream without bound."""
    caller, address_id = add_user()
    assert create(caller, address_id).status == 201  # a created order costs no attempt
    for attempt in range(20):
        unknown = [{"product_id": 5000 + attempt * 50 + n, "quantity": 1} for n in range(50)]
        assert create(caller, address_id, unknown).status == 422
    before = upstream_requests(standin)
    refused = create(caller, address_id, [{"product_id": 4999, "quantity": 1}])
    assert refused.status == 429
    assert refused.body["code"] == "order_attempts_rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert create(caller, address_id).status == 429  # a good order too, until the window frees
    assert upstream_requests(standin) == before
    # another user's budget is their own
    other, other_address = add_user(name="john")
    assert create(other, other_address).status == 201
    assert len(stored_orders()) == 2


def test_an_order_id_taken_by_another_order_is_still_refused_not_taken_for_ours(
    shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost-reply rule accepts a failed PutItem only when the stored order is exactly ours: a
    uuid4 collision with someone else's order stays 409 and overwrites nothing."""
    first, first_address = add_user()
    existing = create(first, first_address).body
    second, second_address = add_user(name="john")
    monkeypatch.setattr(orders_service.uuid, "uuid4", lambda: uuid.UUID(existing["id"]))
    refused = create(second, second_address)
    assert refused.status == 409
    assert refused.body["code"] == "order_exists"
    assert get(first, existing["id"]).body == existing
    assert len(stored_orders()) == 1

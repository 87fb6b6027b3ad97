"""The local stack as a client sees it: real HTTP against `shop dev` in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError

from shop_local.testing import ShopStack


def _order_event_body(email: str) -> str:
    """A valid `order.created` event, as the publisher puts it on the topic."""
    from shop_shared.models import Customer, Order, OrderEvent, OrderItem, ShippingAddress

    order_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    order = Order(
        id=order_id,
        order_number=f"ORD-2026-{uuid.uuid4().int % 10**6:06d}",
        user_id="u-1",
        status="pending",
        total_amount="59.98",
        payment_method="cash_on_delivery",
        shipping_address=ShippingAddress(
            id="a-1", street="1 Main St", city="Springfield", state="IL", postal_code="62701", country="US"
        ),
        items=[
            OrderItem(
                product_id=1, product_name="Widget", product_price="29.99", quantity=2, subtotal="59.98"
            )
        ],
        created_at=now.isoformat(),
        updated_at=now.isoformat(),
    )
    event = OrderEvent(
        event_id=f"order.created:{order_id}",
        event_type="order.created",
        occurred_at=now,
        order=order,
        customer=Customer(user_id="u-1", email=email, first_name="Ada", last_name="Lovelace"),
    )
    return event.model_dump_json()


# ---------------------------------------------------------------------------------------- the API


def test_a_public_route_answers_without_a_token(stack: ShopStack) -> None:
    response = stack.get("/products", params={"limit": 3})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    products = response.json()["products"]
    assert 1 <= len(products) <= 3
    assert {"id", "title", "price"} <= set(products[0])


def test_a_protected_route_without_a_token_is_401_json_from_the_gateway(stack: ShopStack) -> None:
    response = stack.get(f"/orders/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response.json()["message"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_protected_route_with_a_bad_token_is_401(stack: ShopStack) -> None:
    for token in ("not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJl"):
        response = stack.get(f"/orders/{uuid.uuid4()}", token=token)
        assert response.status_code == 401, token
        assert response.json()["message"]


def test_a_good_token_reaches_the_handler_with_the_caller(stack: ShopStack, user: dict[str, Any]) -> None:
    own = stack.get(f"/auth/user/{user['user']['id']}", token=user["token"])
    assert own.status_code == 200
    assert own.json()["username"] == user["username"]
    assert "password_hash" not in own.json()

    # The handler knows who is calling: someone else's profile is not theirs to read.
    other = stack.new_user()
    response = stack.get(f"/auth/user/{other['user']['id']}", token=user["token"])
    assert response.status_code == 403  # the contract: "that user or admin"; 404 is for orders only
    assert response.json()["message"]


def test_the_authorizer_answer_is_cached_per_token(stack: ShopStack, user: dict[str, Any]) -> None:
    """Counted by the authorizer's own metric (one AuthorizerAllowed per invocation that allowed)."""

    def allowed() -> float:
        return stack.metric_total("AuthorizerAllowed")

    path = f"/auth/user/{user['user']['id']}"
    stack.forget_authorizations()
    before = allowed()
    assert stack.get(path, token=user["token"]).status_code == 200
    stack.wait_until(lambda: allowed() >= before + 1)
    for _ in range(3):
        assert stack.get(path, token=user["token"]).status_code == 200
    # another token is another cache entry: one more invocation, after which the three cached
    # requests' would have been logged too (one authorizer environment, requests one by one)
    other = stack.new_user()
    assert stack.get(f"/auth/user/{other['user']['id']}", token=other["token"]).status_code == 200
    stack.wait_until(lambda: allowed() >= before + 2)
    assert allowed() == before + 2


def test_unknown_paths_are_404_json_and_wrong_methods_405(stack: ShopStack) -> None:
    missing = stack.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.json()["message"]

    wrong = stack.delete("/auth/login")
    assert wrong.status_code == 405
    assert wrong.json()["message"]
    assert "POST" in wrong.headers["Allow"]


def test_cors_preflight_is_answered_from_the_template(stack: ShopStack) -> None:
    response = stack.request(
        "OPTIONS",
        "/orders",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_dev_routes_describe_the_stack(stack: ShopStack) -> None:
    resources = stack.resources()
    assert resources["queues"]["OrderEmailQueue"]["url"].startswith(stack.aws_endpoint)
    assert resources["tables"]["OrdersTable"]["stream_arn"].startswith("arn:aws:dynamodb:")
    assert resources["topics"]["OrderEventsTopic"]["arn"].startswith("arn:aws:sns:")
    queues = stack.client("sqs").list_queues()["QueueUrls"]
    assert resources["queues"]["OrderEmailDLQ"]["url"] in queues

    spec = stack.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.")

    page = stack.get("/")
    assert page.status_code == 200
    assert "<html" in page.text.lower()


def test_the_admin_from_shop_admin_password_can_log_in(stack: ShopStack) -> None:
    token = stack.admin_token()
    response = stack.post("/auth/verify-token", token=token)
    assert response.status_code == 200
    assert response.json()["username"] == "admin"


# The e-mail chain (queue → EmailFunction → SES, a malformed message → DLQ, an order → stream →
# topic → queue → e-mail) is tested once, in test_notifications.py and test_orders_http.py.


# ---------------------------------------------------------------------------------------- faults


def test_injected_aws_faults_answer_503_until_cleared(stack: ShopStack, no_faults: ShopStack) -> None:
    # A client like the functions' (not the harness's fault-proof one).
    sns = boto3.session.Session().client(
        "sns",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    topic = stack.resources()["topics"]["OrderEventsTopic"]["arn"]
    stack.fail("sns", action="Publish", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as failure:
            sns.publish(TopicArn=topic, Message="{}")
        assert failure.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert sns.publish(TopicArn=topic, Message="{}")["MessageId"]  # `times` spent

    stack.fail("sns")
    with pytest.raises(ClientError):
        sns.list_topics()
    # the harness's own client is never faulted
    assert stack.client("sns").list_topics()["Topics"]
    stack.clear_faults()
    assert sns.list_topics()["Topics"]


def test_a_redis_fault_cuts_the_functions_off_redis(stack: ShopStack, no_faults: ShopStack) -> None:
    functions_redis = redis.Redis.from_url(stack.resources()["functions_redis_url"], socket_timeout=2)
    assert functions_redis.ping()
    stack.fail("redis")
    with pytest.raises(redis.ConnectionError):
        functions_redis.ping()
    stack.clear_faults()
    assert functions_redis.ping()
    functions_redis.close()


def test_a_product_api_fault_takes_the_stand_in_down_until_cleared(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    import requests

    assert requests.get(f"{stack.product_api_url}/products/1", timeout=5).status_code == 200
    stack.fail("products-api")
    assert requests.get(f"{stack.product_api_url}/products/1", timeout=5).status_code == 503
    faults = stack.get("/_dev/faults").json()["faults"]
    assert [fault["service"] for fault in faults] == ["products-api"]
    stack.clear_faults()
    assert requests.get(f"{stack.product_api_url}/products/1", timeout=5).status_code == 200


def test_a_bad_fault_request_is_a_400(stack: ShopStack) -> None:
    response = stack.post("/_dev/faults", json={"service": "nope"})
    assert response.status_code == 400
    assert response.json()["message"]
    response = stack.post("/_dev/faults", json={"service": "sns", "times": 0})
    assert response.status_code == 400


# ---------------------------------------------------------------------------------------- redis


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_redis_the_stack_falls_back_to_an_embedded_server_and_still_serves() -> None:
    nowhere = f"redis://127.0.0.1:{_closed_port()}/0"
    with ShopStack(redis_url=nowhere) as fallback:
        assert "fakeredis" in fallback.log_text()
        ready = [line for line in fallback.log_text().splitlines() if line.startswith("Shop running at")]
        assert "embedded" in ready[0]
        functions_redis = fallback.resources()["functions_redis_url"]
        assert redis.Redis.from_url(functions_redis).ping()
        assert fallback.get("/products/1").status_code == 200
        assert fallback.new_user()["token"]
        assert fallback.get("/no/such/thing").status_code == 404
    assert not fallback.running
    assert fallback.exit_code == 0  # SIGTERM stops it cleanly


# ---------------------------------------------------------------------------------------- outside emulator


@pytest.fixture
def outside_emulator() -> Iterator[str]:
    """A moto server in its own process, standing in for LocalStack at AWS_ENDPOINT_URL."""
    port = _closed_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ShopStack.wait_until(lambda: _answers(f"{url}/moto-api/data.json"), timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _stored_password_hash(on: ShopStack, user_id: str) -> str:
    table = on.resources()["tables"]["UsersTable"]["name"]
    key = {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "PROFILE"}}
    item = on.client("dynamodb").get_item(TableName=table, Key=key)["Item"]
    return str(item["password_hash"]["S"])


def test_the_functions_hash_passwords_as_on_aws_unless_the_stack_passes_the_test_profile(
    stack: ShopStack, redis_url: str
) -> None:
    # The session stack passes the suite's PASSWORD_HASH_PROFILE=CHEAPEST on to its functions ...
    cheap = stack.new_user(verified=False)
    assert _stored_password_hash(stack, cheap["user"]["id"]).startswith("$argon2id$v=19$m=8,t=1,p=1$")
    # ... and a stack started without it (as `make run` is) hashes with the profile AWS runs.
    with ShopStack(redis_url=redis_url, env={"PASSWORD_HASH_PROFILE": ""}) as as_deployed:
        real = as_deployed.new_user(verified=False)
        stored = _stored_password_hash(as_deployed, real["user"]["id"])
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert as_deployed.login(real["username"], real["password"])
    assert as_deployed.exit_code == 0


def test_with_aws_endpoint_url_the_stack_provisions_and_uses_that_emulator(
    outside_emulator: str, redis_url: str
) -> None:
    with ShopStack(redis_url=redis_url, env={"AWS_ENDPOINT_URL": outside_emulator}) as outside:
        resources = outside.resources()
        assert resources["aws_endpoint"] == outside_emulator
        assert resources["aws_embedded"] is False
        tables = outside.client("dynamodb").list_tables()["TableNames"]
        # named as the stack names them there (`shop-local-<LogicalId>`), not the bare logical ids
        expected = {f"shop-local-{name}" for name in ("UsersTable", "OrdersTable", "IdempotencyTable")}
        assert expected <= set(tables)
        assert outside.new_user()["token"]
        address = f"ada_{uuid.uuid4().hex[:8]}@example.com"
        outside.client("sqs").send_message(
            QueueUrl=outside.queue_url("OrderEmailQueue"), MessageBody=_order_event_body(address)
        )
        (mail,) = outside.wait_for_emails(lambda m: address in m["to"], timeout=20)
        assert mail["html"]
        # AWS faults need the embedded emulator: refused clearly
        refused = outside.post("/_dev/faults", json={"service": "sns"})
        assert refused.status_code == 400
    assert outside.exit_code == 0

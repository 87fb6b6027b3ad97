"""The sample data (`shop_local.samples`): what events/ refers to exists after a seed, once, and
the sample token is the seeded user's, valid with the seeded secret."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from sam_runner.template import ROOT, Template
from shop_local import samples
from shop_shared.tokens import decode_token

EVENTS = ROOT / "events"


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_the_samples_refer_to_the_seeded_ids() -> None:
    create = _event("orders-create.json")
    assert create["requestContext"]["authorizer"]["user_id"] == samples.USER_ID
    assert json.loads(create["body"])["shipping_address_id"] == samples.ADDRESS_ID
    assert _event("orders-get.json")["pathParameters"]["order_id"] == samples.ORDER_ID
    assert _event("orders-status.json")["pathParameters"]["order_id"] == samples.ORDER_ID
    login = json.loads(_event("auth-login.json")["body"])
    assert (login["username"], login["password"]) == (samples.USERNAME, samples.PASSWORD)


def test_the_sample_token_is_the_sample_users_and_valid_with_the_sample_secret() -> None:
    token = _event("authorizer-token.json")["authorizationToken"].removeprefix("Bearer ")
    assert token == samples.sample_token()
    claims = decode_token(token, samples.JWT_SECRET)
    assert (claims.user_id, claims.username, claims.role) == (samples.USER_ID, samples.USERNAME, "customer")


def _environment(template: Template) -> dict[str, str]:
    merged: dict[str, str] = {}
    for spec in template.functions().values():
        merged.update(spec.environment)
    return {**merged, "REDIS_URL": os.environ["REDIS_URL"]}


def test_seeding_twice_leaves_one_user_one_address_one_order(
    aws: Template, new_container: Callable[[], None]
) -> None:
    environment = _environment(aws)
    samples.seed(environment)
    samples.seed(environment)
    new_container()

    dynamodb = boto3.resource("dynamodb")
    users = dynamodb.Table(environment["USERS_TABLE"])
    items = users.query(KeyConditionExpression=Key("pk").eq(f"USER#{samples.USER_ID}"))["Items"]
    profile = next(item for item in items if item["sk"] == "PROFILE")
    assert profile["username"] == samples.USERNAME and profile["email_verified"] is True
    assert [item["id"] for item in items if str(item["sk"]).startswith("ADDRESS#")] == [samples.ADDRESS_ID]
    guards = users.scan()["Items"]
    mine = [item for item in guards if item["sk"] == "GUARD" and item.get("user_id") == samples.USER_ID]
    assert len(mine) == 2  # username, e-mail

    orders = dynamodb.Table(environment["ORDERS_TABLE"])
    order = orders.get_item(Key={"pk": f"ORDER#{samples.ORDER_ID}", "sk": "ORDER"})["Item"]
    assert (order["order_number"], order["status"]) == (samples.ORDER_NUMBER, "pending")
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=environment["JWT_SECRET_ARN"])
    assert secret["SecretString"] == samples.JWT_SECRET


def test_a_seed_puts_the_sample_order_back_to_pending_and_keeps_the_counter_past_it(
    aws: Template, new_container: Callable[[], None]
) -> None:
    environment = _environment(aws)
    samples.seed(environment)
    orders = boto3.resource("dynamodb").Table(environment["ORDERS_TABLE"])
    orders.update_item(
        Key={"pk": f"ORDER#{samples.ORDER_ID}", "sk": "ORDER"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "confirmed"},
    )
    samples.seed(environment)
    new_container()

    order = orders.get_item(Key={"pk": f"ORDER#{samples.ORDER_ID}", "sk": "ORDER"})["Item"]
    assert order["status"] == "pending"
    import orders_service

    assert orders_service.next_order_number(2026) == "ORD-2026-000043"


@pytest.mark.parametrize("name", ["auth-register.json"])
def test_a_user_registered_before_the_seed_is_kept(
    aws: Template, new_container: Callable[[], None], name: str
) -> None:
    """The seed never overwrites someone else's `jane_doe`; it says the samples will not match."""
    import auth_service
    from shop_shared.models import RegisterRequest

    environment = _environment(aws)
    os.environ.update(environment)
    new_container()
    body = json.loads(_event(name)["body"])
    other = auth_service.register(RegisterRequest(**body))
    samples.seed(environment)
    assert auth_service._user_id_for(samples.USERNAME) == other.id != samples.USER_ID

"""The TOKEN authorizer, called the way API Gateway calls it, against moto (users table and JWT
secret provisioned from template.yaml)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

import auth_authorizer
import auth_service
from shop_local.testing import lambda_context
from shop_shared.config import get_settings
from shop_shared.keys import user_key
from shop_shared.models import RegisterRequest
from shop_shared.tokens import issue_token, jwt_secret

EVENTS = Path(__file__).resolve().parents[2] / "events"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/auth/user/abc/addresses"


def authorize(authorization: str, method_arn: str = METHOD_ARN) -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": authorization, "methodArn": method_arn}
    result: dict[str, Any] = auth_authorizer.lambda_handler(event, lambda_context("AuthorizerFunction"))
    return result


def assert_denied(authorization: str) -> None:
    # API Gateway turns exactly this exception message into a 401.
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorization)


@pytest.fixture
def user(aws: object) -> dict[str, Any]:
    name = f"user_{uuid.uuid4().hex[:8]}"
    created = auth_service.register(
        RegisterRequest(
            username=name,
            email=f"{name}@example.com",
            first_name="Jane",
            last_name="Doe",
            password="correct-horse-battery",
        )
    )
    return created.model_dump()


def token_for(user: dict[str, Any], **overrides: Any) -> str:
    arguments = {
        "user_id": user["id"],
        "username": user["username"],
        "email": user["email"],
        "role": "customer",
        "secret": jwt_secret(),
        "ttl_seconds": 3600,
        **overrides,
    }
    token, _ = issue_token(**arguments)
    return token


def set_profile(user_id: str, **attributes: Any) -> None:
    names = {f"#{name}": name for name in attributes}
    values = {f":{name}": value for name, value in attributes.items()}
    boto3.resource("dynamodb").Table(get_settings().users_table).update_item(
        Key=user_key(user_id),
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def test_a_valid_token_is_allowed_on_the_whole_api(user: dict[str, Any]) -> None:
    result = authorize(f"Bearer {token_for(user)}")
    assert result["principalId"] == user["id"]
    (statement,) = result["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        # cached per token for every route, so it must not name only this one
        "Resource": "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*",
    }
    assert result["context"] == {
        "user_id": user["id"],
        "username": user["username"],
        "email": user["email"],
        "role": "customer",
        "email_verified": "false",
    }
    assert all(isinstance(value, str) for value in result["context"].values())


def test_the_role_comes_from_the_stored_user_not_the_token(user: dict[str, Any]) -> None:
    set_profile(user["id"], role="admin")
    assert authorize(f"Bearer {token_for(user)}")["context"]["role"] == "admin"
    set_profile(user["id"], role="customer")
    assert authorize(f"Bearer {token_for(user, role='admin')}")["context"]["role"] == "customer"


def test_bad_tokens_are_denied(user: dict[str, Any]) -> None:
    token = token_for(user)
    header, _, signature = token.split(".")
    forged_claims = {**jwt.decode(token, options={"verify_signature": False}), "role": "admin"}
    forged = jwt.encode(forged_claims, "x" * 40, algorithm="HS256").split(".")[1]
    unsigned = jwt.encode(forged_claims, "", algorithm="none")
    for authorization in (
        "",
        token,
        f"Basic {token}",
        "Bearer ",
        "Bearer not-a-jwt",
        f"Bearer {header}.{forged}.{signature}",
        f"Bearer {unsigned}",
        f"Bearer {token_for(user, secret='another-secret-of-at-least-32-chars')}",
        f"Bearer {token_for(user, now=1_000_000, ttl_seconds=60)}",
    ):
        assert_denied(authorization)


def test_unknown_and_deactivated_users_are_denied(user: dict[str, Any]) -> None:
    assert_denied(f"Bearer {token_for({**user, 'id': str(uuid.uuid4())})}")
    token = token_for(user)
    authorize(f"Bearer {token}")
    set_profile(user["id"], is_active=False)
    assert_denied(f"Bearer {token}")


def test_the_sample_event_is_handled(user: dict[str, Any]) -> None:
    event = json.loads((EVENTS / "authorizer-token.json").read_text())
    assert event["type"] == "TOKEN"
    assert event["authorizationToken"].startswith("Bearer ")
    with pytest.raises(Exception, match=r"^Unauthorized$"):  # its placeholder token is not signed
        auth_authorizer.lambda_handler(event, lambda_context("AuthorizerFunction"))
    event["authorizationToken"] = f"Bearer {token_for(user)}"
    result = auth_authorizer.lambda_handler(event, lambda_context("AuthorizerFunction"))
    assert result["principalId"] == user["id"]
    assert result["policyDocument"]["Statement"][0]["Resource"].endswith("a1b2c3d4e5/dev/*/*")


def test_api_wide_resource() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/POST/auth/user/u1/addresses"
    assert (
        auth_authorizer.api_wide_resource(arn) == "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*/*"
    )
    with pytest.raises(ValueError):
        auth_authorizer.api_wide_resource("not-an-arn")


def test_revoked_tokens_are_denied(user: dict[str, Any]) -> None:
    # A token of an older token version (a password change since), and one of an ended session.
    table = boto3.resource("dynamodb").Table(get_settings().users_table)
    old = token_for(user)
    table.update_item(
        Key=user_key(user["id"]),
        UpdateExpression="ADD token_version :one",
        ExpressionAttributeValues={":one": 1},
    )
    assert_denied(f"Bearer {old}")
    current, _ = issue_token(
        user_id=user["id"],
        username=user["username"],
        email=user["email"],
        role="customer",
        secret=jwt_secret(),
        ttl_seconds=900,
        sid="s1",
        ver=1,
    )
    assert authorize(f"Bearer {current}")["principalId"] == user["id"]
    table.update_item(
        Key=user_key(user["id"]),
        UpdateExpression="ADD ended_sessions :ended",
        ExpressionAttributeValues={":ended": {"s1:9999999999"}},
    )
    assert_denied(f"Bearer {current}")


def test_the_context_says_whether_the_email_is_verified(user: dict[str, Any]) -> None:
    table = boto3.resource("dynamodb").Table(get_settings().users_table)
    table.update_item(
        Key=user_key(user["id"]),
        UpdateExpression="SET email_verified = :true",
        ExpressionAttributeValues={":true": True},
    )
    assert authorize(f"Bearer {token_for(user)}")["context"]["email_verified"] == "true"

"""Every auth route, through `auth_api.lambda_handler` with API Gateway proxy events, against moto
(provisioned from template.yaml) and the real Redis. Callers of protected routes get their
request context from the real authorizer, as API Gateway would pass it on."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis

import auth_api
import auth_authorizer
from shop_local.admin import ensure_admin
from shop_local.testing import lambda_context, proxy_event
from shop_shared.config import get_settings
from shop_shared.keys import user_key
from shop_shared.tokens import decode_token, issue_token, jwt_secret

EVENTS = Path(__file__).resolve().parents[2] / "events"
PASSWORD = "correct-horse-battery"
USER_FIELDS = {
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "created_at",
    "role",
    "email_verified",
}
ADDRESS = {
    "street": "12 Harbour Road",
    "city": "Portsmouth",
    "state": "Hampshire",
    "postal_code": "PO1 3AX",
    "country": "GB",
}
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/auth/user/x"


class Reply:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw_body = raw["body"]
        self.status = raw["statusCode"]
        self.headers = {**(raw.get("headers") or {})}
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            self.headers.setdefault(name, values[0])
        self.json: Any = json.loads(raw["body"]) if raw["body"] else None


def invoke(event: dict[str, Any]) -> Reply:
    reply = Reply(auth_api.lambda_handler(event, lambda_context("AuthFunction")))
    # Whatever the route and outcome: no password, no hash, ever.
    assert not {"password", "password_hash"} & keys_of(reply.json)
    assert PASSWORD not in reply.raw_body
    assert "$argon2" not in reply.raw_body
    return reply


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys_of(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_of(item) for item in value))
    return set()


def call(method: str, path: str, **kwargs: Any) -> Reply:
    return invoke(proxy_event(method, path, **kwargs))


def authorizer_context(token: str) -> dict[str, Any]:
    """What API Gateway passes on after the real authorizer allowed this token."""
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
    answer = auth_authorizer.lambda_handler(event, lambda_context("AuthorizerFunction"))
    result: dict[str, Any] = answer["context"]
    return result


def unique(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def register(username: str | None = None, email: str | None = None, **extra: Any) -> dict[str, Any]:
    username = username or unique()
    body = {
        "username": username,
        "email": email or f"{username}@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "password": PASSWORD,
        **extra,
    }
    reply = call("POST", "/auth/register", body=body)
    assert reply.status == 201, reply.json
    return dict(reply.json)


def login(username: str, password: str = PASSWORD) -> Reply:
    return call("POST", "/auth/login", body={"username": username, "password": password})


def token_for(user: dict[str, Any]) -> str:
    """The token login would give this user (issued directly: no password hashing, faster)."""
    token, _ = issue_token(
        user_id=user["id"],
        username=user["username"],
        email=user["email"],
        role=user["role"],
        secret=jwt_secret(),
        ttl_seconds=3600,
    )
    return token


def as_caller(user: dict[str, Any]) -> dict[str, Any]:
    return authorizer_context(token_for(user))


def users_table() -> Any:
    return boto3.resource("dynamodb").Table(get_settings().users_table)


def deactivate(user_id: str) -> None:
    users_table().update_item(
        Key=user_key(user_id),
        UpdateExpression="SET is_active = :false",
        ExpressionAttributeValues={":false": False},
    )


@pytest.fixture
def stack(aws: object, redis_conn: redis.Redis) -> redis.Redis:
    """The functions' environment on moto, and the test's Redis database (emptied afterwards)."""
    return redis_conn


@pytest.fixture
def admin(stack: redis.Redis) -> dict[str, Any]:
    ensure_admin("admin", "admin-password-123", "admin@example.com")
    reply = login("admin", "admin-password-123")
    assert reply.status == 200
    context = authorizer_context(reply.json["access_token"])
    assert context["role"] == "admin"
    return context


# --- register ----------------------------------------------------------------------------------


def test_register_returns_the_user_and_stores_only_a_hash(stack: redis.Redis) -> None:
    username = unique("Jane.Doe")
    reply = call(
        "POST",
        "/auth/register",
        body={
            "username": username,
            "email": f"  {username}@Example.com ",
            "first_name": " Jane ",
            "last_name": "Doe",
            "password": PASSWORD,
        },
    )
    assert reply.status == 201
    user = reply.json
    assert set(user) == USER_FIELDS
    assert user["username"] == username
    assert user["email"] == f"{username}@Example.com"  # trimmed, spelling kept
    assert user["first_name"] == "Jane"
    assert user["is_active"] is True
    assert user["role"] == "customer"
    assert datetime.fromisoformat(user["created_at"]).utcoffset() is not None
    stored = users_table().get_item(Key=user_key(user["id"]))["Item"]
    assert stored["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(stored, default=str)


def test_a_client_cannot_register_itself_as_admin(stack: redis.Redis) -> None:
    user = register(role="admin", is_active=False, id="chosen-id")
    assert user["role"] == "customer"
    assert user["is_active"] is True
    assert user["id"] != "chosen-id"


def test_duplicate_username_in_any_case_is_409(stack: redis.Redis) -> None:
    username = unique("Mixed")
    register(username)
    for variant in (username, username.upper(), username.lower()):
        reply = call(
            "POST",
            "/auth/register",
            body={
                "username": variant,
                "email": f"other-{uuid.uuid4().hex[:6]}@example.com",
                "first_name": "A",
                "last_name": "B",
                "password": PASSWORD,
            },
        )
        assert reply.status == 409, variant
        assert reply.json["code"] == "username_taken"
        assert reply.json["message"]


def test_duplicate_email_in_any_case_is_409(stack: redis.Redis) -> None:
    email = f"{uuid.uuid4().hex[:8]}@Example.COM"
    register(email=email)
    for variant in (email.lower(), email.upper()):
        reply = call(
            "POST",
            "/auth/register",
            body={
                "username": unique(),
                "email": variant,
                "first_name": "A",
                "last_name": "B",
                "password": PASSWORD,
            },
        )
        assert reply.status == 409
        assert reply.json["code"] == "email_taken"


def test_emails_are_compared_as_whole_addresses(stack: redis.Redis) -> None:
    base = uuid.uuid4().hex[:8]
    register(email=f"{base}@example.com")
    register(email=f"{base}@example.co")  # a prefix of the other address: a different address
    register(email=f"x{base}@example.com")


def test_a_refused_registration_writes_nothing(stack: redis.Redis) -> None:
    taken = register()
    free_email = f"{uuid.uuid4().hex[:8]}@example.com"
    reply = call(
        "POST",
        "/auth/register",
        body={
            "username": taken["username"],
            "email": free_email,
            "first_name": "A",
            "last_name": "B",
            "password": PASSWORD,
        },
    )
    assert reply.status == 409
    # The e-mail of the refused attempt was not reserved.
    assert register(email=free_email)["email"] == free_email


def test_register_rejects_bad_input_with_422(stack: redis.Redis) -> None:
    for field, value in (
        ("email", "not-an-email"),
        ("email", "jane@@example.com"),
        ("email", "jane@example"),
        ("email", "jane doe@example.com"),
        ("username", "ab"),
        ("username", "x" * 33),
        ("username", "jane doe"),
        ("username", "jane!"),
        ("password", "short7!"),
        ("password", "x" * 129),
        ("first_name", ""),
        ("last_name", None),
    ):
        body = {
            "username": unique(),
            "email": "valid@example.com",
            "first_name": "Jane",
            "last_name": "Doe",
            "password": PASSWORD,
            field: value,
        }
        reply = call("POST", "/auth/register", body=body)
        assert reply.status == 422, (field, value)
        assert reply.json["code"] == "validation_error"
        assert field in reply.json["message"]


def test_register_with_missing_fields_or_bad_json(stack: redis.Redis) -> None:
    assert call("POST", "/auth/register", body={"username": unique()}).status == 422
    assert call("POST", "/auth/register", body=None).status == 422
    reply = call("POST", "/auth/register", body='{"username": ')
    assert reply.status == 400
    assert reply.json["message"]


def test_passwords_of_128_characters_are_accepted(stack: redis.Redis) -> None:
    longest = ("correct-horse-battery-" * 6)[:128]  # not one character repeated: that is weak
    user = register(password=longest)
    assert login(user["username"], longest).status == 200


# --- login -------------------------------------------------------------------------------------


def test_login_returns_a_bearer_token_with_the_users_claims(stack: redis.Redis) -> None:
    user = register()
    reply = login(user["username"])
    assert reply.status == 200
    assert set(reply.json) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert reply.json["token_type"] == "bearer"
    assert reply.json["expires_in"] == 900  # 15 minutes: the session lives on in the refresh token
    claims = decode_token(reply.json["access_token"], jwt_secret())
    assert (claims.user_id, claims.username, claims.email, claims.role) == (
        user["id"],
        user["username"],
        user["email"],
        "customer",
    )
    assert claims.exp - claims.iat == 900


def test_login_ignores_the_case_of_the_username(stack: redis.Redis) -> None:
    user = register(unique("CamelCase"))
    assert login(user["username"].upper()).status == 200


def test_wrong_password_and_unknown_user_get_the_same_401(stack: redis.Redis) -> None:
    user = register()
    wrong_password = login(user["username"], "wrong-password")
    unknown_user = login(unique("nobody"), PASSWORD)
    assert wrong_password.status == unknown_user.status == 401
    assert wrong_password.json == unknown_user.json
    assert wrong_password.json["code"] == "invalid_credentials"


def test_a_deactivated_user_cannot_log_in(stack: redis.Redis) -> None:
    user = register()
    deactivate(user["id"])
    reply = login(user["username"])
    assert reply.status == 401
    assert reply.json == login(unique("nobody")).json


def test_login_validates_its_body(stack: redis.Redis) -> None:
    assert call("POST", "/auth/login", body={"username": "someone"}).status == 422
    assert call("POST", "/auth/login", body={"username": "", "password": "x"}).status == 422


def test_five_failures_lock_the_username_for_the_window(stack: redis.Redis) -> None:
    user = register()
    bystander = register()
    for _ in range(5):
        assert login(user["username"], "wrong-password").status == 401
    locked = login(user["username"])  # even the right password now
    assert locked.status == 429
    assert locked.json["code"] == "too_many_login_attempts"
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 900
    assert login(user["username"].upper()).status == 429  # same username, other spelling
    assert login(bystander["username"]).status == 200  # per username, not global
    # The lock ends with the window.
    stack.delete(*stack.keys(f"login:{{{user['username'].lower()}}}:*"))
    assert login(user["username"]).status == 200


def test_a_successful_login_resets_the_failure_count(stack: redis.Redis) -> None:
    user = register()
    assert login(user["username"]).status == 200  # a success is no failure
    for _ in range(2):
        for _ in range(4):
            assert login(user["username"], "wrong-password").status == 401
        assert login(user["username"]).status == 200
    for _ in range(5):
        assert login(user["username"], "wrong-password").status == 401
    assert login(user["username"]).status == 429


def test_unknown_usernames_are_limited_too(stack: redis.Redis) -> None:
    name = unique("ghost")
    for _ in range(5):
        assert login(name, "guess").status == 401
    assert login(name, "guess").status == 429


def test_login_is_refused_while_redis_is_unreachable(
    stack: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The throttle fails closed: unlimited guessing during a Redis outage would be a brute-force
    window (docs/deploying.md). A clear 503 with Retry-After, never a 500 or a token."""
    from shop_shared.redis_client import get_redis

    user = register()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    get_redis.cache_clear()
    try:
        for password in ("wrong-password", None):
            reply = login(user["username"], password) if password else login(user["username"])
            assert reply.status == 503
            assert reply.json["code"] == "login_unavailable"
            assert reply.headers["Retry-After"] == "30"
    finally:
        get_settings.cache_clear()
        get_redis.cache_clear()


def test_login_works_when_deployed_without_redis(stack: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """RedisUrl=none is an explicit choice at deploy time: no throttle, logins work."""
    from shop_shared.redis_client import get_redis

    user = register()
    monkeypatch.setenv("REDIS_URL", "none")
    get_settings.cache_clear()
    get_redis.cache_clear()
    try:
        assert login(user["username"], "wrong-password").status == 401
        assert login(user["username"]).status == 200
    finally:
        get_settings.cache_clear()
        get_redis.cache_clear()


# --- verify-token ------------------------------------------------------------------------------


def verify(authorization: str | None) -> Reply:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return call("POST", "/auth/verify-token", headers=headers)


def test_verify_token_returns_the_tokens_user(stack: redis.Redis) -> None:
    user = register()
    reply = verify(f"Bearer {token_for(user)}")
    assert reply.status == 200
    assert reply.json["user_id"] == user["id"]
    assert {key: reply.json[key] for key in USER_FIELDS} == user


def test_verify_token_accepts_a_lowercase_header_and_scheme(stack: redis.Redis) -> None:
    user = register()
    reply = call("POST", "/auth/verify-token", headers={"authorization": f"bearer {token_for(user)}"})
    assert reply.status == 200


def test_verify_token_refuses_bad_tokens(stack: redis.Redis) -> None:
    user = register()
    token = token_for(user)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    expired, _ = issue_token(
        user_id=user["id"],
        username=user["username"],
        email=user["email"],
        role="customer",
        secret=jwt_secret(),
        ttl_seconds=60,
        now=1_000_000,
    )
    wrong_secret, _ = issue_token(
        user_id=user["id"],
        username=user["username"],
        email=user["email"],
        role="admin",
        secret="another-secret-of-at-least-32-characters",
        ttl_seconds=60,
    )
    unknown_user, _ = issue_token(
        user_id=str(uuid.uuid4()),
        username="ghost",
        email="ghost@example.com",
        role="customer",
        secret=jwt_secret(),
        ttl_seconds=60,
    )
    for authorization in (
        None,
        "",
        token,  # no scheme
        f"Basic {token}",
        f"Bearer {header}.{forged}.{signature}",
        f"Bearer {header}.{payload}.",
        f"Bearer {expired}",
        f"Bearer {wrong_secret}",
        f"Bearer {unknown_user}",
    ):
        reply = verify(authorization)
        assert reply.status == 401, authorization
        assert reply.json["message"]
    assert verify(f"Bearer {expired}").json["code"] == "token_expired"


def test_verify_token_refuses_a_deactivated_users_token(stack: redis.Redis) -> None:
    user = register()
    token = token_for(user)
    deactivate(user["id"])
    assert verify(f"Bearer {token}").status == 401


# --- users -------------------------------------------------------------------------------------


def test_a_user_reads_themself(stack: redis.Redis) -> None:
    user = register()
    reply = call("GET", f"/auth/user/{user['id']}", authorizer=as_caller(user))
    assert reply.status == 200
    assert reply.json == user


def test_a_customer_cannot_read_another_user(stack: redis.Redis) -> None:
    alice, bob = register(), register()
    reply = call("GET", f"/auth/user/{bob['id']}", authorizer=as_caller(alice))
    assert reply.status == 403
    assert reply.json["code"] == "forbidden"
    unknown = call("GET", f"/auth/user/{uuid.uuid4()}", authorizer=as_caller(alice))
    assert unknown.status == 403  # nothing learnt about which ids exist


def test_an_admin_reads_any_user_and_gets_404_for_unknown_ones(
    stack: redis.Redis, admin: dict[str, Any]
) -> None:
    user = register()
    reply = call("GET", f"/auth/user/{user['id']}", authorizer=admin)
    assert reply.status == 200
    assert reply.json == user
    missing = call("GET", f"/auth/user/{uuid.uuid4()}", authorizer=admin)
    assert missing.status == 404
    assert missing.json["code"] == "user_not_found"


def test_protected_routes_without_an_authorizer_context_are_401(stack: redis.Redis) -> None:
    user = register()
    for method, path in (
        ("GET", f"/auth/user/{user['id']}"),
        ("GET", f"/auth/user/{user['id']}/addresses"),
        ("POST", f"/auth/user/{user['id']}/addresses"),
    ):
        reply = call(method, path, body=ADDRESS if method == "POST" else None)
        assert reply.status == 401, path


def test_unknown_routes_are_404(stack: redis.Redis) -> None:
    reply = call("GET", "/auth/nothing-here")
    assert reply.status == 404
    assert reply.json["message"]


# --- addresses ---------------------------------------------------------------------------------


def add_address(user_id: str, caller: dict[str, Any], **fields: Any) -> Reply:
    return call("POST", f"/auth/user/{user_id}/addresses", body={**ADDRESS, **fields}, authorizer=caller)


def list_addresses(user_id: str, caller: dict[str, Any]) -> Reply:
    return call("GET", f"/auth/user/{user_id}/addresses", authorizer=caller)


def test_a_new_user_has_no_addresses(stack: redis.Redis) -> None:
    user = register()
    reply = list_addresses(user["id"], as_caller(user))
    assert reply.status == 200
    assert reply.json == {"addresses": []}


def test_add_address_returns_it_and_the_first_is_the_default(stack: redis.Redis) -> None:
    user = register()
    caller = as_caller(user)
    reply = add_address(user["id"], caller, street="  1 First Street ", price=5)
    assert reply.status == 201
    first = reply.json
    assert set(first) == {"id", "street", "city", "state", "postal_code", "country", "is_default"}
    assert first["street"] == "1 First Street"
    assert first["is_default"] is True  # the first address, although not asked for
    second = add_address(user["id"], caller, street="2 Second Street").json
    assert second["is_default"] is False
    listed = list_addresses(user["id"], caller).json["addresses"]
    assert listed == [first, second]


def test_a_new_default_unsets_the_old_one(stack: redis.Redis) -> None:
    user = register()
    caller = as_caller(user)
    first = add_address(user["id"], caller, street="1 First Street").json
    second = add_address(user["id"], caller, street="2 Second Street", is_default=True).json
    assert second["is_default"] is True
    third = add_address(user["id"], caller, street="3 Third Street").json
    fourth = add_address(user["id"], caller, street="4 Fourth Street", is_default=True).json
    listed = {
        address["id"]: address["is_default"]
        for address in list_addresses(user["id"], caller).json["addresses"]
    }
    assert listed == {first["id"]: False, second["id"]: False, third["id"]: False, fourth["id"]: True}


def test_addresses_are_private(stack: redis.Redis, admin: dict[str, Any]) -> None:
    alice, bob = register(), register()
    add_address(alice["id"], as_caller(alice))
    bob_caller = as_caller(bob)
    assert list_addresses(alice["id"], bob_caller).status == 403
    refused = add_address(alice["id"], bob_caller)
    assert refused.status == 403
    assert refused.json["code"] == "forbidden"
    # An admin reads them but does not add to someone else's address book.
    listed = list_addresses(alice["id"], admin)
    assert listed.status == 200
    assert len(listed.json["addresses"]) == 1
    assert add_address(alice["id"], admin).status == 403
    assert list_addresses(alice["id"], as_caller(alice)).json == listed.json


def test_an_admin_listing_an_unknown_users_addresses_gets_404(
    stack: redis.Redis, admin: dict[str, Any]
) -> None:
    assert list_addresses(str(uuid.uuid4()), admin).status == 404


def test_add_address_rejects_bad_input_with_422(stack: redis.Redis) -> None:
    user = register()
    caller = as_caller(user)
    for fields in (
        {"street": ""},
        {"street": "x" * 201},
        {"city": "   "},
        {"postal_code": "1" * 21},
        {"country": None},
        {"is_default": "sometimes"},
    ):
        reply = add_address(user["id"], caller, **fields)
        assert reply.status == 422, fields
        assert reply.json["code"] == "validation_error"
    assert list_addresses(user["id"], caller).json == {"addresses": []}


# --- the sample events in events/ --------------------------------------------------------------


def sample_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def for_user(event: dict[str, Any], user: dict[str, Any], token: str) -> dict[str, Any]:
    """A sample event as this user would send it (their id in the path, their token)."""
    sample_id = event["pathParameters"]["user_id"]
    event = json.loads(json.dumps(event).replace(sample_id, user["id"]))
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["requestContext"]["authorizer"] = {"principalId": user["id"], **authorizer_context(token)}
    return event


def test_every_sample_event_is_handled(stack: redis.Redis) -> None:
    registered = invoke(sample_event("auth-register.json"))
    assert registered.status == 201
    user = registered.json
    logged_in = invoke(sample_event("auth-login.json"))
    assert logged_in.status == 200
    token = logged_in.json["access_token"]

    verify_event = sample_event("auth-verify-token.json")
    verify_event["headers"]["Authorization"] = f"Bearer {token}"
    assert invoke(verify_event).json["user_id"] == user["id"]

    assert invoke(for_user(sample_event("auth-get-user.json"), user, token)).json == user
    added = invoke(for_user(sample_event("auth-add-address.json"), user, token))
    assert added.status == 201
    listed = invoke(for_user(sample_event("auth-list-addresses.json"), user, token))
    assert listed.json == {"addresses": [added.json]}


def test_sample_events_are_realistic_rest_proxy_events() -> None:
    names = sorted(path.name for path in EVENTS.glob("auth-*.json"))
    assert names == [
        "auth-add-address.json",
        "auth-get-user.json",
        "auth-list-addresses.json",
        "auth-login.json",
        "auth-register.json",
        "auth-verify-token.json",
    ]
    for name in names:
        event = sample_event(name)
        assert event["requestContext"]["stage"] and event["requestContext"]["requestId"]
        assert event["path"].startswith("/auth/")
        if event["resource"].startswith("/auth/user/"):
            context = event["requestContext"]["authorizer"]
            assert {"principalId", "user_id", "username", "email", "role"} <= set(context)


def test_redis_keys_of_the_limiter_expire(stack: redis.Redis) -> None:
    name = unique("ttl")
    login(name, "guess")
    keys = stack.keys(f"login:{{{name.lower()}}}:*")
    assert len(keys) == 2  # this address's attempts, and the username's failures
    for key in keys:
        assert 0 < stack.ttl(key) <= 900


def login_from(address: str, username: str, password: str = PASSWORD) -> Reply:
    event = proxy_event("POST", "/auth/login", body={"username": username, "password": password})
    event["requestContext"]["identity"]["sourceIp"] = address
    return invoke(event)


def test_failures_from_one_address_lock_that_address_only(stack: redis.Redis) -> None:
    user = register()
    for _ in range(5):
        assert login_from("203.0.113.7", user["username"], "wrong-password").status == 401
    locked = login_from("203.0.113.7", user["username"])
    assert locked.status == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    # the real user, elsewhere, still logs in: an attacker cannot lock the account out
    assert login_from("198.51.100.20", user["username"]).status == 200
    assert login_from("203.0.113.7", user["username"]).status == 429


def test_attempts_refused_at_one_address_do_not_use_up_the_usernames_ceiling(stack: redis.Redis) -> None:
    user = register()
    for _ in range(60):  # hammering from one address: only its first 5 reach the password check
        assert login_from("203.0.113.8", user["username"], "wrong-password").status in (401, 429)
    assert login_from("198.51.100.21", user["username"]).status == 200


def test_the_username_ceiling_is_at_least_50_failures_by_default(stack: redis.Redis) -> None:
    assert get_settings().login_max_failures_per_username >= 50  # the contract's floor


def test_the_username_has_a_ceiling_over_all_addresses(
    stack: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGIN_MAX_FAILURES_PER_USERNAME", "12")  # the default (100) costs 100 hashes
    get_settings.cache_clear()
    try:
        user = register()
        for attempt in range(12):
            address = f"10.0.{attempt // 4}.1"  # 4 failures each: no address is limited itself
            assert login_from(address, user["username"], "wrong-password").status == 401
        refused = login_from("198.51.100.22", user["username"])
        assert refused.status == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 900
    finally:
        get_settings.cache_clear()

"""The auth routes over real HTTP through the local gateway (`stack`): its TOKEN authorizer,
proxy events and gateway responses, the functions in-process, moto and the real Redis."""

from __future__ import annotations

import uuid
from typing import Any

from shop_local.testing import ShopStack

ADDRESS = {
    "street": "1 Main Street",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "country": "US",
}


def registration(**fields: Any) -> dict[str, Any]:
    name = f"http_{uuid.uuid4().hex[:10]}"
    return {
        "username": name,
        "email": f"{name}@example.com",
        "first_name": "Http",
        "last_name": "User",
        "password": "correct-horse-battery",
        **fields,
    }


def test_register_login_and_read_yourself(stack: ShopStack) -> None:
    body = registration()
    created = stack.post("/auth/register", json=body)
    assert created.status_code == 201
    assert created.headers["Content-Type"].startswith("application/json")
    user = created.json()
    assert set(user) >= {"id", "username", "email", "first_name", "last_name", "is_active", "created_at"}
    assert "password" not in created.text

    login = stack.post("/auth/login", json={"username": body["username"], "password": body["password"]})
    assert login.status_code == 200
    assert login.json()["token_type"] == "bearer"
    token = login.json()["access_token"]

    me = stack.get(f"/auth/user/{user['id']}", token=token)
    assert me.status_code == 200
    assert me.json() == user
    verified = stack.post("/auth/verify-token", token=token)
    assert verified.status_code == 200
    assert verified.json()["user_id"] == user["id"]


def test_duplicates_and_bad_input(stack: ShopStack) -> None:
    body = registration()
    assert stack.post("/auth/register", json=body).status_code == 201
    again = stack.post("/auth/register", json={**body, "email": f"x{body['email']}"})
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"
    same_email = stack.post("/auth/register", json=registration(email=body["email"].upper()))
    assert same_email.status_code == 409
    assert same_email.json()["code"] == "email_taken"
    invalid = stack.post("/auth/register", json=registration(email="not-an-email"))
    assert invalid.status_code == 422
    assert invalid.json()["message"]


def test_protected_routes_need_a_valid_token(stack: ShopStack, user: dict[str, Any]) -> None:
    path = f"/auth/user/{user['user']['id']}"
    missing = stack.get(path)
    assert missing.status_code == 401
    assert missing.json()["message"]
    for token in ("not-a-jwt", user["token"][:-3] + "abc"):
        refused = stack.get(path, token=token)
        assert refused.status_code == 401
        assert refused.json()["message"]
    assert stack.post("/auth/verify-token", token="not-a-jwt").status_code == 401
    assert stack.post("/auth/verify-token").status_code == 401


def test_other_users_data_is_forbidden_but_an_admin_reads_it(stack: ShopStack) -> None:
    alice, bob = stack.new_user(), stack.new_user()
    alice_id = alice["user"]["id"]
    added = stack.post(f"/auth/user/{alice_id}/addresses", token=alice["token"], json=ADDRESS)
    assert added.status_code == 201
    assert added.json()["is_default"] is True

    assert stack.get(f"/auth/user/{alice_id}", token=bob["token"]).status_code == 403
    assert stack.get(f"/auth/user/{alice_id}/addresses", token=bob["token"]).status_code == 403
    assert stack.post(f"/auth/user/{alice_id}/addresses", token=bob["token"], json=ADDRESS).status_code == 403

    admin = stack.admin_token()
    read = stack.get(f"/auth/user/{alice_id}", token=admin)
    assert read.status_code == 200
    assert read.json()["username"] == alice["username"]
    listed = stack.get(f"/auth/user/{alice_id}/addresses", token=admin)
    assert listed.status_code == 200
    assert listed.json() == {"addresses": [added.json()]}
    assert stack.get(f"/auth/user/{uuid.uuid4()}", token=admin).status_code == 404


def test_repeated_failed_logins_are_rate_limited(stack: ShopStack, user: dict[str, Any]) -> None:
    for _ in range(5):
        failed = stack.post("/auth/login", json={"username": user["username"], "password": "wrong-password"})
        assert failed.status_code == 401
    limited = stack.post("/auth/login", json={"username": user["username"], "password": user["password"]})
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    # a token issued before keeps working: the limit is on logins, not on the account
    assert stack.get(f"/auth/user/{user['user']['id']}", token=user["token"]).status_code == 200


def login_from(stack: ShopStack, source: str, username: str, password: str) -> tuple[int, dict[str, str]]:
    """POST /auth/login from another loopback address (the gateway's `sourceIp`)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(stack.url)
    connection = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=30, source_address=(source, 0)
    )
    try:
        body = json.dumps({"username": username, "password": password})
        connection.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def test_failed_logins_from_one_address_do_not_lock_out_the_user_elsewhere(
    stack: ShopStack, user: dict[str, Any]
) -> None:
    for _ in range(5):
        status, _ = login_from(stack, "127.0.0.2", user["username"], "wrong-password")
        assert status == 401
    status, headers = login_from(stack, "127.0.0.2", user["username"], user["password"])
    assert status == 429
    assert 0 < int(headers["Retry-After"]) <= 900
    status, _ = login_from(stack, "127.0.0.3", user["username"], user["password"])
    assert status == 200


def test_weak_passwords_are_refused_with_weak_password(stack: ShopStack) -> None:
    body = registration()
    local_part = body["email"].split("@")[0]
    for password in ("        ", "12345678", "password", body["username"], local_part.upper()):
        refused = stack.post("/auth/register", json={**body, "password": password})
        assert refused.status_code == 422, password
        assert refused.json()["code"] == "weak_password"
        assert body["username"] not in refused.text  # the message never echoes the password
    assert stack.post("/auth/register", json=body).status_code == 201  # nothing was reserved

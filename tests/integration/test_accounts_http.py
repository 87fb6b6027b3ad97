"""Accounts and sessions (DESIGN "Accounts and sessions") over HTTP through the local stack:
sessions with rotating refresh tokens, logout, revocation, password change and reset, e-mail
verification gating orders."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from shop_local.testing import DEFAULT_ADDRESS as ADDRESS_BODY
from shop_local.testing import ShopStack

ITEMS = [{"product_id": 1, "quantity": 1}]


def refresh(stack: ShopStack, refresh_token: str) -> Any:
    return stack.post("/auth/refresh", json={"refresh_token": refresh_token})


def verify(stack: ShopStack, token: str) -> int:
    return stack.post("/auth/verify-token", token=token).status_code


# --- sessions ----------------------------------------------------------------------------------


def test_login_gives_a_short_access_token_and_a_refresh_token(stack: ShopStack, user: dict[str, Any]) -> None:
    tokens = stack.login_tokens(user["username"], user["password"])
    assert set(tokens) >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    assert tokens["refresh_token"] != tokens["access_token"]


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    stack: ShopStack, user: dict[str, Any]
) -> None:
    first = user["refresh_token"]
    rotated = refresh(stack, first)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["refresh_token"] != first
    assert verify(stack, body["access_token"]) == 200

    reused = refresh(stack, first)  # the used one again: someone else holds this session's tokens
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    # ... so the whole session ended, the legitimate holder's newest token too
    assert refresh(stack, body["refresh_token"]).status_code == 401
    assert verify(stack, body["access_token"]) == 401


def test_garbage_refresh_tokens_are_401(stack: ShopStack) -> None:
    for token in ("nope", "a.b.c", f"{uuid.uuid4()}.{uuid.uuid4().hex}.secret"):
        refused = refresh(stack, token)
        assert refused.status_code == 401
        assert refused.json()["message"]


def test_logout_ends_that_session_only(stack: ShopStack, user: dict[str, Any]) -> None:
    other = stack.login_tokens(user["username"], user["password"])  # another device
    out = stack.post("/auth/logout", token=user["token"], json={"refresh_token": user["refresh_token"]})
    assert out.status_code == 204
    assert refresh(stack, user["refresh_token"]).status_code == 401
    assert verify(stack, user["token"]) == 401  # its access token is refused at once
    assert refresh(stack, other["refresh_token"]).status_code == 200


def test_logout_needs_the_callers_own_refresh_token(stack: ShopStack, user: dict[str, Any]) -> None:
    mallory = stack.new_user(verified=False)
    refused = stack.post(
        "/auth/logout", token=mallory["token"], json={"refresh_token": user["refresh_token"]}
    )
    assert refused.status_code == 401
    assert refresh(stack, user["refresh_token"]).status_code == 200
    assert stack.post("/auth/logout", json={"refresh_token": user["refresh_token"]}).status_code == 401


def test_sessions_are_stored_in_dynamodb_with_a_ttl_and_the_refresh_token_hashed(
    stack: ShopStack, user: dict[str, Any]
) -> None:
    table = stack.resources()["tables"]["UsersTable"]
    table_name = table["name"] if isinstance(table, dict) else table
    ddb = stack.client("dynamodb")
    items = ddb.query(
        TableName=table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user['user']['id']}"}, ":s": {"S": "SESSION#"}},
    )["Items"]
    assert len(items) == 1
    assert 0 < int(items[0]["expires_at"]["N"]) - time.time() <= 24 * 3600
    assert user["refresh_token"].rsplit(".", 1)[1] not in str(items[0])
    ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


# --- password change ---------------------------------------------------------------------------


def test_password_change_ends_every_session_and_old_access_tokens(stack: ShopStack) -> None:
    who = stack.new_user()
    other = stack.login_tokens(who["username"], who["password"])
    path = f"/auth/user/{who['user']['id']}/password"

    wrong = stack.put(
        path, token=who["token"], json={"current_password": "not-it-at-all", "new_password": "x" * 12}
    )
    assert wrong.status_code == 403
    weak = stack.put(
        path, token=who["token"], json={"current_password": who["password"], "new_password": "password"}
    )
    assert weak.status_code == 422
    assert weak.json()["code"] == "weak_password"

    new_password = f"brand-new-{uuid.uuid4().hex[:6]}"
    changed = stack.put(
        path, token=who["token"], json={"current_password": who["password"], "new_password": new_password}
    )
    assert changed.status_code == 204
    assert verify(stack, other["access_token"]) == 401  # at once, another session's token too
    assert verify(stack, who["token"]) == 401
    assert refresh(stack, other["refresh_token"]).status_code == 401
    assert refresh(stack, who["refresh_token"]).status_code == 401
    stack.forget_authorizations()  # the gateway's cache (at most 60 s) aside, the gateway refuses too
    assert stack.get(f"/auth/user/{who['user']['id']}", token=who["token"]).status_code == 401

    assert (
        stack.post("/auth/login", json={"username": who["username"], "password": who["password"]}).status_code
        == 401
    )
    assert verify(stack, stack.login(who["username"], new_password)) == 200


def test_only_the_user_changes_their_password(stack: ShopStack, user: dict[str, Any]) -> None:
    other = stack.new_user(verified=False)
    refused = stack.put(
        f"/auth/user/{user['user']['id']}/password",
        token=other["token"],
        json={"current_password": user["password"], "new_password": "another-long-one"},
    )
    assert refused.status_code == 403


# --- password reset ----------------------------------------------------------------------------


def reset_mails(stack: ShopStack, email: str) -> list[dict[str, Any]]:
    return [m for m in stack.emails() if email in m["to"] and "Reset your password" in m["subject"]]


def test_password_reset_answers_the_same_whether_or_not_the_account_exists(
    stack: ShopStack, user: dict[str, Any]
) -> None:
    timings = {}
    answers = {}
    for label, email in (("known", user["email"]), ("unknown", f"nobody_{uuid.uuid4().hex[:8]}@example.com")):
        started = time.monotonic()
        response = stack.post("/auth/password-reset", json={"email": email})
        timings[label] = time.monotonic() - started
        answers[label] = (response.status_code, response.text)
    assert answers["known"] == answers["unknown"]
    assert answers["known"][0] == 202
    assert abs(timings["known"] - timings["unknown"]) < 0.3  # both wait for the same floor
    stack.wait_for_emails(lambda m: user["email"] in m["to"] and "Reset your password" in m["subject"])


def test_password_reset_works_once_and_ends_every_session(stack: ShopStack) -> None:
    who = stack.new_user()
    assert stack.post("/auth/password-reset", json={"email": who["email"].upper()}).status_code == 202
    token = stack.mailed_token(who["email"], "Reset your password")

    weak = stack.post("/auth/password-reset/confirm", json={"token": token, "new_password": who["username"]})
    assert weak.status_code == 422
    assert weak.json()["code"] == "weak_password"
    new_password = f"reset-{uuid.uuid4().hex[:8]}"
    done = stack.post("/auth/password-reset/confirm", json={"token": token, "new_password": new_password})
    assert done.status_code == 204  # the weak attempt did not use the token up
    again = stack.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": new_password + "x"}
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"

    assert verify(stack, who["token"]) == 401
    assert refresh(stack, who["refresh_token"]).status_code == 401
    assert verify(stack, stack.login(who["username"], new_password)) == 200


def test_a_bad_reset_token_is_400(stack: ShopStack) -> None:
    bad = stack.post(
        "/auth/password-reset/confirm", json={"token": "made-up", "new_password": "a-good-long-one"}
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_token"


# --- e-mail verification -----------------------------------------------------------------------


def test_an_unverified_user_cannot_order_until_verified(stack: ShopStack) -> None:
    who = stack.new_user(verified=False)
    assert who["user"]["email_verified"] is False
    who["address_id"] = stack.add_address(who)["id"]
    refused = stack.place_order(who, ITEMS)
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"

    token = stack.mailed_token(who["email"], "Verify your e-mail")
    verified = stack.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    assert verified.json()["id"] == who["user"]["id"]
    assert stack.post("/auth/verify-email", json={"token": token}).status_code == 400  # single use

    # A refreshed token is a new one at the gateway: the user orders at once.
    who["token"] = refresh(stack, who["refresh_token"]).json()["access_token"]
    assert stack.place_order(who, ITEMS).status_code == 201


def test_the_mailed_link_opens_this_stacks_storefront(stack: ShopStack) -> None:
    """The stack passes its own URL as the template's StorefrontUrl: the link opens the page that
    confirms the address, whatever port the stack runs on."""
    who = stack.new_user(verified=False)
    (mail,) = stack.wait_for_emails(lambda m: who["email"] in m["to"] and "Verify" in m["subject"])
    links = re.findall(r"https?://\S+?token=[A-Za-z0-9_-]+", str(mail["text"]))
    assert links and all(link.startswith(f"{stack.url}/#/verify-email?token=") for link in links)
    page = stack.get(links[0].split("#", 1)[0].removeprefix(stack.url))  # the route is client-side
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]


def test_resend_sends_a_new_link_and_is_rate_limited(stack: ShopStack) -> None:
    who = stack.new_user(verified=False)
    for _ in range(3):
        assert stack.post("/auth/verify-email/resend", token=who["token"]).status_code == 202
    stack.wait_for_emails(lambda m: who["email"] in m["to"] and "Verify" in m["subject"], count=4)
    limited = stack.post("/auth/verify-email/resend", token=who["token"])
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert stack.post("/auth/verify-email/resend").status_code == 401


def test_the_local_admin_is_verified(stack: ShopStack) -> None:
    me = stack.post("/auth/verify-token", token=stack.admin_token())
    assert me.status_code == 200
    assert me.json()["email_verified"] is True


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "x" * 600}])
def test_verify_email_validates_its_body(stack: ShopStack, body: dict[str, Any]) -> None:
    assert stack.post("/auth/verify-email", json=body).status_code == 422


# --- profile -----------------------------------------------------------------------------------


def test_a_user_changes_names_and_email_and_must_verify_the_new_email(stack: ShopStack) -> None:
    who = stack.new_user()
    path = f"/auth/user/{who['user']['id']}"
    new_email = f"moved_{uuid.uuid4().hex[:8]}@example.com"
    changed = stack.patch(
        path,
        token=who["token"],
        json={"first_name": "Ada", "email": new_email, "role": None, "current_password": who["password"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["first_name"] == "Ada"
    assert changed.json()["email"] == new_email
    assert changed.json()["email_verified"] is False
    # the old address is free again, the new one taken
    taken = stack.post(
        "/auth/register",
        json={
            "username": f"u_{uuid.uuid4().hex[:8]}",
            "email": new_email.upper(),
            "first_name": "X",
            "last_name": "Y",
            "password": "a-long-enough-one",
        },
    )
    assert taken.status_code == 409
    assert stack.new_user(email=who["email"])["email"] == who["email"]
    assert stack.verify_email(new_email)["email_verified"] is True


def test_an_email_change_keeps_addresses_unique_under_a_race(stack: ShopStack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    first, second = stack.new_user(verified=False), stack.new_user(verified=False)
    wanted = f"race_{uuid.uuid4().hex[:8]}@example.com"
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda who: stack.patch(
                    f"/auth/user/{who['user']['id']}",
                    token=who["token"],
                    json={"email": wanted, "current_password": who["password"]},
                ),
                (first, second),
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["email_taken"]


def test_customers_cannot_change_role_or_others_and_admins_cannot_demote_themselves(stack: ShopStack) -> None:
    who, other = stack.new_user(verified=False), stack.new_user(verified=False)
    assert (
        stack.patch(f"/auth/user/{who['user']['id']}", token=who["token"], json={"role": "admin"}).status_code
        == 403
    )
    assert (
        stack.patch(
            f"/auth/user/{other['user']['id']}", token=who["token"], json={"first_name": "X"}
        ).status_code
        == 403
    )
    admin = stack.admin_token()
    me = stack.post("/auth/verify-token", token=admin).json()["user_id"]
    for body in ({"is_active": False}, {"role": "customer"}):
        refused = stack.patch(f"/auth/user/{me}", token=admin, json=body)
        assert refused.status_code == 403
        assert refused.json()["code"] == "cannot_change_own_admin"


def test_an_admin_deactivates_a_user_and_their_sessions_end(stack: ShopStack) -> None:
    who = stack.new_user()
    admin = stack.admin_token()
    done = stack.patch(f"/auth/user/{who['user']['id']}", token=admin, json={"is_active": False})
    assert done.status_code == 200
    assert done.json()["is_active"] is False
    assert verify(stack, who["token"]) == 401
    assert refresh(stack, who["refresh_token"]).status_code == 401
    assert (
        stack.post("/auth/login", json={"username": who["username"], "password": who["password"]}).status_code
        == 401
    )
    promoted = stack.patch(
        f"/auth/user/{who['user']['id']}", token=admin, json={"is_active": True, "role": "admin"}
    )
    assert promoted.json()["role"] == "admin"
    assert promoted.json()["is_active"] is True


# --- addresses ---------------------------------------------------------------------------------


def test_edit_and_delete_addresses_and_the_newest_becomes_default(stack: ShopStack) -> None:
    who = stack.new_user()
    base = f"/auth/user/{who['user']['id']}/addresses"
    first = stack.add_address(who, street="1 First St")
    second = stack.add_address(who, street="2 Second St")
    third = stack.add_address(who, street="3 Third St")
    assert first["is_default"] is True

    edited = stack.put(
        f"{base}/{second['id']}", token=who["token"], json={**ADDRESS_BODY, "street": "2b Second St"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["street"] == "2b Second St"
    assert edited.json()["is_default"] is False

    assert stack.delete(f"{base}/{first['id']}", token=who["token"]).status_code == 204
    listed = stack.get(base, token=who["token"]).json()["addresses"]
    assert [(a["id"], a["is_default"]) for a in listed] == [(second["id"], False), (third["id"], True)]

    made_default = stack.put(
        f"{base}/{second['id']}", token=who["token"], json={**ADDRESS_BODY, "is_default": True}
    )
    assert made_default.json()["is_default"] is True
    listed = stack.get(base, token=who["token"]).json()["addresses"]
    assert [a["is_default"] for a in listed] == [True, False]

    assert stack.delete(f"{base}/{first['id']}", token=who["token"]).status_code == 404
    other = stack.new_user(verified=False)
    assert stack.delete(f"{base}/{third['id']}", token=other["token"]).status_code == 403
    assert stack.put(f"{base}/nope", token=who["token"], json=ADDRESS_BODY).status_code == 404


def test_past_orders_keep_their_copy_of_an_edited_address(stack: ShopStack) -> None:
    who = stack.new_shopper()
    order = stack.place_order(who, ITEMS)
    assert order.status_code == 201, order.text
    path = f"/auth/user/{who['user']['id']}/addresses/{who['address_id']}"
    assert (
        stack.put(path, token=who["token"], json={**ADDRESS_BODY, "street": "9 Elsewhere"}).status_code == 200
    )
    assert stack.delete(path, token=who["token"]).status_code == 204
    kept = stack.get(f"/orders/{order.json()['id']}", token=who["token"])
    assert kept.json()["shipping_address"]["street"] == ADDRESS_BODY["street"]


# --- admin search ------------------------------------------------------------------------------


def test_admin_search_by_username_or_email_prefix_with_paging(stack: ShopStack) -> None:
    tag = uuid.uuid4().hex[:8]
    by_name = [
        stack.new_user(verified=False, username=f"Srch{tag}_{n}", email=f"p{n}_{tag}@example.com")
        for n in range(3)
    ]
    by_mail = [stack.new_user(verified=False, email=f"SRCH{tag}.{n}@example.com") for n in range(2)]
    both = stack.new_user(verified=False, username=f"srch{tag}_both", email=f"srch{tag}_both@example.com")
    admin = stack.admin_token()

    seen: list[str] = []
    cursor = None
    while True:
        params = {"query": f"srch{tag}", "limit": "2", **({"next": cursor} if cursor else {})}
        page = stack.get("/auth/users", token=admin, params=params)
        assert page.status_code == 200, page.text
        assert len(page.json()["users"]) <= 2
        seen += [u["id"] for u in page.json()["users"]]
        cursor = page.json()["next"]
        if not cursor:
            break
    expected = {w["user"]["id"] for w in (*by_name, *by_mail, both)}
    assert sorted(seen) == sorted(expected)  # each once, the one matching by both too
    assert "password_hash" not in str(seen)

    customer = stack.new_user(verified=False)
    assert stack.get("/auth/users", token=customer["token"], params={"query": "a"}).status_code == 403
    assert stack.get("/auth/users", token=admin, params={"next": "garbage"}).status_code == 400
    assert stack.get("/auth/users", token=admin, params={"limit": "0"}).status_code == 422


def test_registration_succeeds_when_the_verification_email_cannot_be_sent(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    stack.fail("ses", action="SendRawEmail")
    try:
        who = stack.new_user(verified=False)  # 201 all the same
    finally:
        stack.clear_faults()
    assert stack.post("/auth/verify-email/resend", token=who["token"]).status_code == 202
    assert stack.verify_email(who["email"])["email_verified"] is True


@pytest.mark.parametrize(
    ("purpose", "path"), [("RESET", "/auth/password-reset/confirm"), ("VERIFY", "/auth/verify-email")]
)
def test_an_expired_link_token_is_400(
    stack: ShopStack, user: dict[str, Any], purpose: str, path: str
) -> None:
    # A token whose item DynamoDB's TTL has not removed yet (it may take days): the time is checked.
    from shop_shared.tokens import digest

    token = f"expired-{uuid.uuid4().hex}"
    stack.client("dynamodb").put_item(
        TableName=stack.resources()["tables"]["UsersTable"]["name"],
        Item={
            "pk": {"S": f"TOKEN#{digest(token)}"},
            "sk": {"S": purpose},
            "user_id": {"S": user["user"]["id"]},
            "email": {"S": user["email"]},
            "token_version": {"N": "0"},
            "expires_at": {"N": str(int(time.time()) - 1)},
        },
    )
    refused = stack.post(path, json={"token": token, "new_password": "a-fine-new-password"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_token"

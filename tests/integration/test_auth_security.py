"""Issue 26, the auth service's part, through the local stack as the outside tester tried it:
admin writes check the stored role (not the gateway's cached authorizer answer), an e-mail change
needs the password and tells the old address, resets go to verified addresses only, names and
addresses that could forge an e-mail are refused, password changes are limited like logins, the
user search and a half-failed registration do not answer 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shop_local.testing import ShopStack


def promoted_admin(stack: ShopStack) -> dict[str, Any]:
    """A fresh user made admin by the local admin; their token (issued after) says `admin`, and
    the gateway has cached that answer (one call made with it)."""
    who = stack.new_user()
    promoted = stack.patch(
        f"/auth/user/{who['user']['id']}", token=stack.admin_token(), json={"role": "admin"}
    )
    assert promoted.status_code == 200, promoted.text
    who["token"] = stack.login(who["username"], who["password"])
    seen = stack.get(f"/auth/user/{who['user']['id']}", token=who["token"])
    assert seen.status_code == 200 and seen.json()["role"] == "admin"
    return who


# --- item 1: a demoted or deactivated admin cannot undo it ----------------------------------------


def test_a_demoted_admin_cannot_promote_themself_again_within_the_cache_window(stack: ShopStack) -> None:
    mallory = promoted_admin(stack)
    me = f"/auth/user/{mallory['user']['id']}"
    demoted = stack.patch(me, token=stack.admin_token(), json={"role": "customer"})
    assert demoted.status_code == 200, demoted.text
    # The gateway still holds the authorizer's answer for this token: `role: admin`.
    undo = stack.patch(me, token=mallory["token"], json={"role": "admin"})
    assert undo.status_code == 403, undo.text
    victim = stack.new_user()
    refused = stack.patch(
        f"/auth/user/{victim['user']['id']}", token=mallory["token"], json={"is_active": False}
    )
    assert refused.status_code == 403, refused.text
    assert stack.get(me, token=stack.admin_token()).json()["role"] == "customer"
    assert (
        stack.get(f"/auth/user/{victim['user']['id']}", token=stack.admin_token()).json()["is_active"] is True
    )


def test_a_deactivated_admin_cannot_reactivate_themself_within_the_cache_window(stack: ShopStack) -> None:
    mallory = promoted_admin(stack)
    me = f"/auth/user/{mallory['user']['id']}"
    deactivated = stack.patch(me, token=stack.admin_token(), json={"is_active": False})
    assert deactivated.status_code == 200, deactivated.text
    undo = stack.patch(me, token=mallory["token"], json={"is_active": True})
    assert undo.status_code in (401, 403), undo.text
    assert stack.get(me, token=stack.admin_token()).json()["is_active"] is False


# --- item 3: an access token alone cannot take the account over -----------------------------------


def mails_to(stack: ShopStack, address: str) -> list[dict[str, Any]]:
    return [mail for mail in stack.emails() if address.lower() in [to.lower() for to in mail["to"]]]


def test_an_email_change_needs_the_current_password_and_tells_the_old_address(stack: ShopStack) -> None:
    who = stack.new_user()
    me = f"/auth/user/{who['user']['id']}"
    attacker = f"mallory_{uuid.uuid4().hex[:8]}@example.com"
    missing = stack.patch(me, token=who["token"], json={"email": attacker})
    assert missing.status_code == 422, missing.text
    assert missing.json()["code"] == "current_password_required"
    wrong = stack.patch(me, token=who["token"], json={"email": attacker, "current_password": "guess-guess-1"})
    assert wrong.status_code == 403, wrong.text
    assert stack.get(me, token=who["token"]).json()["email"] == who["email"]

    moved = stack.patch(me, token=who["token"], json={"email": attacker, "current_password": who["password"]})
    assert moved.status_code == 200, moved.text
    notice = stack.wait_for_emails(
        lambda mail: who["email"] in mail["to"] and "e-mail address was changed" in mail["subject"]
    )[-1]
    assert attacker in notice["text"]


def test_a_reset_for_an_unverified_address_answers_202_and_sends_nothing(stack: ShopStack) -> None:
    who = stack.new_user(verified=False)
    asked = stack.post("/auth/password-reset", json={"email": who["email"]})
    assert asked.status_code == 202
    stack.verify_email(who["email"])  # the verification e-mail arrived, so mail is flowing
    assert [mail["subject"] for mail in mails_to(stack, who["email"]) if "Reset" in mail["subject"]] == []
    again = stack.post("/auth/password-reset", json={"email": who["email"]})
    assert again.status_code == 202
    assert stack.mailed_token(who["email"], "Reset your password")


# --- items 4 and 5: nothing a user types can forge an e-mail or make it undeliverable -------------


def registration(**fields: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {
        "username": f"user_{suffix}",
        "email": f"user_{suffix}@example.com",
        "first_name": "Test",
        "last_name": "User",
        "password": f"pw-{suffix}-secret",
        **fields,
    }


@pytest.mark.parametrize(
    "name",
    [
        "Jane\n\nYour account is locked. Call +1 555 0100 now.",
        "Jane\x00",
        "Jane\u202egnp.exe",
        "\u2066Jane\u2069",
        "Jane " * 40,
    ],
)
def test_names_that_could_forge_an_email_are_refused(stack: ShopStack, name: str) -> None:
    refused = stack.post("/auth/register", json=registration(first_name=name))
    assert refused.status_code == 422, refused.text
    who = stack.new_user()
    patched = stack.patch(f"/auth/user/{who['user']['id']}", token=who["token"], json={"last_name": name})
    assert patched.status_code == 422, patched.text


@pytest.mark.parametrize(
    "email",
    ["jane..doe@example.com", ".jane@example.com", "jane.@example.com", "=?utf-8?q?jane?=@example.com"],
)
def test_addresses_no_email_can_be_sent_to_are_refused(stack: ShopStack, email: str) -> None:
    refused = stack.post("/auth/register", json=registration(email=email))
    assert refused.status_code == 422, refused.text
    who = stack.new_user()
    patched = stack.patch(
        f"/auth/user/{who['user']['id']}",
        token=who["token"],
        json={"email": email, "current_password": who["password"]},
    )
    assert patched.status_code == 422, patched.text


# --- item 6: the password change is limited like login ---------------------------------------------


def test_wrong_current_passwords_are_limited_like_logins(stack: ShopStack) -> None:
    who = stack.new_user()
    path = f"/auth/user/{who['user']['id']}/password"
    answers = [
        stack.put(
            path,
            token=who["token"],
            json={"current_password": f"guess-{n}-wrong", "new_password": "a-new-pw-2026"},
        )
        for n in range(8)
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses[0] == 403 and statuses[-1] == 429, statuses
    assert int(answers[-1].headers["Retry-After"]) > 0
    right = stack.put(
        path, token=who["token"], json={"current_password": who["password"], "new_password": "a-new-pw-2026"}
    )
    assert right.status_code == 429, right.text  # the guess that would have been right is not tried
    # logins are counted apart: the user can still log in
    assert stack.login(who["username"], who["password"])


# --- item 7: no 500 for an empty search, no half-written registration ------------------------------


def test_the_user_search_without_a_query_lists_users(stack: ShopStack) -> None:
    stack.new_user(verified=False)  # the admin and this one at least
    admin = stack.admin_token()
    for path in ("/auth/users", "/auth/users?query=", "/auth/users?query=&limit=2"):
        listed = stack.get(path, token=admin)
        assert listed.status_code == 200, listed.text
        assert listed.json()["users"], path
    page = stack.get("/auth/users?limit=1", token=admin).json()
    assert len(page["users"]) == 1 and page["next"]
    following = stack.get("/auth/users", token=admin, params={"limit": 1, "next": page["next"]}).json()
    assert following["users"][0]["id"] != page["users"][0]["id"]


def test_a_registration_whose_second_write_fails_is_complete_or_can_be_retried(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    body = registration()
    # Every attempt of the PutItem after the registration's transaction (the verification link).
    stack.fail("dynamodb", "PutItem", times=4)
    first = stack.post("/auth/register", json=body)
    stack.clear_faults()
    assert first.status_code in (201, 503), first.text  # never a 500
    retried = stack.post("/auth/register", json=body)
    assert retried.status_code == 201, retried.text  # never a 409 for an account the user never got
    assert retried.json()["username"] == body["username"]
    stack.verify_email(body["email"])
    assert stack.login(body["username"], body["password"])


def test_a_registration_retried_by_someone_else_is_still_409(stack: ShopStack) -> None:
    body = registration()
    assert stack.post("/auth/register", json=body).status_code == 201
    other = stack.post("/auth/register", json={**body, "password": "another-pw-2026"})
    assert other.status_code == 409, other.text
    elsewhere = stack.post("/auth/register", json={**body, "email": f"x{body['email']}"})
    assert elsewhere.status_code == 409, elsewhere.text

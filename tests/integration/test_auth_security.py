"""Issue 26, the auth service's part, through the local stack as the outside tester tried it:
admin writes check the stored role (not the gateway's cached authorizer answer), an e-mail change
needs the password and tells the old address, resets go to verified addresses only, names and
addresses that could forge an e-mail are refused, password changes are limited like logins, the
user search and a half-failed registration do not answer 500."""

from __future__ import annotations

from typing import Any

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

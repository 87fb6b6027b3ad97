"""Issue 26, item 1, the orders part, through the local stack: `PUT /orders/{id}/status` by a
caller whose token says admin checks the role and active flag as the users table says now, not the
gateway's cached authorizer answer. A demoted admin is a customer at once; a deactivated one, 403."""

from __future__ import annotations

from typing import Any

from shop_local.testing import ShopStack


def promoted_admin(stack: ShopStack) -> dict[str, Any]:
    """A fresh user made admin by the local admin; their token (issued after) says `admin`."""
    who = stack.new_user()
    promoted = stack.patch(
        f"/auth/user/{who['user']['id']}", token=stack.admin_token(), json={"role": "admin"}
    )
    assert promoted.status_code == 200, promoted.text
    who["token"] = stack.login(who["username"], who["password"])
    return who


def pending_order(stack: ShopStack) -> dict[str, Any]:
    shopper = stack.new_shopper()
    placed = stack.place_order(shopper, [{"product_id": 1, "quantity": 1}])
    assert placed.status_code == 201, placed.text
    return {**placed.json(), "owner_token": shopper["token"]}


def status_of(stack: ShopStack, order: dict[str, Any]) -> str:
    return str(stack.get(f"/orders/{order['id']}", token=order["owner_token"]).json()["status"])


def test_an_admin_demoted_by_another_cannot_change_an_order_within_the_cache_window(
    stack: ShopStack,
) -> None:
    mallory = promoted_admin(stack)
    first, second = pending_order(stack), pending_order(stack)
    # Mallory's token works as an admin's; the gateway now caches the authorizer's `role: admin`.
    confirmed = stack.put(
        f"/orders/{first['id']}/status", token=mallory["token"], json={"status": "confirmed"}
    )
    assert confirmed.status_code == 200, confirmed.text
    demoted = stack.patch(
        f"/auth/user/{mallory['user']['id']}", token=stack.admin_token(), json={"role": "customer"}
    )
    assert demoted.status_code == 200, demoted.text
    # Same token, within the cache window: a customer now, and these orders are not hers.
    for order, status in ((first, "cancelled"), (second, "confirmed")):
        refused = stack.put(f"/orders/{order['id']}/status", token=mallory["token"], json={"status": status})
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "order_not_found"
    assert (status_of(stack, first), status_of(stack, second)) == ("confirmed", "pending")


def test_a_deactivated_admin_cannot_change_an_order_within_the_cache_window(stack: ShopStack) -> None:
    mallory = promoted_admin(stack)
    order = pending_order(stack)
    assert stack.get(f"/auth/user/{mallory['user']['id']}", token=mallory["token"]).status_code == 200
    deactivated = stack.patch(
        f"/auth/user/{mallory['user']['id']}", token=stack.admin_token(), json={"is_active": False}
    )
    assert deactivated.status_code == 200, deactivated.text
    refused = stack.put(f"/orders/{order['id']}/status", token=mallory["token"], json={"status": "confirmed"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "forbidden"
    assert status_of(stack, order) == "pending"

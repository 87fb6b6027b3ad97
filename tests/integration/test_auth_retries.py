"""The auth service's writes are safe to retry after a lost reply (DESIGN "Hardening rules").

DynamoDB answering just slower than the functions' read timeout (`shop_shared.aws`, 5 s) makes
botocore give up on the reply and send the write again; the first attempt was stored. The retry's
condition then fails on our own item: that must read as success, not a 409 or a 500.
"""

from __future__ import annotations

from typing import Any

from shop_local.testing import DEFAULT_ADDRESS, ShopStack
from shop_shared.aws import CLIENT_CONFIG

# Just over the read timeout: the first attempt is stored a moment after the client gave up, and
# botocore's first retry (after 0-1 s of jitter) finds it there nearly every time.
JUST_TOO_SLOW = float(CLIENT_CONFIG.read_timeout) + 0.05


def slow_once(stack: ShopStack, action: str) -> None:
    stack._fault(
        {"service": "dynamodb", "action": action, "mode": "slow", "seconds": JUST_TOO_SLOW, "times": 1}
    )


def addresses(stack: ShopStack, who: dict[str, Any]) -> list[dict[str, Any]]:
    listed = stack.get(f"/auth/user/{who['user']['id']}/addresses", token=who["token"])
    assert listed.status_code == 200, listed.text
    return list(listed.json()["addresses"])


def test_a_non_default_address_added_while_dynamodb_is_slow_is_added_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    who = stack.new_shopper()
    slow_once(stack, "PutItem")
    added = stack.post(
        f"/auth/user/{who['user']['id']}/addresses",
        token=who["token"],
        json={**DEFAULT_ADDRESS, "street": "2 Slow Lane"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["street"] == "2 Slow Lane"
    assert added.json()["is_default"] is False
    streets = [address["street"] for address in addresses(stack, who)]
    assert streets == [DEFAULT_ADDRESS["street"], "2 Slow Lane"]


def test_a_default_address_added_while_dynamodb_is_slow_is_added_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    who = stack.new_shopper()
    slow_once(stack, "TransactWriteItems")
    added = stack.post(
        f"/auth/user/{who['user']['id']}/addresses",
        token=who["token"],
        json={**DEFAULT_ADDRESS, "street": "3 Slow Lane", "is_default": True},
    )
    assert added.status_code == 201, added.text
    assert added.json()["is_default"] is True
    listed = addresses(stack, who)
    assert [(a["street"], a["is_default"]) for a in listed] == [
        (DEFAULT_ADDRESS["street"], False),
        ("3 Slow Lane", True),
    ]


def test_a_registration_while_dynamodb_is_slow_creates_the_user_once(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    slow_once(stack, "TransactWriteItems")
    who = stack.new_user()  # asserts the 201, then logs in
    assert who["user"]["username"] == who["username"]


def test_a_refresh_while_dynamodb_is_slow_rotates_once_and_the_new_token_works(
    stack: ShopStack, no_faults: ShopStack
) -> None:
    who = stack.new_user()
    slow_once(stack, "UpdateItem")  # the rotation: stored, then retried by botocore
    rotated = stack.post("/auth/refresh", json={"refresh_token": who["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    again = stack.post("/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert again.status_code == 200, again.text  # the session was not ended as a "reuse"

"""Races, through the running local stack's gateway: exactly one winner.

- 20 simultaneous registrations of one username → exactly one 201 (the rest 409), and the
  account that exists is the winner's, whole.
- Two admins moving one order at the same moment, to two different statuses → one 200, one 409,
  the order ends in the winner's status and only the winner's e-mail is sent.
- 20 simultaneous orders with one `Idempotency-Key` → one order, one e-mail, one rate-limit slot.

The local stack runs each function in several execution environments at once (processes of AWS's
runtime interface client, up to four per function by default), so requests sent together through
its gateway really overlap inside the function, as concurrent Lambda invocations do.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from shop_local.testing import ShopStack

ADDRESS = {
    "street": "9 Race Rd",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "country": "US",
}


def race(stack: ShopStack, requests: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """Send every request (`method`, `path`, `token`, `json`, `headers`) at the same moment, each
    from a thread of its own; (status, parsed body) per request, in order."""
    results: list[tuple[int, Any]] = [(0, None)] * len(requests)
    start = threading.Barrier(len(requests))

    def send(index: int, request: dict[str, Any]) -> None:
        start.wait(timeout=60)
        reply = stack.request(
            request["method"],
            request["path"],
            token=request.get("token"),
            json=request.get("json"),
            headers=request.get("headers"),
            timeout=60,
        )
        try:
            body = reply.json()
        except ValueError:
            body = reply.text
        results[index] = (reply.status_code, body)

    threads = [threading.Thread(target=send, args=(n, request)) for n, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def make_admin(stack: ShopStack) -> dict[str, Any]:
    """A second administrator: a new user promoted in the users table, as an operator would."""
    who = stack.new_user()
    table = stack.resources()["tables"]["UsersTable"]["name"]
    stack.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": f"USER#{who['user']['id']}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #role = :admin",
        ExpressionAttributeNames={"#role": "role"},
        ExpressionAttributeValues={":admin": {"S": "admin"}},
    )
    who["token"] = stack.login(who["username"], who["password"])  # the token carries the role
    return who


def subjects_to(stack: ShopStack, address: str) -> list[str]:
    return sorted(mail["subject"] for mail in stack.emails() if address in mail["to"])


# ---------------------------------------------------------------------------------------- tests


def test_twenty_simultaneous_registrations_of_one_username_make_one_account(stack: ShopStack) -> None:
    username = f"race_{uuid.uuid4().hex[:10]}"
    bodies = [
        {
            "username": username,
            "email": f"{username}.{n}@example.com",
            "first_name": f"Racer{n}",
            "last_name": "Test",
            "password": f"password-number-{n}",
        }
        for n in range(20)
    ]
    results = race(stack, [{"method": "POST", "path": "/auth/register", "json": body} for body in bodies])

    statuses = [status for status, _ in results]
    assert sorted(statuses) == [201] + [409] * 19, results
    (winner,) = [n for n, (status, _) in enumerate(results) if status == 201]
    assert all(body["message"] for status, body in results if status == 409)
    # The account is the winner's, whole: its password, its e-mail; nobody else's.
    token = stack.login(username, bodies[winner]["password"])
    user = stack.get(f"/auth/user/{results[winner][1]['id']}", token=token).json()
    assert (user["email"], user["first_name"]) == (bodies[winner]["email"], bodies[winner]["first_name"])
    loser = (winner + 1) % 20
    refused = stack.post("/auth/login", json={"username": username, "password": bodies[loser]["password"]})
    assert refused.status_code == 401
    # A loser's e-mail address was not taken either: it can still register.
    again = stack.post("/auth/register", json={**bodies[loser], "username": f"{username}_b"})
    assert again.status_code == 201, again.text


def test_two_admins_racing_one_status_change_one_wins_and_only_its_email_is_sent(stack: ShopStack) -> None:
    buyer = stack.new_shopper(ADDRESS)
    first_admin = stack.admin_token()
    second_admin = make_admin(stack)["token"]

    orders = []
    for product_id in (10, 11, 12):  # three races (the customer's three orders in the window)
        created = stack.place_order(buyer, [{"product_id": product_id, "quantity": 1}])
        assert created.status_code == 201, created.text
        order = created.json()
        confirmed = stack.put(
            f"/orders/{order['id']}/status", token=first_admin, json={"status": "confirmed"}
        )
        assert confirmed.status_code == 200, confirmed.text
        orders.append(order)

    # From `confirmed`, both `shipped` and `cancelled` are allowed, but not one after the other.
    requests = []
    for order in orders:
        for token, status in ((first_admin, "shipped"), (second_admin, "cancelled")):
            requests.append(
                {
                    "method": "PUT",
                    "path": f"/orders/{order['id']}/status",
                    "token": token,
                    "json": {"status": status},
                }
            )

    results = race(stack, requests)

    expected_subjects = []
    for n, order in enumerate(orders):
        shipped, cancelled = results[2 * n], results[2 * n + 1]
        assert sorted([shipped[0], cancelled[0]]) == [200, 409], (shipped, cancelled)
        winner = "shipped" if shipped[0] == 200 else "cancelled"
        loser_body = cancelled[1] if winner == "shipped" else shipped[1]
        assert loser_body["message"]
        final = stack.get(f"/orders/{order['id']}", token=buyer["token"]).json()
        assert final["status"] == winner
        expected_subjects += [
            f"Order Confirmation - {order['order_number']}",
            f"Order Confirmed - {order['order_number']}",
            f"Order {winner.capitalize()} - {order['order_number']}",
        ]
    stack.wait_for_emails(lambda mail: buyer["email"] in mail["to"], timeout=60, count=len(expected_subjects))
    stack.settle()
    assert subjects_to(stack, buyer["email"]) == sorted(expected_subjects)


def test_twenty_simultaneous_orders_with_one_idempotency_key_make_one_order(stack: ShopStack) -> None:
    buyer = stack.new_shopper(ADDRESS)
    assert stack.get("/products/13").status_code == 200  # cached, as after a product page view
    body = {"items": [{"product_id": 13, "quantity": 2}], "shipping_address_id": buyer["address_id"]}
    key = f"race-{uuid.uuid4()}"
    request = {
        "method": "POST",
        "path": "/orders",
        "token": buyer["token"],
        "json": body,
        "headers": {"Idempotency-Key": key},
    }

    results = race(stack, [request] * 20)

    statuses = [status for status, _ in results]
    assert set(statuses) <= {201, 409}, results  # 409: "still being processed, retry"
    created_ids = {reply["id"] for status, reply in results if status == 201}
    assert len(created_ids) == 1, results
    (order_id,) = created_ids
    # A retry after the race replays the same order.
    retry = stack.post("/orders", token=buyer["token"], json=body, headers={"Idempotency-Key": key})
    assert (retry.status_code, retry.json()["id"]) == (201, order_id)
    listed = stack.get(f"/users/{buyer['user']['id']}/orders", token=buyer["token"]).json()["orders"]
    assert [order["id"] for order in listed] == [order_id]
    number = listed[0]["order_number"]
    stack.wait_for_emails(lambda mail: buyer["email"] in mail["to"], timeout=60)
    stack.settle()
    assert subjects_to(stack, buyer["email"]) == [f"Order Confirmation - {number}"]
    # The race took one slot of the rate limit (3 per 5 minutes): two more orders, then 429.
    more = [stack.post("/orders", token=buyer["token"], json=body).status_code for _ in range(3)]
    assert more == [201, 201, 429]

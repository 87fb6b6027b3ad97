"""Races, against the running local stack's data (its emulator and Redis): exactly one winner.

- 20 simultaneous registrations of one username → exactly one 201 (the rest 409), and the
  account that exists is the winner's, whole.
- Two admins moving one order at the same moment, to two different statuses → one 200, one 409,
  the order ends in the winner's status and only the winner's e-mail is sent.
- 20 simultaneous orders with one `Idempotency-Key` → one order, one e-mail, one rate-limit slot.

The local stack runs one container per function (its invocations are serialised, like one Lambda
container), so requests sent through its gateway never truly overlap inside a function. The races
therefore run in "containers" of their own: a helper process imports the function's handler with
the stack's environment and forks one child per request; the children wait at a barrier and then
invoke the handler at the same moment with the API Gateway event the stack would send, against the
stack's emulator and Redis, as concurrent Lambda containers would. Everything else (setup, checks,
e-mails) goes through the stack's HTTP API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from shop_local.template import Template
from shop_local.testing import ShopStack, proxy_event

ADDRESS = {
    "street": "9 Race Rd",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "country": "US",
}

# Runs in a fresh interpreter (no threads yet, so forking is safe): import the handler once, fork
# one child per event, release them together, collect (index, status, body) in a result file.
CONTAINERS = r"""
import importlib, json, multiprocessing, sys

from shop_local.runtime import lambda_context
from shop_local.template import Template

spec = json.load(sys.stdin)
handler = getattr(importlib.import_module(spec["module"]), "lambda_handler")
template = Template()  # read once, before the fork


ctx = multiprocessing.get_context("fork")
barrier = ctx.Barrier(len(spec["events"]))
results = ctx.SimpleQueue()


def run(index, event):
    context = lambda_context(spec["function"], template)
    barrier.wait(timeout=60)
    try:
        reply = handler(event, context)
        results.put((index, reply["statusCode"], reply.get("body")))
    except Exception as exc:  # a crash is a result too: the test shows it
        results.put((index, 0, repr(exc)))


children = [ctx.Process(target=run, args=(i, event)) for i, event in enumerate(spec["events"])]
for child in children:
    child.start()
collected = sorted(results.get() for _ in children)
for child in children:
    child.join()
with open(spec["out"], "w") as handle:
    json.dump(collected, handle)
"""


def stack_environment(stack: ShopStack) -> dict[str, str]:
    """What a function of the running stack sees: the template's environment with the stack's
    physical ids, its emulator, Redis and product API."""
    template = Template(parameter_overrides={"TracingEnabled": "false"})
    resources = stack.resources()
    for name, table in resources["tables"].items():
        template.set_physical(name, Ref=table["name"], Arn=table["arn"])
    for name, topic in resources["topics"].items():
        template.set_physical(name, Ref=topic["arn"], TopicArn=topic["arn"])
    for name, queue in resources["queues"].items():
        template.set_physical(name, Ref=queue["url"], Arn=queue["arn"], QueueName=queue["name"])
    for name, secret in resources["secrets"].items():
        template.set_physical(name, Ref=secret["arn"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for spec in template.functions().values():
        env.update(spec.environment)
    env.update(
        AWS_ENDPOINT_URL=stack.aws_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        REDIS_URL=resources["functions_redis_url"],
        PRODUCT_API_URL=stack.product_api_url,
    )
    return env


def race(
    stack: ShopStack, tmp_path: Path, function_id: str, events: list[dict[str, Any]]
) -> list[tuple[int, Any]]:
    """Invoke `function_id` with every event at the same moment, each in a container of its own;
    (status, parsed body) per event, in order."""
    spec = Template().functions()[function_id]
    out = tmp_path / f"race-{uuid.uuid4().hex}.json"
    payload = {"module": spec.module, "function": function_id, "events": events, "out": str(out)}
    log = tmp_path / "race.log"
    with log.open("ab") as handle:
        subprocess.run(
            [sys.executable, "-c", CONTAINERS],
            input=json.dumps(payload).encode(),
            env=stack_environment(stack),
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=180,
            check=True,
        )
    results = []
    for _index, status, body in json.loads(out.read_text()):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        results.append((status, parsed))
    return results


def caller_of(who: dict[str, Any], role: str = "customer") -> dict[str, str]:
    user = who["user"]
    verified = "true" if user.get("email_verified") else "false"
    return {
        "user_id": user["id"],
        "username": user["username"],
        "email": user["email"],
        "role": role,
        "email_verified": verified,
    }


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
    """The subjects of the order e-mails to `address` (not the account e-mails)."""
    return sorted(
        mail["subject"]
        for mail in stack.emails()
        if address in mail["to"] and mail["subject"].startswith("Order ")
    )


# ---------------------------------------------------------------------------------------- tests


def test_twenty_simultaneous_registrations_of_one_username_make_one_account(
    stack: ShopStack, tmp_path: Path
) -> None:
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
    events = [proxy_event("POST", "/auth/register", body=body) for body in bodies]

    results = race(stack, tmp_path, "AuthFunction", events)

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


def test_two_admins_racing_one_status_change_one_wins_and_only_its_email_is_sent(
    stack: ShopStack, tmp_path: Path
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    first_admin = stack.admin_token()
    me = stack.post("/auth/verify-token", token=first_admin).json()
    admin_a = {"user_id": me["user_id"], "username": me["username"], "email": me["email"], "role": "admin"}
    admin_b = caller_of(make_admin(stack), role="admin")

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
    events = []
    for order in orders:
        for caller, status in ((admin_a, "shipped"), (admin_b, "cancelled")):
            events.append(
                proxy_event(
                    "PUT",
                    "/orders/{order_id}/status",
                    path_params={"order_id": order["id"]},
                    body={"status": status},
                    authorizer=caller,
                )
            )

    results = race(stack, tmp_path, "OrdersFunction", events)

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
    stack.wait_for_emails(
        lambda mail: buyer["email"] in mail["to"] and mail["subject"].startswith("Order "),
        timeout=60,
        count=len(expected_subjects),
    )
    stack.settle()
    assert subjects_to(stack, buyer["email"]) == sorted(expected_subjects)


def test_twenty_simultaneous_orders_with_one_idempotency_key_make_one_order(
    stack: ShopStack, tmp_path: Path
) -> None:
    buyer = stack.new_shopper(ADDRESS)
    assert stack.get("/products/13").status_code == 200  # cached, as after a product page view
    body = {"items": [{"product_id": 13, "quantity": 2}], "shipping_address_id": buyer["address_id"]}
    key = f"race-{uuid.uuid4()}"
    events = [
        proxy_event(
            "POST", "/orders", body=body, authorizer=caller_of(buyer), headers={"Idempotency-Key": key}
        )
        for _ in range(20)
    ]

    results = race(stack, tmp_path, "OrdersFunction", events)

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
    stack.wait_for_emails(
        lambda mail: buyer["email"] in mail["to"] and mail["subject"].startswith("Order "), timeout=60
    )
    stack.settle()
    assert subjects_to(stack, buyer["email"]) == [f"Order Confirmation - {number}"]
    # The race took one slot of the rate limit (3 per 5 minutes): two more orders, then 429.
    more = [stack.post("/orders", token=buyer["token"], json=body).status_code for _ in range(3)]
    assert more == [201, 201, 429]

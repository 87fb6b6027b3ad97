"""The first admin of a deployed stack (`tools/create_admin.py`, issue 24 item 4), against the
local stack's emulator: a CloudFormation stack there holds the outputs the deployed stack has
(`UsersTableName`: the local stack's users table), and the tool runs as an operator runs it, a
separate process with credentials for the emulator, the password on stdin."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from shop_local.testing import ShopStack

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "create_admin.py"
PASSWORD = "staff-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def deployed(stack: ShopStack) -> str:
    """A CloudFormation stack in the emulator with the deployed stack's users table output."""
    name = f"shop-{uuid.uuid4().hex[:8]}"
    table = stack.resources()["tables"]["UsersTable"]["name"]
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}},
        "Outputs": {"UsersTableName": {"Value": table}, "ApiUrl": {"Value": stack.url}},
    }
    stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def create_admin(
    stack: ShopStack, *args: str, password: str | None = PASSWORD
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": stack.aws_endpoint,
        "AWS_ACCESS_KEY_ID": "operator",
        "AWS_SECRET_ACCESS_KEY": "operator-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    stdin_args = ("--password-stdin",) if password is not None else ()
    return subprocess.run(
        [sys.executable, str(TOOL), *args, *stdin_args],
        input=f"{password}\n" if password is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def confirm_an_order(stack: ShopStack, admin_token: str) -> None:
    shopper = stack.new_shopper()
    order = stack.place_order(shopper, [{"product_id": 1, "quantity": 1}])
    assert order.status_code == 201, order.text
    changed = stack.put(
        f"/orders/{order.json()['id']}/status", token=admin_token, json={"status": "confirmed"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "confirmed"


def test_a_new_admin_logs_in_and_confirms_an_order(stack: ShopStack, deployed: str) -> None:
    username = f"staff_{uuid.uuid4().hex[:8]}"
    made = create_admin(
        stack, "--stack-name", deployed, "--username", username, "--email", f"{username}@example.com"
    )
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr

    token = stack.login(username, PASSWORD)
    assert claims(token)["role"] == "admin"
    me = stack.post("/auth/verify-token", token=token).json()
    assert me["email_verified"] is True
    confirm_an_order(stack, token)

    # Again: nothing changes (the same user, the same password works), and it says so.
    again = create_admin(
        stack, "--stack-name", deployed, "--username", username, "--email", f"{username}@example.com"
    )
    assert again.returncode == 0, again.stderr
    assert me["user_id"] in again.stdout
    found = stack.get("/auth/users", token=token, params={"query": username}).json()["users"]
    assert [u["id"] for u in found] == [me["user_id"]]
    assert claims(stack.login(username, PASSWORD))["role"] == "admin"


def test_an_existing_customer_is_promoted_and_keeps_their_password(stack: ShopStack, deployed: str) -> None:
    customer = stack.new_user()
    assert claims(customer["token"])["role"] == "customer"
    made = create_admin(stack, "--stack-name", deployed, "--username", customer["username"], password=None)
    assert made.returncode == 0, made.stderr
    token = stack.login(customer["username"], customer["password"])
    assert claims(token)["role"] == "admin"
    confirm_an_order(stack, token)


def test_a_weak_password_a_missing_email_and_an_unknown_stack_are_refused(
    stack: ShopStack, deployed: str
) -> None:
    username = f"staff_{uuid.uuid4().hex[:8]}"
    weak = create_admin(
        stack,
        "--stack-name",
        deployed,
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        password="password",
    )
    assert weak.returncode == 2
    assert "weak_password" in weak.stderr
    assert "Traceback" not in weak.stderr
    no_email = create_admin(stack, "--stack-name", deployed, "--username", username)
    assert no_email.returncode == 2
    assert "--email" in no_email.stderr
    nowhere = create_admin(
        stack, "--stack-name", "no-such-stack", "--username", username, "--email", "x@example.com"
    )
    assert nowhere.returncode == 2
    assert "no-such-stack" in nowhere.stderr
    assert stack.post("/auth/login", json={"username": username, "password": "password"}).status_code == 401


def test_the_password_is_never_an_argument(stack: ShopStack, deployed: str) -> None:
    """Only stdin or a prompt: an argument would sit in `ps` and the shell history."""
    username = f"staff_{uuid.uuid4().hex[:8]}"
    args = ("--stack-name", deployed, "--username", username, "--email", f"{username}@example.com")
    refused = create_admin(stack, *args, "--password", PASSWORD, password=None)
    assert refused.returncode == 2
    assert "unrecognized arguments" in refused.stderr
    assert stack.post("/auth/login", json={"username": username, "password": PASSWORD}).status_code == 401

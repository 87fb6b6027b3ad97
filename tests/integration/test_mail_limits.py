"""Limits on the routes that send e-mail, through the local stack (DESIGN part 5, issue 24 item 7).

A stack of its own with a small per-client budget (every other test stack raises it: all their
clients are 127.0.0.1). Each test speaks from loopback addresses of its own (127.x.y.z: Linux
routes the whole 127/8 to the loopback interface), which the gateway reports as the event's
`requestContext.identity.sourceIp`, as API Gateway reports the caller's address.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from shop_local.testing import ShopStack

CLIENT_BUDGET = 4
RESET_SUBJECT = "Reset your password"
PASSWORD = "correct horse battery"
_addresses = (f"127.0.{n // 250}.{n % 250 + 2}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def limited(redis_url: str) -> Iterator[ShopStack]:
    with ShopStack(redis_url=redis_url, env={"MAIL_CLIENT_LIMIT": f"{CLIENT_BUDGET}/3600"}) as running:
        yield running


class FromAddress(HTTPAdapter):
    """Connections from one local source address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Client:
    def __init__(self, stack: ShopStack) -> None:
        self.stack = stack
        self.address = next(_addresses)
        self.http = requests.Session()
        self.http.mount("http://", FromAddress(self.address))

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.stack.url + path, timeout=30, **kwargs)

    def register(self, username: str | None = None) -> dict[str, str]:
        username = username or f"ml_{uuid.uuid4().hex[:10]}"
        body = {
            "username": username,
            "email": f"{username}@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "password": PASSWORD,
        }
        answer = self.post("/auth/register", json=body)
        assert answer.status_code == 201, answer.text
        return body


def reset_mails(stack: ShopStack, email: str) -> list[dict[str, Any]]:
    return [m for m in stack.emails() if m.get("subject") == RESET_SUBJECT and email in str(m.get("to"))]


def test_a_client_address_past_its_budget_gets_429_with_retry_after_and_others_do_not(
    limited: ShopStack,
) -> None:
    client = Client(limited)
    account = client.register()  # 1
    token = limited.login(account["username"], PASSWORD)
    resend = client.post("/auth/verify-email/resend", headers={"Authorization": f"Bearer {token}"})  # 2
    assert resend.status_code == 202, resend.text
    limited.verify_email(account["email"])  # resets go to verified addresses only; sends nothing
    assert client.post("/auth/password-reset", json={"email": account["email"]}).status_code == 202  # 3
    assert client.post("/auth/password-reset", json={"email": "nobody@example.com"}).status_code == 202  # 4

    for path, body in [
        ("/auth/password-reset", {"email": account["email"]}),
        (
            "/auth/register",
            {**account, "username": account["username"] + "x", "email": "x" + account["email"]},
        ),
    ]:
        refused = client.post(path, json=body, headers={"Origin": "https://shop.example"})
        assert refused.status_code == 429, (path, refused.text)
        assert refused.json()["code"] == "too_many_requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert refused.headers["Access-Control-Allow-Origin"] == "*"  # a browser may read why
    refused = client.post("/auth/verify-email/resend", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 429

    # Refused requests sent nothing: one reset e-mail (request 3), no second account.
    assert len(reset_mails(limited, account["email"])) == 1
    assert (
        limited.post(
            "/auth/login", json={"username": account["username"] + "x", "password": PASSWORD}
        ).status_code
        == 401
    )

    # Another address is not held up.
    assert Client(limited).post("/auth/password-reset", json={"email": account["email"]}).status_code == 202


def test_a_reset_address_gets_three_mails_an_hour_and_every_request_still_answers_202(
    limited: ShopStack,
) -> None:
    account = Client(limited).register()
    email = account["email"]
    limited.verify_email(email)  # resets go to verified addresses only
    # From five addresses (each within its budget): the limit is the recipient's, not the client's.
    spellings = [email, email.upper(), email, f" {email}", email]
    answers = [Client(limited).post("/auth/password-reset", json={"email": e}).status_code for e in spellings]
    assert answers == [202] * 5
    limited.wait_for_emails(
        lambda m: m.get("subject") == RESET_SUBJECT and email in str(m.get("to")), count=3
    )
    assert len(reset_mails(limited, email)) == 3

    # An address without an account answers the same, before and after its limit.
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    assert [
        Client(limited).post("/auth/password-reset", json={"email": nobody}).status_code for _ in range(5)
    ] == [202] * 5


def test_with_redis_down_the_limits_let_mail_through_and_say_so(limited: ShopStack) -> None:
    """Fail open (docs/architecture.md, "Limits on e-mail"): registrations and resets go on."""
    verified = Client(limited).register()  # resets go to verified addresses only
    limited.verify_email(verified["email"])
    client = Client(limited)
    before = limited.metric_total("RedisUnavailable", Use="mail_limits")
    limited.fail("redis")
    try:
        for _ in range(CLIENT_BUDGET + 2):  # past the budget: each still registered (201)
            client.register()
        reset = client.post("/auth/password-reset", json={"email": verified["email"]})
        assert reset.status_code == 202
    finally:
        limited.clear_faults()
    limited.wait_for_emails(
        lambda m: m.get("subject") == RESET_SUBJECT and verified["email"] in str(m.get("to"))
    )
    assert limited.wait_until(
        lambda: limited.metric_total("RedisUnavailable", Use="mail_limits") >= before + CLIENT_BUDGET + 3
    )

"""`sam local start-api` (SAM CLI's own gateway, authorizer handling and containers) serving a whole
customer and staff flow against `shop backing`, and what its gateway does where it differs from
API Gateway (each difference with its SAM CLI source file in docs/sam-local.md)."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from samlocal.conftest import ADMIN_PASSWORD, SamLocal, StartApi

TIMEOUT = 120  # a function's first request builds its image and starts its container


def call(api: StartApi, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{api.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def login(api: StartApi, username: str, password: str) -> str:
    answer = call(api, "POST", "/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def verification_link(sam: SamLocal, email: str) -> str:
    for message in reversed(sam.emails()):
        if email in str(message.get("to")):
            text = message.get("text") or message.get("html") or message.get("body") or ""
            found = re.search(r"https?://\S+token=[^\s\"'<]+", text)
            if found:
                return found.group(0)
    raise AssertionError(f"no verification e-mail to {email} in {sam.emails()}")


def test_a_customer_and_staff_flow_through_sam_local_start_api(sam: SamLocal, start_api: StartApi) -> None:
    product = call(start_api, "GET", "/products/1")
    assert product.status_code == 200, product.text
    assert product.json()["id"] == 1

    name = f"sam_{uuid.uuid4().hex[:10]}"
    email, password = f"{name}@example.com", "plum-orchard-7-lantern"
    user = {"username": name, "email": email, "first_name": "Sam", "last_name": "Local", "password": password}
    registered = call(start_api, "POST", "/auth/register", json=user)
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]

    # the link opens the storefront `shop backing` serves, whose config points at this API
    link = verification_link(sam, email)
    assert link.startswith(f"{sam.backing.url}/#/verify-email?"), link
    page = requests.get(link.split("#", 1)[0], timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    config = requests.get(f"{sam.backing.url}/config.js", timeout=10).text
    assert start_api.url in config
    token = parse_qs(urlsplit(link.split("#", 1)[1]).query)["token"][0]
    verified = call(start_api, "POST", "/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True

    access = login(start_api, name, password)
    address = call(
        start_api,
        "POST",
        f"/auth/user/{user_id}/addresses",
        access,
        json={
            "street": "1 Main St",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    )
    assert address.status_code == 201, address.text
    created = call(
        start_api,
        "POST",
        "/orders",
        access,
        json={"items": [{"product_id": 1, "quantity": 2}], "shipping_address_id": address.json()["id"]},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["user_id"] == user_id and order["status"] == "pending"
    assert order["items"][0]["product_id"] == 1 and order["items"][0]["quantity"] == 2

    read = call(start_api, "GET", f"/orders/{order['id']}", access)
    assert read.status_code == 200, read.text
    assert read.json()["order_number"] == order["order_number"]

    staff = login(start_api, "admin", ADMIN_PASSWORD)
    confirmed = call(start_api, "PUT", f"/orders/{order['id']}/status", staff, json={"status": "confirmed"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    again = call(start_api, "GET", f"/orders/{order['id']}", access)
    assert [step["status"] for step in again.json()["history"]] == ["pending", "confirmed"]


# ---------------------------------------------------------------- where SAM's gateway differs
def test_no_authorization_header_is_sams_own_401(start_api: StartApi) -> None:
    """API Gateway: our UNAUTHORIZED gateway response. SAM: its identity-source check."""
    answer = call(start_api, "GET", "/orders/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}


def test_a_bad_token_is_a_502_under_sam(start_api: StartApi) -> None:
    """API Gateway: 401 for the authorizer's `Unauthorized`. SAM: taken for a Lambda failure."""
    answer = call(start_api, "GET", "/orders/00000000-0000-0000-0000-000000000000", "not-a-jwt")
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}


def test_an_unknown_route_is_sams_403(start_api: StartApi) -> None:
    """API Gateway: our MISSING_AUTHENTICATION_TOKEN gateway response, 404 `not_found`."""
    answer = call(start_api, "GET", "/no/such/route")
    assert answer.status_code == 403
    assert answer.json() == {"message": "Missing Authentication Token"}


def test_the_storefronts_origin_may_call_the_api(sam: SamLocal, start_api: StartApi) -> None:
    """The storefront `shop backing` serves is another origin than SAM's API: SAM answers the CORS
    preflight from the template's `Cors` (as API Gateway's mock OPTIONS method does) and adds the
    headers to every answer (samcli/local/apigw/local_apigw_service.py)."""
    origin = sam.backing.url
    preflight = call(
        start_api,
        "OPTIONS",
        "/orders",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization,Content-Type,Idempotency-Key",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    product = call(start_api, "GET", "/products/1", headers={"Origin": origin})
    assert product.status_code == 200
    assert product.headers["Access-Control-Allow-Origin"] == "*"

"""The storefront on one origin, the API on another, as deployed (issue 24, item 3).

On AWS the page comes from CloudFront and the API from API Gateway: every request the page makes
is cross-origin, so the browser sends a CORS preflight first for anything that is not a "simple"
request (PATCH, DELETE, PUT, or any request with `Authorization` or a JSON body) and refuses the
answer unless the preflight allows that method and those headers. Locally the page and the API
share an origin and the browser never asks, so these tests serve `web/` from a second origin (a
small static server whose `config.js` points the page at the stack's API, as the deploy step's
does) and drive Debian's Chromium through the routes the storefront calls with every method.

The chain pinned here: template.yaml's `ShopApi.Cors` → the local gateway's preflight (it reads
the template) → the functions' own answers (`shop_shared.api.make_resolver`). Removing PATCH from
the template's `AllowMethods` makes the profile edit fail in the browser ("the browser sent no
PATCH") and the preflight test (proved once by hand).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class Storefront:
    """`web/` served from its own origin, with `config.js` naming the API (a second origin)."""

    def __init__(self, api_base: str) -> None:
        self.config = f'window.SHOP_API_BASE = "{api_base.rstrip("/")}";\n'.encode()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="storefront-origin", daemon=True
        )

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        relative = request.path.lstrip("/") or "index.html"
        if relative == "config.js":
            response = Response(self.config, content_type="text/javascript")
            return response(environ, start_response)
        file = (WEB_ROOT / relative).resolve()
        if WEB_ROOT not in file.parents or not file.is_file():
            return Response("not found", status=404)(environ, start_response)
        kind = TYPES.get(file.suffix, "application/octet-stream")
        return Response(file.read_bytes(), content_type=kind)(environ, start_response)

    def __enter__(self) -> Storefront:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def storefront(stack: ShopStack) -> Iterator[Storefront]:
    with Storefront(stack.url) as served:
        assert served.url != stack.url
        yield served


@pytest.fixture
def visitor(person: Callable[..., Any], storefront: Storefront) -> tuple[Any, list[str]]:
    """A Person (tests/e2e/conftest.py) on the storefront's origin, and the list of what the browser
    refused: CORS refusals reach the console and `requestfailed`, not the page's error handling."""
    shopper = person()
    shopper.base_url = storefront.url
    refused: list[str] = []

    def api_refusal(text: str) -> None:
        # The page probes the local stack's /_dev/emails (mailbox link); no deployed API has it.
        if "/_dev/" not in text:
            refused.append(text)

    shopper.page.on("console", lambda msg: api_refusal(msg.text) if "CORS" in msg.text else None)
    shopper.page.on("requestfailed", lambda r: api_refusal(f"{r.method} {r.url}: {r.failure}"))
    return shopper, refused


@contextmanager
def answer_to(page: Page, method: str, path_part: str, refused: list[str]) -> Iterator[Any]:
    """The API's answer to the request the block makes the page send; a clear failure when the
    browser never sends it (its preflight was refused)."""
    try:
        with page.expect_response(lambda r: r.request.method == method and path_part in r.url) as info:
            yield info
    except PlaywrightTimeout:
        pytest.fail(f"the browser sent no {method} {path_part}: it refused {refused}")


def test_the_storefront_on_another_origin_edits_the_profile_and_deletes_an_address(
    visitor: tuple[Any, list[str]], stack: ShopStack, storefront: Storefront
) -> None:
    shopper, refused = visitor
    who = stack.new_shopper({"street": "1 Old Road"})
    stack.add_address(who, street="2 Second Street")
    user_path = f"/auth/user/{who['user']['id']}"

    # Log in (POST with a JSON body: preflighted), then the account page (GET with Authorization).
    page = shopper.log_in(who["username"], who["password"])
    assert page.url.startswith(storefront.url)
    page.get_by_role("link", name="Account", exact=True).click()
    cards = page.locator(".address-card")
    expect(cards).to_have_count(2)

    # Profile edit: PATCH.
    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("First name", exact=True).fill("Augusta")
    with answer_to(page, "PATCH", user_path, refused) as patched:
        page.get_by_role("button", name="Save profile").click()
    assert patched.value.status == 200, refused
    expect(page.locator(".profile")).to_contain_text("Augusta")

    # Address edit (PUT) and delete (DELETE).
    page.get_by_role("button", name="Edit address 1 Old Road").click()
    page.get_by_label("Street and number", exact=True).fill("3 New Avenue")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".address-card", has_text="3 New Avenue")).to_have_count(1)
    page.get_by_role("button", name="Delete address 3 New Avenue").click()
    with answer_to(page, "DELETE", f"{user_path}/addresses/", refused) as deleted:
        page.get_by_role("button", name="Yes, delete it").click()
    assert deleted.value.status == 204, refused
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("2 Second Street")
    shopper.shot("desktop-cross-origin-account")

    assert refused == []
    saved = stack.get(f"{user_path}/addresses", token=who["token"]).json()["addresses"]
    assert [a["street"] for a in saved] == ["2 Second Street"]
    assert stack.get(user_path, token=who["token"]).json()["first_name"] == "Augusta"


PREFLIGHT_CASES = [
    ("PATCH", "/auth/user/u1"),
    ("DELETE", "/auth/user/u1/addresses/a1"),
    ("PUT", "/auth/user/u1/addresses/a1"),
    ("POST", "/orders"),
    ("PUT", "/orders/o1/status"),
]


@pytest.mark.parametrize(("method", "path"), PREFLIGHT_CASES)
def test_the_gateways_preflight_allows_what_the_storefront_sends(
    stack: ShopStack, storefront: Storefront, method: str, path: str
) -> None:
    """What Chromium asks before each cross-origin call, and what it needs to hear."""
    answer = requests.options(
        stack.url + path,
        headers={
            "Origin": storefront.url,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", storefront.url)
    assert method in answer.headers["Access-Control-Allow-Methods"].split(",")
    allowed_headers = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers


def test_the_functions_answers_carry_the_origin_and_expose_retry_after(
    stack: ShopStack, storefront: Storefront
) -> None:
    """The actual (non-preflight) answers: a function's 200 and its 4xx, read by a script on
    another origin only with `Access-Control-Allow-Origin`; `Retry-After` only if exposed."""
    who = stack.new_user()
    headers = {"Origin": storefront.url, "Authorization": f"Bearer {who['token']}"}
    ok = requests.patch(
        f"{stack.url}/auth/user/{who['user']['id']}",
        json={"last_name": "Lovelace"},
        headers=headers,
        timeout=10,
    )
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] in ("*", storefront.url)
    assert "Retry-After" in ok.headers.get("Access-Control-Expose-Headers", "")
    refused = requests.patch(
        f"{stack.url}/auth/user/{who['user']['id']}",
        json={"email": "not an address"},
        headers=headers,
        timeout=10,
    )
    assert 400 <= refused.status_code < 500
    assert refused.headers["Access-Control-Allow-Origin"] in ("*", storefront.url)

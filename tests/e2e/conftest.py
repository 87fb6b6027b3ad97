"""Browser fixtures: Debian's Chromium driven by Playwright for Python (never a browser download).

The page under test is served by the local stack (`stack` fixture, tests/conftest.py) at `stack.url`.
Screenshots go to test-output/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from shop_local.testing import ShopStack

CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (installs Debian's chromium)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


class Person:
    """One shopper or staff member: their own browser context (own sessionStorage and cart)."""

    def __init__(self, context: BrowserContext, base_url: str, shots: Path) -> None:
        self.context = context
        self.base_url = base_url.rstrip("/")
        self.shots = shots
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        # Uncaught script errors are bugs; failed requests (a 422 we provoke) are not.
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, route: str = "/") -> Page:
        self.page.goto(f"{self.base_url}/#{route}")
        return self.page

    def shot(self, name: str, full_page: bool = True) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full_page)

    def log_in(self, username: str, password: str) -> Page:
        """Log in through the page's own form, then stay on the page it leads to."""
        page = self.open("/login")
        page.get_by_label("Username", exact=True).fill(username)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Log out").wait_for()
        return page

    def open_mailed_link(self, email: str, subject: str) -> Page:
        """Open the newest e-mail to `email` with this subject in the storefront's mailbox view and
        follow its link into the shop ("Open in this shop"), as a person reading it would."""
        page = self.open("/mailbox")
        page.get_by_label("Show e-mails to").fill(email)
        mail = page.locator("details.mail", has_text=subject).first  # newest first
        expect(mail).to_be_visible(timeout=30_000)
        mail.locator("summary").click()
        link = mail.locator(".mail-link").first.inner_text()
        assert "token=" in link, f"the e-mail's link carries no token: {link}"
        mail.get_by_role("link", name="Open in this shop").first.click()
        return page

    def verify_email(self, email: str) -> Page:
        """Confirm the e-mail address through the link in the verification e-mail."""
        page = self.open_mailed_link(email, "Verify your e-mail address")
        expect(page.get_by_role("heading", name="E-mail address confirmed")).to_be_visible()
        return page

    def requests_to(self, path: str) -> list[str]:
        """A list that fills with the URLs of this person's requests whose path ends with `path`."""
        seen: list[str] = []
        self.context.on("request", lambda r: seen.append(r.url) if r.url.endswith(path) else None)
        return seen

    def session_storage(self) -> dict[str, str]:
        return dict(self.page.evaluate("Object.fromEntries(Object.entries(sessionStorage))"))

    def local_storage(self) -> dict[str, str]:
        return dict(self.page.evaluate("Object.fromEntries(Object.entries(localStorage))"))

    def in_viewport(self, selector: str) -> bool:
        """Whether the element is wholly inside the visible window (not just somewhere on the page)."""
        box = self.page.locator(selector).bounding_box()
        size = self.page.viewport_size
        assert box is not None and size is not None, selector
        return (
            box["x"] >= 0
            and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"]
            and box["y"] + box["height"] <= size["height"]
        )


@pytest.fixture(params=["desktop", "phone"])
def width(request: pytest.FixtureRequest) -> str:
    """Run a test at desktop width and at phone width (`person(phone=width == "phone")`)."""
    return str(request.param)


@pytest.fixture
def person(browser: Browser, stack: ShopStack, screenshot_dir: Path) -> Iterator[Callable[..., Person]]:
    """person() → a fresh Person on the stack's storefront at desktop width; person(phone=True) at 375px."""
    people: list[Person] = []

    def make(phone: bool = False) -> Person:
        viewport = PHONE if phone else DESKTOP
        context = browser.new_context(
            viewport=viewport, locale="en-US", timezone_id="UTC", is_mobile=phone, has_touch=phone
        )
        context.set_default_timeout(15_000)
        p = Person(context, stack.url, screenshot_dir)
        people.append(p)
        return p

    yield make
    errors = [error for p in people for error in p.errors]
    for p in people:
        p.context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"

"""What a new user hit in the storefront (issue 29), checked in Chromium: the phone's first screen,
the staff's header, and a session that a restart of the stack ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("who", ["customer", "admin"])
def test_the_phone_nav_leaves_the_first_screen_to_the_shop(
    person: Callable[..., Any], stack: ShopStack, who: str
) -> None:
    shopper = person(phone=True)
    if who == "admin":
        page = shopper.log_in("admin", stack.admin_password)
    else:
        customer = stack.new_user()
        page = shopper.log_in(customer["username"], customer["password"])
    page.goto(f"{stack.url}/#/")
    page.locator(".card").first.wait_for()
    header = page.locator(".site-header").bounding_box()
    screen = page.viewport_size
    assert header is not None and screen is not None
    shopper.shot(f"newcomer-phone-nav-{who}", full_page=False)
    assert header["height"] <= screen["height"] / 8, (
        f"the header takes {header['height']:.0f}px of a {screen['height']}px screen"
    )
    # everything in it is still there, and none of it is cut off sideways
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_an_admin_sees_no_cart(person: Callable[..., Any], stack: ShopStack) -> None:
    staff = person()
    page = staff.log_in("admin", stack.admin_password)
    page.goto(f"{stack.url}/#/")
    page.locator(".card").first.wait_for()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Staff")).to_be_visible()
    expect(nav.get_by_role("link", name="Cart", exact=False)).to_have_count(0)
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)
    page.goto(f"{stack.url}/#/products/1")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)
    # a customer in the same place has the cart
    customer = stack.new_user()
    shopper = person()
    page = shopper.log_in(customer["username"], customer["password"])
    page.goto(f"{stack.url}/#/")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Cart", exact=False)
    ).to_be_visible()


def test_a_session_ended_by_a_restart_says_so_on_the_login_page(
    person: Callable[..., Any], stack: ShopStack, redis_url: str
) -> None:
    customer = stack.new_user()
    shopper = person()
    page = shopper.log_in(customer["username"], customer["password"])
    page.goto(f"{stack.url}/#/orders")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()

    # The stack restarts: a new process with nothing of the old one (no users, no sessions, another
    # JWT secret). The page keeps its origin (and so its kept session), the requests reach the new one.
    with ShopStack(redis_url=redis_url) as restarted:

        def to_restarted(route: Route) -> None:
            route.continue_(url=route.request.url.replace(stack.url, restarted.url, 1))

        shopper.context.route(f"{stack.url}/**", to_restarted)
        page.reload()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.get_by_text("Your session has ended")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)
        shopper.shot("newcomer-session-ended-by-restart")

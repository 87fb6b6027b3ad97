"""A screenshot of each main page at desktop and phone width, for a person to look at
(test-output/screenshots/{desktop,phone}-page-*.png); each page is checked to have rendered and to
fit the width. The staff queue and order pages are shot in test_staff.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e


def test_each_main_page(person: Callable[..., Any], stack: ShopStack, width: str) -> None:
    who = stack.new_shopper()
    answer = stack.place_order(who, [{"product_id": 1, "quantity": 1}, {"product_id": 10, "quantity": 2}])
    assert answer.status_code == 201, answer.text
    order = answer.json()

    visitor = person(phone=width == "phone")
    page = visitor.open("/")

    def shoot(route: str, heading: str, name: str) -> None:
        page.goto(f"{stack.url}/#{route}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{route} scrolls sideways by {overflow}px"
        visitor.shot(f"{width}-page-{name}")

    shoot("/", "Products", "01-catalog")
    shoot("/products/1", "Samsung 55-Inch Class Crystal UHD DU7200 4K Smart TV (2024)", "02-product")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    shoot("/cart", "Your cart", "03-cart")
    shoot("/register", "Create an account", "04-register")
    shoot("/login", "Log in", "05-login")
    shoot("/forgot-password", "Forgot your password?", "05a-forgot-password")
    shoot("/reset-password?token=not-a-real-token", "Choose a new password", "05b-reset-password")
    shoot("/verify-email?token=not-a-real-token", "Confirm your e-mail address", "05c-verify-email-bad-link")
    expect(page.get_by_role("alert")).to_contain_text("This link no longer works")
    visitor.log_in(who["username"], who["password"])
    shoot("/checkout", "Checkout", "06-checkout")
    shoot("/account", "Your account", "07-account")
    shoot("/orders", "My orders", "08-my-orders")
    shoot(f"/orders/{order['id']}", f"Order {order['order_number']}", "09-order")
    shoot("/mailbox", "Mailbox", "10-mailbox")

    staff = person(phone=width == "phone")
    page = staff.log_in("admin", stack.admin_password)
    visitor = staff
    shoot(f"/staff/users/{who['user']['id']}", f"Orders of {who['username']}", "11-staff-customer")

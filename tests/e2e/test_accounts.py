"""Accounts in a real browser (issue 16, storefront part): confirm the e-mail from the mailbox,
sessions that end on log-out and survive reloads, tabs and the 15-minute access token, forgot and
change password, profile and address edits.
Screenshots: test-output/screenshots/{desktop,phone}-account-*.png.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def field_error(page: Page, label: str) -> Any:
    return page.locator(".field", has=page.get_by_label(label, exact=True)).locator(".field-error")


def register_in_page(page: Page, username: str, email: str) -> None:
    page.get_by_role("link", name="Register", exact=True).click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("First name", exact=True).fill("Grace")
    page.get_by_label("Last name", exact=True).fill("Hopper")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def log_in(page: Page, username: str, password: str) -> None:
    if not page.get_by_role("heading", name="Log in").is_visible():
        page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def no_access_token_in(values: dict[str, str], where: str) -> None:
    # A JWT starts with the base64 of '{"': "eyJ".
    for key, value in values.items():
        assert "eyJ" not in value, f"an access token (JWT) in {where}[{key}]"


def test_register_confirm_from_the_mailbox_shop_log_out_and_back_in(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    username = f"acc_{uuid.uuid4().hex[:10]}"
    email = f"{username}@example.com"
    shopper = person(phone=width == "phone")
    page = shopper.open("/")
    register_in_page(page, username, email)
    expect(page.locator("#flash")).to_contain_text(email)
    log_in(page, username, PASSWORD)

    # Not yet confirmed: a banner everywhere, and the checkout says so before and after a try.
    banner = page.locator("#banner").get_by_role("region", name="Confirm your e-mail address")
    expect(banner).to_contain_text(email)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator(".profile")).to_contain_text("Not confirmed")
    page.get_by_role("button", name="Add an address").click()
    page.get_by_label("Street and number", exact=True).fill("1 Main Street")
    page.get_by_label("Postal code", exact=True).fill("10115")
    page.get_by_label("City", exact=True).fill("Berlin")
    page.get_by_label("State or region", exact=True).fill("Berlin")
    page.get_by_label("Country", exact=True).fill("Germany")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".address-card")).to_have_count(1)
    page.goto(f"{stack.url}/#/products/1")
    page.get_by_role("button", name="Add to cart").click()
    page.goto(f"{stack.url}/#/checkout")
    notice = page.locator(".checkout-verify")
    expect(notice).to_contain_text("Please confirm your e-mail address")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator(".checkout [role=alert]").first).to_contain_text("confirm your e-mail address")
    fits(page)
    shopper.shot(f"{width}-account-01-checkout-unconfirmed")

    # "Send the e-mail again" from the checkout's notice (the banner leaves it to the checkout)
    expect(banner).to_have_count(0)
    notice.get_by_role("button", name="Send the e-mail again").click()
    expect(notice).to_contain_text("We sent a new link")
    emails = stack.wait_for_emails(
        lambda m: email in m["to"] and "Verify your e-mail" in m["subject"], count=2
    )
    assert len(emails) >= 2

    # The link from the mailbox (the newest one) confirms the address; the banner goes.
    shopper.verify_email(email)
    fits(page)
    shopper.shot(f"{width}-account-02-email-confirmed")
    expect(banner).to_have_count(0)
    page.get_by_role("link", name="Go to your cart").click()
    page.get_by_role("link", name="Checkout").click()
    expect(page.locator(".checkout-verify")).to_be_empty()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    order_number = page.locator("#order-number").inner_text().strip()

    # A reload keeps the session: the refresh token is in this tab's sessionStorage, never in
    # localStorage; the access token is in memory only.
    assert "shop.refresh" in shopper.session_storage()
    no_access_token_in(shopper.session_storage(), "sessionStorage")
    no_access_token_in(shopper.local_storage(), "localStorage")
    assert not [key for key in shopper.local_storage() if "token" in key or "refresh" in key]
    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    refresh_token = shopper.session_storage()["shop.refresh"]

    # Log out ends the session on the server: its refresh token no longer works.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("You are logged out")
    assert "shop.refresh" not in shopper.session_storage()
    assert stack.post("/auth/refresh", json={"refresh_token": refresh_token}).status_code == 401
    page.reload()
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()

    # ... and back in: the order is there.
    log_in(page, username, PASSWORD)
    page.get_by_role("link", name="My orders", exact=True).click()
    expect(page.locator(".order-row")).to_contain_text(order_number)


def test_tabs_share_one_session_refresh_once_and_log_out_together(
    person: Callable[..., Any], stack: ShopStack
) -> None:
    who = stack.new_user()
    shopper = person()
    refreshes = shopper.requests_to("/auth/refresh")
    shopper.context.clock.install()
    first = shopper.log_in(who["username"], who["password"])

    # A second tab of the same browser is logged in too, from the first tab (no refresh needed).
    second = shopper.context.new_page()
    second.goto(f"{stack.url}/#/account")
    expect(second.get_by_role("heading", name="Your account")).to_be_visible()
    assert refreshes == []

    # Past the access token's 15 minutes both tabs want a new one: one refresh serves both (a second
    # refresh with the same refresh token would end the session), and both go on working.
    shopper.context.clock.fast_forward("14:30")
    first.wait_for_timeout(1500)
    second.get_by_role("link", name="My orders", exact=True).click()
    expect(second.get_by_role("heading", name="My orders")).to_be_visible()
    first.get_by_role("link", name="Account", exact=True).click()
    expect(first.get_by_role("heading", name="Your account")).to_be_visible()
    assert len(refreshes) == 1, refreshes
    in_second = second.evaluate("sessionStorage.getItem('shop.refresh')")
    assert shopper.session_storage()["shop.refresh"] == in_second, "both tabs keep the new refresh token"

    # Logging out in one tab logs out the other.
    first.get_by_role("button", name="Log out").click()
    expect(second.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    expect(second.locator("#flash")).to_contain_text("logged out in another window")


def test_forgot_password_from_the_login_page(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_user()
    visitor = person(phone=width == "phone")
    page = visitor.open("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill(who["email"])
    page.get_by_role("button", name="Send me a link").click()
    done = page.get_by_role("status").filter(has_text="If an account uses")
    expect(done).to_contain_text(who["email"])
    fits(page)
    visitor.shot(f"{width}-account-03-forgot-password")
    # the same answer for an address without an account: nothing tells whether it has one
    page.get_by_role("link", name="Back to log in").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail", exact=True).fill(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status").filter(has_text="If an account uses")).to_be_visible()

    # The e-mailed link opens the page for a new password.
    visitor.open_mailed_link(who["email"], "Reset your password")
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "token=" not in page.url, "the single-use token stays out of the history"
    page.get_by_label("New password", exact=True).fill("another horse battery")
    page.get_by_label("New password again", exact=True).fill("another horse batterx")
    page.get_by_role("button", name="Save the new password").click()
    expect(field_error(page, "New password again")).to_have_text("The two passwords are not the same.")
    page.get_by_label("New password", exact=True).fill("password1")
    page.get_by_label("New password again", exact=True).fill("password1")
    page.get_by_role("button", name="Save the new password").click()
    expect(field_error(page, "New password")).to_contain_text("too easy to guess")
    fits(page)
    visitor.shot(f"{width}-account-04-reset-password")
    new_password = f"fresh-{uuid.uuid4().hex[:8]}-secret"
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password again", exact=True).fill(new_password)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("Your password is changed")

    # the old password no longer works, the new one does
    page.get_by_label("Username", exact=True).fill(who["username"])
    page.get_by_label("Password", exact=True).fill(who["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    log_in(page, who["username"], new_password)

    # The link works once.
    visitor.open_mailed_link(who["email"], "Reset your password")
    page.get_by_label("New password", exact=True).fill(new_password + "x")
    page.get_by_label("New password again", exact=True).fill(new_password + "x")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator("main [role=alert]").first).to_contain_text("This link no longer works")
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()


def test_change_password_logs_out_everywhere(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_user()
    other_device = person()
    elsewhere = other_device.log_in(who["username"], who["password"])
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Change password").click()
    page.get_by_label("Current password", exact=True).fill("not my password")
    new_password = f"changed-{uuid.uuid4().hex[:8]}-secret"
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password again", exact=True).fill(new_password)
    page.get_by_role("button", name="Change password").last.click()
    expect(field_error(page, "Current password")).to_have_text("That is not your current password.")
    fits(page)
    shopper.shot(f"{width}-account-05-change-password")
    page.get_by_label("Current password", exact=True).fill(who["password"])
    page.get_by_role("button", name="Change password").last.click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("logged out everywhere")
    expect(page.get_by_label("Username", exact=True)).to_have_value(who["username"])
    page.get_by_label("Password", exact=True).fill(new_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    # The other device's session ended too: its next request sends it to the login page.
    stack.forget_authorizations()
    elsewhere.get_by_role("link", name="My orders", exact=True).click()
    expect(elsewhere.get_by_role("heading", name="Log in")).to_be_visible()
    expect(elsewhere.locator("#flash")).to_contain_text("Your session has ended")


def test_edit_profile_and_edit_and_delete_addresses(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper({"street": "1 Old Road"})
    stack.add_address(who, street="2 Second Street")
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.get_by_role("link", name="Account", exact=True).click()
    cards = page.locator(".address-card")
    expect(cards).to_have_count(2)

    # Edit: the form comes filled in; the new street is saved.
    page.get_by_role("button", name="Edit address 1 Old Road").click()
    expect(page.get_by_label("Street and number", exact=True)).to_have_value("1 Old Road")
    page.get_by_label("Street and number", exact=True).fill("3 New Avenue")
    fits(page)
    shopper.shot(f"{width}-account-06-edit-address")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".address-card", has_text="3 New Avenue").locator(".badge")).to_have_text("Default")
    expect(page.locator(".address-card", has_text="1 Old Road")).to_have_count(0)

    # Delete the default: asked first; the other address becomes the default.
    page.get_by_role("button", name="Delete address 3 New Avenue").click()
    question = page.get_by_role("group", name="Delete this address?")
    expect(question).to_contain_text("newest other address becomes the default")
    shopper.shot(f"{width}-account-07-delete-address")
    question.get_by_role("button", name="Keep it").click()
    expect(cards).to_have_count(2)
    page.get_by_role("button", name="Delete address 3 New Avenue").click()
    page.get_by_role("button", name="Yes, delete it").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("2 Second Street")
    expect(cards.first.locator(".badge")).to_have_text("Default")
    saved = stack.get(f"/auth/user/{who['user']['id']}/addresses", token=who["token"]).json()["addresses"]
    assert [(a["street"], a["is_default"]) for a in saved] == [("2 Second Street", True)]

    # Profile: a name change is saved; a new e-mail must be confirmed again.
    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("First name", exact=True).fill("Augusta")
    new_email = f"new-{who['email']}"
    page.get_by_label("E-mail", exact=True).fill(new_email)
    page.get_by_label("Current password", exact=True).fill(who["password"])
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#flash")).to_contain_text(f"We sent a link to {new_email}")
    profile = page.locator(".profile")
    expect(profile).to_contain_text("Augusta")
    expect(profile).to_contain_text(new_email)
    expect(profile).to_contain_text("Not confirmed")
    expect(page.locator("#banner")).to_contain_text(new_email)
    fits(page)
    shopper.shot(f"{width}-account-08-profile-changed")
    shopper.verify_email(new_email)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator(".profile")).to_contain_text("Confirmed")
    expect(page.locator("#banner")).to_be_empty()

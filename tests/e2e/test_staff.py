"""Staff run the shop's day from the staff area (issue 17): find a new order in the queue without
knowing any id, confirm it, ship it with a tracking number, cancel another after being asked;
the shopper sees the timeline and the tracking number. Needs the staff order API (GET /orders
for admins, `history`, `tracking`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e


def buttons(scope: Locator) -> list[str]:
    return [text.strip() for text in scope.locator(".status-actions button").all_inner_texts()]


def place(stack: ShopStack, who: dict[str, Any]) -> dict[str, Any]:
    answer = stack.place_order(who, [{"product_id": 2, "quantity": 1}, {"product_id": 7, "quantity": 2}])
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def newest_first(page: Page) -> None:
    page.get_by_role("link", name="Newest first").click()
    expect(page.locator(".sort-toggle [aria-current='true']")).to_have_text("Newest first")


def open_staff(page: Page) -> None:
    page.get_by_role("link", name="Staff", exact=True).click()
    # The queue's first load asks for every tab's count at once: with cold environments on a busy
    # CI machine (RIE's cold starts, several at once) that can take longer than expect's 5 s.
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff: orders", timeout=20_000)


def test_staff_find_confirm_and_ship_a_new_order_and_the_shopper_sees_it(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    phone = width == "phone"
    who = stack.new_shopper()
    order = place(stack, who)
    number = order["order_number"]

    staff = person(phone=phone)
    page = staff.log_in("admin", stack.admin_password)
    open_staff(page)

    # The pending queue comes first, with a count; newest first puts the new order on top.
    tabs = page.locator(".queue-tabs a")
    expect(tabs.first).to_contain_text("Pending")
    expect(tabs.first).to_have_attribute("aria-current", "page")
    expect(tabs.first.locator(".count")).to_have_text(re.compile(r"^[1-9]\d*\+?$"))
    newest_first(page)
    rows = page.locator(".order-row")
    expect(rows.first).to_contain_text(number)
    expect(rows.first.locator(".badge")).to_have_text("Pending")
    fits(page)
    staff.shot(f"{width}-staff-01-queue")

    # Open it from the queue; only the allowed next steps are offered.
    rows.first.get_by_role("link", name=number).click()
    expect(page.locator("#order-number")).to_have_text(number)
    expect(page.locator("#customer")).to_contain_text(who["username"])
    expect(page.get_by_role("link", name="Staff", exact=True)).to_have_attribute("aria-current", "page")
    status = page.locator(".status-line")
    assert buttons(status) == ["Confirm", "Cancel order"]
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(status.locator(".badge")).to_have_text("Confirmed")
    assert buttons(status) == ["Mark as shipped", "Cancel order"]

    # Shipping asks for the carrier and the tracking number, and will not go without them.
    page.get_by_role("button", name="Mark as shipped").click()
    step = page.locator(".status-step")
    step.get_by_role("button", name="Mark as shipped").click()
    expect(step.locator(".field", has=page.get_by_label("Carrier")).locator(".field-error")).to_have_text(
        "Enter the carrier (e.g. DHL)."
    )
    expect(
        step.locator(".field", has=page.get_by_label("Tracking number")).locator(".field-error")
    ).to_have_text("Enter the tracking number.")
    assert stack.get(f"/orders/{order['id']}", token=who["token"]).json()["status"] == "confirmed"
    step.get_by_label("Carrier").fill("DHL")
    step.get_by_label("Tracking number").fill("JD014600006281230704")
    step.get_by_label("Note (optional)").fill("Two parcels")
    staff.shot(f"{width}-staff-02-ship-form")
    step.get_by_role("button", name="Mark as shipped").click()
    expect(status.locator(".badge")).to_have_text("Shipped")
    expect(page.locator("#tracking")).to_have_text("DHL · JD014600006281230704")
    assert buttons(status) == ["Mark as delivered"]
    expect(page.locator(".timeline li")).to_have_count(3)
    fits(page)
    staff.shot(f"{width}-staff-03-order-shipped")

    saved = stack.get(f"/orders/{order['id']}", token=who["token"]).json()
    assert saved["status"] == "shipped"
    assert saved["tracking"] == {"carrier": "DHL", "tracking_number": "JD014600006281230704"}
    assert [(step["status"], step["by"]) for step in saved["history"]] == [
        ("pending", "customer"),
        ("confirmed", "admin"),
        ("shipped", "admin"),
    ]

    # The shopper sees the timeline and the tracking number.
    shopper = person(phone=phone)
    mine = shopper.log_in(who["username"], who["password"])
    mine.get_by_role("link", name="My orders", exact=True).click()
    mine.get_by_role("link", name=number).click()
    expect(mine.locator(".status-line .badge")).to_have_text("Shipped")
    expect(mine.locator("#tracking")).to_have_text("DHL · JD014600006281230704")
    timeline = mine.locator(".timeline li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(0)).to_contain_text("Placed")
    expect(timeline.nth(0)).to_contain_text("by you")
    expect(timeline.nth(1)).to_contain_text("Confirmed")
    expect(timeline.nth(2)).to_contain_text("Shipped")
    expect(timeline.nth(2)).to_contain_text("Two parcels")
    expect(mine.locator(".status-line button")).to_have_count(0)
    shopper.shot(f"{width}-shopper-order-tracking")


def test_staff_search_and_cancel_after_being_asked(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper()
    order = place(stack, who)
    number = order["order_number"]
    staff = person(phone=width == "phone")
    page = staff.log_in("admin", stack.admin_password)
    open_staff(page)

    # By order number, typed the way people type it.
    year, serial = re.fullmatch(r"ORD-(\d{4})-(\d{6})", number).groups()  # type: ignore[union-attr]
    page.get_by_label("Order number", exact=True).fill(f"ord-{year}-{int(serial)}")
    page.get_by_role("button", name="Find order").click()
    expect(page.locator("#order-number")).to_have_text(number)

    # Cancelling asks first; the customer's reason reaches the order's history.
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator(".status-line .badge")).to_have_text("Pending")
    page.get_by_label("Reason, for the customer (optional)").fill("Out of stock, sorry")
    staff.shot(f"{width}-staff-04-cancel-question")
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.locator(".status-line .badge")).to_have_text("Cancelled")
    saved = stack.get(f"/orders/{order['id']}", token=who["token"]).json()
    assert saved["history"][-1]["note"] == "Out of stock, sorry"

    # By customer: the start of the username or of the e-mail address, in any case (GET /auth/users).
    open_staff(page)
    page.get_by_label("Customer", exact=True).fill(who["username"].upper())
    page.get_by_role("button", name="Find customer").click()
    results = page.locator(".search-results")
    found = results.locator(".customer-results li")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(who["email"])
    staff.shot(f"{width}-staff-05-search")
    page.get_by_label("Customer", exact=True).fill(f"{who['email'].split('@')[0]}@EXAMPLE")
    page.get_by_role("button", name="Find customer").click()
    expect(results.get_by_role("link", name=who["username"], exact=True)).to_be_visible()
    page.get_by_label("Customer", exact=True).fill(f"nobody-{who['username']}")
    page.get_by_role("button", name="Find customer").click()
    expect(results).to_contain_text("No customer starts with")
    page.get_by_label("Customer", exact=True).fill(who["username"])
    page.get_by_role("button", name="Find customer").click()
    results.get_by_role("link", name=who["username"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Orders of {who['username']}")
    expect(page.locator(".order-row", has_text=number).locator(".badge")).to_have_text("Cancelled")


def test_staff_pages_outlive_the_access_token(person: Callable[..., Any], stack: ShopStack) -> None:
    """The access token lasts 15 minutes; a staff page open all day refreshes it (once) and goes on."""
    who = stack.new_shopper()
    order = place(stack, who)
    staff = person()
    refreshes = staff.requests_to("/auth/refresh")
    staff.context.clock.install()
    page = staff.log_in("admin", stack.admin_password)
    open_staff(page)
    staff.context.clock.fast_forward("16:00")  # past the 15 minutes of the login's access token
    page.get_by_role("link", name=re.compile("^All orders")).click()
    expect(page.locator(".order-row", has_text=order["order_number"])).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert len(refreshes) == 1, refreshes


def test_customers_cannot_open_the_staff_area(person: Callable[..., Any], stack: ShopStack) -> None:
    who = stack.new_shopper()
    shopper = person()
    page = shopper.log_in(who["username"], who["password"])
    expect(page.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    page.goto(f"{stack.url}/#/staff")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff only")
    expect(page.locator(".order-row")).to_have_count(0)


def test_staff_confirm_straight_from_the_queue(person: Callable[..., Any], stack: ShopStack) -> None:
    who = stack.new_shopper()
    order = place(stack, who)
    staff = person()
    page = staff.log_in("admin", stack.admin_password)
    open_staff(page)
    newest_first(page)
    row = page.locator(".order-row", has_text=order["order_number"])
    assert buttons(row) == ["Confirm", "Cancel order"]
    row.get_by_role("button", name="Confirm", exact=True).click()
    expect(row.locator(".badge")).to_have_text("Confirmed")
    expect(page.get_by_role("status").filter(has_text=order["order_number"])).to_contain_text(
        "is now confirmed: it has left this queue"
    )
    assert buttons(row) == ["Mark as shipped", "Cancel order"]
    assert stack.get(f"/orders/{order['id']}", token=who["token"]).json()["status"] == "confirmed"
    page.get_by_role("link", name=re.compile("^Confirmed")).click()
    expect(page.locator(".order-row", has_text=order["order_number"])).to_be_visible()

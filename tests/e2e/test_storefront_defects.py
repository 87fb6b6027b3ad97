"""The storefront defects a new user hit (issue 17), each checked in Chromium at desktop and phone
width: what a person sees, not how the page is built."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from shop_local.testing import ShopStack

pytestmark = pytest.mark.e2e

DEVELOPER_WORDS = re.compile(
    r"String should|Value error|pattern|Invalid request|\bloc\b|Field required", re.I
)


def place(
    stack: ShopStack, who: dict[str, Any], items: list[tuple[int, int]] | None = None
) -> dict[str, Any]:
    body = [{"product_id": pid, "quantity": qty} for pid, qty in (items or [(2, 2), (1, 1)])]
    answer = stack.place_order(who, body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def move(stack: ShopStack, order: dict[str, Any], *steps: dict[str, Any]) -> None:
    token = stack.admin_token()
    for body in steps:
        answer = stack.put(f"/orders/{order['id']}/status", token=token, json=body)
        assert answer.status_code == 200, answer.text


SHIP = {"status": "shipped", "carrier": "DHL", "tracking_number": "JD0146000062"}


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


# 1 -------------------------------------------------------------------------------------------
def test_no_null_under_a_final_status(person: Callable[..., Any], stack: ShopStack, width: str) -> None:
    who = stack.new_shopper()
    shipped, delivered, cancelled = place(stack, who), place(stack, who), place(stack, who)
    move(stack, shipped, {"status": "confirmed"}, SHIP)
    move(stack, delivered, {"status": "confirmed"}, SHIP, {"status": "delivered"})
    move(stack, cancelled, {"status": "cancelled"})

    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    for order, label in ((shipped, "Shipped"), (delivered, "Delivered"), (cancelled, "Cancelled")):
        page.goto(f"{stack.url}/#/orders/{order['id']}")
        expect(page.locator(".status-line .badge")).to_have_text(label)
        expect(page.locator(".status-line button")).to_have_count(0)
        expect(page.locator(".status-line")).not_to_contain_text("null")
        expect(page.locator("main")).not_to_contain_text(re.compile(r"\bnull\b|\bundefined\b"))
    shopper.shot(f"{width}-defect1-delivered-order")


# 2 -------------------------------------------------------------------------------------------
def test_add_to_cart_is_confirmed_where_the_shopper_looks(person: Callable[..., Any], width: str) -> None:
    shopper = person(phone=width == "phone")
    page = shopper.open("/")
    last = page.locator(".card").last
    last.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 300, "the test needs a scrolled page"
    title = last.locator(".card-title").inner_text().strip()
    last.get_by_role("button", name=re.compile("^Add to cart")).click()
    toast = page.locator("#flash .flash")
    expect(toast).to_contain_text(title)
    assert shopper.in_viewport("#flash .flash"), "the confirmation is outside the visible window"
    expect(page.locator("#flash")).to_have_attribute("aria-live", "polite")
    shopper.shot(f"{width}-defect2-added-when-scrolled", full_page=False)


# 3 -------------------------------------------------------------------------------------------
def test_order_table_shows_subtotals_and_total_without_sideways_scrolling(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper()
    order = place(stack, who, [(2, 2), (3, 1), (1, 12)])
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.goto(f"{stack.url}/#/orders/{order['id']}")
    expect(page.locator("#order-total")).to_have_text(f"${float(order['total_amount']):,.2f}")
    size = page.viewport_size
    assert size
    cells = page.locator("table.items tbody tr td:last-child")  # the subtotal column
    expect(cells).to_have_count(3)
    for i in range(3):
        box = cells.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], f"subtotal {i} is cut off"
    total = page.locator("#order-total").bounding_box()
    assert total and total["x"] + total["width"] <= size["width"], "the total is cut off"
    wrap = page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth - w.clientWidth })()"
    )
    assert wrap <= 0, f"the item table hides {wrap}px to the side"
    no_sideways_scroll(page)
    shopper.shot(f"{width}-defect3-order-table")


# 4 -------------------------------------------------------------------------------------------
def test_cancel_asks_first_and_the_page_stops_thanking(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper()
    order = place(stack, who)
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.goto(f"{stack.url}/#/orders/{order['id']}?placed=1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your order")

    # One click only asks; "No" leaves the order as it was.
    page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_text(f"Cancel order {order['order_number']}?")).to_be_visible()
    expect(page.locator(".status-line .badge")).to_have_text("Pending")
    shopper.shot(f"{width}-defect4-cancel-question")
    page.get_by_role("button", name="No, keep the order").click()
    expect(page.locator(".status-step")).to_have_count(0)
    assert stack.get(f"/orders/{order['id']}", token=who["token"]).json()["status"] == "pending"

    page.get_by_role("button", name="Cancel order").click()
    page.get_by_label("Reason (optional)").fill("Ordered twice by mistake")
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.locator(".status-line .badge")).to_have_text("Cancelled")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order['order_number']}")
    expect(page.get_by_text("Thank you for your order")).to_have_count(0)
    expect(page.locator(".timeline li").last).to_contain_text("Cancelled")
    expect(page.locator(".timeline li").last).to_contain_text("Ordered twice by mistake")
    assert stack.get(f"/orders/{order['id']}", token=who["token"]).json()["status"] == "cancelled"
    page.reload()  # still true after a reload of the ?placed=1 address
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order['order_number']}")
    shopper.shot(f"{width}-defect4-cancelled")


# 5 -------------------------------------------------------------------------------------------
def test_checkout_offers_only_cash_on_delivery(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper()
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.goto(f"{stack.url}/#/products/1")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    page.goto(f"{stack.url}/#/checkout")
    payment = page.locator("#payment-method")
    expect(payment).to_contain_text("Cash on delivery")
    expect(payment).to_contain_text("Nothing is charged now")
    for method in ("Credit card", "Debit card", "PayPal", "Bank transfer"):
        expect(page.get_by_text(method)).to_have_count(0)
    shopper.shot(f"{width}-defect5-checkout")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Cash on delivery")
    orders = stack.get(f"/users/{who['user']['id']}/orders", token=who["token"]).json()["orders"]
    assert [o["payment_method"] for o in orders] == ["cash_on_delivery"]


# 6 -------------------------------------------------------------------------------------------
def test_form_errors_are_one_human_sentence_per_field(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    shopper = person(phone=width == "phone")
    page = shopper.open("/register")
    page.get_by_label("Username", exact=True).fill("a b")
    page.get_by_label("E-mail", exact=True).fill("not-an-address")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account").click()
    errors = page.locator(".field-error")
    expect(errors.nth(0)).not_to_be_empty()
    texts = {
        label: page.locator(".field", has=page.get_by_label(label, exact=True))
        .locator(".field-error")
        .inner_text()
        .strip()
        for label in ("Username", "E-mail", "First name", "Last name", "Password")
    }
    assert texts == {
        "Username": "Use 3 to 32 characters: letters, digits, dots, dashes or underscores.",
        "E-mail": "Enter an e-mail address like name@example.com.",
        "First name": "Enter your first name.",
        "Last name": "Enter your last name.",
        "Password": "Use at least 8 characters.",
    }
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Please correct the fields marked below.")
    expect(page.locator("main")).not_to_contain_text(DEVELOPER_WORDS)
    shopper.shot(f"{width}-defect6-register-errors")

    # The empty address form: five different sentences, one per field, none on top repeated.
    who = stack.new_user()
    page = shopper.log_in(who["username"], who["password"])
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Add an address").click()
    page.get_by_role("button", name="Save address").click()
    slots = page.locator(".address-form .field-error")
    expect(slots.first).not_to_be_empty()
    messages = [text.strip() for text in slots.all_inner_texts()]
    assert len(messages) == 5 and len(set(messages)) == 5, messages
    assert all(m.startswith("Enter the ") for m in messages), messages
    expect(page.locator(".address-form .alert")).to_have_text("Please correct the fields marked below.")
    expect(page.locator("main")).not_to_contain_text(DEVELOPER_WORDS)
    shopper.shot(f"{width}-defect6-address-errors")


def test_rate_limit_says_the_wait_once_in_minutes(
    person: Callable[..., Any], stack: ShopStack, width: str
) -> None:
    who = stack.new_shopper()
    for _ in range(20):
        answer = stack.place_order(who, [{"product_id": 1, "quantity": 1}])
        if answer.status_code == 429:
            break
        assert answer.status_code == 201, answer.text
    else:
        pytest.fail("the order rate limit never answered 429")
    shopper = person(phone=width == "phone")
    page = shopper.log_in(who["username"], who["password"])
    page.goto(f"{stack.url}/#/products/1")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    page.goto(f"{stack.url}/#/checkout")
    page.get_by_role("button", name="Place order").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        re.compile(r"^You have placed several orders in a short time\. Please try again in \d+ minutes?\.$")
    )
    shopper.shot(f"{width}-defect6-rate-limited", full_page=False)


# 7 -------------------------------------------------------------------------------------------
def test_catalog_names_and_the_price_before_the_sale(person: Callable[..., Any], width: str) -> None:
    shopper = person(phone=width == "phone")
    page = shopper.open("/")
    expect(page.get_by_label("Category").locator("option[value='tv']")).to_have_text("TV")
    card = page.locator(".card[data-product-id='1']")  # the stand-in's product 1: $429.99, 14% off
    expect(card.locator(".card-category")).to_have_text("TV")
    expect(card.locator(".card-brand")).to_have_text("Samsung")
    expect(card.locator(".price-now")).to_have_text("$429.99")
    expect(card.locator(".price-before")).to_have_text("was $499.99")
    expect(card.locator(".badge-sale")).to_have_text("Sale: 14% off")
    not_on_sale = page.locator(".card:not(:has(.badge-sale))").first
    expect(not_on_sale.locator(".price-before")).to_have_count(0)

    page.goto(page.url.split("#")[0] + "#/products/1")
    facts = page.locator(".product .facts")
    expect(facts).to_contain_text("Samsung")
    expect(facts).not_to_contain_text("samsung")
    expect(facts).to_contain_text("TV")
    expect(page.locator(".breadcrumb")).to_have_text("← TV")
    expect(page.locator(".price-large .price-before")).to_have_text("was $499.99")
    shopper.shot(f"{width}-defect7-product")

"""The storefront in a real browser against the local stack: a customer shops end to end, staff
ship the order, and the page works at phone width and from the keyboard."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from shop_local.testing import ShopStack, wait_until

pytestmark = pytest.mark.e2e

ORDER_NUMBER = re.compile(r"ORD-\d{4}-\d{6}")
PASSWORD = "correct horse battery"


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


def price_of(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.]", "", text))


def field_error(page: Page, label: str) -> Locator:
    """The error slot next to the field with this label."""
    return page.locator(".field", has=page.get_by_label(label, exact=True)).locator(".field-error")


def new_customer() -> dict[str, str]:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    return {
        "username": name,
        "email": f"{name}@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace <script>",
        "password": PASSWORD,
    }


def register(page: Page, customer: dict[str, str]) -> None:
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Username", exact=True).fill(customer["username"])
    page.get_by_label("E-mail", exact=True).fill(customer["email"])
    page.get_by_label("First name", exact=True).fill(customer["first_name"])
    page.get_by_label("Last name", exact=True).fill(customer["last_name"])
    page.get_by_label("Password", exact=True).fill(customer["password"])
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def log_in(page: Page, username: str, password: str) -> None:
    if not page.get_by_role("heading", name="Log in").is_visible():
        page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def add_address(page: Page, street: str) -> None:
    page.get_by_label("Street and number", exact=True).fill(street)
    page.get_by_label("Postal code", exact=True).fill("10115")
    page.get_by_label("City", exact=True).fill("Berlin")
    page.get_by_label("State or region", exact=True).fill("Berlin")
    page.get_by_label("Country", exact=True).fill("Germany")
    page.get_by_role("button", name="Save address").click()


def status_buttons(scope: Locator) -> list[str]:
    return [text.strip() for text in scope.locator(".status-actions button").all_inner_texts()]


def test_customer_shops_end_to_end_and_staff_ship_the_order(
    person: Callable[..., Any], stack: ShopStack
) -> None:
    customer = new_customer()
    shopper = person()
    page = shopper.open("/")

    # --- browse: the grid, then one category only
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    expect(cards.first.locator(".price")).to_have_text(re.compile(r"^\$\d[\d,]*\.\d{2}"))
    shopper.shot("01-catalog")
    option = page.get_by_label("Category").locator("option").nth(1)
    category, category_label = option.get_attribute("value"), option.inner_text().strip()
    assert category and category_label
    page.get_by_label("Category").select_option(category)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"category={re.escape(category)}"))
    # the new grid, not the one still shown while it loads
    expect(page.locator(".card-category").filter(has_not_text=category_label)).to_have_count(0)
    expect(cards.first).to_be_visible()

    def shown_categories() -> set[str]:
        return {text.strip() for text in page.locator(".card-category").all_inner_texts()}

    # the grid is redrawn after the URL changes: wait for the filtered grid itself, not a moment
    try:
        wait_until(lambda: shown_categories() == {category_label}, timeout=10)
    except AssertionError:
        assert shown_categories() == {category_label}

    # --- register: the server's validation messages appear next to their fields
    page.get_by_role("link", name="Register", exact=True).click()
    page.get_by_label("Username", exact=True).fill(customer["username"])
    page.get_by_label("E-mail", exact=True).fill("not-an-address")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(field_error(page, "E-mail")).not_to_be_empty()
    expect(field_error(page, "Password")).to_contain_text("8")
    expect(field_error(page, "Username")).to_be_empty()
    expect(page.get_by_label("E-mail", exact=True)).to_have_attribute("aria-invalid", "true")
    shopper.shot("02-register-errors")
    page.get_by_role("link", name="Products", exact=True).click()
    register(page, customer)
    expect(page.get_by_label("Username", exact=True)).to_have_value(customer["username"])
    log_in(page, customer["username"], PASSWORD)
    # Only verified users order: the banner says so until the mailed link is followed.
    banner = page.locator("#banner").get_by_role("region", name="Confirm your e-mail address")
    expect(banner).to_contain_text(customer["email"])
    shopper.verify_email(customer["email"])
    expect(banner).to_have_count(0)

    # --- account: the customer id staff will need, and a first address
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.locator(".profile")).to_contain_text("Lovelace <script>")  # shown as text, not markup
    user_id = page.locator("#customer-id").inner_text().strip()
    assert user_id
    page.get_by_role("button", name="Add an address").click()
    add_address(page, "1 Unter den Linden")
    expect(page.locator(".address-card")).to_have_count(1)
    expect(page.locator(".address-card")).to_contain_text("1 Unter den Linden")
    shopper.shot("03-account")

    # --- two products into the cart: one from the grid, one from its page with quantity 2
    page.get_by_role("link", name="Products", exact=True).click()
    first = page.locator(".card").nth(0)
    first_title = first.locator(".card-title").inner_text().strip()
    first_price = price_of(first.locator(".price-now").inner_text())
    first.get_by_role("button", name=re.compile("^Add to cart")).click()
    expect(page.locator("#flash")).to_contain_text(first_title)
    second = page.locator(".card").nth(1)
    second_title = second.locator(".card-title").inner_text().strip()
    second.locator(".card-title a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(second_title)
    second_price = price_of(page.locator(".price-large .price-now").inner_text())
    page.get_by_label("Quantity", exact=True).fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#nav-cart .count")).to_have_text("3")
    shopper.shot("04-product")

    # --- cart: a third product added and removed, quantities changed, kept across a reload
    page.get_by_role("link", name="Products", exact=True).click()
    page.locator(".card").nth(2).get_by_role("button", name=re.compile("^Add to cart")).click()
    page.get_by_role("link", name=re.compile("^Cart")).click()
    lines = page.locator(".cart-line")
    expect(lines).to_have_count(3)
    lines.nth(2).get_by_role("button", name=re.compile("^Remove")).click()
    expect(lines).to_have_count(2)
    page.get_by_label(f"Quantity of {first_title}").fill("3")
    expect(page.locator("#cart-total")).to_have_text(money(first_price * 3 + second_price * 2))
    page.get_by_label(f"Quantity of {first_title}").fill("1")
    page.reload()
    expect(lines).to_have_count(2)
    expected_total = first_price + second_price * 2
    expect(page.locator("#cart-total")).to_have_text(money(expected_total))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # the session survived too
    shopper.shot("05-cart")

    # --- checkout: the default address is chosen; a double click places one order
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("radio", name=re.compile("1 Unter den Linden"))).to_be_checked()
    expect(page.locator("#payment-method")).to_contain_text("Cash on delivery")
    page.get_by_role("button", name="Place order").dblclick()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    order_number = page.locator("#order-number").inner_text().strip()
    assert ORDER_NUMBER.fullmatch(order_number)
    expect(page.locator("#order-total")).to_have_text(money(expected_total))
    expect(page.locator("address")).to_contain_text("1 Unter den Linden")
    expect(page.locator("#nav-cart .count")).to_have_text("0")
    shopper.shot("06-confirmation")

    # --- my orders: exactly that one order, pending
    page.get_by_role("link", name="My orders", exact=True).click()
    rows = page.locator(".order-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(order_number)
    expect(rows.first.locator(".badge")).to_have_text("Pending")
    shopper.shot("07-my-orders")

    # --- the confirmation e-mail in the local mailbox
    page.get_by_role("link", name="Mailbox", exact=True).click()
    page.get_by_label("Show e-mails to").fill(customer["email"])
    mail = page.locator("details.mail", has_text=f"Order Confirmation - {order_number}")
    expect(mail).to_be_visible(timeout=30_000)
    mail.locator("summary").click()
    # sandboxed: no scripts, no same-origin access; only a click may open a link in the top window
    expect(mail.locator("iframe.mail-html")).to_have_attribute(
        "sandbox", "allow-top-navigation-by-user-activation"
    )
    html_part = mail.frame_locator("iframe.mail-html").locator("body")
    expect(html_part).to_contain_text(second_title)  # the e-mail lists the items
    shopper.shot("08-mailbox")

    # --- staff: on the customer's page, confirm, then ship; only allowed next steps are offered
    staff = person()
    admin_page = staff.open("/login")
    log_in(admin_page, "admin", stack.admin_password)
    admin_page.goto(f"{stack.url}/#/staff/users/{user_id}")  # a customer's page (the queue: test_staff.py)
    expect(admin_page.get_by_role("heading", level=1)).to_have_text(f"Orders of {customer['username']}")
    row = admin_page.locator(".order-row", has_text=order_number)
    assert status_buttons(row) == ["Confirm", "Cancel order"]
    row.get_by_role("button", name="Confirm", exact=True).click()
    expect(row.locator(".badge")).to_have_text("Confirmed")
    assert status_buttons(row) == ["Mark as shipped", "Cancel order"]
    row.get_by_role("button", name="Mark as shipped").click()
    row.get_by_label("Carrier").fill("DHL")
    row.get_by_label("Tracking number").fill("JD0146000062")
    row.locator(".status-step").get_by_role("button", name="Mark as shipped").click()
    expect(row.locator(".badge")).to_have_text("Shipped")
    assert status_buttons(row) == ["Mark as delivered"]
    staff.shot("09-staff-orders")
    row.get_by_role("link", name=order_number).click()
    expect(admin_page.locator(".status-line .badge")).to_have_text("Shipped")
    assert status_buttons(admin_page.locator(".status-line")) == ["Mark as delivered"]
    staff.shot("10-staff-order")

    # --- the customer sees the new status, and can no longer cancel
    page.get_by_role("link", name="My orders", exact=True).click()
    expect(rows.first.locator(".badge")).to_have_text("Shipped")
    rows.first.get_by_role("link", name=order_number).click()
    expect(page.locator(".status-line .badge")).to_have_text("Shipped")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    shopper.shot("11-order-shipped")


def test_customer_cancels_an_order_and_sees_the_rate_limit_plainly(
    person: Callable[..., Any], stack: ShopStack
) -> None:
    customer = stack.new_shopper(
        {
            "street": "5 Rue de Rivoli",
            "city": "Paris",
            "state": "IDF",
            "postal_code": "75001",
            "country": "France",
        }
    )
    product = stack.get("/products", params={"limit": 1}).json()["products"][0]
    # Use up the order allowance through the API (whatever ORDER_RATE_LIMIT is, up to 20).
    created: list[dict[str, Any]] = []
    for _ in range(20):
        answer = stack.place_order(
            customer,
            [{"product_id": product["id"], "quantity": 1}],
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if answer.status_code == 429:
            break
        assert answer.status_code == 201, answer.text
        created.append(answer.json())
    else:
        pytest.fail("the order rate limit never answered 429")
    assert created

    shopper = person()
    page = shopper.open("/login")
    log_in(page, customer["username"], customer["password"])

    # The owner cancels a pending order; afterwards no status button is left.
    page.get_by_role("link", name="My orders", exact=True).click()
    newest = created[-1]
    page.get_by_role("link", name=str(newest["order_number"])).click()
    expect(page.locator(".status-line .badge")).to_have_text("Pending")
    assert status_buttons(page.locator(".status-line")) == ["Cancel order"]
    page.get_by_role("button", name="Cancel order").click()
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.locator(".status-line .badge")).to_have_text("Cancelled")
    expect(page.locator(".status-line button")).to_have_count(0)

    # One more order through the page: refused with 429, said plainly with the wait, cart kept.
    page.goto(f"{stack.url}/#/products/{product['id']}")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name=re.compile("^Cart")).click()
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("radio", name=re.compile("5 Rue de Rivoli"))).to_be_checked()
    page.get_by_role("button", name="Place order").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"try again in \d+ (second|minute)s?", re.IGNORECASE))
    expect(page.get_by_role("button", name="Place order")).to_be_enabled()
    expect(page.locator("#nav-cart .count")).to_have_text("1")
    shopper.shot("12-rate-limited")


def test_phone_width_and_keyboard_only(person: Callable[..., Any]) -> None:
    phone = person(phone=True)
    page = phone.open("/")
    cards = page.locator(".card")
    expect(cards.nth(1)).to_be_visible()

    def fits() -> None:
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 375px"

    fits()
    one, two = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert one and two and one["x"] == two["x"] and two["y"] > one["y"]  # one column
    phone.shot("phone-01-catalog", full_page=False)

    # Keyboard only: the skip link comes first, then an "Add to cart" button is reachable and works.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        if focused.startswith("Add to cart"):
            break
    else:
        pytest.fail("no 'Add to cart' button reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#nav-cart .count")).to_have_text("1")

    page.get_by_role("link", name=re.compile("^Cart")).click()
    expect(page.locator(".cart-line")).to_have_count(1)
    fits()
    phone.shot("phone-02-cart")

    page.locator(".cart-line .line-title").click()
    expect(page.get_by_role("button", name="Add to cart")).to_be_visible()
    fits()
    phone.shot("phone-03-product")

    page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_label("Username", exact=True).focus()
    page.keyboard.type(f"nobody_{uuid.uuid4().hex[:8]}")
    page.keyboard.press("Tab")
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("invalid|wrong", re.IGNORECASE))
    fits()
    phone.shot("phone-04-login")

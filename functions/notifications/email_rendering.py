"""The order e-mails: what they say (Jinja2 templates in `templates/`) and the MIME message SES sends.

Plain functions, no AWS: `render(event)` gives the subject and both parts, `build_message(...)`
the raw multipart/alternative message. HTML templates autoescape (user text arrives as text, never
markup); the plain-text templates do not, so a name reads in them as it was typed. Header values
built from user data have their control characters (CR/LF above all) removed, so nobody can add a
header through a name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import Any

from jinja2 import Environment
from pydantic import TypeAdapter, ValidationError

from shop_shared import email_templates
from shop_shared.models import Email, OrderEvent, OrderStatus, looks_like_email

TEMPLATES = Path(__file__).resolve().parent / "templates"
SENDER_NAME = "Serverless Shop"
MAX_SUBJECT_CHARS = 200

PAYMENT_METHODS = {
    "cash_on_delivery": "Cash on delivery",
    "credit_card": "Credit card",
    "debit_card": "Debit card",
    "paypal": "PayPal",
    "bank_transfer": "Bank transfer",
}

# One sentence per status (plain text; the HTML template escapes it like any other value).
STATUS_MESSAGES: dict[str, str] = {
    "confirmed": "Your order {number} is confirmed. We are preparing it and will write again when it ships.",
    "shipped": "Your order {number} has shipped and is on its way to you.",
    "delivered": "Your order {number} has been delivered. We hope you enjoy it!",
    "cancelled": (
        "Your order {number} has been cancelled and will not be shipped. "
        "If you did not ask for this, please get in touch with us."
    ),
}


class InvalidRecipient(ValueError):
    """The event's customer e-mail is not an address SES could deliver to."""


class UnaddressableRecipient(InvalidRecipient):
    """The address passed the API's check, but the email package cannot write it in a header
    (`InvalidHeaderDefect`: `jane..doe@…`, `.a@…`, encoded words): no retry can change that."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    return email_templates.environment(TEMPLATES)


def format_money(value: Decimal) -> str:
    """`$1,234.50`: two places always, dollars as the storefront shows them."""
    return f"${value:,.2f}"


def payment_method_label(method: str) -> str:
    return PAYMENT_METHODS.get(method, method.replace("_", " ").capitalize())


def status_label(status: OrderStatus | str) -> str:
    """`shipped` → `Shipped`, as the subject line shows it."""
    return status.capitalize()


def header_text(value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """A header value from user data: control characters (CR, LF, tabs ...) become spaces, runs of
    whitespace collapse, and it is cut to `limit` characters."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in value)
    return re.sub(r"\s+", " ", cleaned).strip()[:limit]


def subject_for(event: OrderEvent) -> str:
    number = event.order.order_number
    if event.event_type == "order.created":
        return header_text(f"Order Confirmation - {number}")
    return header_text(f"Order {status_label(event.order.status)} - {number}")


def customer_note(event: OrderEvent) -> str | None:
    """The note the customer gave with the change this event reports (their reason for cancelling).
    Staff notes are not sent: they are written for the shop, not for the customer."""
    history = event.order.history
    if event.event_type != "order.status_updated" or not history:
        return None
    last = history[-1]
    if last.status != event.order.status or last.by != "customer":
        return None
    return last.note or None


def _context(event: OrderEvent) -> dict[str, Any]:
    order, customer = event.order, event.customer
    address = order.shipping_address
    tracking = order.tracking if order.status == "shipped" else None
    return {
        "tracking": tracking.model_dump() if tracking else None,
        "note": customer_note(event),
        "first_name": customer.first_name.strip(),
        "order_number": order.order_number,
        "status": order.status,
        "status_label": status_label(order.status),
        "status_message": STATUS_MESSAGES.get(
            order.status, "The status of your order {number} is now {status}."
        ).format(number=order.order_number, status=order.status),
        "items": [
            {
                "name": item.product_name,
                "quantity": item.quantity,
                "price": format_money(item.product_price),
                "subtotal": format_money(item.subtotal),
            }
            for item in order.items
        ],
        "total": format_money(order.total_amount),
        "payment_method": payment_method_label(order.payment_method),
        "address_lines": [
            address.street,
            f"{address.postal_code} {address.city}",
            f"{address.state}, {address.country}",
        ],
    }


def render(event: OrderEvent) -> RenderedEmail:
    """Subject, plain text and HTML for an order event."""
    name = "order_created" if event.event_type == "order.created" else "order_status"
    env = _environment()
    context = _context(event)
    subject = subject_for(event)
    context["subject"] = subject
    return RenderedEmail(
        subject=subject,
        text=env.get_template(f"{name}.txt").render(context),
        html=env.get_template(f"{name}.html").render(context),
    )


_email_adapter: TypeAdapter[str] = TypeAdapter(Email)


def recipient(event: OrderEvent) -> Address:
    """`First Last <address>`; the display name is cleaned like any header text and quoted by the
    email package. Raises InvalidRecipient for an address that is not one, UnaddressableRecipient
    for one the email package cannot write."""
    try:
        addr_spec = _email_adapter.validate_python(event.customer.email)
    except ValidationError:
        if looks_like_email(event.customer.email):  # the shape of one, but no header can hold it
            raise UnaddressableRecipient(
                "the customer's e-mail address cannot be written in a message"
            ) from None
        raise InvalidRecipient("the customer's e-mail address is not valid") from None
    customer = event.customer
    display_name = header_text(f"{customer.first_name} {customer.last_name}", limit=100)
    try:
        return Address(display_name=display_name, addr_spec=addr_spec)
    except ValueError:  # email.errors.InvalidHeaderDefect; its text never names the address
        raise UnaddressableRecipient("the customer's e-mail address cannot be written in a message") from None


def build_message(rendered: RenderedEmail, sender: str, to: Address, event_id: str) -> bytes:
    """The raw multipart/alternative message (text first, then HTML: clients show the last part
    they can display). The Message-ID derives from the event id, so even a duplicate that got
    through would be recognised by the recipient's mail client."""
    domain = sender.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = Address(display_name=SENDER_NAME, addr_spec=sender)
    message["To"] = to
    message["Subject"] = header_text(rendered.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{hashlib.sha256(event_id.encode()).hexdigest()[:32]}@{domain}>"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message.as_bytes(policy=SMTP)

"""What the order e-mails say and how they are built: pure functions, no AWS.

The events start from the sample SQS event in `events/` (the body the publisher sends), changed
where a test needs it.
"""

from __future__ import annotations

import copy
import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

import email_rendering
from shop_shared.models import OrderEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"
SENDER = "orders@example.com"


def sample_body(name: str = "email-order-created.json") -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    return dict(json.loads(event["Records"][0]["body"]))


def order_event(**changes: Any) -> OrderEvent:
    """The sample confirmation event; `changes` are paths with `__` (`customer__first_name=...`)."""
    body = copy.deepcopy(sample_body())
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return OrderEvent.model_validate(body)


def status_event(status: str) -> OrderEvent:
    body = sample_body("email-status-updated.json")
    body["order"]["status"] = status
    body["event_id"] = f"order.status_updated:{body['order']['id']}:{status}"
    return OrderEvent.model_validate(body)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        # SMTP line endings (CRLF) back to Python's.
        part.get_content_type(): part.get_content().replace("\r\n", "\n")
        for part in message.walk()
        if not part.is_multipart()
    }


# ------------------------------------------------------------------------------- confirmation


def test_confirmation_lists_items_quantities_subtotals_total_and_payment_method(
    sample_confirmation_lines: tuple[str, ...],
) -> None:
    mail = email_rendering.render(order_event())

    assert mail.subject == "Order Confirmation - ORD-2026-000042"
    for body in (mail.text, mail.html):
        for line in sample_confirmation_lines:
            assert line in body
        assert "We will write to you again when it ships." in body
        assert "1 Unter den Linden" in body
    assert 'Laptop 14" x 1' in mail.text
    assert "Laptop 14&#34; x 1" in mail.html


def test_money_always_has_two_places() -> None:
    event = order_event(
        order__items=[
            {"product_id": 1, "product_name": "Mug", "product_price": 5, "quantity": 2, "subtotal": 10},
            {"product_id": 2, "product_name": "Pen", "product_price": 0.5, "quantity": 3, "subtotal": 1.5},
        ],
        order__total_amount=11.5,
    )
    mail = email_rendering.render(event)
    for body in (mail.text, mail.html):
        assert "Mug x 2 = $10.00" in body
        assert "Pen x 3 = $1.50" in body
        assert "Total: $11.50" in body


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("cash_on_delivery", "Cash on delivery"),
        ("credit_card", "Credit card"),
        ("debit_card", "Debit card"),
        ("paypal", "PayPal"),
        ("bank_transfer", "Bank transfer"),
    ],
)
def test_payment_method_reads_as_words(method: str, label: str) -> None:
    mail = email_rendering.render(order_event(order__payment_method=method))
    assert f"Payment method: {label}\n" in mail.text
    assert method not in mail.html


def test_a_customer_without_a_first_name_is_still_greeted() -> None:
    mail = email_rendering.render(order_event(customer__first_name=""))
    assert "Hello there," in mail.text
    assert "Hello there," in mail.html


# ------------------------------------------------------------------------------------ status


@pytest.mark.parametrize(
    ("status", "subject_word", "sentence"),
    [
        ("confirmed", "Confirmed", "is confirmed. We are preparing it and will write again when it ships."),
        ("shipped", "Shipped", "has shipped and is on its way to you."),
        ("delivered", "Delivered", "has been delivered."),
        ("cancelled", "Cancelled", "has been cancelled and will not be shipped."),
    ],
)
def test_status_email_fits_the_status(status: str, subject_word: str, sentence: str) -> None:
    mail = email_rendering.render(status_event(status))

    assert mail.subject == f"Order {subject_word} - ORD-2026-000042"
    for body in (mail.text, mail.html):
        assert "Hello Ada," in body
        assert f"Your order ORD-2026-000042 {sentence}" in body
        assert "Total: $1,089.97" in body
    # A status e-mail is not a confirmation.
    assert "Thank you for your order" not in mail.html


def test_each_status_says_something_different() -> None:
    texts = {
        email_rendering.render(status_event(s)).text
        for s in ("confirmed", "shipped", "delivered", "cancelled")
    }
    assert len(texts) == 4


def history(*entries: tuple[str, str, str | None]) -> list[dict[str, Any]]:
    return [
        {
            "status": status,
            "at": f"2026-11-30T10:00:0{n}.000000Z",
            "by": by,
            **({"note": note} if note else {}),
        }
        for n, (status, by, note) in enumerate(entries)
    ]


def test_the_shipped_email_shows_carrier_and_tracking_number() -> None:
    body = sample_body("email-status-updated.json")
    body["order"] |= {
        "status": "shipped",
        "tracking": {"carrier": "DHL <Express>", "tracking_number": "JD0146000"},
        "history": history(
            ("pending", "customer", None), ("confirmed", "admin", None), ("shipped", "admin", None)
        ),
    }
    mail = email_rendering.render(OrderEvent.model_validate(body))

    assert "Carrier: DHL <Express>\nTracking number: JD0146000" in mail.text
    assert "DHL &lt;Express&gt;" in mail.html and "JD0146000" in mail.html
    assert "<Express>" not in mail.html


def test_the_cancellation_email_shows_the_customers_note_and_never_a_staff_note() -> None:
    body = sample_body("email-status-updated.json")
    body["order"] |= {
        "status": "cancelled",
        "history": history(("pending", "customer", None), ("cancelled", "customer", "Wrong <size>, sorry")),
    }
    mail = email_rendering.render(OrderEvent.model_validate(body))
    assert 'Your note: "Wrong <size>, sorry"' in mail.text
    assert "Wrong &lt;size&gt;, sorry" in mail.html

    body["order"]["history"] = history(
        ("pending", "customer", None), ("cancelled", "admin", "fraud check failed")
    )
    staff = email_rendering.render(OrderEvent.model_validate(body))
    assert "fraud" not in staff.text and "fraud" not in staff.html
    assert "Your note" not in staff.text


def test_no_tracking_or_note_lines_when_there_are_none() -> None:
    mail = email_rendering.render(status_event("shipped"))
    assert "Carrier" not in mail.text and "Tracking" not in mail.text
    assert "Your note" not in mail.text


# ---------------------------------------------------------------------------------- escaping


def test_user_text_is_escaped_in_html_and_literal_in_text() -> None:
    event = order_event(
        customer__first_name="<script>alert(1)</script>",
        order__items__0__product_name="<img src=x onerror=alert(2)> & more",
    )
    mail = email_rendering.render(event)

    assert "<script>" not in mail.html
    assert "<img" not in mail.html
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in mail.html
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; more x 2 = $59.98" in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text
    assert "<img src=x onerror=alert(2)> & more x 2 = $59.98" in mail.text


def test_header_injection_through_names_is_impossible() -> None:
    event = order_event(
        customer__first_name="Ada\r\nBcc: victim@example.net",
        customer__last_name="Lovelace\nSubject: free money",
        order__order_number="ORD-2026-000042\r\nBcc: other@example.net",
    )
    rendered = email_rendering.render(event)
    raw = email_rendering.build_message(rendered, SENDER, email_rendering.recipient(event), event.event_id)
    message = parse(raw)

    assert message["Bcc"] is None
    assert len(message.get_all("Subject", [])) == 1
    assert message["Subject"] == "Order Confirmation - ORD-2026-000042 Bcc: other@example.net"
    to = message["To"].addresses
    assert [address.addr_spec for address in to] == ["ada@example.com"]
    assert to[0].display_name == "Ada Bcc: victim@example.net Lovelace Subject: free money"


@pytest.mark.parametrize("address", ["jane..doe@example.com", ".a@example.com", "a.@example.com"])
def test_an_address_the_email_package_cannot_write_is_unaddressable(address: str) -> None:
    with pytest.raises(email_rendering.UnaddressableRecipient):
        email_rendering.recipient(order_event(customer__email=address))


def test_recipient_must_be_an_address() -> None:
    with pytest.raises(email_rendering.InvalidRecipient):
        email_rendering.recipient(order_event(customer__email="not-an-address"))
    with pytest.raises(email_rendering.InvalidRecipient):
        email_rendering.recipient(order_event(customer__email="ada@example.com\r\nBcc: x@example.net"))


# ------------------------------------------------------------------------------------- MIME


def test_message_is_multipart_alternative_with_text_then_html() -> None:
    event = order_event(customer__first_name="Zoë", customer__last_name="Ñúñez")
    rendered = email_rendering.render(event)
    message = parse(email_rendering.build_message(rendered, SENDER, email_rendering.recipient(event), "e-1"))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"].addresses[0].addr_spec == SENDER
    assert message["To"].addresses[0].display_name == "Zoë Ñúñez"
    assert message["Subject"] == "Order Confirmation - ORD-2026-000042"
    assert message["Date"] is not None
    content = parts(message)
    assert content["text/plain"] == rendered.text
    assert content["text/html"] == rendered.html
    assert "Hello Zoë," in content["text/plain"]


def test_the_message_id_follows_the_event_so_a_duplicate_is_recognisable() -> None:
    event = order_event()
    rendered = email_rendering.render(event)
    to = email_rendering.recipient(event)
    first = parse(email_rendering.build_message(rendered, SENDER, to, "order.created:1"))
    again = parse(email_rendering.build_message(rendered, SENDER, to, "order.created:1"))
    other = parse(email_rendering.build_message(rendered, SENDER, to, "order.created:2"))
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert str(first["Message-ID"]).endswith("@example.com>")

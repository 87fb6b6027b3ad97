"""Sending the order e-mails through the `Mailer` port, against the recording fake (no moto, no
idempotency table): what is sent to whom, what a permanent refusal does, and that a malformed
message never reaches the mailer. The handler's batch and idempotency are tested on moto in
test_email_sender; tests/component/test_mailer_contract.py holds the fake to SES's behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from shop_fakes.mail import RecordingMailer

import email_rendering
import email_sender
from shop_shared.config import get_settings
from shop_shared.models import OrderEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"


def body(name: str = "email-order-created.json", **customer: str) -> dict[str, Any]:
    data = dict(json.loads(json.loads((EVENTS / name).read_text())["Records"][0]["body"]))
    data["customer"] = {**data["customer"], **customer}
    return data


@pytest.fixture
def mailer(monkeypatch: pytest.MonkeyPatch) -> RecordingMailer:
    monkeypatch.setenv("SENDER_EMAIL", "orders@example.com")
    get_settings.cache_clear()
    fake = RecordingMailer()
    monkeypatch.setattr(email_sender, "mailer", fake)
    return fake


def send(data: dict[str, Any]) -> dict[str, str]:
    """One SQS record through the function's record handling, without the idempotency store."""
    record = SQSRecord({"messageId": "m-1", "body": json.dumps(data), "attributes": {}})
    results: list[dict[str, str]] = []

    def send_once(**kwargs: Any) -> None:
        results.append(email_sender._send_once(**kwargs))

    email_sender._record_handler(send_once)(record)
    return results[0]


def test_the_confirmation_goes_to_the_customer_alone_from_our_sender(
    mailer: RecordingMailer, sample_confirmation_lines: tuple[str, ...]
) -> None:
    data = body()
    outcome = send(data)
    (mail,) = mailer.sent
    assert outcome == {"ses_message_id": mail.message_id}
    assert (mail.sender, mail.to) == ("orders@example.com", data["customer"]["email"])
    assert mail.header_recipients() == [data["customer"]["email"]]
    assert mail.message["Subject"] == email_rendering.subject_for(OrderEvent.model_validate(data))
    for line in sample_confirmation_lines:
        assert line in mail.part("text/plain")
        assert line in mail.part("text/html")


def test_a_status_update_says_the_new_status(mailer: RecordingMailer) -> None:
    data = body("email-status-updated.json")
    send(data)
    (mail,) = mailer.sent
    assert data["order"]["order_number"] in str(mail.message["Subject"])
    assert mail.header_recipients() == [data["customer"]["email"]]


def test_a_name_that_would_add_recipients_is_left_out_of_the_header(mailer: RecordingMailer) -> None:
    data = body(first_name="Jane, attacker@evil.example, Doe" + " x" * 40, last_name="<b>")
    send(data)
    (mail,) = mailer.sent
    assert mail.header_recipients() == [data["customer"]["email"]]
    assert "evil.example" not in str(mail.message["To"])


def test_a_refused_sender_is_a_recorded_outcome_not_a_retry(mailer: RecordingMailer) -> None:
    mailer.verified.clear()  # SES no longer knows our sender identity
    assert send(body()) == {"ses_refused": "MessageRejected"}
    assert mailer.sent == []


@pytest.mark.parametrize(
    "text",
    ["not json", json.dumps({"event_type": "order.created"}), json.dumps({**body(), "event_id": " "})],
)
def test_a_malformed_message_fails_and_never_reaches_the_mailer(mailer: RecordingMailer, text: str) -> None:
    record = SQSRecord({"messageId": "m-2", "body": text, "attributes": {}})
    with pytest.raises(email_sender.MalformedMessage):
        email_sender._record_handler(lambda **_: pytest.fail("sent"))(record)
    assert mailer.sent == []


def test_an_undeliverable_customer_address_fails_and_sends_nothing(mailer: RecordingMailer) -> None:
    record = SQSRecord(
        {"messageId": "m-3", "body": json.dumps(body(email="not an address")), "attributes": {}}
    )
    with pytest.raises(email_rendering.InvalidRecipient):
        email_sender._record_handler(lambda **_: pytest.fail("sent"))(record)
    assert mailer.sent == []

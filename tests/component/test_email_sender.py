"""The e-mail function through its Lambda handler: SQS events in, what moto's SES accepted out.

moto in-process with every resource of template.yaml (the `aws` fixture): the idempotency table,
the verified sender identity. Faults are real SES behaviour (an unverified sender is refused).
"""

from __future__ import annotations

import copy
import email
import email.policy
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

import email_sender
from shop_local.testing import lambda_context
from shop_shared import aws

EVENTS = Path(__file__).resolve().parents[2] / "events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:OrderEmailQueue"


@dataclass
class Sent:
    to: list[str]
    sender: str
    subject: str
    text: str
    html: str
    message: EmailMessage


def sent() -> list[Sent]:
    """Every e-mail moto's SES accepted in this test, oldest first."""
    result = []
    for raw in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages:
        message = email.message_from_string(raw.raw_data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        content = {
            part.get_content_type(): part.get_content().replace("\r\n", "\n")
            for part in message.walk()
            if not part.is_multipart()
        }
        result.append(
            Sent(
                to=[address.addr_spec for address in message["To"].addresses],
                sender=raw.source,
                subject=str(message["Subject"]),
                text=content["text/plain"],
                html=content["text/html"],
                message=message,
            )
        )
    return result


def sample_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def sample_body(name: str = "email-order-created.json") -> dict[str, Any]:
    return dict(json.loads(sample_event(name)["Records"][0]["body"]))


def record(body: str | dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
    """An SQS record as Lambda delivers it (the shape of the sample events)."""
    text = body if isinstance(body, str) else json.dumps(body)
    rec = copy.deepcopy(sample_event("email-order-created.json")["Records"][0])
    rec.update(
        messageId=message_id or str(uuid.uuid4()),
        receiptHandle=uuid.uuid4().hex,
        body=text,
        md5OfBody=hashlib.md5(text.encode()).hexdigest(),
        eventSourceARN=QUEUE_ARN,
    )
    return dict(rec)


def new_order(**customer: str) -> dict[str, Any]:
    """A confirmation event for a fresh order (its own id, number and event id)."""
    body = sample_body()
    order_id = str(uuid.uuid4())
    body["order"]["id"] = order_id
    body["order"]["order_number"] = f"ORD-2026-{uuid.uuid4().int % 1_000_000:06d}"
    body["event_id"] = f"order.created:{order_id}"
    body["customer"].update(customer)
    return body


def invoke(*records: dict[str, Any]) -> list[str]:
    """Runs the handler; returns the ids it reported failed."""
    response = email_sender.lambda_handler({"Records": list(records)}, lambda_context("EmailFunction"))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


@pytest.fixture
def ses(aws: object) -> Any:
    return boto3.client("ses", region_name="us-east-1")


# ------------------------------------------------------------------------------ sample events


def test_sample_confirmation_event_sends_the_confirmation(
    aws: object, sample_confirmation_lines: tuple[str, ...]
) -> None:
    event = sample_event("email-order-created.json")
    response = email_sender.lambda_handler(event, lambda_context("EmailFunction"))

    assert response == {"batchItemFailures": []}
    [mail] = sent()
    assert mail.to == ["ada@example.com"]
    assert mail.sender == "orders@example.com"  # SENDER_EMAIL from the template
    assert mail.subject == "Order Confirmation - ORD-2026-000042"
    assert mail.message.get_content_type() == "multipart/alternative"
    for body in (mail.text, mail.html):
        for line in sample_confirmation_lines:
            assert line in body


def test_sample_status_event_sends_the_status_email(aws: object) -> None:
    response = email_sender.lambda_handler(
        sample_event("email-status-updated.json"), lambda_context("EmailFunction")
    )

    assert response == {"batchItemFailures": []}
    [mail] = sent()
    assert mail.subject == "Order Shipped - ORD-2026-000042"
    assert "has shipped and is on its way to you." in mail.text
    assert "has shipped and is on its way to you." in mail.html


@pytest.mark.parametrize("status", ["confirmed", "shipped", "delivered", "cancelled"])
def test_every_status_change_sends_its_email(aws: object, status: str) -> None:
    body = sample_body("email-status-updated.json")
    body["order"]["status"] = status
    body["event_id"] = f"order.status_updated:{body['order']['id']}:{status}"

    assert invoke(record(body)) == []
    [mail] = sent()
    assert mail.subject == f"Order {status.capitalize()} - ORD-2026-000042"


def test_names_are_escaped_in_html_and_literal_in_text(aws: object) -> None:
    body = new_order(first_name="<script>alert(1)</script>")
    body["order"]["items"][0]["product_name"] = "<b>Bold</b> Mouse"

    assert invoke(record(body)) == []
    [mail] = sent()
    assert "<script>" not in mail.html and "<b>" not in mail.html
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in mail.html
    assert "&lt;b&gt;Bold&lt;/b&gt; Mouse x 2 = $59.98" in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text
    assert "<b>Bold</b> Mouse x 2 = $59.98" in mail.text


# ------------------------------------------------------------------------------- idempotency


def test_a_message_delivered_twice_sends_one_email(aws: object) -> None:
    body = new_order()
    first, same_batch, later = record(body), record(body), record(body)

    assert invoke(first, same_batch) == []  # both acknowledged: the second is a known duplicate
    assert invoke(later) == []
    assert len(sent()) == 1


def test_different_events_of_one_order_each_send(aws: object) -> None:
    created = new_order()
    shipped = copy.deepcopy(created)
    shipped.update(event_type="order.status_updated", previous_status="confirmed")
    shipped["order"]["status"] = "shipped"
    shipped["event_id"] = f"order.status_updated:{created['order']['id']}:shipped"

    assert invoke(record(created), record(shipped)) == []
    assert [mail.subject.split(" - ")[0] for mail in sent()] == ["Order Confirmation", "Order Shipped"]


def ses_fails_with(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """SES answers every send with the error `code`, as botocore raises it (after its retries)."""

    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": "refused"}}, "SendRawEmail")

    monkeypatch.setattr(aws.client("ses"), "send_raw_email", refuse)


def emitted_metrics(output: str) -> dict[str, float]:
    """The metrics the function emitted (CloudWatch embedded metric format lines on stdout)."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                values = blob[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    values if isinstance(values, list) else [values]
                )
    return totals


@pytest.mark.parametrize("code", ["Throttling", "ServiceUnavailable", "InternalFailure"])
def test_a_transient_ses_failure_fails_the_record_and_the_retry_sends_exactly_once(
    aws: object, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    message = record(new_order())
    with monkeypatch.context() as patch:
        ses_fails_with(patch, code)
        assert invoke(message) == [message["messageId"]]
    assert sent() == []

    assert invoke(message) == []  # the failure did not mark it sent
    assert invoke(message) == []
    assert len(sent()) == 1


@pytest.mark.parametrize("code", ["InvalidParameterValue", "MessageRejected"])
def test_a_permanent_ses_refusal_is_counted_recorded_and_not_retried(
    aws: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: str
) -> None:
    message = record(new_order())
    with monkeypatch.context() as patch:
        ses_fails_with(patch, code)
        # Acknowledged: SES would refuse it five times over, and the DLQ is for what may yet succeed.
        assert invoke(message) == []
    assert emitted_metrics(capsys.readouterr().out).get("OrderEmailRefused") == 1

    # Recorded: a redelivered copy of the event is not sent again.
    assert invoke(message) == []
    assert sent() == []


def test_ses_refusing_the_sender_is_a_permanent_refusal(
    aws: object, ses: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    message = record(new_order())
    ses.delete_identity(Identity="orders@example.com")  # moto's SES: MessageRejected

    assert invoke(message) == []
    assert sent() == []
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("OrderEmailRefused") == 1
    assert "OrderEmailSendFailed" not in metrics


# ----------------------------------------------------------------------------- bad messages


@pytest.fixture
def function_logs() -> Iterator[io.StringIO]:
    """What the function logs, as its JSON lines (the Powertools formatter, with appended keys)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(email_sender.logger.registered_formatter)
    target = logging.getLogger(email_sender.logger.service)
    target.addHandler(handler)
    yield stream
    target.removeHandler(handler)


def test_poisoned_messages_fail_alone_and_the_good_ones_are_sent(
    aws: object, function_logs: io.StringIO
) -> None:
    good_one, good_two = new_order(), new_order()
    missing = new_order()
    del missing["order"]["items"]
    unknown = new_order()
    unknown["event_type"] = "order.deleted"
    batch = [
        record(good_one),
        record("this is not JSON {", "bad-not-json"),
        record(missing, "bad-missing-field"),
        record(unknown, "bad-event-type"),
        record("[]", "bad-not-an-object"),
        record(good_two),
    ]
    assert invoke(*batch) == ["bad-not-json", "bad-missing-field", "bad-event-type", "bad-not-an-object"]
    assert sorted(mail.subject for mail in sent()) == sorted(
        f"Order Confirmation - {body['order']['order_number']}" for body in (good_one, good_two)
    )
    logs = [json.loads(line) for line in function_logs.getvalue().splitlines()]
    failures = [line for line in logs if line["level"] == "ERROR"]
    assert [line["message_id"] for line in failures] == [
        "bad-not-json",
        "bad-missing-field",
        "bad-event-type",
        "bad-not-an-object",
    ]
    assert {line["event_id"] for line in logs if line["message"] == "order e-mail sent"} == {
        good_one["event_id"],
        good_two["event_id"],
    }
    logs_text = function_logs.getvalue()
    assert "order.items: missing" in logs_text  # what is wrong, by field name
    assert "order.deleted" not in logs_text  # ... never the content
    assert "ada@example.com" not in logs_text
    assert "Lovelace" not in logs_text


def test_a_batch_of_only_a_poisoned_message_reports_it(aws: object) -> None:
    assert invoke(record("{}", "only-bad")) == ["only-bad"]


def test_an_event_with_an_impossible_recipient_fails(aws: object) -> None:
    body = new_order(email="not-an-address")
    good = new_order()

    assert invoke(record(body, "bad-recipient"), record(good)) == ["bad-recipient"]
    assert [mail.to for mail in sent()] == [["ada@example.com"]]


@pytest.mark.parametrize(
    "address",
    ["jane..doe@example.com", ".jane@example.com", "jane.@example.com", "=?utf-8?q?x?=@example.com"],
)
def test_an_address_no_message_can_be_written_to_is_a_permanent_refusal(
    aws: object, function_logs: io.StringIO, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    # The address passed the API's check but the email package cannot put it in a To header
    # (InvalidHeaderDefect): every retry fails the same, so it is refused like SES's refusals.
    body = new_order(email=address)
    good = new_order()

    assert invoke(record(body, "unaddressable"), record(good)) == []
    assert [mail.to for mail in sent()] == [["ada@example.com"]]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("OrderEmailRefused") == 1
    assert "OrderEmailMalformed" not in metrics
    logs = [json.loads(line) for line in function_logs.getvalue().splitlines()]
    refusals = [line for line in logs if line["level"] == "ERROR"]
    assert [(line["message_id"], line["event_id"]) for line in refusals] == [
        ("unaddressable", body["event_id"])
    ]
    assert address not in function_logs.getvalue()


# ------------------------------------------------------------------------- who receives it


def to_header_addresses(mail: Sent) -> list[str]:
    """The To header of the message SES got, parsed back as a mail client would."""
    return [address for _, address in getaddresses(mail.message.get_all("To", []))]


ATTACK_NAMES = {
    # CPython folds a long quoted display name without its quotes: "To: Jane, attacker@…, Mr. Doe…".
    "comma-folded": ("Jane, attacker@evil.example, Mr.", "Doe" + "x" * 60),
    "comma-short": ("Jane, attacker@evil.example,", "Doe"),
    "semicolon": ("Jane; attacker@evil.example;", "Doe" + "y" * 60),
    "angle-brackets": ("J<attacker@evil.example>", "Q" * 80),
    "double-quotes": ('J"attacker@evil.example"', "Z" * 70),
    "line-breaks": ("Jane\r\nBcc: attacker@evil.example", "\nTo: other@evil.example"),
    "looks-like-an-address": ("attacker@evil.example", "attacker2@evil.example"),
    "group-syntax": ("undisclosed: attacker@evil.example;", "Doe" * 30),
    "non-ascii-comma": ("Jäne, attacker@evil.example,", "Ö" * 50),
    "encoded-word": ("=?utf-8?q?attacker=40evil=2Eexample=2C?=", "Doe" * 30),
}


@pytest.mark.parametrize(("first_name", "last_name"), ATTACK_NAMES.values(), ids=ATTACK_NAMES.keys())
def test_a_name_never_changes_who_receives_the_email(aws: object, first_name: str, last_name: str) -> None:
    body = new_order(first_name=first_name, last_name=last_name, email="victim@example.com")

    assert invoke(record(body)) == []
    [mail] = sent()
    assert to_header_addresses(mail) == ["victim@example.com"]
    assert mail.to == ["victim@example.com"]
    # What SES delivers to: the Destinations and every address of the To/Cc/Bcc headers.
    destinations = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[0].destinations
    assert {address for _, address in getaddresses(destinations)} == {"victim@example.com"}
    assert "attacker" not in str(mail.message["To"])
    assert mail.message["Bcc"] is None and mail.message["Cc"] is None


@pytest.mark.parametrize(
    ("first_name", "last_name", "display_name"),
    [
        ("Ada", "Lovelace", "Ada Lovelace"),
        ("Mary-Jane", "O'Neil", "Mary-Jane O'Neil"),
        ("Zoë", "Ångström", "Zoë Ångström"),
        ("Dr. Grace", "Hopper" + "r" * 90, "Dr. Grace Hopper" + "r" * 84),  # cut to 100, folded
    ],
)
def test_an_ordinary_name_is_still_shown(
    aws: object, first_name: str, last_name: str, display_name: str
) -> None:
    assert invoke(record(new_order(first_name=first_name, last_name=last_name))) == []
    [mail] = sent()
    [to] = mail.message["To"].addresses
    assert (to.display_name, to.addr_spec) == (display_name, "ada@example.com")
    assert to_header_addresses(mail) == ["ada@example.com"]

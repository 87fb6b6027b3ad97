"""The e-mail function's `Mailer` contract, run against the recording fake and the SES adapter on
moto (the sender identity verified from template.yaml by the `aws` fixture): a message to one
recipient from a verified sender is accepted with an id; an unknown sender is refused for good."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from shop_fakes.mail import RecordingMailer

from email_sender import Mailer, SesMailer, SesRefused


@dataclass
class Outbox:
    mailer: Mailer
    sent: Callable[[], list[tuple[str, list[str], str]]]  # (sender, destinations, subject)


@pytest.fixture(params=["fake", "ses"])
def outbox(request: pytest.FixtureRequest) -> Iterator[Outbox]:
    if request.param == "fake":
        fake = RecordingMailer()
        yield Outbox(fake, lambda: [(m.sender, [m.to], str(m.message["Subject"])) for m in fake.sent])
        return
    request.getfixturevalue("aws")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def sent() -> list[tuple[str, list[str], str]]:
        result = []
        for raw in backend.sent_messages:
            message = email.message_from_string(raw.raw_data, policy=email.policy.default)
            # moto lists the Destinations and the header recipients together: one each here
            result.append((raw.source, sorted(set(raw.destinations)), str(message["Subject"])))
        return result

    yield Outbox(SesMailer(), sent)


def send(outbox: Outbox, sender: str, to: str, subject: str) -> str:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, Address(addr_spec=to), subject
    message.set_content("Hello")
    return outbox.mailer.send_raw(sender, to, bytes(message))


def test_a_message_from_the_verified_sender_is_accepted_with_an_id(outbox: Outbox) -> None:
    first = send(outbox, "orders@example.com", "jane@example.com", "One")
    second = send(outbox, "orders@example.com", "john@example.com", "Two")
    assert first and second and first != second
    assert outbox.sent() == [
        ("orders@example.com", ["jane@example.com"], "One"),
        ("orders@example.com", ["john@example.com"], "Two"),
    ]


def test_an_unverified_sender_is_refused_for_good_and_nothing_is_sent(outbox: Outbox) -> None:
    with pytest.raises(SesRefused) as refused:
        send(outbox, "someone@else.example", "jane@example.com", "No")
    assert refused.value.code == "MessageRejected"
    assert outbox.sent() == []

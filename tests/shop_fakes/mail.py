"""A fake of the e-mail function's `Mailer` port: it records what it sends and, like SES, refuses
for good a sender that is not a verified identity (`MessageRejected`)."""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass
from email.message import EmailMessage

from email_sender import SesRefused


@dataclass(frozen=True)
class SentMail:
    message_id: str
    sender: str
    to: str
    message: EmailMessage

    def header_recipients(self) -> list[str]:
        return [
            address.addr_spec
            for name in ("To", "Cc", "Bcc")
            for header in self.message.get_all(name, [])
            for address in header.addresses
        ]

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content()).replace("\r\n", "\n")
        raise KeyError(content_type)


class RecordingMailer:
    def __init__(self, verified: tuple[str, ...] = ("orders@example.com",)) -> None:
        self.verified = set(verified)
        self.sent: list[SentMail] = []

    def send_raw(self, sender: str, to: str, raw: bytes) -> str:
        if sender not in self.verified:
            raise SesRefused("MessageRejected")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message_id = uuid.uuid4().hex
        self.sent.append(SentMail(message_id, sender, to, message))
        return message_id

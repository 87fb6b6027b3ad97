"""The dev mailbox: every e-mail the emulator's SES accepted, as `{to, from, subject, html, text, time}`.

Read from the emulator itself: moto's SES backend in the embedded emulator's process (`MotoMailbox`,
which the stack reads through the emulator's `GET /_shop/emails`), otherwise LocalStack's
`GET /_aws/ses` (or an outside moto server's `/moto-api/data.json`). Raw e-mails (SendRawEmail,
multipart/alternative) are parsed here.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

Mail = dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _addresses(values: list[str]) -> list[str]:
    return [address for _, address in getaddresses(values) if address]


def parse_raw(raw: str | bytes, destinations: list[str] | None = None, source: str | None = None) -> Mail:
    """The parts a person (or a test) reads from one MIME message."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = text = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type == "text/html" and html is None:
            html = part.get_content()
        elif content_type == "text/plain" and text is None:
            text = part.get_content()
    to = _addresses([str(v) for v in message.get_all("To", [])]) or _addresses(destinations or [])
    sender = _addresses([str(message.get("From", ""))]) or _addresses([source or ""])
    sent_at = None
    if message.get("Date"):
        try:
            sent_at = _iso(parsedate_to_datetime(str(message["Date"])))
        except (TypeError, ValueError):
            sent_at = None
    return {
        "to": to,
        "from": sender[0] if sender else source,
        "subject": str(message.get("Subject", "")),
        "html": html,
        "text": text,
        "time": sent_at,
    }


class MotoMailbox:
    """Mail accepted by moto's SES in this process (the embedded emulator's). moto keeps no
    timestamp, so a message without a Date header gets the time the mailbox first saw it. Each
    message is parsed once (a benchmark polls a mailbox of thousands)."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self._parsed: dict[str, Mail] = {}
        self._lock = threading.Lock()

    def _parse(self, message: Any) -> Mail:
        if hasattr(message, "raw_data"):
            mail = parse_raw(message.raw_data, list(message.destinations or []), message.source)
        else:
            destinations = getattr(message, "destinations", {}) or {}
            to = list(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else []
            body = getattr(message, "body", None)
            is_html = isinstance(body, str) and "<" in body and ">" in body
            mail = {
                "to": to,
                "from": message.source,
                "subject": getattr(message, "subject", ""),
                "html": body if is_html else None,
                "text": None if is_html else body,
                "time": None,
            }
        mail["time"] = mail["time"] or _iso(datetime.now(UTC))
        mail["id"] = message.id
        return mail

    def messages(self) -> list[Any]:
        """Every message moto's SES accepted (SendEmail, SendRawEmail, SES v2), oldest first."""
        from moto.ses.models import ses_backends

        return list(ses_backends[self.account_id][self.region].sent_messages)

    def emails(self) -> list[Mail]:
        result = []
        for message in self.messages():
            with self._lock:
                mail = self._parsed.get(message.id)
            if mail is None:
                mail = self._parse(message)
                with self._lock:
                    mail = self._parsed.setdefault(message.id, mail)
            result.append(dict(mail))
        return result


class RemoteMailbox:
    """Mail accepted by an outside emulator: LocalStack's `GET /_aws/ses`, or a moto server's
    `GET /moto-api/data.json` (`ses.Message`, `ses.RawMessage`)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self._seen: dict[str, str] = {}
        self._moto = False
        self._lock = threading.Lock()

    def _first_seen(self, message_id: str) -> str:
        with self._lock:
            return self._seen.setdefault(message_id, _iso(datetime.now(UTC)))

    def emails(self) -> list[Mail]:
        import requests

        if self._moto:
            return self._moto_emails()
        response = requests.get(f"{self.endpoint_url}/_aws/ses", timeout=30)
        if response.status_code == 404:  # not LocalStack: a moto server, asked that way from now on
            self._moto = True
            return self._moto_emails()
        response.raise_for_status()
        result = []
        for message in response.json().get("messages", []):
            destination = message.get("Destination") or {}
            to = list(destination.get("ToAddresses") or [])
            if message.get("RawData"):
                mail = parse_raw(message["RawData"], to, message.get("Source"))
            else:
                body = message.get("Body") or {}
                mail = {
                    "to": to,
                    "from": message.get("Source"),
                    "subject": message.get("Subject", ""),
                    "html": body.get("html_part"),
                    "text": body.get("text_part"),
                    "time": None,
                }
            mail["time"] = (
                mail["time"] or message.get("Timestamp") or self._first_seen(str(message.get("Id")))
            )
            mail["id"] = message.get("Id")
            result.append(mail)
        result.sort(key=lambda mail: str(mail["time"]))
        return result

    def _moto_emails(self) -> list[Mail]:
        ses = self._moto_dump().get("ses") or {}
        result = []
        for message in ses.get("RawMessage") or []:
            mail = parse_raw(
                message["raw_data"], list(message.get("destinations") or []), message.get("source")
            )
            mail["time"] = mail["time"] or self._first_seen(message["id"])
            mail["id"] = message["id"]
            result.append(mail)
        for message in ses.get("Message") or []:
            destinations = message.get("destinations") or {}
            body = message.get("body")
            is_html = isinstance(body, str) and "<" in body and ">" in body
            result.append(
                {
                    "to": list(destinations.get("ToAddresses", [])),
                    "from": message.get("source"),
                    "subject": message.get("subject", ""),
                    "html": body if is_html else None,
                    "text": None if is_html else body,
                    "time": self._first_seen(message["id"]),
                    "id": message["id"],
                }
            )
        result.sort(key=lambda mail: str(mail["time"]))
        return result

    def _moto_dump(self, attempts: int = 3) -> dict[str, Any]:
        """moto's `/moto-api/data.json`. moto builds it by walking every tracked model while the
        functions go on changing them, so a dump can fail (500) or be slow now and then; it is a
        read, so it is simply asked again."""
        import requests

        for attempt in range(1, attempts + 1):
            try:
                response = requests.get(f"{self.endpoint_url}/moto-api/data.json", timeout=30)
                response.raise_for_status()
                return dict(response.json())
            except (requests.HTTPError, requests.Timeout, ValueError):
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")


def wait_for(mailbox: Any, predicate: Any, timeout: float = 10.0, interval: float = 0.2) -> list[Mail]:
    deadline = time.monotonic() + timeout
    while True:
        found = [mail for mail in mailbox.emails() if predicate(mail)]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(interval)

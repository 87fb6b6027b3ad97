"""EmailFunction: SQS `OrderEmailQueue` (order events from SNS, raw delivery) → e-mails through SES.

Each record is handled alone (Powertools BatchProcessor, partial batch response): a record that
fails is reported in `batchItemFailures`, the rest of the batch is deleted. A malformed message
(not JSON, missing fields, unknown event type) fails every time, so after the queue's
`maxReceiveCount` it sits in the DLQ (whose alarm fires); it is logged by message id only, never
by content (it carries names and addresses).

Sends are idempotent by `event_id` (Powertools idempotency in the IdempotencyTable): a message
delivered twice sends one e-mail. A send that fails removes its in-progress record, so the retry
sends. If SES accepts but recording that fails, the retry sends again: at least once, never zero.

The recipient is the account's address alone: a display name that could change the address list
when the email package folds the header is left out, and the built message is parsed back and
checked before it goes. A permanent SES refusal (PERMANENT_SES_ERRORS) is not retried: it is
logged, counted (`OrderEmailRefused`, alarmed) and recorded as the event's outcome, and the message
is acknowledged (docs/architecture.md, "E-mails"). So is an address the email package cannot write
in a header (`email_rendering.UnaddressableRecipient`), before anything is sent.
"""

from __future__ import annotations

import unicodedata
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import getaddresses
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from botocore.exceptions import ClientError
from pydantic import ValidationError

import email_rendering
from shop_shared import aws
from shop_shared.config import get_settings
from shop_shared.idempotency import idempotency_store
from shop_shared.models import OrderEvent
from shop_shared.observability import observability

logger, metrics, tracer = observability("notifications")
# Report failures even when every record of the batch failed (a batch of one poisoned message):
# for SQS that is the same as raising, without an exception that would carry record details.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

IDEMPOTENCY_KEY_PREFIX = "notifications.email"
# Event ids never repeat (an order's status never returns to an earlier one), so remembering a
# sent e-mail for a week costs nothing and outlasts every redelivery and republish window.
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600


# SES errors that refuse this message for good: sending it again gets the same answer, so retrying
# only delays the DLQ. Throttling, 5xx answers and account or configuration-set problems
# (`AccountSendingPausedException`, `MailFromDomainNotVerifiedException` ...) pass or get fixed, so
# they are retried and end in the DLQ, from which they can be redriven.
PERMANENT_SES_ERRORS = frozenset({"InvalidParameterValue", "InvalidParameterCombination", "MessageRejected"})
# What a display name may hold: letters, marks, digits, spaces and `.'-`. RFC 5322 specials
# (`,;:<>"@()[]\`), `=?` of encoded words and control characters are left out with the whole name:
# CPython's header folding drops the quotes of a long quoted name, turning
# `"Jane, x@evil.example, Doe…" <victim@…>` into three recipients.
_NAME_PUNCTUATION = frozenset(" .'-")


class MalformedMessage(ValueError):
    """A message that is not an order event. Its text names fields, never their values."""


def parse_event(body: str) -> OrderEvent:
    try:
        event = OrderEvent.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
            for error in exc.errors(include_url=False, include_input=False)[:5]
        ]
        # `from None`: the chained ValidationError would print the values into the logs.
        raise MalformedMessage("not an order event: " + "; ".join(problems)) from None
    if not event.event_id.strip():
        raise MalformedMessage("not an order event: event_id: empty")
    return event


class SesRefused(Exception):
    """SES refused this message for good (a code of PERMANENT_SES_ERRORS)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _safe_display_name(name: str) -> bool:
    return all(
        ch in _NAME_PUNCTUATION or ch.isalnum() or unicodedata.category(ch).startswith("M") for ch in name
    )


def safe_recipient(to: Address) -> Address:
    """`to` with its display name only if no folding of it can add or change an address."""
    if _safe_display_name(to.display_name):
        return to
    return Address(addr_spec=to.addr_spec)


def _header_recipients(raw: bytes) -> list[str]:
    """The addresses a mail server reads from the message's To, Cc and Bcc headers (the top-level
    ones: the parts' headers are not parsed, which was half the e-mail function's CPU)."""
    message = BytesHeaderParser(policy=SMTP).parsebytes(raw)
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    return [address for _, address in getaddresses(fields)]


def build_raw(event: OrderEvent, to: Address, sender: str) -> bytes:
    """The raw message for `to`, checked: its headers name `to.addr_spec` and nobody else. If the
    name still made them say anything else, the message goes without it."""
    rendered = email_rendering.render(event)
    raw = email_rendering.build_message(rendered, sender, safe_recipient(to), event.event_id)
    if _header_recipients(raw) != [to.addr_spec]:
        logger.warning("the recipient's name changed the address list; sent without it")
        raw = email_rendering.build_message(rendered, sender, Address(addr_spec=to.addr_spec), event.event_id)
        if _header_recipients(raw) != [to.addr_spec]:
            raise email_rendering.InvalidRecipient("the message does not name exactly the customer's address")
    return raw


class Mailer(Protocol):
    """The port the e-mails leave through (SES in Lambda; a recording fake in the unit tests)."""

    def send_raw(self, sender: str, to: str, raw: bytes) -> str:
        """Send the raw message to `to` alone; returns the message id. Raises SesRefused for a
        refusal that sending again cannot change, anything else for a failure worth retrying."""


class SesMailer:
    """`Mailer` on SES `SendRawEmail` (the client is cached per container by `shop_shared.aws`)."""

    def send_raw(self, sender: str, to: str, raw: bytes) -> str:
        try:
            response = aws.client("ses").send_raw_email(
                Source=sender, Destinations=[to], RawMessage={"Data": raw}
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            if code in PERMANENT_SES_ERRORS:
                raise SesRefused(code) from None
            raise
        return str(response["MessageId"])


# Holds no client (the SES client is created on the first send, then cached): cold start unchanged.
# The unit tests set a fake here.
mailer: Mailer = SesMailer()


def send_email(event: OrderEvent, to: Address) -> str:
    """Render and send one e-mail; returns the message id. Raises SesRefused for a permanent
    refusal, ClientError (or another error) for the rest."""
    sender = get_settings().sender_email
    return mailer.send_raw(sender, to.addr_spec, build_raw(event, to, sender))


def _send_once(*, data: dict[str, str], event: OrderEvent, to: Address) -> dict[str, str]:
    """The idempotent unit: `data` holds the key (the event id); its result is what a duplicate gets.
    A permanent refusal is a result too: recorded, so a redelivery does not try again."""
    try:
        message_id = send_email(event, to)
    except SesRefused as exc:
        # The code only: SES's message can contain the recipient's address.
        logger.error("SES refused the e-mail for good; not retried", extra={"error_code": exc.code})
        metrics.add_metric(name="OrderEmailRefused", unit=MetricUnit.Count, value=1)
        return {"ses_refused": exc.code}
    logger.info(
        "order e-mail sent",
        extra={"event_type": event.event_type, "ses_message_id": message_id},
    )
    metrics.add_metric(name="OrderEmailSent", unit=MetricUnit.Count, value=1)
    return {"ses_message_id": message_id}


def _duplicate(response: Any, idempotent_data: Any) -> Any:
    if isinstance(response, dict) and "ses_refused" in response:
        logger.info("SES refused this event's e-mail for good earlier; not trying again")
    else:
        logger.info("order e-mail already sent for this event; not sending again")
    metrics.add_metric(name="OrderEmailDuplicate", unit=MetricUnit.Count, value=1)
    return response


def _idempotent_sender(context: Any) -> Any:
    """Built per invocation: the config holds this invocation's context (an in-progress record
    expires with it, so a crashed attempt does not block the retry)."""
    config = IdempotencyConfig(
        event_key_jmespath="event_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        response_hook=_duplicate,
    )
    if context is not None:
        config.register_lambda_context(context)
    persistence = idempotency_store()
    return idempotent_function(
        _send_once,
        data_keyword_argument="data",
        persistence_store=persistence,
        config=config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )


def _record_handler(send_once: Any) -> Any:
    def handle(record: SQSRecord) -> None:
        # Every log line about this record names it (the message id, then the event id), never
        # its content.
        logger.append_keys(message_id=record.message_id)
        try:
            _handle(record, send_once)
        finally:
            logger.remove_keys(["message_id", "event_id"])

    return handle


def _malformed(exc: Exception) -> None:
    logger.error("malformed message; it fails until the DLQ takes it", extra={"problem": str(exc)})
    metrics.add_metric(name="OrderEmailMalformed", unit=MetricUnit.Count, value=1)


def _handle(record: SQSRecord, send_once: Any) -> None:
    try:
        event = parse_event(record.body)
    except MalformedMessage as exc:
        _malformed(exc)
        raise
    logger.append_keys(event_id=event.event_id)
    try:
        to = email_rendering.recipient(event)
    except email_rendering.UnaddressableRecipient:
        # A customer's address (the API took it) that no message can carry: refused for good, like
        # SES's permanent refusals, and acknowledged: the DLQ is for what may yet succeed.
        logger.error(
            "the customer's address cannot be written in a message; refused for good, not retried",
            extra={"error_code": "UnaddressableRecipient"},
        )
        metrics.add_metric(name="OrderEmailRefused", unit=MetricUnit.Count, value=1)
        return
    except email_rendering.InvalidRecipient as exc:
        _malformed(exc)
        raise
    try:
        send_once(data={"event_id": event.event_id}, event=event, to=to)
    except IdempotencyAlreadyInProgressError:
        logger.warning("this event is being sent by another invocation; retried later")
        raise
    except ClientError as exc:
        # The code only: SES's message can contain the recipient's address.
        code = exc.response.get("Error", {}).get("Code", "unknown")
        logger.warning("SES refused the e-mail; it will be retried", extra={"error_code": code})
        metrics.add_metric(name="OrderEmailSendFailed", unit=MetricUnit.Count, value=1)
        raise
    except Exception as exc:
        logger.warning("sending the e-mail failed; it will be retried", extra={"error": type(exc).__name__})
        metrics.add_metric(name="OrderEmailSendFailed", unit=MetricUnit.Count, value=1)
        raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event,
            record_handler=_record_handler(_idempotent_sender(context)),
            processor=processor,
            context=context,
        )
    )

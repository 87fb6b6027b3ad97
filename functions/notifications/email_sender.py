"""EmailFunction: SQS `OrderEmailQueue` (order events from SNS, raw delivery) → e-mails through SES.

Each record is handled alone (Powertools BatchProcessor, partial batch response): a record that
fails is reported in `batchItemFailures`, the rest of the batch is deleted. A malformed message
(not JSON, missing fields, unknown event type) fails every time, so after the queue's
`maxReceiveCount` it sits in the DLQ (whose alarm fires); it is logged by message id only, never
by content (it carries names and addresses).

Sends are idempotent by `event_id` (Powertools idempotency in the IdempotencyTable): a message
delivered twice sends one e-mail. A send that fails removes its in-progress record, so the retry
sends. If SES accepts but recording that fails, the retry sends again: at least once, never zero.
"""

from __future__ import annotations

from email.headerregistry import Address
from typing import Any

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


def send_email(event: OrderEvent, to: Address) -> str:
    """Render and send one e-mail through SES; returns SES's message id."""
    rendered = email_rendering.render(event)
    sender = get_settings().sender_email
    raw = email_rendering.build_message(rendered, sender, to, event.event_id)
    response = aws.client("ses").send_raw_email(
        Source=sender, Destinations=[to.addr_spec], RawMessage={"Data": raw}
    )
    return str(response["MessageId"])


def _send_once(*, data: dict[str, str], event: OrderEvent, to: Address) -> dict[str, str]:
    """The idempotent unit: `data` holds the key (the event id); its result is what a duplicate gets."""
    message_id = send_email(event, to)
    logger.info(
        "order e-mail sent",
        extra={"event_type": event.event_type, "ses_message_id": message_id},
    )
    metrics.add_metric(name="OrderEmailSent", unit=MetricUnit.Count, value=1)
    return {"ses_message_id": message_id}


def _duplicate(response: Any, idempotent_data: Any) -> Any:
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


def _handle(record: SQSRecord, send_once: Any) -> None:
    try:
        event = parse_event(record.body)
        to = email_rendering.recipient(event)
    except (MalformedMessage, email_rendering.InvalidRecipient) as exc:
        logger.error("malformed message; it fails until the DLQ takes it", extra={"problem": str(exc)})
        metrics.add_metric(name="OrderEmailMalformed", unit=MetricUnit.Count, value=1)
        raise
    logger.append_keys(event_id=event.event_id)
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

"""The account e-mails (verify your address, reset your password), sent by the auth function itself
straight through SES.

Why not through the order-events path (SNS → SQS → EmailFunction): these e-mails carry a secret
link the user is waiting for at the screen, belong to no order, and must not queue behind order
mail or share its DLQ; the order path's events are order-shaped. Sending directly costs one
`ses:SendRawEmail` permission on the auth function (docs/architecture.md, "Account e-mails").

Same templates system as the order e-mails (Jinja2, `templates/`; HTML autoescaped, text not).
The recipient is the account's bare address, never with a display name, so no name can change who
receives the message (issue 11, defect 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shop_shared import aws
from shop_shared.config import get_settings
from shop_shared.observability import METRICS_NAMESPACE

if TYPE_CHECKING:
    from jinja2 import Environment

logger = Logger(service="auth", child=True)

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUBJECTS = {
    "verify_email": "Verify your e-mail address",
    "password_reset": "Reset your password",
    "email_changed": "Your e-mail address was changed",
}
# Where the links lead on the storefront (the token travels in the query string, `token=`).
PAGES = {"verify_email": "verify-email", "password_reset": "reset-password"}


@dataclass(frozen=True)
class AccountEmail:
    to: str
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    # Jinja2 is imported by the first account e-mail, not by every cold start of the auth function
    # (login, tokens and profiles never render one).
    from shop_shared import email_templates

    return email_templates.environment(TEMPLATES)


def link(kind: str, token: str) -> str:
    # a hash route: the storefront is one static page, and no static host serves /verify-email
    return f"{get_settings().storefront_url}/#/{PAGES[kind]}?{urlencode({'token': token})}"


def render(kind: str, *, to: str, first_name: str, token: str = "", new_email: str = "") -> AccountEmail:
    settings = get_settings()
    context: dict[str, Any] = {
        "subject": SUBJECTS[kind],
        "first_name": first_name,
        "email": to,
        "new_email": new_email,
        "link": link(kind, token) if kind in PAGES else "",  # a notice carries no link
        "hours": settings.email_verification_ttl_seconds // 3600,
        "minutes": settings.password_reset_ttl_seconds // 60,
    }
    environment = _environment()
    return AccountEmail(
        to=to,
        subject=SUBJECTS[kind],
        text=environment.get_template(f"{kind}.txt").render(context),
        html=environment.get_template(f"{kind}.html").render(context),
    )


def build_message(mail: AccountEmail, sender: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to  # the bare address: a validated e-mail, no display name
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message.as_bytes(policy=SMTP)


def send(kind: str, *, to: str, first_name: str, token: str = "", new_email: str = "") -> None:
    mail = render(kind, to=to, first_name=first_name, token=token, new_email=new_email)
    sender = get_settings().sender_email
    aws.client("ses").send_raw_email(
        Source=sender, Destinations=[mail.to], RawMessage={"Data": build_message(mail, sender)}
    )


def report_failure(kind: str, error: Exception) -> None:
    """An account e-mail SES refused or could not take. The request still succeeds (the account
    exists; the user can ask again), so it is logged and counted: the AccountEmailFailedAlarm
    watches `AccountEmailFailed` (dimension `Kind`), since a sender identity or IAM problem would
    otherwise leave every new customer unverified in silence."""
    logger.warning("account e-mail not sent", extra={"kind": kind, "error": type(error).__name__})
    with single_metric(
        name="AccountEmailFailed", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="Kind", value=kind)

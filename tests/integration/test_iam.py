"""IAM enforced by the local stack (sam_runner.iam_enforcement): every function calls AWS as its
own role from the template, and a permission missing from the template fails the request that
needs it, as AWS would fail it.

The stack below runs a copy of template.yaml (`SHOP_TEMPLATE`) with two roles narrowed:
- the e-mail function's `ses:SendRawEmail` statement removed: its order e-mails are refused with
  AccessDenied, so no e-mail goes out and the message is retried until it ends in the DLQ
  (docs/architecture.md, "E-mails": anything but a permanent SES refusal is retried);
- the auth function's SES scope as it was before commit 10252f3 (`identity/${SenderEmail}` only):
  SES also authorises the send against the recipient's identity, so the verification e-mail is
  refused, the registration still succeeds and the failure is counted (`AccountEmailFailed`).
The session's `stack` runs the unmodified template: nothing of it is refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_runner.template import ROOT
from shop_local.testing import ShopStack

EVENTS = ROOT / "events"
SES_STATEMENT = (
    "            - Effect: Allow\n"
    "              Action: ses:SendRawEmail\n"
    '              Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"\n'
    "              Condition:\n"
    "                StringEquals:\n"
    "                  ses:FromAddress: !Ref SenderEmail\n"
)
OLD_AUTH_SES_STATEMENT = (
    "            - Effect: Allow\n"
    "              Action: ses:SendRawEmail\n"
    '              Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:'
    'identity/${SenderEmail}"\n'
)


def template_copy(folder: Path, text: str) -> Path:
    """`text` as the template of a copy of the repository's layout (its code where it expects it)."""
    for entry in ROOT.iterdir():
        if entry.name not in ("template.yaml", ".git", ".venv", ".cache", "node_modules"):
            (folder / entry.name).symlink_to(entry)
    path = folder / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def narrowed_template(folder: Path) -> Path:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    auth, rest = text.split("  AuthorizerFunction:", 1)
    before_email, email = rest.split("  EmailFunction:", 1)
    assert auth.count(SES_STATEMENT) == 1 and email.count(SES_STATEMENT) == 1
    auth = auth.replace(SES_STATEMENT, OLD_AUTH_SES_STATEMENT)
    email = email.replace(SES_STATEMENT, "")
    return template_copy(folder, auth + "  AuthorizerFunction:" + before_email + "  EmailFunction:" + email)


@pytest.fixture(scope="module")
def narrowed(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[ShopStack]:
    folder = tmp_path_factory.mktemp("iam-template")
    env = {"SHOP_TEMPLATE": str(narrowed_template(folder)), "SHOP_IAM_RECORD": str(folder / "record")}
    with ShopStack(redis_url=redis_url, env=env) as narrowed_stack:
        yield narrowed_stack


def iam_report(stack: ShopStack) -> dict[str, Any]:
    response = stack.http.get(f"{stack.url}/_dev/iam", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def order_created_event() -> dict[str, Any]:
    sample = json.loads((EVENTS / "email-order-created.json").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(sample["Records"][0]["body"])
    order_id = str(uuid.uuid4())
    body["order"]["id"] = order_id
    body["event_id"] = f"order.created:{order_id}"
    body["customer"]["email"] = f"iam_{uuid.uuid4().hex[:10]}@example.com"
    return body


def test_the_email_function_without_ses_permission_sends_nothing_and_dead_letters(
    narrowed: ShopStack,
) -> None:
    event = order_created_event()
    customer = event["customer"]["email"]
    topic = narrowed.resources()["topics"]["OrderEventsTopic"]["arn"]
    narrowed.client("sns").publish(
        TopicArn=topic,
        Message=json.dumps(event),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "order.created"}},
    )
    # retried (AccessDenied is not a permanent SES refusal) until the queue's redrive moves it
    narrowed.wait_until(lambda: narrowed.queue_depth("OrderEmailDLQ") >= 1, timeout=90)
    assert not [mail for mail in narrowed.emails() if mail["to"] == customer]
    denials = [d for d in iam_report(narrowed)["denials"] if d["function"] == "EmailFunction"]
    assert denials and {d["action"] for d in denials} == {"ses:SendRawEmail"}
    assert denials[0]["resource"].startswith("arn:aws:ses:us-east-1:123456789012:identity/")
    assert "IAM denied: EmailFunction ses:SendRawEmail on arn:aws:ses:" in narrowed.log_text()
    assert "AccessDenied" in narrowed.log_text()


def test_the_old_auth_ses_scope_refuses_the_verification_email(narrowed: ShopStack) -> None:
    before = narrowed.metric_total("AccountEmailFailed", Kind="verify_email")
    who = narrowed.new_user(verified=False)
    assert who["user"]["email"] == who["email"]  # registered: a refused e-mail fails nothing else
    narrowed.wait_until(
        lambda: narrowed.metric_total("AccountEmailFailed", Kind="verify_email") > before, timeout=20
    )
    assert not [mail for mail in narrowed.emails() if mail["to"] == who["email"]]
    recipient = f"arn:aws:ses:us-east-1:123456789012:identity/{who['email']}"
    denials = iam_report(narrowed)["denials"]
    assert {"function": "AuthFunction", "action": "ses:SendRawEmail", "resource": recipient} in [
        {key: d[key] for key in ("function", "action", "resource")} for d in denials
    ]


def test_the_unmodified_template_refuses_nothing(stack: ShopStack) -> None:
    shopper = stack.new_shopper()
    response = stack.place_order(shopper, [{"product_id": 1, "quantity": 1}])
    assert response.status_code == 201, response.text
    stack.wait_for_order_pipeline()
    report = iam_report(stack)
    assert report["enabled"] is True
    assert report["denied"] == 0, report["denials"]
    used = {fid for fid, entry in report["functions"].items() if entry["exercised"]}
    assert {"AuthFunction", "AuthorizerFunction", "OrdersFunction", "EmailFunction"} <= used

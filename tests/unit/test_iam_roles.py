"""The functions' roles as SAM translates template.yaml (local/sam_runner/iam_roles.py), checked
with the requests the functions make (iam_requests) by AWS's evaluation logic (iam_policy).

The auth function's SES scope was `identity/${SenderEmail}` until commit 10252f3: SES also
authorises a sandboxed send against each recipient's identity, so every verification mail was
refused on AWS. `test_the_old_auth_ses_scope_is_refused` shows this enforcement refuses it."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sam_runner.builder import load
from sam_runner.iam_policy import Statement, evaluate, statements
from sam_runner.iam_requests import Names, map_request
from sam_runner.iam_roles import MANAGED_POLICIES, Role, access_key, cached_translation, roles, translate
from sam_runner.template import DEFAULT_TEMPLATE

NEW_SCOPE = 'Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"'
OLD_SCOPE = (
    'Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}"'
)
CONDITION = (
    "              Condition:\n"
    "                StringEquals:\n"
    "                  ses:FromAddress: !Ref SenderEmail\n"
)


@pytest.fixture(scope="module")
def today() -> dict[str, Role]:
    return roles(load())


def role_statements(role: Role) -> list[Statement]:
    found: list[Statement] = []
    for policy in role.policies:
        found += statements(policy["name"], policy["document"])
    return found


def allowed(role: Role, service: str, body: bytes, target: str = "") -> bool:
    mapped = map_request(
        service, "us-east-1", headers={"x-amz-target": target} if target else {}, body=body, names=Names()
    )
    assert mapped.checks
    return all(
        evaluate(role_statements(role), check.action, check.resource, check.context).allowed
        for check in mapped.checks
    )


def send_raw(sender: str, to: str) -> bytes:
    raw = base64.b64encode(f"From: {sender}\r\nTo: {to}\r\n\r\nhello".encode()).decode()
    form = {"Action": "SendRawEmail", "Source": sender, "Destinations.member.1": to, "RawMessage.Data": raw}
    return urlencode(form).encode()


def test_every_function_has_a_role_and_a_key_of_its_own(today: dict[str, Role]) -> None:
    assert set(today) == set(load().functions())
    keys = {role.access_key for role in today.values()}
    assert len(keys) == len(today) and "testing" not in keys
    assert access_key("AuthFunction") == today["AuthFunction"].access_key


def test_every_managed_policy_sam_adds_is_known() -> None:
    translated = translate(load())
    arns = {
        str(arn).rsplit("/", 1)[-1]
        for resource in translated["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        and "Lambda" in str(resource["Properties"].get("AssumeRolePolicyDocument"))
        for arn in resource["Properties"].get("ManagedPolicyArns") or []
    }
    assert arns <= set(MANAGED_POLICIES)


def test_the_auth_function_may_mail_a_sandbox_recipient(today: dict[str, Role]) -> None:
    sender = load().parameters["SenderEmail"]
    assert allowed(today["AuthFunction"], "ses", send_raw(sender, "new.customer@example.org"))
    assert not allowed(
        today["AuthFunction"], "ses", send_raw("someone.else@example.com", "new.customer@example.org")
    )


def test_the_old_auth_ses_scope_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    auth_part, rest = text.split("AuthorizerFunction:", 1)
    assert NEW_SCOPE + "\n" + CONDITION in auth_part
    old = auth_part.replace(NEW_SCOPE + "\n" + CONDITION, OLD_SCOPE + "\n", 1) + "AuthorizerFunction:" + rest
    copy = tmp_path / "template.yaml"
    copy.write_text(old, encoding="utf-8")
    template = load(path=copy)
    sender = template.parameters["SenderEmail"]
    auth = roles(template)["AuthFunction"]
    assert not allowed(auth, "ses", send_raw(sender, "new.customer@example.org"))


def test_the_authorizer_reads_only_users_partitions(today: dict[str, Role]) -> None:
    table = load().resource_name("UsersTable")
    target = "DynamoDB_20120810.GetItem"

    def get(pk: str) -> bytes:
        return (
            f'{{"TableName": "{table}", "Key": {{"pk": {{"S": "{pk}"}}, "sk": {{"S": "PROFILE"}}}}}}'.encode()
        )

    names = Names(partition_keys={table: "pk"})
    for pk, expected in (("USER#1", True), ("USERNAME#alice", False)):
        mapped = map_request(
            "dynamodb", "us-east-1", headers={"x-amz-target": target}, body=get(pk), names=names
        )
        (check,) = mapped.checks
        decision = evaluate(
            role_statements(today["AuthorizerFunction"]), check.action, check.resource, check.context
        )
        assert decision.allowed is expected


def test_the_publisher_may_publish_only_to_its_topic(today: dict[str, Role]) -> None:
    topic = f"arn:aws:sns:us-east-1:123456789012:{load().resource_name('OrderEventsTopic')}"
    body = urlencode({"Action": "PublishBatch", "TopicArn": topic}).encode()
    assert allowed(today["OrderEventsPublisherFunction"], "sns", body)
    assert not allowed(today["OrdersFunction"], "sns", body)


def test_the_translation_is_kept_by_template_text(tmp_path: Path) -> None:
    template = load()
    first = cached_translation(template, cache=tmp_path)
    assert cached_translation(template, cache=tmp_path) == first == translate(template)
    # other parameter values (other ports, a VPC, tracing on) translate to the same document:
    # SAM leaves them to Ref and Fn::If, which `roles` resolves with each stack's values
    other = load(
        {
            "RedisUrl": "rediss://cache:6379/0",
            "TracingEnabled": "true",
            "VpcSubnetIds": "subnet-1",
            "VpcSecurityGroupIds": "sg-1",
        }
    )
    assert translate(other) == first
    copy = tmp_path / "template.yaml"
    copy.write_text(DEFAULT_TEMPLATE.read_text(encoding="utf-8") + "\n# another template\n", encoding="utf-8")
    cached_translation(load(path=copy), cache=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2

"""The local stack's policy evaluation (local/sam_runner/iam_policy.py), on examples from AWS's IAM
User Guide: "Policy evaluation logic", "Condition operators", "Multivalued context key examples",
and the DynamoDB Developer Guide's "Using IAM policy conditions for fine-grained access control"."""

from __future__ import annotations

from typing import Any

import pytest

from sam_runner.iam_policy import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    condition_holds,
    evaluate,
    exercised,
    grants,
    statements,
)

TABLE = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"


def decide(document: dict[str, Any], action: str, resource: str, **context: Any) -> str:
    return evaluate(statements("p", document), action, resource, context).result


def test_nothing_allowed_is_an_implicit_deny() -> None:
    assert decide({"Statement": []}, "dynamodb:GetItem", TABLE) == IMPLICIT_DENY


def test_explicit_deny_wins_over_an_allow() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
        ]
    }
    assert decide(document, "dynamodb:GetItem", TABLE) == ALLOW
    assert decide(document, "dynamodb:DeleteItem", TABLE) == EXPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": "*"}}
    assert decide(document, "kms:generatedatakeywithoutplaintext", "arn:aws:kms:us-east-1:1:key/k") == ALLOW
    assert decide(document, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k") == IMPLICIT_DENY


def test_not_action_allows_everything_else() -> None:
    # IAM User Guide, NotAction: "Allow" with NotAction iam:* allows every other service's actions
    document = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert decide(document, "sns:Publish", "arn:aws:sns:us-east-1:1:t") == ALLOW
    assert decide(document, "iam:CreateUser", "*") == IMPLICIT_DENY


def test_resources_match_case_sensitively_and_not_resource_excludes() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{TABLE}/index/*"}}
    assert decide(document, "dynamodb:Query", f"{TABLE}/index/ByUser") == ALLOW
    assert decide(document, "dynamodb:Query", TABLE) == IMPLICIT_DENY
    assert decide(document, "dynamodb:Query", f"{TABLE.lower()}/index/ByUser") == IMPLICIT_DENY
    excluded = {"Statement": {"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE}}
    assert decide(excluded, "dynamodb:GetItem", TABLE) == IMPLICIT_DENY
    assert decide(excluded, "dynamodb:GetItem", TABLE + "2") == ALLOW


def test_leading_keys_example_of_the_dynamodb_guide() -> None:
    # DynamoDB Developer Guide: ForAllValues:StringEquals on dynamodb:LeadingKeys limits a user
    # to the items whose partition key is their own id
    document = {
        "Statement": {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
            "Resource": [TABLE],
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["user-1"]}},
        }
    }
    key = "dynamodb:LeadingKeys"
    assert decide(document, "dynamodb:GetItem", TABLE, **{key: ["user-1"]}) == ALLOW
    assert decide(document, "dynamodb:GetItem", TABLE, **{key: ["user-2"]}) == IMPLICIT_DENY
    assert decide(document, "dynamodb:BatchGetItem", TABLE, **{key: ["user-1", "user-2"]}) == IMPLICIT_DENY


def test_for_all_values_is_true_without_the_key() -> None:
    # Multivalued context key examples: "ForAllValues also returns true if there are no context
    # keys in the request"; the example adds a Null check against exactly that
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", ("key1*",), {})
    assert condition_holds("ForAllValues:StringLike", "aws:TagKeys", ("key1*",), {"aws:TagKeys": []})
    assert not condition_holds("Null", "aws:TagKeys", ("false",), {})
    assert condition_holds("Null", "aws:TagKeys", ("false",), {"aws:TagKeys": ["key1a"]})


def test_for_any_value_needs_one_match() -> None:
    # Multivalued context key examples: ForAnyValue:StringEquals on aws:TagKeys
    policy = ("environment", "webserver")
    assert condition_holds(
        "ForAnyValue:StringEquals", "aws:TagKeys", policy, {"aws:TagKeys": ["webserver", "x"]}
    )
    assert not condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", policy, {"aws:TagKeys": ["x"]})
    assert not condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", policy, {})


def test_absent_key_is_false_except_for_negated_operators_and_if_exists() -> None:
    # Condition operators: "If the key ... is not present in the request context, the values do
    # not match and the condition is false. If the policy condition requires that the key is not
    # matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
    # condition is true."
    assert not condition_holds("StringEquals", "ses:FromAddress", ("a@example.com",), {})
    assert condition_holds("StringNotLike", "ses:FromAddress", ("a@*",), {})
    assert condition_holds("StringEqualsIfExists", "ses:FromAddress", ("a@example.com",), {})
    assert not condition_holds(
        "StringEqualsIfExists", "ses:FromAddress", ("a@example.com",), {"ses:FromAddress": "b"}
    )


def test_several_keys_and_operators_must_all_hold_values_are_alternatives() -> None:
    document = {
        "Statement": {
            "Effect": "Allow",
            "Action": "ses:SendRawEmail",
            "Resource": "arn:aws:ses:us-east-1:1:identity/*",
            "Condition": {
                "StringEquals": {"ses:FromAddress": ["shop@example.com", "noreply@example.com"]},
                "StringLike": {"ses:Recipients": "*@example.com"},
            },
        }
    }
    identity = "arn:aws:ses:us-east-1:1:identity/example.com"
    allowed = {"ses:FromAddress": "noreply@example.com", "ses:Recipients": ["a@example.com"]}
    assert decide(document, "ses:SendRawEmail", identity, **allowed) == ALLOW
    other_sender = {**allowed, "ses:FromAddress": "x@example.com"}
    assert decide(document, "ses:SendRawEmail", identity, **other_sender) == IMPLICIT_DENY
    other_recipient = {**allowed, "ses:Recipients": ["a@elsewhere.org"]}
    assert decide(document, "ses:SendRawEmail", identity, **other_recipient) == IMPLICIT_DENY


@pytest.mark.parametrize("operator", ["StringSoundsLike", "ForEveryValue:StringEquals"])
def test_an_unknown_operator_never_allows(operator: str) -> None:
    document = {
        "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {"k": "v"}}}
    }
    assert decide(document, "sns:Publish", "arn:aws:sns:us-east-1:1:t", k="v") == IMPLICIT_DENY


def test_the_deciding_statement_is_named() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}
    decision = evaluate(statements("Topic", document), "sns:Publish", "arn:aws:sns:us-east-1:1:t")
    assert decision.allowed and [(s.policy, s.index) for s in decision.statements] == [("Topic", 0)]


def test_grants_and_the_ones_a_request_used() -> None:
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": [TABLE, f"{TABLE}/index/*"],
            }
        ]
    }
    (statement,) = statements("P", document)
    assert grants(statement) == [
        f"P#0 dynamodb:GetItem on {TABLE}",
        f"P#0 dynamodb:GetItem on {TABLE}/index/*",
        f"P#0 dynamodb:PutItem on {TABLE}",
        f"P#0 dynamodb:PutItem on {TABLE}/index/*",
    ]
    assert exercised(statement, "dynamodb:PutItem", TABLE) == [f"P#0 dynamodb:PutItem on {TABLE}"]

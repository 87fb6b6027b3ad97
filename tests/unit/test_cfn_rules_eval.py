"""tools/cfn_rules_eval.py: CloudFormation's rule functions as AWS documents them
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html),
evaluated for given parameter values, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from tools.cfn_rules_eval import UnsupportedInRule, evaluate, parameter_values, refused_by_rules

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Subnets": {"Type": "CommaDelimitedList", "Default": ""},
        "Groups": {"Type": "List<AWS::EC2::SecurityGroup::Id>", "Default": ""},
        "Env": {"Type": "String", "Default": "test"},
        "Size": {"Type": "Number", "Default": 0},
    },
    "Rules": {
        "SubnetsNeedGroups": {
            "RuleCondition": {"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "Subnets"}, ""]}]},
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "Groups"}, ""]}]}}],
        },
        "ProdIsBig": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "Assertions": [{"Assert": {"Fn::Contains": [["8", "16"], {"Ref": "Size"}]}}],
        },
    },
}


def test_a_comma_delimited_list_is_a_list_and_an_empty_one_is_one_empty_string() -> None:
    values = parameter_values(TEMPLATE, {"Subnets": "subnet-a, subnet-b"})
    assert values["Subnets"] == ["subnet-a", "subnet-b"]
    assert values["Groups"] == [""]
    with pytest.raises(ValueError, match="no default"):
        parameter_values({"Parameters": {"Required": {"Type": "String"}}}, {})


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({}, []),  # no subnets: the rule's condition is false, nothing is asserted
        ({"Subnets": "subnet-a"}, ["SubnetsNeedGroups"]),
        ({"Subnets": "subnet-a", "Groups": "sg-1"}, []),
        ({"Env": "prod"}, ["ProdIsBig"]),
        ({"Env": "prod", "Size": "16"}, []),  # a Number compares as its text
        ({"Env": "prod", "Subnets": "subnet-a"}, ["SubnetsNeedGroups", "ProdIsBig"]),
    ],
)
def test_rules_refuse_only_when_their_condition_holds_and_an_assertion_fails(
    given: dict[str, str], refused: list[str]
) -> None:
    assert refused_by_rules(TEMPLATE, given) == refused


def test_each_documented_function() -> None:
    values = {"L": ["a", "b"], "S": "a"}
    assert evaluate({"Fn::Contains": [{"Ref": "L"}, {"Ref": "S"}]}, values) is True
    assert evaluate({"Fn::Contains": [["x"], {"Ref": "S"}]}, values) is False
    assert evaluate({"Fn::EachMemberEquals": [{"Ref": "L"}, "a"]}, values) is False
    assert evaluate({"Fn::EachMemberIn": [{"Ref": "L"}, ["a", "b", "c"]]}, values) is True
    assert evaluate({"Fn::EachMemberIn": [{"Ref": "L"}, ["a"]]}, values) is False
    true, false = {"Fn::Equals": ["a", "a"]}, {"Fn::Equals": ["a", "b"]}
    assert evaluate({"Fn::And": [true, false]}, values) is False
    assert evaluate({"Fn::Or": [true, false]}, values) is True
    assert evaluate({"Fn::Not": [false]}, values) is True


@pytest.mark.parametrize(
    "expression",
    [
        {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": [".", {"Ref": "S"}]}]}, "a"]},
        {"Fn::Equals": [{"Fn::Join": ["", {"Ref": "L"}]}, ""]},
        {"Fn::Equals": [{"Fn::Sub": "${S}"}, "a"]},
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        {"Fn::And": [{"Fn::Equals": ["a", "a"]}]},  # And/Or take 2 to 10 conditions
        {"Fn::Not": ["a"]},  # a condition is true or false, not a string
    ],
)
def test_what_cloudformation_does_not_document_for_rules_is_refused(expression: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInRule):
        evaluate(expression, {"L": ["a"], "S": "a.b"})

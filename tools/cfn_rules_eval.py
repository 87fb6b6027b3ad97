"""CloudFormation's template `Rules`, evaluated for a set of parameter values as CloudFormation
does before it creates or updates anything: a rule whose `RuleCondition` is true (or absent) refuses
the parameters unless every `Assert` is true.

Only what AWS documents for rules is evaluated: the rule-specific functions `Fn::And`, `Fn::Or`,
`Fn::Not`, `Fn::Equals`, `Fn::Contains`, `Fn::EachMemberEquals`, `Fn::EachMemberIn`, and `Ref` to a
parameter; "you can use the following functions within all other rule-specific intrinsic
functions: Ref, other rule-specific intrinsic functions"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html,
"Supported functions"; https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html).
Anything else (`Fn::Split`, `Fn::Join`, `Fn::Sub` ...) raises `UnsupportedInRule`: CloudFormation
does not promise to evaluate it there, so a rule built on it is a rule that may not deploy.
`Fn::RefAll`, `Fn::ValueOf` and `Fn::ValueOfAll` read the account (VPCs, subnets) and are not
evaluated offline either.

cfn-lint's own rule handling (cfnlint.conditions) reasons about `Fn::Equals` symbolically, to find
impossible condition combinations; it does not evaluate rules for given values, hence this module.
"""

from __future__ import annotations

from typing import Any


class UnsupportedInRule(ValueError):
    """A function CloudFormation does not document for the Rules section."""


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value for a deploy: the given one, else its default; a
    CommaDelimitedList (and List<...>) as the list CloudFormation makes of it."""
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            raise ValueError(f"parameter {name} has no default and was not given")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            value = value if isinstance(value, list) else [item.strip() for item in str(value).split(",")]
        values[name] = value
    return values


def evaluate(expression: Any, values: dict[str, Any]) -> Any:
    """The value of a rule expression (a literal, a list, `Ref` or a rule function)."""
    if isinstance(expression, list):
        return [evaluate(item, values) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if len(expression) != 1:
        raise UnsupportedInRule(f"not a function: {expression!r}")
    ((function, argument),) = expression.items()
    if function == "Ref":
        if argument not in values:
            raise UnsupportedInRule(f"Ref to {argument!r}: in a rule, Ref names a parameter")
        return values[argument]
    if function == "Fn::Equals":
        left, right = (evaluate(item, values) for item in argument)
        return _text(left) == _text(right)
    if function == "Fn::Not":
        (condition,) = argument
        return not _boolean(evaluate(condition, values))
    if function == "Fn::And":
        _count(function, argument)
        return all(_boolean(evaluate(item, values)) for item in argument)
    if function == "Fn::Or":
        _count(function, argument)
        return any(_boolean(evaluate(item, values)) for item in argument)
    if function == "Fn::Contains":
        strings, string = (evaluate(item, values) for item in argument)
        return _text(string) in [_text(item) for item in _strings(strings)]
    if function == "Fn::EachMemberEquals":
        strings, string = (evaluate(item, values) for item in argument)
        return all(_text(item) == _text(string) for item in _strings(strings))
    if function == "Fn::EachMemberIn":
        to_check, to_match = (evaluate(item, values) for item in argument)
        allowed = {_text(item) for item in _strings(to_match)}
        return all(_text(item) in allowed for item in _strings(to_check))
    raise UnsupportedInRule(f"{function} is not a function CloudFormation evaluates in Rules")


def refused_by_rules(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    """The names of the template's rules that refuse these parameters (empty: CloudFormation goes on)."""
    values = parameter_values(template, given)
    refused = []
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not _boolean(evaluate(rule["RuleCondition"], values)):
            continue
        if not all(_boolean(evaluate(assertion["Assert"], values)) for assertion in rule["Assertions"]):
            refused.append(name)
    return refused


def _count(function: str, argument: Any) -> None:
    # "The minimum number of conditions that you can include is two, and the maximum is ten."
    if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
        raise UnsupportedInRule(f"{function} takes 2 to 10 conditions")


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise UnsupportedInRule(f"a rule condition or assertion must be true or false, not {value!r}")
    return value


def _strings(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UnsupportedInRule(f"a list of strings was expected, not {value!r}")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""AWS's evaluation of identity-based policies, for one request: pure, no I/O.

What it follows (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
- an explicit `Deny` in any statement wins; otherwise an `Allow` that matches allows; otherwise
  the request is implicitly denied;
- a statement matches when its `Action` (or `NotAction`), its `Resource` (or `NotResource`) and
  every one of its conditions match. Actions match case-insensitively, resources case-sensitively,
  both with the `*` and `?` wildcards;
- conditions ("Condition operators"): every operator of a statement, every key of an operator must
  hold (AND); the policy's values for one key are alternatives (OR). A key absent from the request
  makes a condition false, except for the negated operators (`StringNotEquals`, `StringNotLike`,
  `ArnNotLike`...), which are then true, `...IfExists` (true) and `Null`. `ForAllValues:` holds when
  every value of the request matches one of the policy's values, and when the key is absent or
  empty; `ForAnyValue:` when at least one does ("Multivalued context keys").

Why not a package: moto's own `moto.iam.access_control.IAMPolicyStatement` checks the action and
resource but evaluates only `StringEquals`-like conditions, and neither `policyuniverse` nor
`policy_sentry` evaluates a request (they expand and classify actions).

Not evaluated here (the local stack has none of them): resource-based policies, SCPs, permission
boundaries, session policies, policy variables (`${aws:username}`).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALLOW = "allow"
EXPLICIT_DENY = "explicit-deny"
IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True)
class Decision:
    result: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    # the statements that allowed it (every one that applies: what `iam-unused` counts), or
    # the one that denied it
    statements: tuple[Statement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.result == ALLOW


@dataclass(frozen=True)
class Statement:
    policy: str
    index: int
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    condition: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return (str(value),)


def statements(name: str, document: Mapping[str, Any]) -> list[Statement]:
    """The statements of one policy document (`Statement` a list or a single object)."""
    raw = document.get("Statement") or []
    if isinstance(raw, dict):
        raw = [raw]
    found = []
    for index, statement in enumerate(raw):
        condition = {
            operator: {key: _strings(values) for key, values in (keys or {}).items()}
            for operator, keys in (statement.get("Condition") or {}).items()
        }
        found.append(
            Statement(
                policy=name,
                index=index,
                effect=str(statement.get("Effect", "")),
                actions=_strings(statement.get("Action")),
                not_actions=_strings(statement["NotAction"]) if "NotAction" in statement else None,
                resources=_strings(statement.get("Resource")),
                not_resources=_strings(statement["NotResource"]) if "NotResource" in statement else None,
                condition=condition,
            )
        )
    return found


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # fnmatch's translation, with only IAM's two wildcards (no [...] classes)
    escaped = pattern.replace("[", "[[]")
    return re.compile(fnmatch.translate(escaped), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _glob(pattern, ignore_case).match(value) is not None


def action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(like(pattern, action, ignore_case=True) for pattern in patterns)


def resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(pattern == "*" or like(pattern, resource) for pattern in patterns)


# ------------------------------------------------------------------------------- conditions
def _string_equals(policy: str, value: str) -> bool:
    return policy == value


def _string_equals_ignore_case(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _string_like(policy: str, value: str) -> bool:
    return like(policy, value)


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _numeric(compare: Any) -> Any:
    def match(policy: str, value: str) -> bool:
        try:
            return bool(compare(float(value), float(policy)))
        except ValueError:
            return False

    return match


# operator -> (match one policy value against one request value, negated?)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string_like, False),  # ARN operators take wildcards too
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
}


class UnknownOperator(ValueError):
    """A condition operator this evaluator does not know: the statement never matches."""


def condition_holds(
    operator: str, key: str, policy_values: tuple[str, ...], context: Mapping[str, Any]
) -> bool:
    """One operator's test of one key (`context`: the request's keys, each a string or a list)."""
    present = key in context and context[key] is not None
    raw = context.get(key)
    values = list(_strings(raw)) if present else []
    if operator == "Null":
        absent = not present or values == []
        return any((policy.lower() == "true") == absent for policy in policy_values)
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name not in _OPERATORS:
        raise UnknownOperator(operator)
    match, negated = _OPERATORS[name]

    def one(value: str) -> bool:
        hit = any(match(policy, value) for policy in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(value) for value in values)  # true when absent or empty
    if qualifier == "ForAnyValue":
        return any(one(value) for value in values)
    if qualifier:
        raise UnknownOperator(operator)
    if not values:
        return if_exists or negated
    return all(one(value) for value in values)


def _conditions_hold(statement: Statement, context: Mapping[str, Any]) -> bool:
    try:
        return all(
            condition_holds(operator, key, values, context)
            for operator, keys in statement.condition.items()
            for key, values in keys.items()
        )
    except UnknownOperator:
        return False


def applies(statement: Statement, action: str, resource: str, context: Mapping[str, Any]) -> bool:
    return applies_ignoring_conditions(statement, action, resource) and _conditions_hold(statement, context)


def applies_ignoring_conditions(statement: Statement, action: str, resource: str) -> bool:
    """Whether the statement's Action (NotAction) and Resource (NotResource) match."""
    if statement.not_actions is not None:
        if action_matches(statement.not_actions, action):
            return False
    elif not action_matches(statement.actions, action):
        return False
    if statement.not_resources is not None:
        if resource_matches(statement.not_resources, resource):
            return False
    elif not resource_matches(statement.resources, resource):
        return False
    return True


def evaluate(
    policy_statements: Iterable[Statement],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> Decision:
    """Allowed, explicitly denied or implicitly denied: one action on one resource."""
    context = context or {}
    allowed_by: list[Statement] = []
    for statement in policy_statements:
        if not applies(statement, action, resource, context):
            continue
        if statement.effect == "Deny":
            return Decision(EXPLICIT_DENY, (statement,))
        if statement.effect == "Allow":
            allowed_by.append(statement)
    if allowed_by:
        return Decision(ALLOW, tuple(allowed_by))
    return Decision(IMPLICIT_DENY)


def grants(statement: Statement) -> list[str]:
    """What an Allow statement grants, one line per action and resource pattern (how `iam-unused`
    names a grant): `Policy#0 dynamodb:GetItem on arn:...`, `if ...` when it has conditions."""
    if statement.effect != "Allow":
        return []
    actions = (
        [f"NotAction {' '.join(statement.not_actions)}"]
        if statement.not_actions is not None
        else list(statement.actions)
    )
    resources = (
        [f"NotResource {' '.join(statement.not_resources)}"]
        if statement.not_resources is not None
        else list(statement.resources)
    )
    condition = " if " + json.dumps(statement.condition, sort_keys=True) if statement.condition else ""
    return [f"{statement.policy}#{statement.index} {a} on {r}{condition}" for a in actions for r in resources]


def exercised(statement: Statement, action: str, resource: str) -> list[str]:
    """The grants of `statement` that a request for `action` on `resource` used."""
    condition = " if " + json.dumps(statement.condition, sort_keys=True) if statement.condition else ""
    actions = (
        [f"NotAction {' '.join(statement.not_actions)}"]
        if statement.not_actions is not None
        else [a for a in statement.actions if action_matches([a], action)]
    )
    resources = (
        [f"NotResource {' '.join(statement.not_resources)}"]
        if statement.not_resources is not None
        else [r for r in statement.resources if resource_matches([r], resource)]
    )
    return [f"{statement.policy}#{statement.index} {a} on {r}{condition}" for a in actions for r in resources]

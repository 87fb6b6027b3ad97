"""tests/integration/iam_unexercised.json, the grants no test exercises on purpose: every entry has
its reason and still names a grant of today's template (a grant removed from template.yaml, or
renamed by SAM, must leave the list too). Whether every unexercised grant is listed needs a whole
test run's records: `make iam-unused` (sam_runner.iam_unused) fails when one is not."""

from __future__ import annotations

import fnmatch
import json

import pytest

from sam_runner.builder import load
from sam_runner.iam_roles import template_grants
from sam_runner.iam_unused import LISTED

LIST = json.loads(LISTED.read_text(encoding="utf-8"))
GRANTS = template_grants(load())
ENTRIES = [
    (function, pattern, reason)
    for function, patterns in LIST.items()
    if not function.startswith("_")
    for pattern, reason in patterns.items()
]


@pytest.mark.parametrize(("function", "pattern", "reason"), ENTRIES, ids=[f"{f}:{p}" for f, p, _ in ENTRIES])
def test_each_listed_grant_exists_and_has_a_reason(function: str, pattern: str, reason: str) -> None:
    assert len(reason) > 20, "say why this grant is not exercised"
    functions = [name for name in GRANTS if fnmatch.fnmatchcase(name, function)]
    assert functions, f"no function {function!r} in template.yaml"
    if function == "*":
        assert any(fnmatch.fnmatchcase(grant, pattern) for grants in GRANTS.values() for grant in grants)
        return
    for name in functions:
        assert any(fnmatch.fnmatchcase(grant, pattern) for grant in GRANTS[name]), (
            f"{pattern!r} names no grant of {name} any more: remove it from {LISTED.name}"
        )

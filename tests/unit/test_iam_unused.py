"""`make iam-unused` (local/sam_runner/iam_unused.py): the grants no stack's requests exercised,
and the failure when one of them is not listed with its reason."""

from __future__ import annotations

import json
from pathlib import Path

from sam_runner.iam_unused import main, merge, unexercised
from sam_runner.template import DEFAULT_TEMPLATE

GET = "P#0 dynamodb:GetItem on ${UsersTable.Arn}"
PUT = "P#0 dynamodb:PutItem on ${UsersTable.Arn}"
LOGS = "AWSLambdaBasicExecutionRole#0 logs:PutLogEvents on *"


def record(exercised: dict[str, int], template: Path = DEFAULT_TEMPLATE) -> dict[str, object]:
    return {
        "template": str(template),
        "functions": {"AuthFunction": {"grants": [GET, PUT, LOGS], "exercised": exercised, "denied": 0}},
    }


def test_a_grant_any_stack_used_is_exercised() -> None:
    granted, used = merge([record({GET: 3}), record({PUT: 1})])
    assert unexercised(granted, used, {}) == {"AuthFunction": [(LOGS, None)]}


def test_listed_grants_carry_their_reason_with_wildcards() -> None:
    granted, used = merge([record({GET: 1})])
    listed = {"*": {"AWSLambdaBasicExecutionRole#* logs:* on *": "Lambda writes the logs itself"}}
    assert unexercised(granted, used, listed) == {
        "AuthFunction": [(LOGS, "Lambda writes the logs itself"), (PUT, None)]
    }


def test_the_command_fails_on_an_unlisted_unexercised_grant(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "a.json").write_text(json.dumps(record({GET: 1})))
    (records / "copy.json").write_text(json.dumps(record({}, template=tmp_path / "template.yaml")))
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps({"*": {"AWSLambdaBasicExecutionRole#* logs:* on *": "Lambda's own"}}))
    assert main(["--records", str(records), "--listed", str(listed)]) == 1
    listed.write_text(json.dumps({"*": {"AWSLambdaBasicExecutionRole#* logs:* on *": "x", PUT: "y"}}))
    assert main(["--records", str(records), "--listed", str(listed)]) == 0


def test_no_records_is_not_a_pass(tmp_path: Path) -> None:
    assert main(["--records", str(tmp_path), "--listed", str(tmp_path / "none.json")]) == 2

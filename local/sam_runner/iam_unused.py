"""`python -m sam_runner.iam_unused` (`make iam-unused`): after a test run, for each function, the
grants of its role that no request of any stack exercised, so the roles can be tightened.

Each stack records, when it stops, its functions' grants and the ones their requests used
(`sam_runner.iam_roles.StackIam.record`, one file per stack under `.cache/iam/`, or
`SHOP_IAM_RECORD`). This reads every record of the repository's template.yaml (copies made by the
tests are left out), and compares what was never used with `tests/integration/iam_unexercised.json`:
the grants left unexercised on purpose, each with its reason (keys may use `*` wildcards, the
function `*` meaning every function). It fails (exit 1) when an unexercised grant is not listed.

Clear the records before the run you want to judge: `rm -rf .cache/iam`.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sam_runner.iam_roles import RECORD_DIR
from sam_runner.template import DEFAULT_TEMPLATE, ROOT

LISTED = ROOT / "tests" / "integration" / "iam_unexercised.json"


def merge(records: Iterable[dict[str, Any]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(grants, exercised) per function over every record."""
    granted: dict[str, set[str]] = {}
    used: dict[str, set[str]] = {}
    for record in records:
        for function_id, entry in record.get("functions", {}).items():
            granted.setdefault(function_id, set()).update(entry.get("grants", []))
            used.setdefault(function_id, set()).update(entry.get("exercised", {}))
    return granted, used


def reason(listed: dict[str, dict[str, str]], function_id: str, grant: str) -> str | None:
    for function_pattern, grants in listed.items():
        if function_pattern.startswith("_") or not fnmatch.fnmatchcase(function_id, function_pattern):
            continue
        for pattern, why in grants.items():
            if fnmatch.fnmatchcase(grant, pattern):
                return why
    return None


def unexercised(
    granted: dict[str, set[str]], used: dict[str, set[str]], listed: dict[str, dict[str, str]]
) -> dict[str, list[tuple[str, str | None]]]:
    """Per function, every grant never used, with its listed reason (None: not listed)."""
    return {
        function_id: [
            (grant, reason(listed, function_id, grant))
            for grant in sorted(grants - used.get(function_id, set()))
        ]
        for function_id, grants in sorted(granted.items())
    }


def load_records(directory: Path, template: Path = DEFAULT_TEMPLATE) -> list[dict[str, Any]]:
    records = []
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if Path(record.get("template", "")).resolve() == template.resolve():
            records.append(record)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sam_runner.iam_unused", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--records", type=Path, default=RECORD_DIR)
    parser.add_argument("--listed", type=Path, default=LISTED)
    args = parser.parse_args(argv)
    records = load_records(args.records)
    if not records:
        print(
            f"no IAM records of {DEFAULT_TEMPLATE.name} under {args.records}: run the tests first",
            file=sys.stderr,
        )
        return 2
    listed = json.loads(args.listed.read_text(encoding="utf-8"))
    granted, used = merge(records)
    report = unexercised(granted, used, listed)
    missing = 0
    print(f"{len(records)} stack records")
    for function_id, grants in report.items():
        total = len(granted[function_id])
        print(f"\n{function_id}: {total - len(grants)} of {total} grants exercised")
        for grant, why in grants:
            if why is None:
                missing += 1
                print(f"  NOT EXERCISED, NOT LISTED: {grant}")
            else:
                print(f"  not exercised ({why}): {grant}")
    if missing:
        print(
            f"\n{missing} grants no test exercised are not in {args.listed}: "
            "exercise them, remove them from template.yaml, or list them with the reason",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

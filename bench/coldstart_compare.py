"""Two `sam build` trees' handler imports side by side, in one run: a before/after of a change.

    python -m bench.coldstart_compare BEFORE_BUILD AFTER_BUILD [--rounds 15]

Each round runs, in the Lambda layout (`python -S`, PYTHONPATH = the function's built folder and
the layer's, only the bytecode the build shipped, tracing as the template deploys it by default), the floor
(`import boto3` + one client) and every function's handler import from both trees, in turn, so a
change of the machine's load hits all of them alike. Prints the median import / floor per function
and tree, in Markdown. Import only (no event, no services): the full benchmark (`python -m bench`)
serves the first event too; this one is for comparing two revisions on a busy machine, where more
rounds are needed than the full benchmark can afford.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

from bench.coldstart import CHILD, FLOOR, forget_bytecode, lambda_env
from bench.common import PYTHON, base_env, median, ms, table
from sam_runner.template import Template


def run_import(target: str, code: Path, layer: Path, env: dict[str, str], work: Path) -> float:
    out = work / f"{uuid.uuid4().hex}.json"
    env = {**env, "PYTHONPATH": os.pathsep.join([str(code), str(layer)]), "LAMBDA_TASK_ROOT": str(code)}
    subprocess.run(
        [PYTHON, "-S", "-P", str(CHILD), str(out), target],
        cwd=code,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    return float(json.loads(out.read_text())["import_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart_compare", description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    functions = Template().functions()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for tree in trees.values():
        forget_bytecode([tree / function_id for function_id in functions] + [tree / "SharedLayer/python"])
    env = base_env()
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="coldstart-compare-") as scratch:
        work = Path(scratch)
        for round_no in range(args.rounds + 1):
            for tree_name, tree in trees.items():
                layer = tree / "SharedLayer" / "python"
                floor = run_import("--floor", tree, layer, lambda_env(env, tree), work)
                if round_no:
                    samples[(FLOOR, tree_name)].append(floor)
                for function_id, spec in functions.items():
                    variables = {**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": function_id}
                    code = tree / function_id
                    seconds = run_import(
                        spec.module, code, layer, lambda_env({**env, **variables}, code), work
                    )
                    if round_no:
                        samples[(function_id, tree_name)].append(seconds)
    rows = []
    for name in [FLOOR, *functions]:
        row = [name]
        for tree_name in trees:
            value = median(samples[(name, tree_name)])
            base = median(samples[(FLOOR, tree_name)])
            row += [ms(value), f"{value / base:.2f}"]
        rows.append(row)
    print(f"Median of {args.rounds} rounds (after one unmeasured round), every subject once per round.\n")
    print("\n".join(table(["handler import", "before", "before / floor", "after", "after / floor"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

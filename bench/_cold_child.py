"""Run as a script by the cold-start benchmark, in a fresh interpreter:

    python bench/_cold_child.py RESULT.json MODULE[:ATTRIBUTE] [EVENT.json]

imports MODULE (timed), then calls MODULE.ATTRIBUTE(event, context) once (timed), and writes the
figures to RESULT.json (stdout belongs to the function's logs). Nothing but the standard library
is imported before the clock starts.
"""

import time

T0 = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402


class Context:
    function_name = "cold-start"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start"
    log_group_name = "/aws/lambda/cold-start"
    log_stream_name = "cold-start"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def outcome(result: object) -> str:
    if isinstance(result, dict):
        if "statusCode" in result:
            return f"HTTP {result['statusCode']}"
        if "policyDocument" in result:
            return "Allow" if "Allow" in json.dumps(result["policyDocument"]) else "Deny"
        if "batchItemFailures" in result:
            return f"{len(result['batchItemFailures'])} failed records"
    return type(result).__name__


def main() -> None:
    out_path, target = sys.argv[1], sys.argv[2]
    event_path = sys.argv[3] if len(sys.argv) > 3 else None
    name, _, attribute = target.partition(":")
    module = importlib.import_module(name)
    t1 = time.perf_counter()
    figures = {"import_s": t1 - T0, "invoke_s": 0.0, "outcome": "-"}
    if event_path:
        with open(event_path, encoding="utf-8") as handle:
            event = json.load(handle)
        try:
            result = getattr(module, attribute or "lambda_handler")(event, Context())
            figures["outcome"] = outcome(result)
        except Exception as exc:  # an authorizer's "Unauthorized" is an answer, not a crash
            figures["outcome"] = f"raised {type(exc).__name__}: {exc}"[:80]
        figures["invoke_s"] = time.perf_counter() - t1
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(figures, handle)


main()

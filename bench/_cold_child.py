"""Run as a script by the cold-start benchmark, in a fresh interpreter:

    python -S -P bench/_cold_child.py RESULT.json MODULE[:ATTRIBUTE] [EVENT.json CONTEXT_JSON]
    python -S -P bench/_cold_child.py RESULT.json --floor

imports MODULE (timed), then calls MODULE.ATTRIBUTE(event, context) once (timed), and writes the
figures to RESULT.json (stdout belongs to the function's logs). `--floor` times `import boto3` and
one client instead, the least any of our functions does. Nothing but the standard library is
imported before the clock starts, and only the standard library is used besides the subject: the
child runs in the Lambda layout (`-S`: no site-packages; PYTHONPATH = the function's built folder
and the layer's), so it cannot import the project's packages. The context has the attributes of the
Python runtime's (awslambdaric's), made from CONTEXT_JSON between the two clocks.
"""

import time

T0 = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def outcome(result: object) -> str:
    if isinstance(result, dict):
        if "statusCode" in result:
            return f"HTTP {result['statusCode']}"
        if "policyDocument" in result:
            return "Allow" if "Allow" in json.dumps(result["policyDocument"]) else "Deny"
        if "batchItemFailures" in result:
            return f"{len(result['batchItemFailures'])} failed records"
    return type(result).__name__


class LambdaContext:
    """What the Python runtime passes as `context` (shop_local.testing.LambdaContext's attributes)."""

    def __init__(self, function_name: str, function_arn: str, memory_size: int, timeout: int) -> None:
        import uuid

        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = str(memory_size)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.deadline_ms = int(time.time() * 1000) + timeout * 1000
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def floor() -> dict[str, object]:
    import boto3

    boto3.client("dynamodb")
    return {"import_s": time.perf_counter() - T0, "invoke_s": 0.0, "outcome": "-"}


def main() -> None:
    out_path, target = sys.argv[1], sys.argv[2]
    if target == "--floor":
        with open(out_path, "w", encoding="utf-8") as handle:
            json.dump(floor(), handle)
        return
    event_path = sys.argv[3] if len(sys.argv) > 3 else None
    name, _, attribute = target.partition(":")
    module = importlib.import_module(name)
    t1 = time.perf_counter()
    figures = {"import_s": t1 - T0, "invoke_s": 0.0, "outcome": "-"}
    if event_path:
        context = LambdaContext(**json.loads(sys.argv[4]))  # not on either clock
        t1 = time.perf_counter()
        with open(event_path, encoding="utf-8") as handle:
            event = json.load(handle)
        try:
            result = getattr(module, attribute or "lambda_handler")(event, context)
            figures["outcome"] = outcome(result)
        except Exception as exc:  # an authorizer's "Unauthorized" is an answer, not a crash
            figures["outcome"] = f"raised {type(exc).__name__}: {exc}"[:80]
        figures["invoke_s"] = time.perf_counter() - t1
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(figures, handle)


main()

"""Run as a script by the cold-start benchmark, in a fresh interpreter:

    python bench/_cold_child.py RESULT.json MODULE[:ATTRIBUTE] [EVENT.json CONTEXT_JSON]

imports MODULE (timed), then calls MODULE.ATTRIBUTE(event, context) once (timed), and writes the
figures to RESULT.json (stdout belongs to the function's logs). Nothing but the standard library
is imported before the clock starts. The context is the local stack's
(`shop_local.runtime.LambdaContext.start(**CONTEXT_JSON)`), made between the two clocks.
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


def main() -> None:
    out_path, target = sys.argv[1], sys.argv[2]
    event_path = sys.argv[3] if len(sys.argv) > 3 else None
    name, _, attribute = target.partition(":")
    module = importlib.import_module(name)
    t1 = time.perf_counter()
    figures = {"import_s": t1 - T0, "invoke_s": 0.0, "outcome": "-"}
    if event_path:
        # Not on either clock; besides the standard library (loaded by the handler already) this
        # imports only shop_local.runtime itself.
        from shop_local.runtime import LambdaContext

        context = LambdaContext.start(**json.loads(sys.argv[4]))
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

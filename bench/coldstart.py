"""Benchmark 1, cold start: for every function of template.yaml, a fresh interpreter imports the
handler module and serves the function's first sample event from `events/` against the embedded
services; next to it, in the same run and interleaved with it, a fresh interpreter that only runs
`import boto3`. Then `python -X importtime` names the heaviest imports of each handler.

The sample events carry placeholder ids and tokens: they are rewritten to a user, address and
order seeded first (through the functions themselves), so each event takes its real path.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    ROOT,
    Section,
    Services,
    function_pythonpath,
    median,
    ms,
    run_child,
    table,
)
from shop_local.runtime import FunctionRuntime

EVENTS_DIR = ROOT / "events"
CHILD = Path(__file__).with_name("_cold_child.py")
BASELINE = "boto3 (import only)"


# ---------------------------------------------------------------------------- child: seeding
def seed(username: str, email: str, password: str) -> dict[str, Any]:
    """Runs in a child process: the user the sample events stand for, with an address and an order."""
    from bench.harness import Harness, seed_customer

    found = seed_customer(Harness(), username, password=password, email=email)
    return found.__dict__


# ---------------------------------------------------------------------------- events
def event_function(event: dict[str, Any], services: Services) -> str | None:
    """Which function of the template a sample event is for."""
    template = services.template
    if event.get("type") in ("TOKEN", "REQUEST") and "methodArn" in event:
        authorizers = template.authorizers()
        return next(iter(authorizers.values())).function_id if authorizers else None
    if "httpMethod" in event and "resource" in event:
        for route in template.api_routes():
            if route.method == event["httpMethod"] and route.path == event["resource"]:
                return route.function_id
        return None
    records = event.get("Records") or []
    source = (records[0].get("eventSource") or records[0].get("EventSource")) if records else None
    kind = {"aws:sqs": "SQS", "aws:dynamodb": "DynamoDB"}.get(str(source))
    for event_source in template.event_sources():
        if event_source.kind == kind:
            return event_source.function_id
    return None


def sample_events(services: Services) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The first sample event (by file name) of every function."""
    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        function_id = event_function(event, services)
        if function_id and function_id not in chosen:
            chosen[function_id] = (path, event)
    return chosen


def placeholders(events: list[dict[str, Any]]) -> dict[str, str]:
    """Placeholder value → what it stands for: user, order, address ids and tokens."""
    found: dict[str, str] = {}
    for event in events:
        context = (event.get("requestContext") or {}).get("authorizer") or {}
        if context.get("user_id"):
            found[str(context["user_id"])] = "user_id"
        for name, value in (event.get("pathParameters") or {}).items():
            if name in ("user_id", "order_id"):
                found[str(value)] = name
        try:
            body = json.loads(event.get("body") or "null")
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("shipping_address_id"):
            found[str(body["shipping_address_id"])] = "address_id"
        for text in (event.get("authorizationToken"), (event.get("headers") or {}).get("Authorization")):
            if isinstance(text, str) and text.startswith("Bearer "):
                found[text.removeprefix("Bearer ")] = "token"
    return found


def personalise(event: dict[str, Any], seeded: dict[str, Any], marks: dict[str, str]) -> dict[str, Any]:
    text = json.dumps(event)
    for value, meaning in marks.items():
        text = text.replace(value, str(seeded[meaning]))
    event = json.loads(text)
    context = (event.get("requestContext") or {}).get("authorizer")
    if context is not None:
        context.update(
            principalId=seeded["user_id"],
            user_id=seeded["user_id"],
            username=seeded["username"],
            email=seeded["email"],
            role="customer",
        )
    # Each run must take the same path: a new username to register, a new event id to send.
    suffix = uuid.uuid4().hex[:8]
    if event.get("resource") == "/auth/register" and event.get("body"):
        body = json.loads(event["body"])
        body["username"] = f"cold_{suffix}"
        body["email"] = f"cold_{suffix}@example.com"
        event["body"] = json.dumps(body)
    for record in event.get("Records") or []:
        if "body" in record:
            record["messageId"] = str(uuid.uuid4())
            try:
                body = json.loads(record["body"])
            except ValueError:
                continue
            if isinstance(body, dict) and "event_id" in body:
                body["event_id"] = f"{body['event_id']}:{suffix}"
                record["body"] = json.dumps(body)
    return event


# ---------------------------------------------------------------------------- timing
def run_cold(
    target: str,
    env: dict[str, str],
    work: Path,
    event: dict[str, Any] | None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One fresh interpreter: imports `target`, then serves `event` (if any) with a Lambda context
    made of `context` (`LambdaContext.start`'s arguments)."""
    out = work / f"cold-{uuid.uuid4().hex}.json"
    args = [PYTHON, str(CHILD), str(out), target]
    if event is not None:
        event_path = work / f"event-{uuid.uuid4().hex}.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        args += [str(event_path), json.dumps(context or {})]
    started = time.perf_counter()
    with (work / "cold.log").open("ab") as log:
        subprocess.run(args, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["process_s"] = time.perf_counter() - started
    return figures


def heaviest_imports(module: str, env: dict[str, str], work: Path, top: int = 6) -> tuple[float, list[str]]:
    """Total import time of a module and its heaviest top-level packages (self time summed)."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {module}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    by_package: dict[str, int] = defaultdict(int)
    total = 0
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if not match:
            continue
        self_us, name = int(match.group(1)), match.group(4)
        by_package[name.split(".")[0]] += self_us
        total += self_us
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return total / 1e6, [f"{name} {us / 1000:.0f} ms" for name, us in ranked]


def run(services: Services, work: Path, repeats: int = 5) -> Section:
    section = Section("1. Cold start")
    register = json.loads((EVENTS_DIR / "auth-register.json").read_text())
    sample_user = json.loads(register["body"])
    seeded = run_child(
        "bench.coldstart.seed",
        services.env(ORDER_RATE_LIMIT="100000/60"),
        work,
        username=sample_user["username"],
        email=sample_user["email"],
        password=sample_user["password"],
    )
    chosen = sample_events(services)
    marks = placeholders([event for _, event in chosen.values()])
    functions = services.template.functions()

    targets: dict[str, tuple[str, dict[str, str], dict[str, Any] | None, str]] = {}
    contexts: dict[str, dict[str, Any]] = {}  # what the child makes its Lambda context of
    base_env = services.env(ORDER_RATE_LIMIT="100000/60")
    targets[BASELINE] = ("boto3", base_env, None, "-")
    for function_id, spec in list(functions.items()):
        if importlib.util.find_spec(spec.module) is None:
            section.shortfalls.append(f"cold start: {function_id}'s module {spec.module} does not exist")
            del functions[function_id]
            continue
        if function_id not in chosen:
            section.shortfalls.append(f"cold start: no sample event in events/ for {function_id}")
            continue
        env = services.env(spec.environment, ORDER_RATE_LIMIT="100000/60")
        env["AWS_LAMBDA_FUNCTION_NAME"] = function_id
        env["PYTHONPATH"] = function_pythonpath(spec.code_uri)
        path, _ = chosen[function_id]
        targets[function_id] = (f"{spec.module}:{spec.attribute}", env, chosen[function_id][1], path.name)
        function = FunctionRuntime(spec, services.template)
        contexts[function_id] = {
            "function_name": function.name,
            "function_arn": function.arn,
            "memory_size": spec.memory_size,
            "timeout": spec.timeout,
        }

    # One unmeasured round first: writes the bytecode caches, warms the OS page cache.
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for round_no in range(repeats + 1):
        for name, (target, env, event, _) in targets.items():
            personal = personalise(event, seeded, marks) if event is not None else None
            figures = run_cold(target, env, work, personal, contexts.get(name))
            if round_no:
                samples[name].append(figures)

    base = median([s["import_s"] for s in samples[BASELINE]])
    base_process = median([s["process_s"] for s in samples[BASELINE]])
    rows = [["`import boto3` alone", "-", ms(base), "-", ms(base), ms(base_process), "1.00", "-"]]
    per_function: dict[str, Any] = {}
    results = {"boto3_import_s": base, "functions": per_function}
    for name, (_target, _env, _event, event_file) in targets.items():
        if name == BASELINE:
            continue
        runs = samples[name]
        imp = median([s["import_s"] for s in runs])
        inv = median([s["invoke_s"] for s in runs])
        both = median([s["import_s"] + s["invoke_s"] for s in runs])
        proc = median([s["process_s"] for s in runs])
        outcome = runs[-1]["outcome"]
        rows.append([name, event_file, ms(imp), ms(inv), ms(both), ms(proc), f"{both / base:.2f}", outcome])
        per_function[name] = {"import_s": imp, "invoke_s": inv, "total_s": both, "ratio": both / base}
    section.add(
        f"Median of {repeats} fresh interpreters per row (after one unmeasured round), rows interleaved. "
        "*import* = importing the handler module; *first event* = serving one sample event "
        "(clients created, secret fetched, first connections made); *process* = the whole "
        "child process seen from outside, interpreter start-up included; "
        "*ratio* = (import + first event) / `import boto3`.",
        "",
        *table(
            [
                "function",
                "event",
                "import",
                "first event",
                "import + first event",
                "process",
                "ratio",
                "answer",
            ],
            rows,
        ),
        "",
        "Heaviest imports of each handler (`python -X importtime`, self time summed per top-level package):",
        "",
    )
    import_rows = []
    for function_id, spec in functions.items():
        env = targets[function_id][1] if function_id in targets else base_env
        total, heavy = heaviest_imports(spec.module, env, work)
        import_rows.append([function_id, f"`{spec.module}`", ms(total), ", ".join(heavy)])
    section.add(*table(["function", "module", "all imports", "heaviest packages"], import_rows))
    section.data = results
    return section

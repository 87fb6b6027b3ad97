"""Benchmark 1, cold start, the way Lambda pays it: for every function of template.yaml, a fresh
interpreter that sees only the function's `sam build` folder and the layer's (and the variables
as the template deploys them) imports the handler module and serves the function's first sample
event from `events/` against the embedded services; next to it, in the same run and interleaved
with it, the floor: a fresh interpreter that only runs `import boto3` and creates one client. Then
`python -X importtime` names the heaviest imports of each handler (kept in bench/importtime/).

The sample events carry placeholder ids and tokens: they are rewritten to a user, address and
order seeded first (through the functions themselves), so each event takes its real path.
"""

from __future__ import annotations

import json
import os
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
    base_env,
    median,
    ms,
    run_child,
    table,
)
from sam_runner.template import Template
from shop_local.testing import function_name_and_arn

EVENTS_DIR = ROOT / "events"
CHILD = Path(__file__).with_name("_cold_child.py")
BUILD = ROOT / ".aws-sam" / "build"
LAYER_BUILD = BUILD / "SharedLayer" / "python"
IMPORTTIME_DIR = Path(__file__).with_name("importtime")
FLOOR = "floor"
FLOOR_CODE = "import boto3; boto3.client('dynamodb')"
SDK = "(X-Ray SDK)"
IMPORT_TARGET = 1.3
AUTHORIZER_IMPORT_TARGET = 1.1
TOTAL_TARGET = 1.5


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


# ---------------------------------------------------------------------------- the Lambda layout
def sam_build(work: Path) -> None:
    """`sam build` as `make template` runs it: the artifacts Lambda gets (function folders, the layer)."""
    sam = Path(PYTHON).with_name("sam")
    with (work / "sam-build.log").open("ab") as log:
        subprocess.run(
            [
                str(sam),
                "build",
                "--template",
                "template.yaml",
                "--build-dir",
                str(BUILD),
                "--cached",
                "--parallel",
            ],
            cwd=ROOT,
            env={**base_env(), "SAM_CLI_TELEMETRY": "0"},
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=900,
        )


def forget_bytecode(folders: list[Path]) -> None:
    """Lambda's /var/task and /opt are read-only: what it runs from bytecode is only what the build
    shipped (the layer's, compiled by layers/shared/Makefile as `unchecked-hash`; none for the
    functions' own modules). Remove the bytecode an earlier run may have written here (the built
    artifacts' tests run Python with -I, which writes it), keep what the build shipped."""
    for folder in folders:
        for compiled in folder.rglob("__pycache__/*.pyc"):
            if not shipped_bytecode(compiled):
                compiled.unlink(missing_ok=True)


def shipped_bytecode(path: Path) -> bool:
    """An `unchecked-hash` .pyc (PEP 552 flags 0b01): what the layer's build compiles. Python
    writes timestamp-based ones (flags 0) itself."""
    with path.open("rb") as handle:
        header = handle.read(8)
    return len(header) == 8 and int.from_bytes(header[4:8], "little") == 0b01


def lambda_env(function_env: dict[str, str], code: Path, **extra: str) -> dict[str, str]:
    """A child in the Lambda layout: the function's built folder and the layer's on PYTHONPATH
    (the child runs with -S, so no site-packages), the variables Lambda sets, no bytecode written."""
    env = {key: value for key, value in function_env.items() if not key.startswith("PYTHON")}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        PYTHONPATH=os.pathsep.join([str(code), str(LAYER_BUILD)]),
        PYTHONDONTWRITEBYTECODE="1",
        LAMBDA_TASK_ROOT=str(code),
        **extra,
    )
    return env


# ---------------------------------------------------------------------------- timing
def run_cold(
    target: str,
    env: dict[str, str],
    cwd: Path,
    work: Path,
    event: dict[str, Any] | None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One fresh interpreter in the Lambda layout: imports `target` (or, for `--floor`, boto3 and
    one client), then serves `event` (if any) with a Lambda context made of `context`."""
    out = work / f"cold-{uuid.uuid4().hex}.json"
    args = [PYTHON, "-S", "-P", str(CHILD), str(out), target]
    if event is not None:
        event_path = work / f"event-{uuid.uuid4().hex}.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        args += [str(event_path), json.dumps(context or {})]
    started = time.perf_counter()
    with (work / "cold.log").open("ab") as log:
        subprocess.run(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["process_s"] = time.perf_counter() - started
    return figures


def importtime(module: str, env: dict[str, str], cwd: Path) -> str:
    """`python -X importtime -c "import <module>"` in the Lambda layout: its report (stderr).
    `module` may be a statement instead (the floor's `import boto3; boto3.client(...)`)."""
    code = module if " " in module else f"import {module}"
    proc = subprocess.run(
        [PYTHON, "-S", "-X", "importtime", "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return proc.stderr


def imported_modules(report: str) -> set[str]:
    return {match.group(1) for match in re.finditer(r"^import time:.*\|\s*(\S+)$", report, re.M)}


def heaviest_imports(report: str, top: int = 6, skip: set[str] | None = None) -> tuple[float, list[str]]:
    """Total import time in an importtime report and its heaviest top-level packages (self time
    summed), leaving out the modules in `skip` (e.g. those the floor imports too)."""
    by_package: dict[str, int] = defaultdict(int)
    total = 0
    for line in report.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if not match or (skip and match.group(4) in skip):
            continue
        self_us, name = int(match.group(1)), match.group(4)
        by_package[name.split(".")[0]] += self_us
        total += self_us
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return total / 1e6, [f"{name} {us / 1000:.0f} ms" for name, us in ranked]


def run(services: Services, work: Path, repeats: int = 5) -> Section:
    section = Section("1. Cold start")
    sam_build(work)
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
    # The variables as deployed with the template's defaults (tracing included), not the local
    # stack's; the SDK variant as deployed with TracingSubsegments=true.
    deployed = Template().functions()
    with_sdk = Template(parameter_overrides={"TracingSubsegments": "true"}).functions()
    forget_bytecode([BUILD / function_id for function_id in functions] + [LAYER_BUILD])

    # name -> (target, env, cwd, event, event file)
    targets: dict[str, tuple[str, dict[str, str], Path, dict[str, Any] | None, str]] = {}
    contexts: dict[str, dict[str, Any]] = {}  # what the child makes its Lambda context of
    targets[FLOOR] = ("--floor", lambda_env(services.env(), BUILD), BUILD, None, "-")
    for function_id, spec in list(functions.items()):
        code = BUILD / function_id
        if not (code / f"{spec.module}.py").is_file():
            section.shortfalls.append(f"cold start: {function_id}'s module {spec.module} is not in {code}")
            del functions[function_id]
            continue
        if function_id not in chosen:
            section.shortfalls.append(f"cold start: no sample event in events/ for {function_id}")
            del functions[function_id]
            continue
        lambda_vars = {
            "AWS_LAMBDA_FUNCTION_NAME": function_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "ORDER_RATE_LIMIT": "100000/60",
        }
        # tracing as deployed; services.env() turns it off, as the local stack does
        env = lambda_env(
            services.env(spec.environment), code, **lambda_vars, **tracing(deployed[function_id])
        )
        sdk_env = {
            **env,
            **tracing(with_sdk[function_id]),
            # what Lambda sets for a sampled invocation; the SDK sends its segments over UDP
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        }
        path, event = chosen[function_id]
        target = f"{spec.module}:{spec.attribute}"
        targets[function_id] = (target, env, code, event, path.name)
        targets[f"{function_id} {SDK}"] = (target, sdk_env, code, event, path.name)
        name, arn = function_name_and_arn(function_id, services.template)
        contexts[function_id] = contexts[f"{function_id} {SDK}"] = {
            "function_name": name,
            "function_arn": arn,
            "memory_size": spec.memory_size,
            "timeout": spec.timeout,
        }

    # One unmeasured round first: warms the OS page cache (our own modules are compiled every time,
    # as on Lambda). Then rounds, every subject once per round, so load changes hit them alike.
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for round_no in range(repeats + 1):
        for name, (target, env, cwd, sample, _) in targets.items():
            personal = personalise(sample, seeded, marks) if sample is not None else None
            figures = run_cold(target, env, cwd, work, personal, contexts.get(name))
            if round_no:
                samples[name].append(figures)

    base = median([s["import_s"] for s in samples[FLOOR]])
    base_process = median([s["process_s"] for s in samples[FLOOR]])
    rows = [
        [
            "`import boto3` + one client (floor)",
            "-",
            ms(base),
            "-",
            ms(base),
            ms(base_process),
            "1.00",
            "1.00",
            "-",
            "-",
        ]
    ]
    per_function: dict[str, Any] = {}
    results = {"floor_s": base, "functions": per_function}
    for function_id in functions:
        runs, sdk_runs = samples[function_id], samples[f"{function_id} {SDK}"]
        imp = median([s["import_s"] for s in runs])
        inv = median([s["invoke_s"] for s in runs])
        both = median([s["import_s"] + s["invoke_s"] for s in runs])
        proc = median([s["process_s"] for s in runs])
        sdk_imp = median([s["import_s"] for s in sdk_runs])
        outcome = runs[-1]["outcome"]
        import_target = AUTHORIZER_IMPORT_TARGET if function_id in authorizer_ids(services) else IMPORT_TARGET
        rows.append(
            [
                function_id,
                targets[function_id][4],
                ms(imp),
                ms(inv),
                ms(both),
                ms(proc),
                f"{imp / base:.2f}",
                f"{both / base:.2f}",
                f"{ms(sdk_imp)} ({sdk_imp / base:.2f})",
                outcome,
            ]
        )
        per_function[function_id] = {
            "import_s": imp,
            "invoke_s": inv,
            "total_s": both,
            "import_ratio": imp / base,
            "ratio": both / base,
            "sdk_import_s": sdk_imp,
        }
        if imp / base > import_target:
            section.shortfalls.append(
                f"cold start: {function_id} import {imp / base:.2f}x the floor (target {import_target})"
            )
        if both / base > TOTAL_TARGET:
            section.shortfalls.append(
                f"cold start: {function_id} import + first event {both / base:.2f}x the floor "
                f"(target {TOTAL_TARGET})"
            )
    section.add(
        f"The Lambda layout: `sam build`'s artifacts, each child `python -S` with only the function's "
        "built folder and the layer's on `sys.path`, the variables as the template deploys them "
        "(default parameters: Lambda's active tracing, no X-Ray SDK), only the bytecode the build "
        "ships (the layer's, compiled by its Makefile; Lambda's file system is read-only, so the "
        "functions' own modules are compiled at each cold start). "
        f"Median of {repeats} fresh interpreters per row (after one unmeasured round), rows "
        "interleaved. *import* = importing the handler module; *first "
        "event* = serving one sample event (clients created, secret fetched, first connections "
        "made); *process* = the whole child process seen from outside, interpreter start-up "
        "included; the ratios are to the floor, `import boto3` + one client, in the same run. "
        f"Targets: import ≤ {IMPORT_TARGET}x (the authorizer ≤ {AUTHORIZER_IMPORT_TARGET}x), "
        f"import + first event ≤ {TOTAL_TARGET}x. *with the X-Ray SDK*: the import as deployed "
        "with `TracingSubsegments=true` (Powertools Tracer, every module patched).",
        "",
        *table(
            [
                "function",
                "event",
                "import",
                "first event",
                "import + first event",
                "process",
                "import ratio",
                "import + first event ratio",
                "import with the X-Ray SDK (ratio)",
                "answer",
            ],
            rows,
        ),
        "",
        "Heaviest imports of each handler in the same layout (`python -X importtime`, self time "
        "summed per top-level package; the whole reports are in `bench/importtime/`):",
        "",
    )
    import_rows = []
    IMPORTTIME_DIR.mkdir(exist_ok=True)
    floor_report = importtime(FLOOR_CODE, targets[FLOOR][1], BUILD)
    (IMPORTTIME_DIR / "floor.txt").write_text(floor_report, encoding="utf-8")
    in_floor = imported_modules(floor_report)
    for function_id, spec in functions.items():
        _, env, code, _, _ = targets[function_id]
        report = importtime(spec.module, env, code)
        (IMPORTTIME_DIR / f"{function_id}.txt").write_text(report, encoding="utf-8")
        total, heavy = heaviest_imports(report)
        beyond, extra = heaviest_imports(report, skip=in_floor)
        import_rows.append(
            [
                function_id,
                f"`{spec.module}`",
                ms(total),
                ", ".join(heavy),
                f"{ms(beyond)}: {', '.join(extra)}",
            ]
        )
    section.add(
        *table(
            ["function", "module", "all imports", "heaviest packages", "beyond the floor's imports"],
            import_rows,
        ),
        "",
        "*beyond the floor's imports*: the modules the floor (`import boto3` + one client) does not "
        "import, what a handler's import adds to it. Only `-X importtime`'s own clock (self time, "
        "bytecode compilation of our modules included): the wall-clock ratios above are the figures "
        "to compare.",
    )
    section.data = results
    return section


def tracing(spec: Any) -> dict[str, str]:
    return {"POWERTOOLS_TRACE_DISABLED": spec.environment["POWERTOOLS_TRACE_DISABLED"]}


def authorizer_ids(services: Services) -> set[str]:
    return {authorizer.function_id for authorizer in services.template.authorizers().values()}

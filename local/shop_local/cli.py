"""`shop`: the local stack's command line.

shop dev [--port N]                     the whole system locally (`make run`); --port 0 = any free port
shop invoke FUNCTION -e events/X.json   run one function of the template with a sample event
shop openapi [-o FILE] [--check]        write (or check) docs/openapi.json from the code
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("shop_local.cli")


def _port_free(host: str, port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as probe:
        # like the server itself: a port in TIME_WAIT after a restart is free, a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def cmd_dev(args: argparse.Namespace) -> int:
    from shop_local.runtime import EnvironmentConflict
    from shop_local.stack import DevStack, Settings, configure_logging

    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.from_env(port=args.port)
    settings.verbose = args.verbose
    if not _port_free(settings.host, settings.port):
        log.error(
            "port %s is already in use: stop what uses it, or set PORT (0 = any free port)", settings.port
        )
        return 2
    stack = DevStack(settings)
    try:
        stack.start()
    except EnvironmentConflict as exc:
        log.error("%s", exc)
        return 2

    except Exception:
        log.exception("the local stack could not start")
        return 1
    print(stack.ready_line(), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping")
        stack.stop()
    return 0


def _lambda_error(error: Any, timed_out: bool) -> dict[str, Any]:
    """What `sam local invoke` prints for a function error (the runtime's error document)."""
    if hasattr(error, "as_dict"):
        return dict(error.as_dict())
    if timed_out:
        return {"errorMessage": "Task timed out", "errorType": "Sandbox.Timedout"}
    return {"errorMessage": str(error), "errorType": type(error).__name__}


def cmd_invoke(args: argparse.Namespace) -> int:
    from shop_local.stack import DevStack, Settings, configure_logging
    from shop_local.template import Template

    # The responses are the only thing on stdout; everything the functions print goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    configure_logging(logging.INFO if args.verbose else logging.WARNING)

    events: list[tuple[str, Any]] = []
    for name in args.event:
        path = Path(name)
        try:
            events.append((name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            print(f"shop invoke: cannot read {name}: {exc}", file=sys.stderr)
            return 2
    if not events:
        events.append(("(empty event)", {}))

    settings = Settings.from_env()
    known = Template(settings.template_path).functions()
    if args.function not in known:
        names = ", ".join(sorted(known))
        print(f"shop invoke: unknown function {args.function!r}; the template has {names}", file=sys.stderr)
        return 2
    settings.admin_password = None
    settings.verbose = True  # the function's log lines on stderr, as `sam local invoke` shows them
    stack = DevStack(settings, serve_api=False)
    try:
        stack.start()
        assert stack.runtime is not None
        function = stack.runtime[args.function]
        failures = 0
        for _, event in events:
            result = function.invoke(event, what="(shop invoke)")
            if result.ok:
                output = result.response
            else:
                failures += 1
                output = _lambda_error(result.error, result.timed_out)
            out.write(json.dumps(output, default=str) + "\n")
            out.flush()
        return 1 if failures else 0
    finally:
        stack.stop()
        out.close()


def cmd_openapi(args: argparse.Namespace) -> int:
    from shop_local import openapi
    from shop_local.builder import REGION, BuiltStack, load
    from shop_local.stack import configure_logging

    configure_logging(logging.WARNING)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template = load()
    runtime = BuiltStack(template).in_process_runtime()  # the document comes from the handlers' code
    runtime.apply_environment()
    document = openapi.build(template, runtime)
    target = Path(args.output) if args.output else openapi.DOC_PATH
    text = json.dumps(document, indent=2) + "\n"
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run `shop openapi`", file=sys.stderr)
            return 1
        return 0
    openapi.write(document, target)
    print(f"wrote {target} ({len(document['paths'])} paths)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shop", description="The serverless shop's local stack.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the whole system locally (API, functions, pollers, stand-in)")
    dev.add_argument(
        "--port", type=int, default=None, help="API port (default: $PORT or 3000; 0 = any free port)"
    )
    dev.add_argument(
        "-v", "--verbose", action="store_true", help="show the functions' own log lines here too"
    )
    dev.set_defaults(func=cmd_dev)

    invoke = commands.add_parser("invoke", help="run one function with a sample event and print its response")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. OrdersFunction")
    invoke.add_argument("-e", "--event", action="append", default=[], help="event JSON file (repeatable)")
    invoke.add_argument("-v", "--verbose", action="store_true", help="log the stack's start-up too")
    invoke.set_defaults(func=cmd_invoke)

    spec = commands.add_parser("openapi", help="write the OpenAPI document generated from the code")
    spec.add_argument("-o", "--output", help="where to write it (default: docs/openapi.json)")
    spec.add_argument(
        "--check", action="store_true", help="fail if the file differs from the code's document"
    )
    spec.set_defaults(func=cmd_openapi)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

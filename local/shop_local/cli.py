"""`shop`: the local stack's command line.

shop dev [--port N]                     the whole system locally (`make run`); --port 0 = any free port
shop invoke FUNCTION -e events/X.json   run one function of the template with a sample event
            [--stack http://127.0.0.1:3000] against a running stack's data (its /_dev/resources)
shop backing [--host 0.0.0.0]           only the backing services, for `sam local start-api`
shop sam-local [--port N]               the real `sam local start-api` in containers, against them
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
    from sam_runner.logs import configure_logging
    from shop_local.stack import DevStack, Settings

    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.from_env(port=args.port)
    settings.verbose = args.verbose
    if not args.no_state and not settings.aws_endpoint_url:
        from sam_runner.dev_state import discard

        settings.dev_state = args.state
        if args.fresh:
            discard(args.state)
    if not _port_free(settings.host, settings.port):
        log.error(
            "port %s is already in use: stop what uses it, or set PORT (0 = any free port)", settings.port
        )
        return 2
    stack = DevStack(settings)
    try:
        stack.start()
    except Exception:
        log.exception("the local stack could not start")
        return 1
    print(banner(stack), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping")
        stack.stop()
    return 0


def cmd_backing(args: argparse.Namespace) -> int:
    from sam_runner.logs import configure_logging
    from sam_runner.serving import WsgiServer
    from shop_local.backing import mailbox_app, sam_env_vars, write_env_vars
    from shop_local.stack import DevStack, Settings

    configure_logging()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.from_env(port=args.port)
    # the functions run in sam's containers: everything they reach listens where containers reach it
    settings.host = settings.bind_host = args.host
    if settings.port:
        settings.aws_port, settings.redis_port = settings.port + 2, settings.port + 3
    if not all(
        _port_free(args.host, port) for port in (settings.port, settings.aws_port, settings.redis_port)
    ):
        log.error(
            "port %s, %s or %s is in use: set --port", settings.port, settings.aws_port, settings.redis_port
        )
        return 2
    stack = DevStack(settings, serve_api=False, run_functions=False)
    mailbox: WsgiServer | None = None
    try:
        stack.start()
        mailbox = WsgiServer("mailbox", mailbox_app(stack, args.api_url), args.host, settings.port)
        target = Path(args.env_vars)
        storefront = f"http://127.0.0.1:{mailbox.port}" if args.api_url else None  # it serves web/
        write_env_vars(target, sam_env_vars(stack, args.public_host, storefront))
    except Exception:
        log.exception("the backing services could not start")
        stack.stop()
        return 1
    print(
        f"Backing services ready (AWS emulator: {stack.aws.note()}, Redis: {stack.redis.url}, "
        f"product API: {stack.products.url}, mailbox: http://127.0.0.1:{mailbox.port}/_dev/emails); "
        f"containers reach them as {args.public_host}; env vars for sam local: {target}",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping")
        mailbox.stop()
        stack.stop()
    return 0


def cmd_sam_local(args: argparse.Namespace) -> int:
    from sam_runner.logs import configure_logging
    from shop_local import sam_local

    configure_logging()
    try:
        return sam_local.run(port=args.port, backing_port=args.backing_port)
    except sam_local.SamLocalError as exc:
        log.error("%s", exc)
        return 1


def _lambda_error(error: Any, timed_out: bool) -> dict[str, Any]:
    """What `sam local invoke` prints for a function error (the runtime's error document)."""
    if hasattr(error, "as_dict"):
        return dict(error.as_dict())
    if timed_out:
        return {"errorMessage": "Task timed out", "errorType": "Sandbox.Timedout"}
    return {"errorMessage": str(error), "errorType": type(error).__name__}


def _server_error(response: Any) -> bool:
    """An API function's answer with a 5xx status."""
    status = response.get("statusCode") if isinstance(response, dict) else None
    return isinstance(status, int) and status >= 500


def _use_running_stack(url: str) -> None:
    """Point this invoke at a running stack's emulator, Redis and product API, as its own
    `/_dev/resources` names them (instead of three values copied by hand)."""
    import urllib.request

    with urllib.request.urlopen(f"{url.rstrip('/')}/_dev/resources", timeout=10) as answer:  # noqa: S310
        resources = json.loads(answer.read())
    os.environ["AWS_ENDPOINT_URL"] = resources["aws_endpoint"]
    os.environ["REDIS_URL"] = resources["functions_redis_url"]
    os.environ["PRODUCT_API_URL"] = resources["product_api_url"]


def banner(stack: Any) -> str:
    """What `shop dev` prints once it is ready: where, what persists, how to start fresh, the
    routes, how to log in as staff."""
    settings = stack.settings
    lines = [stack.ready_line(), f"  storefront: {stack.url}/  mailbox: {stack.url}/#/mailbox"]
    if settings.dev_state is not None:
        lines.append(
            f"  kept across restarts: users, orders, sessions and the mailbox ({settings.dev_state}); "
            "start empty with `make run FRESH=1` (shop dev --fresh). Redis keeps its own data."
        )
    else:
        lines.append("  nothing is kept across restarts (an outside emulator or --no-state)")
    lines.append("  code under functions/ and layers/shared/ is picked up on the next request; a change to")
    lines.append("  template.yaml (routes, variables, resources) needs a restart")
    if settings.admin_password:
        lines.append("  staff: log in as `admin` with SHOP_ADMIN_PASSWORD")
    else:
        lines.append("  staff: set SHOP_ADMIN_PASSWORD and restart to get an `admin` user with that password")
    routes = sorted(stack.template.api_routes(), key=lambda route: (route.path, route.method))
    lines.append("  routes:")
    lines += [
        f"    {route.method:<7} {route.path:<40} {route.function_id}{'' if route.authorizer else ' (public)'}"
        for route in routes
    ]
    return "\n".join(lines)


def cmd_invoke(args: argparse.Namespace) -> int:
    from sam_runner.logs import configure_logging
    from sam_runner.template import Template
    from shop_local.stack import DevStack, Settings

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

    if args.stack:
        try:
            _use_running_stack(args.stack)
        except (OSError, ValueError, KeyError) as exc:
            print(f"shop invoke: cannot read {args.stack}/_dev/resources: {exc}", file=sys.stderr)
            return 2
    settings = Settings.from_env()
    known = Template(settings.template_path).functions()
    if args.function not in known:
        names = ", ".join(sorted(known))
        print(f"shop invoke: unknown function {args.function!r}; the template has {names}", file=sys.stderr)
        return 2
    settings.admin_password = None
    # its own emulator gets what the samples refer to; a running stack (`AWS_ENDPOINT_URL`, e.g.
    # `make run`'s) is not ours to change: `make run` seeded it itself
    settings.sample_data = settings.aws_endpoint_url is None
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
                if _server_error(output):
                    failures += 1  # what API Gateway would answer 5xx for
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
    from sam_runner.builder import REGION, load
    from sam_runner.logs import configure_logging
    from shop_local import openapi

    configure_logging(logging.WARNING)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template = load()
    document = openapi.build(template)  # from the handlers' code
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
    from sam_runner.dev_state import DEFAULT_STATE_FILE

    dev.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_FILE,
        help="where the tables and the mailbox are kept across restarts (default: %(default)s)",
    )
    dev.add_argument(
        "--fresh", action="store_true", help="start with empty tables and mailbox (make run FRESH=1)"
    )
    dev.add_argument("--no-state", action="store_true", help="start empty and keep nothing (test stacks)")
    dev.set_defaults(func=cmd_dev)

    backing = commands.add_parser(
        "backing",
        help="only the services the functions use, for `sam local start-api` / `sam local invoke`",
    )
    backing.add_argument(
        "--port",
        type=int,
        default=3100,
        help="the mailbox and /_dev routes (default 3100: sam local start-api takes 3000); the "
        "stand-in on +1, the AWS emulator on +2, Redis on +3; 0 = any free ports",
    )
    backing.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on; 0.0.0.0 where containers reach the host through a bridge "
        "(Linux). Nothing here has access control: keep it off untrusted networks",
    )
    backing.add_argument(
        "--public-host",
        default="host.docker.internal",
        help="the host name the functions' containers use to reach this machine",
    )
    backing.add_argument(
        "--env-vars",
        default=".cache/sam-env-vars.json",
        help="where to write the file for `sam local ... --env-vars` (default: .cache/sam-env-vars.json)",
    )
    backing.add_argument(
        "--api-url",
        default="http://127.0.0.1:3000",
        help="the API (sam local start-api) the storefront served here calls, and the mailed links "
        "open that storefront; empty: no storefront",
    )
    backing.set_defaults(func=cmd_backing)

    sam_local = commands.add_parser(
        "sam-local",
        help="the real `sam local start-api` in containers (podman or Docker) against `shop backing`",
    )
    sam_local.add_argument("--port", type=int, default=3000, help="the API's port (default 3000)")
    sam_local.add_argument(
        "--backing-port", type=int, default=3100, help="the storefront, mailbox and /_dev routes (+1..+3 too)"
    )
    sam_local.set_defaults(func=cmd_sam_local)

    invoke = commands.add_parser("invoke", help="run one function with a sample event and print its response")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. OrdersFunction")
    invoke.add_argument("-e", "--event", action="append", default=[], help="event JSON file (repeatable)")
    invoke.add_argument("-v", "--verbose", action="store_true", help="log the stack's start-up too")
    invoke.add_argument(
        "--stack",
        metavar="URL",
        help="a running stack (e.g. http://127.0.0.1:3000): use its data and services",
    )
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

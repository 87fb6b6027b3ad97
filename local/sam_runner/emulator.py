"""The embedded AWS: moto's server app in a process of its own, behind the fault-injection middleware.

`EmulatorProcess` (what the stack holds) starts `python -m sam_runner.emulator` and talks to it;
the child (`EmbeddedMoto`) serves moto on a loopback port, so that moto's CPU time is not spent
under the stack's GIL (the gateway, the pollers, the Runtime API servers). What the stack needs
from moto's memory goes through the child's control routes under `/_shop/` (`ShopControl`, never
an AWS call): the AWS faults and their hits, and the mailbox of what SES accepted.

Requests reach moto one at a time (`Serialised`): the functions now run in processes of their own
and call the emulator concurrently, and moto's backends are not safe under concurrent callers
(two DynamoDB transactions on one table interleave and both commit). Real AWS is concurrent, so
this costs only emulator throughput, never behaviour. SQS long polls are the exception: they wait
inside moto, and holding the lock through that wait would stall every other caller.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sam_runner.faults import AwsFaultMiddleware, Fault, FaultBook
from sam_runner.iam_enforcement import IamEnforcement
from sam_runner.serving import WsgiServer

log = logging.getLogger("shop_local.emulator")


ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class Serialised:
    """WSGI middleware: one request at a time through `app` (its response read inside the lock)."""

    # Not serialised: SQS long polls wait inside moto, and holding the lock through that wait would
    # stall every other caller. A stream's GetRecords only reads records, which are appended
    # whole (each a snapshot of the item's images) and never changed; it took 20-70 ms a call
    # (moto serialises every attribute), all of it holding up every other caller.
    UNLOCKED = ("AmazonSQS.ReceiveMessage", "DynamoDBStreams_20120810.GetRecords")

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.calls = 0  # the dev state is saved when it moved (sam_runner.dev_state)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        if environ.get("HTTP_X_AMZ_TARGET") in self.UNLOCKED:
            return list(self.app(environ, start_response))
        with self.lock:
            return list(self.app(environ, start_response))


class ShopControl:
    """WSGI middleware: the stack's own routes under `/_shop/` (never an AWS request, never
    faulted, never serialised); everything else goes on to `app`.

    - `GET /_shop/faults`: the active AWS faults (with their hits); `POST` adds one (a `Fault` as
      JSON, already checked by the stack); `DELETE` clears them.
    - `GET /_shop/emails`: every e-mail SES accepted, parsed (`sam_runner.mail.MotoMailbox`).
    """

    PREFIX = "/_shop/"

    def __init__(
        self, app: Callable[..., Iterable[bytes]], book: FaultBook, account_id: str, region: str
    ) -> None:
        from sam_runner.mail import MotoMailbox

        self.app = app
        self.book = book
        self.mailbox = MotoMailbox(account_id, region)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        body: dict[str, Any] = {"message": "not found"}
        status = "404 Not Found"
        if path == "/_shop/faults":
            status = "200 OK"
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                self.book.add(Fault(**spec))
            elif method == "DELETE":
                self.book.clear()
            body = {"faults": [fault.as_dict() for fault in self.book.active()]}
        elif path == "/_shop/emails" and method == "GET":
            status, body = "200 OK", {"emails": self.mailbox.emails()}
        elif path == "/_shop/health":
            status, body = "200 OK", {"status": "ok"}
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


class EmbeddedMoto:
    """moto's WSGI app served on a loopback port (`sam_runner.serving`) (in the emulator's
    own process: `python -m sam_runner.emulator`)."""

    def __init__(
        self,
        book: FaultBook,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
        state_file: Path | None = None,
    ) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from sam_runner.dev_state import StateKeeper

        # moto's own server path, as `moto_server` builds it: no shortcut of ours inside moto
        dispatch = DomainDispatcherApplication(create_backend_app)
        serialised = Serialised(dispatch)
        moto = AwsFaultMiddleware(serialised, book)
        self.keeper = None
        if state_file is not None:  # `make run`: the dev data kept across restarts
            self.keeper = StateKeeper(state_file, account_id, serialised.lock, lambda: serialised.calls)
        # outermost: a request its function's role does not allow is neither faulted nor served
        app = IamEnforcement(ShopControl(moto, book, account_id, region))
        self._server = WsgiServer("moto", app, host, port, serve=False)
        self.port: int = self._server.port
        self.url = f"http://{host}:{self.port}"

    def start(self) -> EmbeddedMoto:
        if self.keeper is not None:
            self.keeper.start()
        self._server.serve()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self.keeper is not None:
            self.keeper.stop()


class EmulatorProcess:
    """The embedded emulator as the stack sees it: a child process (`python -m sam_runner.emulator`)
    started on `host`:`port` (0: any free port), and its control routes.

    The child stops when `stop()` is called, and by itself when this process is gone (its stdin, a
    pipe from here, reaches end of file), so it never outlives the stack, however the stack ends.
    It has a session of its own: Ctrl-C in a terminal reaches the stack, which stops it last."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 60.0,
        state_file: Path | None = None,
    ) -> None:
        self.state_file = state_file
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def start(self) -> EmulatorProcess:
        process = self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                *[sys.executable, "-m", "sam_runner.emulator", "--host", self.host, "--port", str(self.port)],
                *(["--state", str(self.state_file)] if self.state_file else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        ready: dict[str, Any] = {}
        reader = threading.Thread(target=lambda: ready.update(_ready_line(process)), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if "port" not in ready:
            self.stop()
            raise RuntimeError(f"the AWS emulator did not start within {self.startup_timeout:g} s")
        self.port = int(ready["port"])
        self.url = f"http://127.0.0.1:{self.port}"  # the stack reaches it on loopback
        return self

    def stop(self, timeout: float = 5.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    # ------------------------------------------------------------------ control routes
    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def faults(self) -> list[Fault]:
        return [Fault(**fault) for fault in self._call("GET", "/_shop/faults")["faults"]]

    def add_fault(self, fault: Fault) -> None:
        self._call("POST", "/_shop/faults", fault.as_dict())

    def clear_faults(self) -> None:
        self._call("DELETE", "/_shop/faults")

    def emails(self) -> list[dict[str, Any]]:
        emails: list[dict[str, Any]] = self._call("GET", "/_shop/emails", timeout=60)["emails"]
        return emails


def _ready_line(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        ready: dict[str, Any] = json.loads(line)
    except ValueError:
        return {}
    return ready


def main(argv: list[str] | None = None) -> int:
    """The emulator process: serve until SIGTERM, or until the stack is gone (stdin closed)."""
    parser = argparse.ArgumentParser(prog="python -m sam_runner.emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, default=None, help="the dev state file (sam_runner.dev_state)")
    args = parser.parse_args(argv)
    from sam_runner.logs import configure_logging

    configure_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stack stops us, after its functions
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_parent() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):  # end of file: the stack's end of the pipe is closed
                pass
        stop.set()

    threading.Thread(target=watch_parent, name="parent", daemon=True).start()
    server = EmbeddedMoto(FaultBook(), args.host, args.port, state_file=args.state).start()
    # the port for the stack, then stdout goes where our log lines go
    sys.stdout.write(json.dumps({"port": server.port, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Runs the template's functions the way Lambda runs them: each execution environment is AWS's own
Runtime Interface Emulator (`aws-lambda-rie`, the binary `sam local` mounts into its containers,
shipped in the aws-sam-cli package at `samcli/local/rapid/`) running AWS's runtime interface
client (`python -S -m awslambdaric <module>.<function>`), outside any container.

- **Execution environments** (`Environment`): one `aws-lambda-rie` process per environment, on two
  loopback ports of its own (`--runtime-interface-emulator-address` for invokes,
  `--runtime-api-address` for the Runtime API it serves to awslambdaric). An invocation is
  `POST /2015-03-31/functions/function/invocations`. RIE initialises the runtime on the first
  invoke, enforces `AWS_LAMBDA_FUNCTION_TIMEOUT` from the invoke, init included (it is given
  Timeout + Lambda's 10 s init limit; the pool enforces Timeout from the moment the runtime takes
  the event, and sets the event's deadline: `RuntimeApiRelay`, docs/local-stack.md), answers 502
  with the runtime's error when init fails, and prints Lambda's START/END/REPORT lines.
  It serves **one invocation at a time** (a second concurrent one crashes it: DESIGN part 5), which
  the pool guarantees: an environment is held by one invocation from acquire to release.
- **What an environment sees** (`EnvironmentSpec.environ`, the one place its variables are built):
  the cwd and `LAMBDA_TASK_ROOT` are the function's `CodeUri`; `sys.path` is the CodeUri, the
  layer (its `requirements.txt` installed once into a cached folder, plus the layer's own folder),
  then the runtime's packages (awslambdaric, cached). `-S` keeps the project's virtualenv out, so a
  handler importing what is not in its folder or the layer fails as it would on AWS. The variables
  are the template's plus what Lambda sets (`AWS_LAMBDA_FUNCTION_*`, `AWS_REGION`, `_HANDLER` ...).
- **Pools** (`FunctionPool`): an environment starts on first use (a cold start), is reused while
  warm, more start while all are busy (up to `max_environments`), an environment idle for
  `idle_seconds` is stopped. A timeout or an init failure stops the environment (as Lambda resets
  a sandbox); the next invocation gets a fresh one.
- **Code changes** (`CodeWatch`): at dispatch (at most every `code_check_seconds`), a stat of the
  function's folder and its layers; when it changed, no environment with the old code serves again
  ("code changed" on the console). A changed template.yaml is only reported: routes, variables and
  resources are read at start, so the console says a restart is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import http.server
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sam_runner.iam_roles import function_credentials
from sam_runner.template import ROOT, FunctionSpec, Template

log = logging.getLogger("shop_local.lambda_runtime")


AWSLAMBDARIC = "awslambdaric==4.2.2"  # the same pin as pyproject.toml's `local` extra
DEFAULT_CACHE = ROOT / ".cache" / "lambda"
DEFAULT_MAX_ENVIRONMENTS = 4
DEFAULT_IDLE_SECONDS = 300.0
DEFAULT_CODE_CHECK_SECONDS = 1.0
RACY_SECONDS = 2.0
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# Lambda gives an on-demand environment's init phase 10 s. Locally the machine may be busy with
# tests and other environments starting at once, so the limit is more generous; it only catches
# an environment that never answers.
INIT_TIMEOUT_SECONDS = 30.0
# Lambda's limit of an on-demand init. RIE counts one timer, the function's, from the invoke, its
# init included; it is given Timeout + this, and the pool enforces Timeout from the moment the
# runtime received the event (`RuntimeApiRelay`), as Lambda does.
LAMBDA_INIT_SECONDS = 10
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect", "host"}
# Python's own variables that would change how an environment's interpreter starts.
NOT_PASSED = ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


def emulator_binary() -> Path:
    """aws-sam-cli's copy of the Runtime Interface Emulator for this machine (found without
    importing samcli, which is slow to import)."""
    found = importlib.util.find_spec("samcli")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("aws-sam-cli is not installed: the local stack needs its aws-lambda-rie")
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    binary = Path(next(iter(found.submodule_search_locations))) / "local" / "rapid" / f"aws-lambda-rie-{arch}"
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: reinstall aws-sam-cli (make venv)")
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


# ---------------------------------------------------------------------------- packages
def _lock(path: Path) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def held() -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # several stacks (test runs) may start at once
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return held()


def _installer(target: Path, requirements: list[str]) -> list[str]:
    """uv where the venv has it (`make venv` installs it: seconds where pip takes most of a minute,
    from the wheels `make venv` already fetched), else pip. Either compiles the bytecode, as pip
    does by default: the environments never write any (each would compile boto3 again)."""
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        return [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", sys.executable,
                "--target", str(target), *requirements]  # fmt: skip
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-warn-script-location", "--target", str(target), *requirements]  # fmt: skip


def _pip_target(target: Path, requirements: list[str], what: str) -> Path:
    """`pip install --target target requirements...` once; later calls find the folder."""
    if target.is_dir():
        return target
    with _lock(target.parent / f".{target.name}.lock"):
        if target.is_dir():
            return target
        staging = target.parent / f".{target.name}.{os.getpid()}.tmp"
        log.info("installing %s into %s (once; cached afterwards)", what, target)
        began = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - uv or pip of our own venv
            _installer(staging, requirements), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"cannot install {what}: {done.stderr.strip()[-2000:]}")
        staging.rename(target)
        log.info("installed %s in %.0f s", what, time.perf_counter() - began)
    return target


def _digest(*parts: str) -> str:
    tag = f"py{sys.version_info.major}{sys.version_info.minor}-{sys.platform}"
    return hashlib.sha256("\n".join([tag, *parts]).encode()).hexdigest()[:16]


def runtime_packages(cache: Path = DEFAULT_CACHE) -> Path:
    """The runtime's own packages (awslambdaric and what it needs), as Lambda's /var/runtime."""
    return _pip_target(cache / f"runtime-{_digest(AWSLAMBDARIC)}", [AWSLAMBDARIC], AWSLAMBDARIC)


def layer_packages(layer_dir: Path, cache: Path = DEFAULT_CACHE) -> Path | None:
    """A layer's `requirements.txt` installed as `sam build` would (its `python/` folder), or None."""
    requirements = layer_dir / "requirements.txt"
    if not requirements.is_file():
        return None
    text = requirements.read_text(encoding="utf-8")
    if not [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]:
        return None
    folder = cache / f"layer-{_digest(text)}"
    _pip_target(folder / "python", ["-r", str(requirements)], f"the layer {layer_dir.name}'s requirements")
    return folder / "python"


def prepare_packages(template: Template, cache: Path | None = None) -> None:
    """Install whatever the template's environments need (run before a test session's stack
    starts, so that its start-up timeout does not include a first pip install). `cache`: by
    default where the stack would look (`SHOP_LAMBDA_CACHE`, else `.cache/lambda`)."""
    cache = cache or RuntimeSettings.from_env().cache
    runtime_packages(cache)
    for layer in {path for spec in template.functions().values() for path in template.function_layers(spec)}:
        layer_packages(layer, cache)


# ---------------------------------------------------------------------------- invocations
@dataclass
class LambdaError:
    """A function error as Lambda reports it (`errorType`, `errorMessage`, `stackTrace`)."""

    error_type: str
    message: str
    stack_trace: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LambdaError:
        trace = payload.get("stackTrace") or []
        return cls(
            error_type=str(payload.get("errorType") or "Unhandled"),
            message=str(payload.get("errorMessage") or ""),
            stack_trace=[str(line) for line in trace] if isinstance(trace, list) else [str(trace)],
        )

    def as_dict(self) -> dict[str, Any]:
        return {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": self.stack_trace}


# RIE answers 200 for a handler error too, with the runtime's error document as the body (no
# X-Amz-Function-Error header): a JSON object of exactly these keys, with a type and a message.
_ERROR_KEYS = {"errorMessage", "errorType", "requestId", "stackTrace"}
_TIMED_OUT = re.compile(r"^Task timed out after [\d.]+ seconds$")


def _as_error(payload: Any) -> LambdaError | None:
    if isinstance(payload, dict) and {"errorType", "errorMessage"} <= payload.keys() <= _ERROR_KEYS:
        return LambdaError.from_payload(payload)
    return None


@dataclass
class Invocation:
    """One invocation and what came of it. `error` is what Lambda reports for a function error."""

    function_id: str
    request_id: str
    event: bytes = b""
    trace_id: str = ""
    response: Any = None
    error: LambdaError | None = None
    timed_out: bool = False
    duration_ms: float = 0.0
    cold: bool = False
    environment: str = ""
    pid: int = 0
    report: dict[str, float] = field(default_factory=dict)  # RIE's REPORT line, in ms

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    def describe_error(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.error_type}: {self.error.message}"


# ---------------------------------------------------------------------------- one environment
@dataclass
class EnvironmentSpec:
    """How every environment of one function is started: its command, cwd, path and variables."""

    function_id: str
    name: str
    arn: str
    handler: str
    task_root: Path
    timeout: int
    memory_size: int
    python_path: list[Path]
    variables: dict[str, str]

    def command(self, emulator: Path, invoke_port: int, runtime_api_port: int, relay_port: int) -> list[str]:
        # -S: no site module, so no virtualenv site-packages; sys.path is PYTHONPATH + the stdlib.
        # RIE sets AWS_LAMBDA_RUNTIME_API to its own Runtime API (a platform variable, over any of
        # ours); `env` points the runtime at the relay in front of it instead.
        return [
            str(emulator),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{invoke_port}",
            "--runtime-api-address",
            f"127.0.0.1:{runtime_api_port}",
            shutil.which("env") or "/usr/bin/env",
            "-u",
            "AWS_LAMBDA_FUNCTION_TIMEOUT",  # RIE's setting, not one Lambda gives a function
            f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{relay_port}",
            sys.executable,
            "-S",
            "-m",
            "awslambdaric",
            self.handler,
        ]

    def environ(self, number: int) -> dict[str, str]:
        """The one place an environment's variables are built (RIE passes them to the runtime and
        adds AWS_LAMBDA_RUNTIME_API itself)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SHOP_TEST_REDIS_DB")
        }
        stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        env.update(self.variables)
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(str(path) for path in self.python_path),
                # Lambda's stdout reaches CloudWatch line by line; a pipe would buffer it
                "PYTHONUNBUFFERED": "1",
                "LAMBDA_TASK_ROOT": str(self.task_root),
                "LAMBDA_RUNTIME_DIR": str(self.python_path[-1]),
                "_HANDLER": self.handler,
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
                # RIE's one timer counts from the invoke, init included: Timeout + Lambda's init
                # limit; the pool enforces Timeout itself (RuntimeApiRelay)
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout + LAMBDA_INIT_SECONDS),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "TZ": ":UTC",
                "SHOP_LOCAL_ENVIRONMENT": str(number),
            }
        )
        for name in NOT_PASSED:
            env.pop(name, None)
        return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# RIE's own log lines ("07 Dec 2026 09:46:58,645 [INFO] (rapid) ...") are the emulator's, not the
# function's: they go to the debug log, except the init report, which feeds the cold-start line.
_RAPID_LINE = re.compile(r"^\d\d \w{3} \d{4} [\d:,]+ \[(\w+)\] \(rapid\) (.*)$")
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)\)")
_REPORT_FIELD = re.compile(r"(Init Duration|Billed Duration|Duration): ([\d.]+) ms")


class RuntimeApiRelay:
    """The Runtime API as the runtime sees it: every request is passed on to RIE's, unchanged,
    except the answer to `GET .../invocation/next` (the event, once init is over): its
    `Lambda-Runtime-Deadline-Ms` becomes now + Timeout, and `on_event` is told, so the pool counts
    the function's Timeout from there, as Lambda does after its separate init phase."""

    def __init__(self, upstream_port: int, timeout: int, on_event: Callable[[float], None]) -> None:
        self.upstream_port = upstream_port
        self.timeout = timeout
        self.on_event = on_event
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the runtime keeps its connection

            def do_GET(self) -> None:
                relay.forward(self)

            def do_POST(self) -> None:
                relay.forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, name="runtime-api-relay", daemon=True).start()

    @staticmethod
    def _body(request: http.server.BaseHTTPRequestHandler) -> bytes:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(request.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(request.rfile.read(size))
                request.rfile.readline()
        length = int(request.headers.get("Content-Length") or 0)
        return request.rfile.read(length) if length else b""

    def forward(self, request: http.server.BaseHTTPRequestHandler) -> None:
        body = self._body(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port)  # /next waits: no timeout
        try:
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            status, reply_headers, reply = answer.status, answer.getheaders(), answer.read()
        except (OSError, http.client.HTTPException):
            request.close_connection = True
            with contextlib.suppress(OSError):
                request.send_error(502)
            return
        finally:
            upstream.close()
        event = request.command == "GET" and request.path == NEXT_PATH and status == 200
        deadline_ms = 0
        if event:
            received = time.monotonic()
            deadline_ms = int(time.time() * 1000) + self.timeout * 1000
            self.on_event(received)
        request.send_response_only(status)
        for key, value in reply_headers:
            if key.lower() in _HOP_BY_HOP:
                continue
            deadline = event and key.lower() == "lambda-runtime-deadline-ms"
            request.send_header(key, str(deadline_ms) if deadline else value)
        request.send_header("Content-Length", str(len(reply)))
        request.end_headers()
        with contextlib.suppress(OSError):
            request.wfile.write(reply)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Environment:
    """One execution environment: an `aws-lambda-rie` process running awslambdaric."""

    def __init__(self, spec: EnvironmentSpec, number: int, logs: FunctionLogs, generation: int = 0) -> None:
        self.spec = spec
        self.number = number
        self.label = f"{spec.function_id}#{number}"
        self.logs = logs
        self.generation = generation  # the code version it runs (FunctionPool.generation)
        self.process: subprocess.Popen[bytes] | None = None
        self.invoke_port = 0
        self.started_at = 0.0
        self.init_ms: float | None = None  # RIE's INIT REPORT
        self.cold_start_ms: float | None = None  # process start → first response
        self.invocations = 0
        self.last_used = time.monotonic()
        self.stopping = False
        self._report: dict[str, float] = {}
        self._reported = threading.Event()
        self.relay: RuntimeApiRelay | None = None
        self._event_received = threading.Event()  # the runtime took this invocation's event
        self._event_at = 0.0
        self._answered = threading.Event()
        self._timed_out_here = False  # the pool's own Timeout stopped it

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    @property
    def alive(self) -> bool:
        return not self.stopping and self.process is not None and self.process.poll() is None

    def start(self, emulator: Path) -> None:
        self.invoke_port = _free_port()
        runtime_api_port = _free_port()
        self.relay = RuntimeApiRelay(runtime_api_port, self.spec.timeout, self._on_event)
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - AWS's emulator and our own interpreter
            self.spec.command(emulator, self.invoke_port, runtime_api_port, self.relay.port),
            cwd=self.spec.task_root,
            env=self.spec.environ(self.number),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops the runtime too
        )
        threading.Thread(target=self._pump_output, name=f"log-{self.label}", daemon=True).start()

    def _on_event(self, at: float) -> None:
        self._event_at = at
        self._event_received.set()

    def _enforce_timeout(self) -> None:
        """The function's Timeout, counted from when the runtime took the event (after init, as
        on Lambda): past it, the environment is stopped and the invocation has timed out."""
        while not self._event_received.wait(0.05):
            if self._answered.is_set():
                return
        remaining = self._event_at + self.spec.timeout - time.monotonic()
        if self._answered.wait(max(remaining, 0.0)):
            return
        self._timed_out_here = True
        self.stop()

    def _pump_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            rapid = _RAPID_LINE.match(line)
            if rapid is not None:
                log.debug("%s rie: %s", self.label, rapid.group(2))
                init = _INIT_REPORT.search(line)
                if init is not None:
                    self.init_ms = float(init.group(1))
                continue
            if self.stopping:
                continue  # a runtime whose emulator is gone says so, with a traceback: not news
            self.logs.write(self.spec.function_id, line)
            if line.startswith("REPORT RequestId:"):
                self._report = {name: float(value) for name, value in _REPORT_FIELD.findall(line)}
                self._reported.set()

    def _connect(self, deadline: float) -> http.client.HTTPConnection:
        """A connection to the emulator, once it listens (it starts in milliseconds)."""
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", self.invoke_port, timeout=deadline)
            try:
                connection.connect()
                return connection
            except ConnectionRefusedError:
                connection.close()
                if (
                    self.process is None
                    or self.process.poll() is not None
                    or time.perf_counter() > (self.started_at + INIT_TIMEOUT_SECONDS)
                ):
                    raise
                time.sleep(0.01)

    def invoke(self, invocation: Invocation) -> None:
        """Send `invocation` to the emulator and record its outcome; a timeout or an init failure
        stops this environment (Lambda resets the sandbox; the pool starts a fresh one)."""
        invocation.environment = self.label
        invocation.pid = self.pid
        self.invocations += 1
        self._reported.clear()
        self._event_received.clear()
        self._answered.clear()
        self._timed_out_here = False
        watchdog = threading.Thread(target=self._enforce_timeout, name=f"timeout-{self.label}", daemon=True)
        watchdog.start()
        try:
            self._invoke(invocation)
        finally:
            self._answered.set()
            watchdog.join()

    def _timed_out(self, invocation: Invocation) -> None:
        invocation.timed_out = True
        invocation.error = LambdaError(
            "Sandbox.Timedout",
            f"RequestId: {invocation.request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds",
        )

    def _invoke(self, invocation: Invocation) -> None:
        # RIE has its own init limit; ours only catches an environment that never answers
        limit = INIT_TIMEOUT_SECONDS + self.spec.timeout + 5
        try:
            connection = self._connect(limit)
            try:
                connection.request(
                    "POST",
                    INVOKE_PATH,
                    body=invocation.event,
                    headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": invocation.trace_id},
                )
                answer = connection.getresponse()
                status, body = answer.status, answer.read()
            finally:
                connection.close()
        except TimeoutError:
            invocation.error = LambdaError(
                "Sandbox.Timedout", f"the environment did not answer in {limit:.0f} s"
            )
            invocation.timed_out = True
            log.error("%s: %s; stopping it (pid %s)", self.label, invocation.error.message, self.pid)
            self.stop()
            return
        except (ConnectionError, http.client.HTTPException) as exc:
            if self._timed_out_here:
                self._timed_out(invocation)
                return
            code = self.process.poll() if self.process else None
            invocation.error = LambdaError("Runtime.ExitError", f"Runtime exited with error: {code or exc}")
            log.error("%s (pid %s): %s", self.label, self.pid, invocation.error.message)
            self.stop()
            return
        if self._timed_out_here:
            self._timed_out(invocation)
            return
        if self.cold_start_ms is None:
            self.cold_start_ms = (time.perf_counter() - self.started_at) * 1000
        self._settle(invocation, status, body)

    def _settle(self, invocation: Invocation, status: int, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        if status == 200 and _TIMED_OUT.match(text):
            invocation.timed_out = True
            invocation.error = LambdaError(
                "Sandbox.Timedout", f"RequestId: {invocation.request_id} Error: {text}"
            )
            self.stop()  # RIE would re-init in place; Lambda gives a fresh sandbox: so do we
            return
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = text
        error = _as_error(payload)
        if status != 200:  # an init failure (Runtime.ImportModuleError ...): RIE answers 502
            invocation.error = error or LambdaError("Runtime.ExitError", text[:500])
            log.error("%s: init failed: %s", self.label, invocation.describe_error())
            self.stop()
            return
        if error is not None:
            invocation.error = error
            return
        invocation.response = payload

    def report(self, wait: float) -> dict[str, float]:
        """RIE's REPORT figures of the last invocation (it prints them as it answers)."""
        self._reported.wait(wait)
        return dict(self._report)

    def _runtime_pids(self) -> list[int]:
        """The emulator's children (the runtime): RIE starts them in a process group of their own."""
        pid = self.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError):
            return []

    def stop(self, grace: float = 0.0) -> None:
        """Stop the emulator and its runtime. SIGTERM first: RIE then kills the runtime itself
        ("SandboxTerminated"); whatever is left after `grace` (or at once) is killed."""
        self.stopping = True  # from here on, the runtime's last words are not the function's
        process = self.process
        if process is None:
            return
        relay, self.relay = self.relay, None
        if relay is not None:
            threading.Thread(target=relay.close, name=f"relay-stop-{self.label}", daemon=True).start()
        runtime = self._runtime_pids()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(grace, 1.0))
        for pid in [*runtime, process.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


# ---------------------------------------------------------------------------- code changes
class CodeWatch:
    """Tells when the files of some folders changed: a stat of each file (no reading, no loop in
    the background), at most every `every` seconds."""

    def __init__(self, folders: list[Path], every: float = DEFAULT_CODE_CHECK_SECONDS) -> None:
        self.folders = folders
        self.every = every
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        now = time.time()
        for folder in self.folders:
            for path, dirs, files in os.walk(folder):
                dirs[:] = sorted(name for name in dirs if name != "__pycache__" and not name.startswith("."))
                for name in sorted(files):
                    if name.endswith((".pyc", ".pyo")):
                        continue
                    file = os.path.join(path, name)
                    with contextlib.suppress(FileNotFoundError):
                        stat = os.stat(file)
                        digest.update(f"{file}:{stat.st_mtime_ns}:{stat.st_size}\n".encode())
                        if now - stat.st_mtime < RACY_SECONDS:
                            # timestamps are coarse (a clock tick): two same-size writes within
                            # one tick look alike, so a file changed just now counts by content
                            # (git's "racy clean" rule)
                            digest.update(Path(file).read_bytes())
        return digest.hexdigest()

    def changed(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.every:
                return False
            self._checked = now
            fingerprint = self._fingerprint()
            if fingerprint == self.fingerprint:
                return False
            self.fingerprint = fingerprint
            return True


# ---------------------------------------------------------------------------- logs
class FunctionLogs:
    """Where the functions' own output goes: a file and, with `echo`, the console too; raw lines
    (Powertools' JSON, EMF metrics, Lambda's START/END/REPORT), as CloudWatch Logs would keep them."""

    def __init__(self, path: Path | None = None, echo: bool = False, stream: IO[str] | None = None) -> None:
        self.path = path
        self.echo = echo
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, function_id: str, line: str) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
            if self.echo:
                # the runtime keeps a multi-line record (a stack trace) on one line with \r
                self.stream.write(line.replace("\r", "\n    ") + "\n")
                self.stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


# ---------------------------------------------------------------------------- one function
class FunctionPool:
    """Every environment of one function: started on demand, reused warm, stopped when idle or
    when its code changed."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        logs: FunctionLogs,
        *,
        function: FunctionSpec,
        emulator: Path,
        code: CodeWatch | None = None,
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.env_spec = spec
        self.spec = function  # the template's description (handler, Timeout ...)
        self.spec_id = spec.function_id
        self.name = spec.name
        self.arn = spec.arn
        self.logs = logs
        self.emulator = emulator
        self.code = code
        self.generation = 0  # +1 each time the code changes
        self.max_environments = max(1, max_environments)
        self.idle_seconds = idle_seconds
        self._condition = threading.Condition()
        self._idle: list[Environment] = []  # most recently used last: reused first
        self._all: set[Environment] = set()
        self._numbers = 0
        self._stopped = False
        self.cold_starts: list[float] = []  # ms, process start → first response

    @property
    def available(self) -> bool:
        return True  # whether the module imports is known only when an environment starts

    def environments(self) -> list[dict[str, Any]]:
        with self._condition:
            return [
                {
                    "environment": env.label,
                    "pid": env.pid,
                    "busy": env not in self._idle,
                    "invocations": env.invocations,
                    "cold_start_ms": env.cold_start_ms,
                }
                for env in sorted(self._all, key=lambda env: env.number)
            ]

    def _check_code(self) -> None:
        if self.code is None or not self.code.changed():
            return
        with self._condition:
            self.generation += 1
            stale, self._idle = self._idle, []
            for env in stale:
                self._all.discard(env)
        log.info("%s: code changed: the next invocations run in new environments", self.spec_id)
        for env in stale:
            env.stop()

    def _acquire(self) -> tuple[Environment, bool]:
        self._check_code()
        with self._condition:
            while True:
                if self._stopped:
                    raise RuntimeError("the local Lambda runtime is stopping")
                while self._idle:
                    env = self._idle.pop()
                    if env.alive:
                        return env, False
                    self._all.discard(env)
                if len(self._all) < self.max_environments:
                    self._numbers += 1
                    env = Environment(self.env_spec, self._numbers, self.logs, self.generation)
                    self._all.add(env)
                    break
                self._condition.wait()
        try:
            env.start(self.emulator)
        except BaseException:
            with self._condition:
                self._all.discard(env)
                self._condition.notify()
            raise
        return env, True

    def _release(self, env: Environment) -> None:
        with self._condition:
            env.last_used = time.monotonic()
            current = env.generation == self.generation
            if env.alive and current and not self._stopped:
                self._idle.append(env)
            else:
                self._all.discard(env)
            self._condition.notify()
        if not current:
            env.stop()  # it ran the old code: no later invocation may see it

    def invoke(
        self,
        event: Any,
        *,
        what: str = "",
        expected: Callable[[LambdaError], bool] | None = None,
        quiet: bool = False,
        trace_id: str | None = None,
    ) -> Invocation:
        """Run one invocation in an environment of this function; never raises for a function
        error (it is in the result, as Lambda reports it). `expected` errors (an authorizer's
        "Unauthorized") are logged in one line; `quiet` leaves the success line to the caller."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        invocation = Invocation(
            function_id=self.spec_id,
            request_id=str(uuid.uuid4()),
            event=body,
            trace_id=trace_id or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        )
        began = time.perf_counter()
        env, cold = self._acquire()
        invocation.cold = cold
        try:
            env.invoke(invocation)
        finally:
            self._release(env)
        invocation.duration_ms = (time.perf_counter() - began) * 1000
        if cold and env.cold_start_ms is not None:
            self.cold_starts.append(env.cold_start_ms)
            invocation.report = env.report(wait=0.5)
            log.info(
                "%s: cold start, pid %s: init %.0f ms, duration %.0f ms (RIE's REPORT), first response "
                "%.0f ms after process start",
                env.label,
                env.pid,
                env.init_ms or 0,
                invocation.report.get("Duration", 0),
                env.cold_start_ms,
            )
        self._log(invocation, what, expected, quiet)
        return invocation

    def _log(
        self, invocation: Invocation, what: str, expected: Callable[[LambdaError], bool] | None, quiet: bool
    ) -> None:
        state = "cold" if invocation.cold else "warm"
        where = f"{invocation.duration_ms:.0f} ms {state} {invocation.environment}"
        error = invocation.error
        if error is None:
            if not quiet:
                log.info("invoke %s %s ok %s", self.spec_id, what, where)
        elif expected is not None and expected(error):
            log.info("invoke %s %s -> %s: %s %s", self.spec_id, what, error.error_type, error.message, where)
        else:
            trace = "".join(error.stack_trace).rstrip()
            log.error(
                "invoke %s %s -> %s: %s %s%s",
                self.spec_id,
                what,
                error.error_type,
                error.message,
                where,
                f"\n{trace}" if trace else "",
            )

    def reap(self, now: float | None = None) -> int:
        """Stop environments idle for longer than `idle_seconds`; how many were stopped."""
        now = time.monotonic() if now is None else now
        with self._condition:
            stale = [env for env in self._idle if now - env.last_used > self.idle_seconds]
            for env in stale:
                self._idle.remove(env)
                self._all.discard(env)
        for env in stale:
            log.info("%s: idle for %.0f s, stopped (pid %s)", env.label, now - env.last_used, env.pid)
            env.stop(grace=1.0)
        return len(stale)

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            environments = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for env in environments:
            env.stop()


# ---------------------------------------------------------------------------- every function
@dataclass
class RuntimeSettings:
    max_environments: int = DEFAULT_MAX_ENVIRONMENTS
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    cache: Path = DEFAULT_CACHE
    function_log: Path | None = None
    echo_logs: bool = False
    code_check_seconds: float = DEFAULT_CODE_CHECK_SECONDS

    @classmethod
    def from_env(cls, **overrides: Any) -> RuntimeSettings:
        env = os.environ
        settings = cls(
            max_environments=int(env.get("SHOP_LAMBDA_MAX_ENVIRONMENTS") or DEFAULT_MAX_ENVIRONMENTS),
            idle_seconds=float(env.get("SHOP_LAMBDA_IDLE_SECONDS") or DEFAULT_IDLE_SECONDS),
            cache=Path(env["SHOP_LAMBDA_CACHE"]) if env.get("SHOP_LAMBDA_CACHE") else DEFAULT_CACHE,
            function_log=Path(env["SHOP_FUNCTION_LOG"]) if env.get("SHOP_FUNCTION_LOG") else None,
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings


class LambdaRuntime:
    """Every function of the template, each with its pool of environments."""

    def __init__(
        self,
        template: Template,
        settings: RuntimeSettings | None = None,
        *,
        extra_variables: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        self.settings = settings or RuntimeSettings()
        self.logs = FunctionLogs(self.settings.function_log, self.settings.echo_logs)
        emulator = emulator_binary()
        runtime_dir = runtime_packages(self.settings.cache)
        self.functions: dict[str, FunctionPool] = {}
        for function_id, spec in template.functions().items():
            env_spec = self.environment_spec(spec, runtime_dir, extra_variables or {})
            folders = [spec.code_uri, *template.function_layers(spec)]
            self.functions[function_id] = FunctionPool(
                env_spec,
                self.logs,
                function=spec,
                emulator=emulator,
                code=CodeWatch(folders, self.settings.code_check_seconds),
                max_environments=self.settings.max_environments,
                idle_seconds=self.settings.idle_seconds,
            )
        self._template_stat = self._stat_template()
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
        self._reaper.start()

    def _stat_template(self) -> tuple[int, int]:
        try:
            stat = self.template.path.stat()
        except OSError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)

    def environment_spec(
        self, spec: FunctionSpec, runtime_dir: Path, extra_variables: dict[str, str]
    ) -> EnvironmentSpec:
        template = self.template
        name = f"{template.stack_name}-{spec.logical_id}"
        path: list[Path] = [spec.code_uri]
        for layer in template.function_layers(spec):
            installed = layer_packages(layer, self.settings.cache)
            if installed is not None:
                path.append(installed)
            path.append(layer)
        path.append(runtime_dir)
        variables = {
            "AWS_REGION": template.region,
            "AWS_DEFAULT_REGION": template.region,
            **extra_variables,
            **spec.environment,
            # as Lambda gives its role's session: this function's own key (shop_local.iam_roles)
            **function_credentials(spec.logical_id),
        }
        return EnvironmentSpec(
            function_id=spec.logical_id,
            name=name,
            arn=f"arn:aws:lambda:{template.region}:{template.account_id}:function:{name}",
            handler=spec.handler,
            task_root=spec.code_uri,
            timeout=spec.timeout,
            memory_size=spec.memory_size,
            python_path=path,
            variables=variables,
        )

    def _reap_loop(self) -> None:
        while not self._stopping.wait(1.0):
            for pool in self.functions.values():
                try:
                    pool.reap()
                except Exception:
                    log.exception("stopping idle environments of %s failed", pool.spec_id)
            stat = self._stat_template()
            if stat != self._template_stat:
                self._template_stat = stat
                # routes, variables and resources are read once, at start
                log.warning(
                    "%s changed: restart the stack (make run) to apply new routes, variables or "
                    "resources; function code changes need no restart",
                    self.template.path.name,
                )

    def __getitem__(self, function_id: str) -> FunctionPool:
        return self.functions[function_id]

    def __contains__(self, function_id: object) -> bool:
        return function_id in self.functions

    def pids(self) -> list[int]:
        return [env["pid"] for pool in self.functions.values() for env in pool.environments() if env["pid"]]

    def stop(self) -> None:
        self._stopping.set()
        for pool in self.functions.values():
            pool.stop()
        self.logs.close()

"""Runs the template's functions the way Lambda runs them: AWS's runtime interface client in
processes of their own, fed through the Lambda Runtime API.

- **Execution environments.** Each is a process `python -S -m awslambdaric <module>.<function>`
  with `AWS_LAMBDA_RUNTIME_API` pointing at a small Runtime API server of its own (one per
  environment, as each Lambda sandbox has its own). Nothing here calls a handler: awslambdaric
  imports the module, asks `GET /2018-06-01/runtime/invocation/next` for an event, calls the
  handler and posts `.../invocation/{id}/response` or `.../error` (or `/runtime/init/error` when the
  module cannot be imported).
- **What an environment sees** (`EnvironmentSpec`): the cwd and `LAMBDA_TASK_ROOT` are the
  function's `CodeUri`; `sys.path` is the CodeUri, the layer (its `requirements.txt` installed once
  into a cached folder, plus the layer's own folder), then the runtime's packages (awslambdaric,
  installed into a cached folder of its own). `-S` keeps the project's virtualenv site-packages
  out, so a handler that imports something that is not in its folder or the layer fails here as
  it would on AWS. The variables are the template's plus what Lambda sets (`AWS_LAMBDA_FUNCTION_*`,
  `AWS_REGION`, `_HANDLER`, `LAMBDA_TASK_ROOT`, `AWS_LAMBDA_LOG_*` ...).
- **Pools** (`FunctionPool`): an environment starts on first use (a cold start, logged with its
  time from process start to first response), is reused while warm, more start while all are busy
  (up to `max_environments` per function), and an environment idle for `idle_seconds` is stopped.
- **Deadlines.** An invocation that outlives the function's `Timeout` kills its environment (as
  Lambda resets a sandbox after a timeout) and is reported as `Sandbox.Timedout`; the next
  invocation gets a fresh environment.

The Runtime API (version 2018-06-01) as the AWS Lambda Developer Guide documents it ("Using the
Lambda runtime API for custom runtimes"), and as awslambdaric 4.2.2's `lambda_runtime_client.py`
and `bootstrap.py` use it: the next-invocation answer carries the event as its body and the
headers `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`, `-Trace-Id`
(awslambdaric's C client crashes without it) and, when set, `-Client-Context` and
`-Cognito-Identity`; the client expects 202 for every POST, and an error's type in the
`Lambda-Runtime-Function-Error-Type` header.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from shop_local.iam_roles import function_credentials
from shop_local.serving import STOP_POLL_SECONDS
from shop_local.template import ROOT, FunctionSpec, Template

log = logging.getLogger("shop_local.lambda_runtime")


AWSLAMBDARIC = "awslambdaric==4.2.2"  # the same pin as pyproject.toml's `local` extra
API_VERSION = "2018-06-01"
DEFAULT_CACHE = ROOT / ".cache" / "lambda"
DEFAULT_MAX_ENVIRONMENTS = 4
DEFAULT_IDLE_SECONDS = 300.0
# Lambda gives an on-demand environment's init phase 10 s. Locally the machine may be busy with
# tests and other environments starting at once, so the limit is more generous; it only catches
# an environment that never asks for its event.
INIT_TIMEOUT_SECONDS = 30.0
# Python's own variables that would change how an environment's interpreter starts.
NOT_PASSED = ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


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
        done = subprocess.run(  # noqa: S603 - pip of our own interpreter
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--target",
                str(staging),
                *requirements,
            ],
            capture_output=True,
            text=True,
            check=False,
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
    """A function error as Lambda reports it (the body a runtime posts to `/error`)."""

    error_type: str
    message: str
    stack_trace: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_payload(cls, body: bytes, header_type: str | None) -> LambdaError:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        trace = payload.get("stackTrace") or []
        return cls(
            error_type=str(payload.get("errorType") or header_type or "Unhandled"),
            message=str(payload.get("errorMessage") or ""),
            stack_trace=[str(line) for line in trace] if isinstance(trace, list) else [str(trace)],
        )

    def as_dict(self) -> dict[str, Any]:
        return {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": self.stack_trace}


@dataclass
class Invocation:
    """One invocation and what came of it. `error` is what Lambda reports for a function error."""

    function_id: str
    request_id: str
    event: bytes = b""
    deadline_ms: int = 0
    trace_id: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None
    response: Any = None
    error: LambdaError | None = None
    timed_out: bool = False
    duration_ms: float = 0.0
    cold: bool = False
    environment: str = ""
    pid: int = 0
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    taken: threading.Event = field(default_factory=threading.Event, repr=False)  # by the process

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    def describe_error(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.error_type}: {self.error.message}"

    def finish(self, response: Any = None, error: LambdaError | None = None) -> bool:
        """Record the outcome once; False if it was already decided (e.g. timed out)."""
        if self.done.is_set():
            return False
        self.response, self.error = response, error
        self.done.set()
        return True


def _trace_id() -> str:
    """An X-Ray trace header as Lambda passes it (`Lambda-Runtime-Trace-Id`)."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


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

    @property
    def command(self) -> list[str]:
        # -S: no site module, so no virtualenv site-packages; sys.path is PYTHONPATH + the stdlib
        return [sys.executable, "-S", "-m", "awslambdaric", self.handler]

    def environ(self, runtime_api: str, number: int) -> dict[str, str]:
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
                "AWS_LAMBDA_RUNTIME_API": runtime_api,
                "_HANDLER": self.handler,
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
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


class _RuntimeApi(ThreadingHTTPServer):
    """The Runtime API of one environment, on a loopback port of its own."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed environment hangs up
            super().handle_error(request, client_address)

    def __init__(self, environment: Environment) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.environment = environment


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    server: _RuntimeApi
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms delayed-ACK wait
    PREFIX = f"/{API_VERSION}/runtime"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("runtime api %s: " + format, self.server.environment.label, *args)

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != f"{self.PREFIX}/invocation/next":
            self._answer(404, b'{"errorMessage": "not found", "errorType": "InvalidRequest"}')
            return
        invocation = self.server.environment.next_invocation()
        if invocation is None:  # stopping: the process is about to be killed
            self._answer(410, b'{"errorMessage": "environment stopped", "errorType": "Stopped"}')
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.server.environment.spec.arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
            "Content-Type": "application/json",
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        self._answer(200, invocation.event, headers)

    def do_POST(self) -> None:
        body = self._body()
        environment = self.server.environment
        accepted = b'{"status": "OK"}'
        if self.path == f"{self.PREFIX}/init/error":
            environment.init_failed(LambdaError.from_payload(body, self.headers.get(ERROR_TYPE_HEADER)))
            self._answer(202, accepted)
            return
        parts = self.path.removeprefix(f"{self.PREFIX}/invocation/").split("/")
        if not self.path.startswith(f"{self.PREFIX}/invocation/") or len(parts) != 2:
            self._answer(404, b'{"errorMessage": "not found", "errorType": "InvalidRequest"}')
            return
        request_id, outcome = parts
        if outcome == "response":
            known = environment.responded(request_id, body)
        elif outcome == "error":
            error = LambdaError.from_payload(body, self.headers.get(ERROR_TYPE_HEADER))
            known = environment.failed(request_id, error)
        else:
            self._answer(404, b'{"errorMessage": "not found", "errorType": "InvalidRequest"}')
            return
        if not known:
            self._answer(400, b'{"errorMessage": "unknown request id", "errorType": "InvalidRequestID"}')
            return
        self._answer(int(HTTPStatus.ACCEPTED), accepted)


ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


class Environment:
    """One execution environment: a runtime interface client process and its Runtime API."""

    def __init__(self, spec: EnvironmentSpec, number: int, logs: FunctionLogs) -> None:
        self.spec = spec
        self.number = number
        self.label = f"{spec.function_id}#{number}"
        self.logs = logs
        self._api = _RuntimeApi(self)
        self._api_thread = threading.Thread(
            target=self._api.serve_forever,
            args=(STOP_POLL_SECONDS,),
            name=f"runtime-api-{self.label}",
            daemon=True,
        )
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
        self._current: Invocation | None = None
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.init_ms: float | None = None  # process start → first request for an event
        self.cold_start_ms: float | None = None  # process start → first response
        self.init_error: LambdaError | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        self.stopping = False

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    @property
    def alive(self) -> bool:
        return not self.stopping and self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self._api_thread.start()
        runtime_api = f"127.0.0.1:{self._api.server_address[1]}"
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.spec.command,
            cwd=self.spec.task_root,
            env=self.spec.environ(runtime_api, self.number),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches the stack, which stops us
        )
        threading.Thread(target=self._pump_output, name=f"log-{self.label}", daemon=True).start()
        threading.Thread(target=self._watch_exit, name=f"exit-{self.label}", daemon=True).start()

    # ------------------------------------------------------------ what the Runtime API calls
    def next_invocation(self) -> Invocation | None:
        if self.init_ms is None:
            self.init_ms = (time.perf_counter() - self.started_at) * 1000
        invocation = self._inbox.get()
        with self._lock:
            self._current = invocation
        if invocation is not None:
            # the deadline counts from when the environment takes the event (after its init), as
            # Lambda's does: a cold start does not eat into the function's Timeout
            invocation.deadline_ms = int(time.time() * 1000) + self.spec.timeout * 1000
            invocation.taken.set()
        return invocation

    def _settle(self, request_id: str) -> Invocation | None:
        with self._lock:
            current = self._current
            if current is None or current.request_id != request_id:
                return None
            self._current = None
        if self.cold_start_ms is None:
            self.cold_start_ms = (time.perf_counter() - self.started_at) * 1000
        return current

    def responded(self, request_id: str, body: bytes) -> bool:
        invocation = self._settle(request_id)
        if invocation is None:
            return False
        try:
            response = json.loads(body) if body else None
        except ValueError:
            response = body.decode("utf-8", "replace")
        invocation.finish(response=response)
        return True

    def failed(self, request_id: str, error: LambdaError) -> bool:
        invocation = self._settle(request_id)
        if invocation is None:
            return False
        invocation.finish(error=error)
        return True

    def init_failed(self, error: LambdaError) -> None:
        self.init_error = error
        log.error("%s: init failed: %s: %s", self.label, error.error_type, error.message)

    # ------------------------------------------------------------ the process
    def _pump_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            self.logs.write(self.spec.function_id, raw.decode("utf-8", "replace").rstrip("\n"))

    def _watch_exit(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        with self._lock:
            current, self._current = self._current, None
        if self.init_error is not None:
            error = self.init_error
        elif self.stopping:  # stopped by the stack (shutdown, or a timeout already reported)
            error = LambdaError("Runtime.ExitError", "RequestId: the execution environment was stopped")
        else:
            error = LambdaError("Runtime.ExitError", f"Runtime exited with error: exit status {code}")
            log.error("%s (pid %s) exited with status %s", self.label, self.pid, code)
        if current is not None:
            current.finish(error=error)
        while True:  # an invocation handed to us that never reached the process
            try:
                pending = self._inbox.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                pending.finish(error=error)

    def invoke(self, invocation: Invocation) -> None:
        """Hand `invocation` to the process; returns once it is decided (or its deadline passed:
        then the environment is killed, as Lambda resets a sandbox after a timeout)."""
        invocation.environment = self.label
        invocation.pid = self.pid
        self.invocations += 1
        self._inbox.put(invocation)
        if self.process is not None and self.process.poll() is not None:
            self._watch_exit()  # it died before it could take the event: report that now
        began = time.monotonic()
        while not (invocation.taken.is_set() or invocation.done.is_set()):
            if time.monotonic() - began > INIT_TIMEOUT_SECONDS:
                failed = LambdaError(
                    "Runtime.InitTimeout", f"the environment did not start in {INIT_TIMEOUT_SECONDS:.0f} s"
                )
                if invocation.finish(error=failed):
                    log.error("%s: %s; stopping it (pid %s)", self.label, failed.message, self.pid)
                    self.stop()
                return
            invocation.taken.wait(0.05)
        remaining = invocation.deadline_ms / 1000 - time.time()
        if not invocation.done.wait(max(0.0, remaining)):
            seconds = self.spec.timeout
            timed_out = LambdaError(
                "Sandbox.Timedout",
                f"RequestId: {invocation.request_id} Error: Task timed out after {seconds:.2f} seconds",
            )
            if invocation.finish(error=timed_out):
                invocation.timed_out = True
                log.error(
                    "%s: %s; stopping the environment (pid %s)", self.label, timed_out.message, self.pid
                )
                self.stop()

    def stop(self, grace: float = 0.0) -> None:
        """Kill the process and close the Runtime API (the process has nothing to finish)."""
        self.stopping = True
        self._inbox.put(None)
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM if grace else signal.SIGKILL)
            try:
                process.wait(timeout=grace or 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._api.shutdown()
        self._api.server_close()


# ---------------------------------------------------------------------------- logs
class FunctionLogs:
    """Where the functions' own output goes: a file and, with `echo`, the console too; raw lines
    (Powertools' JSON, EMF metrics), as CloudWatch Logs would keep them."""

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
    """Every environment of one function: started on demand, reused warm, stopped when idle."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        logs: FunctionLogs,
        *,
        function: FunctionSpec,
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.env_spec = spec
        self.spec = function  # the template's description (handler, Timeout ...)
        self.spec_id = spec.function_id
        self.name = spec.name
        self.arn = spec.arn
        self.logs = logs
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

    def _acquire(self) -> tuple[Environment, bool]:
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
                    env = Environment(self.env_spec, self._numbers, self.logs)
                    self._all.add(env)
                    break
                self._condition.wait()
        try:
            env.start()
        except BaseException:
            with self._condition:
                self._all.discard(env)
                self._condition.notify()
            raise
        return env, True

    def _release(self, env: Environment) -> None:
        with self._condition:
            env.last_used = time.monotonic()
            if env.alive and not self._stopped:
                self._idle.append(env)
            else:
                self._all.discard(env)
            self._condition.notify()

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
            trace_id=f"{trace_id};Parent={secrets.token_hex(8)};Sampled=0" if trace_id else _trace_id(),
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
            log.info(
                "%s: cold start, pid %s: init %.0f ms, first response %.0f ms after process start",
                env.label,
                env.pid,
                env.init_ms or 0,
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
        runtime_dir = runtime_packages(self.settings.cache)
        self.functions: dict[str, FunctionPool] = {}
        for function_id, spec in template.functions().items():
            env_spec = self.environment_spec(spec, runtime_dir, extra_variables or {})
            self.functions[function_id] = FunctionPool(
                env_spec,
                self.logs,
                function=spec,
                max_environments=self.settings.max_environments,
                idle_seconds=self.settings.idle_seconds,
            )
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
        self._reaper.start()

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

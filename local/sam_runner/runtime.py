"""The in-process runtime: the template's handlers imported into this process and called directly.

The local stack does not use it to serve requests any more (`sam_runner.lambda_runtime` runs every
function in execution environments of AWS's Runtime Interface Emulator). It stays for what needs a
handler's module in this process: the OpenAPI document (`shop openapi`, `/openapi.json`), the
benchmarks' in-process baseline (`SHOP_LOCAL_RUNTIME=in-process`), and `lambda_context()` for unit
tests that call a handler directly. How it behaves:

- Each function's module is imported once (its CodeUri folder and the shared layer are on sys.path
  through the editable install, as Lambda puts them on the path).
- The functions' environment comes from the template. One process hosts every function, so their
  variables are merged into `os.environ` once, at start; two functions that disagree on a
  variable would see the wrong value, so that is refused loudly (`EnvironmentConflict`).
- One invocation at a time per function: a warm container serves one request at a time, and
  Powertools' resolver keeps the current event on the app object (not thread-safe).
- A realistic `LambdaContext` (name, memory, ARN, request id, remaining time from the Timeout);
  `lambda_context(function_id)` makes one for tests and benchmarks that call a handler directly.
- An invocation that outlives the function's Timeout is reported as timed out, as Lambda would
  report it (the thread cannot be killed, so it finishes first).

Metrics stay on: Powertools prints its EMF lines on stdout next to the functions' JSON logs, as
CloudWatch Logs would receive them. `POWERTOOLS_METRICS_DISABLED` is not set on purpose: it would
hide metric mistakes, and Powertools then never clears its metric set between invocations.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only `lambda_context` needs it: the cold-start benchmark's child
    # imports this module and must not pay for reading the template (YAML) on its clock
    from sam_runner.template import FunctionSpec, Template

log = logging.getLogger("shop_local.runtime")


class EnvironmentConflict(RuntimeError):
    """Two functions need different values for one environment variable."""


class FunctionUnavailable(RuntimeError):
    """The function's module could not be imported."""


@dataclass
class LambdaContext:
    """What the Python runtime passes as `context` (awslambdaric's attributes and their types)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str  # a string in the real runtime too (it comes from an env variable)
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))

    @classmethod
    def start(
        cls, function_name: str, function_arn: str, memory_size: int, timeout: int, request_id: str = ""
    ) -> LambdaContext:
        """The context of one invocation starting now: its deadline is `timeout` seconds away."""
        return cls(
            function_name=function_name,
            function_version="$LATEST",
            invoked_function_arn=function_arn,
            memory_limit_in_mb=str(memory_size),
            aws_request_id=request_id or str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function_name}",
            log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex,
            deadline_ms=int(time.time() * 1000) + timeout * 1000,
        )


@dataclass
class Invocation:
    function_id: str
    request_id: str
    response: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    duration_ms: float = 0.0
    cold: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    def describe_error(self) -> str:
        if self.timed_out:
            return "Task timed out"
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"


def merged_environment(functions: dict[str, FunctionSpec]) -> dict[str, str]:
    """All functions' variables in one dict; refuses two functions that disagree on a variable."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    conflicts = []
    for function_id, spec in functions.items():
        for name, value in spec.environment.items():
            if name in merged and merged[name] != value:
                conflicts.append(f"{name}: {owner[name]}={merged[name]!r} but {function_id}={value!r}")
            else:
                merged.setdefault(name, value)
                owner.setdefault(name, function_id)
    if conflicts:
        raise EnvironmentConflict(
            "the local stack runs every function in one process, so functions must agree on their "
            "environment variables: " + "; ".join(conflicts)
        )
    return merged


class FunctionRuntime:
    """One function of the template: its module, its lock, its context."""

    def __init__(self, spec: FunctionSpec, template: Template) -> None:
        self.spec = spec
        self.name = f"{template.stack_name}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{template.region}:{template.account_id}:function:{self.name}"
        self._lock = threading.Lock()
        self._handler: Callable[[Any, Any], Any] | None = None
        self._load_error: BaseException | None = None
        self._loaded = False
        self._load_lock = threading.Lock()

    @property
    def available(self) -> bool:
        self.load()
        return self._handler is not None

    def load(self) -> None:
        """Import the module once (the cold start); remembers an import error and reports it."""
        with self._load_lock:
            if self._loaded:
                return
            self._loaded = True
            try:
                module = importlib.import_module(self.spec.module)
                self._handler = getattr(module, self.spec.attribute)
            except ModuleNotFoundError as exc:
                self._load_error = exc
                if exc.name == self.spec.module:
                    log.warning("%s: module %s does not exist yet", self.spec.logical_id, self.spec.module)
                else:
                    log.error(
                        "%s: cannot import %s:\n%s",
                        self.spec.logical_id,
                        self.spec.module,
                        traceback.format_exc(),
                    )
            except Exception as exc:
                self._load_error = exc
                log.error(
                    "%s: cannot import %s:\n%s",
                    self.spec.logical_id,
                    self.spec.module,
                    traceback.format_exc(),
                )

    def module(self) -> Any:
        self.load()
        if self._handler is None:
            raise FunctionUnavailable(f"{self.spec.logical_id}: {self._load_error}")
        return importlib.import_module(self.spec.module)

    def context(self, request_id: str = "") -> LambdaContext:
        return LambdaContext.start(self.name, self.arn, self.spec.memory_size, self.spec.timeout, request_id)

    def invoke(
        self,
        event: Any,
        *,
        what: str = "",
        expected: Callable[[BaseException], bool] | None = None,
        quiet: bool = False,
        trace_id: str | None = None,
    ) -> Invocation:
        """Call the handler with `event`; never raises (the error is in the result, as Lambda reports it).

        `expected` tells errors that are part of the contract (an authorizer's "Unauthorized"),
        which are logged in one line instead of with their traceback."""
        request_id = str(uuid.uuid4())
        result = Invocation(self.spec.logical_id, request_id)
        self.load()
        if self._handler is None:
            result.error = FunctionUnavailable(f"{self.spec.logical_id}: {self._load_error}")
            log.error("invoke %s %s: not available (%s)", self.spec.logical_id, what, self._load_error)
            return result
        with self._lock:
            started = time.perf_counter()
            try:
                result.response = self._handler(event, self.context(request_id))
            except Exception as exc:
                result.error = exc
                if expected is not None and expected(exc):
                    log.info("invoke %s %s: %s", self.spec.logical_id, what, result.describe_error())
                else:
                    log.error(
                        "invoke %s %s: %s\n%s",
                        self.spec.logical_id,
                        what,
                        result.describe_error(),
                        traceback.format_exc(),
                    )
            result.duration_ms = (time.perf_counter() - started) * 1000
        if result.duration_ms > self.spec.timeout * 1000:
            result.timed_out = True
            log.error(
                "invoke %s %s: Task timed out after %.2f seconds (Timeout %ss)",
                self.spec.logical_id,
                what,
                result.duration_ms / 1000,
                self.spec.timeout,
            )
        status = "ok" if result.ok else "error"
        log.info("invoke %s %s -> %s %.0f ms", self.spec.logical_id, what, status, result.duration_ms)
        return result


class Runtime:
    """Every function of the template, with the merged environment applied to this process."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.specs = template.functions()
        self.environment = merged_environment(self.specs)
        self.functions = {fid: FunctionRuntime(spec, template) for fid, spec in self.specs.items()}

    def apply_environment(self, extra: dict[str, str] | None = None) -> None:
        os.environ.update(self.environment)
        os.environ.update(extra or {})

    def load_all(self) -> None:
        for function in self.functions.values():
            function.load()

    def __getitem__(self, function_id: str) -> FunctionRuntime:
        return self.functions[function_id]

    def __contains__(self, function_id: object) -> bool:
        return function_id in self.functions


@lru_cache(maxsize=1)
def _default_template() -> Template:
    from sam_runner.template import Template

    return Template()


def lambda_context(function_id: str, template: Template | None = None) -> LambdaContext:
    """A fresh context for one invocation of the template's function `function_id` (its name,
    memory and Timeout), for tests and benchmarks that call a handler directly."""
    template = template or _default_template()
    return FunctionRuntime(template.functions()[function_id], template).context()

"""What every benchmark shares: the machine description, statistics, free ports, the embedded AWS
(moto's server in its own process, provisioned from template.yaml), the product API stand-in, and
the Redis database the benchmarks may empty.

The services run in processes of their own so that their CPU time does not land on the process
being measured (the GIL would otherwise mix the two).
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SHARED_LAYER = ROOT / "layers" / "shared"
# The benchmarks empty this Redis database before and after they run, never another one.
BENCH_REDIS_DB = int(os.environ.get("SHOP_BENCH_REDIS_DB", "15"))
REDIS_BASE = os.environ.get("SHOP_BENCH_REDIS", "redis://127.0.0.1:6379")
REGION = "us-east-1"


def redis_url() -> str:
    return f"{REDIS_BASE}/{BENCH_REDIS_DB}"


def flush_bench_redis() -> None:
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        client.ping()
    except redis.ConnectionError as exc:
        raise SystemExit(f"Redis is not answering at {REDIS_BASE}: start it first ({exc})") from exc
    client.flushdb()
    client.close()


# ---------------------------------------------------------------------------- results
@dataclass
class Section:
    """One benchmark's outcome: markdown for RESULTS.md and the targets it missed."""

    title: str
    lines: list[str] = field(default_factory=list)
    shortfalls: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def markdown(self) -> str:
        return "\n".join([f"## {self.title}", "", *self.lines, ""])


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a latency that happened)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------- machine
def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, whatever the status
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {last}")


@contextmanager
def background(
    args: list[str], url: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[None]:
    """Run a server process until the block ends; its output goes to `log` (or nowhere)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(url, proc=proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def base_env() -> dict[str, str]:
    """The environment of a child process: ours without anything that points at real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cold starts are timed with compiled bytecode
    return env


@dataclass
class Services:
    """The embedded stack of a benchmark: moto's server, the product stand-in, Redis."""

    aws_endpoint: str
    product_api_url: str
    standin_url: str
    function_env: dict[str, str]  # the union of the functions' environments, from the template
    template: Any

    def env(self, function_env: dict[str, str] | None = None, **overrides: str) -> dict[str, str]:
        """A child's environment: a function's own (default: every function's), pointed at the
        embedded services, then `overrides`."""
        env = base_env()
        env.update(self.function_env if function_env is None else function_env)
        env.update(
            AWS_ENDPOINT_URL=self.aws_endpoint,
            REDIS_URL=redis_url(),
            PRODUCT_API_URL=self.product_api_url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_DEV="false",
        )
        env.update(overrides)
        return env


@contextmanager
def services(log_dir: Path | None = None) -> Iterator[Services]:
    """moto's server and the product stand-in, each in its own process, and the template's
    resources created in moto (the way the local stack does it)."""
    import boto3

    from sam_runner.builder import build

    flush_bench_redis()
    moto_port, standin_port = free_port(), free_port()
    aws_endpoint = f"http://127.0.0.1:{moto_port}"
    standin_url = f"http://127.0.0.1:{standin_port}"
    env = base_env()
    moto_log = log_dir / "moto.log" if log_dir else None
    standin_log = log_dir / "standin.log" if log_dir else None
    moto_args = [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
    standin_args = [PYTHON, "-m", "shop_local.standin", "--port", str(standin_port)]
    with (
        background(moto_args, f"{aws_endpoint}/moto-api/", env, moto_log),
        background(standin_args, f"{standin_url}/_standin/stats", env, standin_log),
    ):
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        built = build(endpoint_url=aws_endpoint, session=session)
        template = built.template
        function_env = built.function_environment()
        try:
            yield Services(aws_endpoint, f"{standin_url}/api", standin_url, function_env, template)
        finally:
            flush_bench_redis()


def function_pythonpath(code_uri: Path) -> str:
    """What Lambda puts on sys.path: the function's code, then the layer."""
    return os.pathsep.join([str(code_uri), str(SHARED_LAYER)])


def run_child(target: str, env: dict[str, str], work: Path, timeout: float = 900, **kwargs: Any) -> Any:
    """Run `target` (`bench.module.function`) in a fresh interpreter with `env`, passing `kwargs`
    as JSON, and return what it returned. Its stdout (the functions' logs) goes to a log file."""
    import json

    name = target.removeprefix("bench.").replace(".", "-")
    out = work / f"{name}.json"
    log = work / f"{name}.log"
    with log.open("ab") as handle:
        proc = subprocess.run(
            [PYTHON, "-m", "bench.child", target, str(out), json.dumps(kwargs)],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{target} failed (exit {proc.returncode}); end of {log}:\n{tail}")
    return json.loads(out.read_text())


COLUMNS_NOTE = (
    "AWS columns count API calls (one `before-call` each); *AWS attempts* counts HTTP attempts, "
    "retries included; *Redis* counts round trips (a pipeline or MGET of many keys is one); "
    "*upstream HTTP* counts requests to the product API."
)

"""The real SAM CLI (`sam local invoke`, `sam local start-api`) in containers, against `shop backing`:
the `make samlocal` tier (docs/sam-local.md). Nothing here stands in for SAM CLI or the engine.

One session: the container engine (Docker's when `DOCKER_HOST` answers, else podman's service,
started here), the Lambda image (`make lambda-image`, cached), `shop backing` with the sample data
and an admin, and `sam build` (shop_local.sam_local, as `shop sam-local` runs them). When any of it
cannot be had the tier fails with the reason: there is no skip.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from shop_local import sam_local

ADMIN_PASSWORD = "samlocal-admin-Pa55"
# SAM CLI's start, its image build and the function take seconds; minutes on a loaded machine
INVOKE_TIMEOUT = 600


@dataclass
class Invoked:
    """One `sam local invoke`: its exit status, the answer it printed (None: none), its log."""

    code: int
    answer: Any
    log: str
    seconds: float


@dataclass
class SamLocal:
    engine: sam_local.Engine
    backing: sam_local.Backing
    env_vars: Path
    api_port: int

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def emails(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.backing.url}/_dev/emails", timeout=10).json())

    def invoke(self, function_id: str, event: Path) -> Invoked:
        """`sam local invoke FUNCTION -e EVENT`, as a user runs it."""
        started = time.monotonic()
        try:
            done = subprocess.run(
                sam_local.invoke_args(self.engine, self.env_vars, function_id, event),
                capture_output=True,
                text=True,
                env=sam_local.sam_env(self.engine),
                cwd=sam_local.ROOT,
                timeout=INVOKE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            log = (
                exc.stderr.decode(errors="replace")
                if isinstance(exc.stderr, bytes)
                else str(exc.stderr or "")
            )
            return Invoked(
                -1, None, f"{log}\nno answer within {INVOKE_TIMEOUT} s", time.monotonic() - started
            )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        try:
            answer = json.loads(lines[-1]) if lines else None
        except ValueError:  # not an answer: the failure is in the log
            answer = None
        return Invoked(done.returncode, answer, f"{done.stderr}\n{done.stdout}", time.monotonic() - started)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fail_on(exc: Exception) -> None:
    pytest.fail(f"sam local cannot run here: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def sam(stack_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamLocal]:
    folder = tmp_path_factory.mktemp("samlocal")
    api_port = _free_port()
    saved = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "PRODUCT_API_URL", "PORT"):
        os.environ.pop(name, None)
    os.environ.update({"REDIS_URL": stack_redis_url, "SHOP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    engine: sam_local.Engine | None = None
    backing: sam_local.Backing | None = None
    try:
        try:
            engine = sam_local.start_engine(folder / "podman.sock")
            sam_local.ensure_image(engine)
            backing = sam_local.start_backing(
                folder / "sam-env-vars.json", port=0, api_url=f"http://127.0.0.1:{api_port}"
            )
            sam_local.sam_build()
        except sam_local.SamLocalError as exc:
            _fail_on(exc)
        assert engine is not None and backing is not None
        yield SamLocal(engine, backing, backing.env_vars, api_port)
    finally:
        if backing is not None:
            backing.stop()
        if engine is not None:
            engine.stop()
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class StartApi:
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def start_api(sam: SamLocal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApi]:
    """`sam local start-api` on a free port, as `shop sam-local` starts it."""
    log = tmp_path_factory.mktemp("start-api") / "sam.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            sam_local.start_api_args(sam.engine, sam.env_vars, sam.api_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=sam_local.sam_env(sam.engine),
            cwd=sam_local.ROOT,
        )
    running = StartApi(process, log, sam.api)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if f"Running on {sam.api}" in running.log_text():
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"sam local start-api did not start:\n{running.log_text()[-3000:]}", pytrace=False)
        yield running
    finally:
        process.send_signal(2)  # SIGINT, as Ctrl-C: SAM stops its warm containers
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()

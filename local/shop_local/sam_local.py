# ruff: noqa: S603, S607 - this module runs fixed commands: podman, apt-get, sam, our own scripts
"""`shop sam-local` (`make sam-local`): SAM CLI's own `sam local start-api`, in containers, against
`shop backing`, brought up by one command (docs/sam-local.md).

1. A container engine with the Docker Engine API: the one `DOCKER_HOST` (or /var/run/docker.sock)
   names when it answers, else podman's (`podman system service`, installed from Debian where
   missing, with local/podman/containers.conf). SAM CLI talks to it through `DOCKER_HOST`.
2. The Lambda image: with Docker and a registry SAM CLI pulls AWS's; on podman (no registry here)
   the stand-in built by local/lambda-image/build.sh (`make lambda-image`), under the name SAM CLI
   builds from, so `--skip-pull-image` uses it.
3. `shop backing` on every interface (the containers reach this machine through the engine's
   bridge, not its loopback), its env-vars file naming this machine `host.docker.internal`, which
   `--add-host` maps to the bridge's gateway (podman) or Docker's `host-gateway`.
4. `sam build`, then `sam local start-api` / `sam local invoke` with those settings.

The pieces are functions the tests (tests/samlocal) use too.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_runner.template import ROOT

log = logging.getLogger("shop_local.sam_local")

CACHE = ROOT / ".cache" / "sam-local"
CONTAINERS_CONF = ROOT / "local" / "podman" / "containers.conf"
IMAGE_RECIPE = ROOT / "local" / "lambda-image" / "build.sh"
# SAM CLI builds a python3.11 x86_64 function's image FROM this name (samcli/local/docker/lambda_image.py)
LAMBDA_IMAGE = "public.ecr.aws/lambda/python:3.11-x86_64"
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
PUBLIC_HOST = "host.docker.internal"
BACKING_READY = re.compile(r"Backing services ready .*mailbox: (http://[^\s]+)/_dev/emails\)")
SAM = Path(sys.executable).parent / "sam"


class SamLocalError(RuntimeError):
    """Something `sam local` needs could not be had; the message says what and why."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- the container engine
@dataclass
class Engine:
    docker_host: str
    kind: str  # "docker" or "podman"
    host_address: str  # what `--add-host host.docker.internal:...` maps the host name to
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _client(docker_host: str) -> Any:
    import docker

    return docker.DockerClient(base_url=docker_host, timeout=30)


def _answers(docker_host: str) -> dict[str, Any] | None:
    """The engine's version document, or None when nothing answers at `docker_host`."""
    try:
        client = _client(docker_host)
        try:
            return dict(client.version())
        finally:
            client.close()
    except Exception:  # any failure means: no engine there
        return None


def _kind(version: dict[str, Any]) -> str:
    names = " ".join(str(component.get("Name", "")) for component in version.get("Components") or [])
    return "podman" if "podman" in names.lower() else "docker"


def _podman_gateway(docker_host: str) -> str:
    """The gateway of podman's default network: this machine, as its containers reach it."""
    client = _client(docker_host)
    try:
        network = client.networks.get("podman")
        for config in network.attrs.get("IPAM", {}).get("Config") or []:
            if config.get("Gateway"):
                return str(config["Gateway"])
    finally:
        client.close()
    raise SamLocalError("podman's default network has no gateway address")


def install_missing(commands: Sequence[str] = ("podman", "runc", "debootstrap")) -> None:
    """Debian's podman, runc and debootstrap (the Lambda image's rootfs) where missing, as the
    Makefile installs Chromium."""
    missing = [name for name in commands if not (shutil.which(name) or Path(f"/usr/sbin/{name}").exists())]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log.info("installing Debian's %s", " ".join(missing))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SamLocalError(f"could not install {' '.join(missing)} with apt-get: {exc}") from exc


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def start_engine(socket: Path | None = None, timeout: float = 60.0) -> Engine:
    """The engine `DOCKER_HOST` or /var/run/docker.sock names if it answers, else podman's service
    on `socket` (started here, stopped by `Engine.stop`)."""
    for candidate in (os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock"):
        if candidate and (version := _answers(candidate)) is not None:
            kind = _kind(version)
            address = _podman_gateway(candidate) if kind == "podman" else "host-gateway"
            log.info("container engine: %s at %s", kind, candidate)
            return Engine(candidate, kind, address)

    install_missing()
    socket = socket or CACHE / "podman.sock"
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    docker_host = f"unix://{socket}"
    service_log = socket.parent / "podman-service.log"
    with service_log.open("wb") as out:
        process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", docker_host],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=podman_env(),
            start_new_session=True,  # a Ctrl-C meant for sam does not stop the engine under it
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if socket.exists() and _answers(docker_host) is not None:
            log.info("container engine: podman system service at %s", docker_host)
            return Engine(docker_host, "podman", _podman_gateway(docker_host), process)
        time.sleep(0.2)
    Engine(docker_host, "podman", "", process).stop()
    raise SamLocalError(
        f"the container engine could not start (`podman system service {docker_host}`):\n{_tail(service_log)}"
    )


def ensure_image(engine: Engine) -> None:
    """On podman, the stand-in Lambda image (cached: rebuilt only when its recipe changes). With
    Docker, SAM CLI pulls AWS's own image itself."""
    if engine.kind != "podman":
        return
    result = subprocess.run([str(IMAGE_RECIPE)], cwd=ROOT, env=podman_env(), check=False)
    if result.returncode != 0:
        raise SamLocalError(f"the Lambda image could not be built ({IMAGE_RECIPE}, exit {result.returncode})")


# ---------------------------------------------------------------- backing services, build, sam local
@dataclass
class Backing:
    process: subprocess.Popen[bytes]
    log_path: Path
    env_vars: Path
    url: str = ""  # the mailbox, /_dev routes and the storefront, on this machine

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_backing(
    env_vars: Path, port: int = 3100, api_url: str = "http://127.0.0.1:3000", timeout: float = 120.0
) -> Backing:
    """`shop backing` on every interface, its file naming this machine `host.docker.internal`."""
    env_vars.parent.mkdir(parents=True, exist_ok=True)
    log_path = env_vars.with_name("backing.log")
    args = [sys.executable, "-m", "shop_local.cli", "backing", "--host", "0.0.0.0"]  # noqa: S104
    args += ["--port", str(port), "--public-host", PUBLIC_HOST, "--env-vars", str(env_vars)]
    args += ["--api-url", api_url]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    backing = Backing(process, log_path, env_vars)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = BACKING_READY.search(log_path.read_text(errors="replace"))
        if match:
            backing.url = match.group(1)
            return backing
        if process.poll() is not None:
            break
        time.sleep(0.2)
    backing.stop()
    raise SamLocalError(f"shop backing did not start:\n{_tail(log_path)}")


def sam_build() -> None:
    """`sam build` as `make template` runs it (no container: the local Python is the runtime's)."""
    args = [str(SAM), "build", "--template", str(ROOT / "template.yaml"), "--build-dir", str(BUILD_DIR)]
    result = subprocess.run([*args, "--cached", "--parallel"], cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SamLocalError(f"sam build failed (exit {result.returncode})")


def sam_local_options(engine: Engine, env_vars: Path) -> list[str]:
    """What every `sam local` command here gets: the built template, the env-vars file, the host
    name of this machine inside the containers, and the locally built image (podman)."""
    options = ["--template", str(BUILT_TEMPLATE), "--env-vars", str(env_vars)]
    options += ["--add-host", f"{PUBLIC_HOST}:{engine.host_address}"]
    if engine.kind == "podman":
        options.append("--skip-pull-image")  # nothing to pull from: the image was built here
    return options


# How long SAM waits for a started container's emulator to accept connections (its default, 20 s,
# is short for a loaded machine; samcli/local/docker/container.py reads this variable)
CONTAINER_CONNECTION_TIMEOUT = "60"


def sam_env(engine: Engine) -> dict[str, str]:
    env = {**os.environ, "DOCKER_HOST": engine.docker_host, "SAM_CLI_TELEMETRY": "0", **engine.env}
    env.setdefault("SAM_CLI_CONTAINER_CONNECTION_TIMEOUT", CONTAINER_CONNECTION_TIMEOUT)
    return env


def start_api_args(engine: Engine, env_vars: Path, port: int = 3000, warm: str = "LAZY") -> list[str]:
    # LAZY: a function's container is created on its first request and reused (SAM's default
    # starts a new container for every request)
    options = sam_local_options(engine, env_vars)
    return [str(SAM), "local", "start-api", *options, "--port", str(port), "--warm-containers", warm]


def invoke_args(engine: Engine, env_vars: Path, function: str, event: Path) -> list[str]:
    options = sam_local_options(engine, env_vars)
    return [str(SAM), "local", "invoke", function, "--event", str(event), *options]


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(port: int = 3000, backing_port: int = 3100) -> int:
    """`shop sam-local`: everything above, then `sam local start-api` in the foreground."""
    env_vars = CACHE / "sam-env-vars.json"
    engine = start_engine()
    backing: Backing | None = None
    try:
        ensure_image(engine)
        backing = start_backing(env_vars, port=backing_port, api_url=f"http://127.0.0.1:{port}")
        sam_build()
        print(
            f"sam local start-api on http://127.0.0.1:{port} ({engine.kind} at {engine.docker_host}); "
            f"storefront and mailbox: {backing.url}/ and {backing.url}/_dev/emails",
            flush=True,
        )
        api = subprocess.Popen(start_api_args(engine, env_vars, port), cwd=ROOT, env=sam_env(engine))
        # a SIGTERM (a supervisor, `kill`) stops everything as Ctrl-C does, instead of leaving SAM,
        # its containers, the backing services and the engine running
        signal.signal(signal.SIGTERM, _interrupted)
        try:
            return api.wait()
        except KeyboardInterrupt:
            api.send_signal(signal.SIGINT)  # SAM stops its warm containers
            try:
                return api.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a SIGINT ignored (started in the background)
                api.terminate()
                return api.wait()
    finally:
        if backing is not None:
            backing.stop()
        engine.stop()

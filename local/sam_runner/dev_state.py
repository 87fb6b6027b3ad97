"""Dev data that survives a restart of `make run`: the embedded emulator's DynamoDB tables (users,
orders, sessions ...) and SES's sent messages (the mailbox), saved to `.cache/dev-state/` by the
emulator's own process (moto's backends are in its memory) at a clean stop and every
`SAVE_EVERY_SECONDS` when something was asked of it, and restored when it starts.

- What is kept: moto's `dynamodb` and `ses` backends, pickled as they are. Queues, topics and
  subscriptions are re-created from the template at every start anyway; messages in flight are
  not kept. Redis keeps its own data (login-failure counters, the product cache): its business.
- A state file written by another moto or another format of this module is set aside
  (`<name>.incompatible-<time>`) with a message saying so, and the stack starts empty: never a crash.
- Test stacks (`shop_local.testing.ShopStack`) pass no state file: they always start empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle  # our own file, written by this module in .cache/, read back by it
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sam_runner.template import ROOT

log = logging.getLogger("shop_local.dev_state")

DEFAULT_STATE_FILE = ROOT / ".cache" / "dev-state" / "moto-state.pickle"
FORMAT = 1  # raise when what is saved changes shape
SAVE_EVERY_SECONDS = 30.0
SERVICES = ("dynamodb", "ses")


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def _backends(service: str) -> Any:
    if service == "dynamodb":
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends
    from moto.ses.models import ses_backends

    return ses_backends


def snapshot(account_id: str) -> bytes:
    """The kept backends of `account_id`, pickled (call it with no request in flight)."""
    state = {
        "format": FORMAT,
        "moto": _moto_version(),
        "backends": {service: dict(_backends(service)[account_id]) for service in SERVICES},
    }
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def write(path: Path, data: bytes) -> None:
    """Write the state atomically (a half-written file would be set aside at the next start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(data)
    os.replace(staging, path)


def set_aside(path: Path, why: str) -> Path:
    aside = path.with_name(f"{path.name}.incompatible-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, aside)
    log.warning(
        "dev state %s cannot be used (%s): moved to %s; starting with empty tables and mailbox",
        path,
        why,
        aside.name,
    )
    return aside


def restore(path: Path, account_id: str) -> bool:
    """Put the saved backends back into moto; False (and an empty start) if there is no usable file."""
    if not path.is_file():
        return False
    try:
        state = pickle.loads(path.read_bytes())  # noqa: S301 - see the import
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(
                f"format {state.get('format') if isinstance(state, dict) else '?'}, not {FORMAT}"
            )
        if state.get("moto") != _moto_version():
            raise ValueError(f"saved by moto {state.get('moto')}, this is moto {_moto_version()}")
        backends = state["backends"]
        for service in SERVICES:
            for region, backend in backends[service].items():
                _backends(service)[account_id][region] = backend
    except Exception as exc:  # anything unreadable: set aside, never a crash
        set_aside(path, f"{type(exc).__name__}: {exc}")
        return False
    log.info("dev state restored from %s (make run FRESH=1 starts empty)", path)
    return True


def discard(path: Path) -> None:
    """`--fresh`: start empty; the old file is kept once as `<name>.previous`."""
    if path.is_file():
        os.replace(path, path.with_name(f"{path.name}.previous"))
        log.info("--fresh: the dev state was moved to %s.previous; starting empty", path.name)


class StateKeeper:
    """In the emulator's process: saves at intervals while requests come in, and at `stop()`.
    `lock` is the emulator's request lock (moto's backends change only under it)."""

    def __init__(
        self,
        path: Path,
        account_id: str,
        lock: Any,
        requests: Callable[[], int],
        every: float = SAVE_EVERY_SECONDS,
    ) -> None:
        self.path = path
        self.account_id = account_id
        self.lock = lock
        self.requests = requests  # how many requests the emulator took: saved when it moved
        self.every = every
        self._saved_at = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dev-state", daemon=True)

    def start(self) -> StateKeeper:
        restore(self.path, self.account_id)
        self._thread.start()
        return self

    def save(self) -> None:
        seen = self.requests()
        if seen == self._saved_at:
            return
        with self.lock:
            data = snapshot(self.account_id)
        write(self.path, data)
        self._saved_at = seen

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):
                self.save()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.save()
            log.info("dev state saved to %s", self.path)
        except Exception:
            log.exception("saving the dev state to %s failed", self.path)

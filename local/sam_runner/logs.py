"""The local processes' log format (the stack, the CLI and the emulator's own process)."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # the runner's modules still log as "shop_local.*" (the names operators and tests filter on)
    for name in ("shop_local", "sam_runner"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

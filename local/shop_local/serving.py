"""Every local HTTP server (the gateway, the embedded AWS, the product stand-in, the mailbox): a WSGI
app on waitress, in a daemon thread.

waitress keeps HTTP/1.1 connections open between requests, as API Gateway and AWS's endpoints
do; werkzeug's development server closes every one ("Connection: close", its serving.py: it cannot
drain a request body before the next request line). Under load that cost a TCP connection, a
thread and the client's connection set-up per request: each function environment's boto3 client,
the pollers and every HTTP client of the gateway reconnected for every call (the server's own CPU
per request was about twice waitress's, measured with a keep-alive client on this machine).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

# How often a server's loop wakes up when nothing happens (stop() also wakes it at once).
LOOP_SECONDS = 0.5

# waitress logs a warning whenever requests wait for a free thread ("Task queue depth"): under a
# load test that is expected, and the gateway's own request lines say how long requests took.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class WsgiServer:
    """`app` on `host`:`port` (0: any free port), bound at once and answering from `serve()`:
    until then connections wait in the port's backlog.

    `threads` bounds the requests handled at once (more wait, in order): a request holds its
    thread until it is answered, e.g. while the gateway waits for a function or while an SQS
    long poll waits inside the emulator. Idle keep-alive connections hold none."""

    def __init__(
        self,
        name: str,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 32,
        serve: bool = True,
    ) -> None:
        self.name = name
        self._map: dict[int, Any] = {}
        self.server: BaseWSGIServer = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            ident=f"shop-local {name}",
            connection_limit=1000,
            # A client gone for good is noticed by its closed socket; 10 minutes only bounds
            # connections left open by clients that died without closing them.
            channel_timeout=600,
            expose_tracebacks=False,
        )
        self.port: int = int(self.server.effective_port)
        self.url = f"http://{host}:{self.port}"
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        if serve:
            self.serve()

    def serve(self) -> None:
        """Start answering."""
        self.thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wasyncore.loop(timeout=LOOP_SECONDS, map=self._map, use_poll=True, count=1)
        # Closed on this thread, the one that polls them.
        for channel in list(self._map.values()):
            channel.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, close every connection, let the threads go (a request still running
        is abandoned: its thread is a daemon)."""
        self._stopping.set()
        if self.thread.is_alive():
            self.server.pull_trigger()  # wakes the loop now
            self.thread.join(timeout=timeout)
        else:
            for channel in list(self._map.values()):
                channel.close()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=0.2)

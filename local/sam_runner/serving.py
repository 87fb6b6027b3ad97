"""Every local HTTP server (the gateway, the embedded AWS, the product stand-in, the mailbox): a WSGI
app on waitress (PyPI `waitress`), HTTP/1.1 with keep-alive.

Why waitress: werkzeug's development server closes every connection ("Connection: close"), so
every boto3 call of every function environment paid a new TCP connection and a new thread; of
the maintained keep-alive servers, waitress used less server CPU a request than cheroot here
(bench/RESULTS.md, "Local HTTP server"). Why this module: the stack binds a port first and
answers later (`serve=False`: requests wait in the backlog until the gateway is ready), and stops
its servers without waiting for requests still in flight.
"""

from __future__ import annotations

import contextlib
import io
import threading
from typing import Any

import waitress
from waitress import wasyncore

# How often each function environment's Runtime API server (sam_runner.lambda_runtime) checks for
# stop(): http.server's default, 0.5 s, is how long every stop of one waited, and a stack stops many.
STOP_POLL_SECONDS = 0.05
# A connection left open by a client that went away without closing it ends after this long.
IDLE_SECONDS = 600.0
# Requests answered at once. SQS long polls hold one each for their wait inside moto, and the
# gateway holds one per request a function environment is working on: waitress's default, 4,
# would queue everything behind four long polls.
THREADS = 32
# waitress stops accepting past 100 open connections; each function environment keeps one or two
# open to the emulator.
CONNECTION_LIMIT = 1000


def read_body(environ: dict[str, Any]) -> bytes:
    """A WSGI request's body, put back (a new stream) for the next reader of `environ`: middleware
    that looks at the body (the fault middleware) before the app reads it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _answered_whole(app: Any) -> Any:
    """`app` with its answer joined into one chunk: waitress gives a one-chunk answer its
    Content-Length and keeps the connection open; any other answer it sends chunked and then
    closes the connection (its task.py), so the next boto3 call would pay a new one. The stack's
    apps answer small JSON documents, read whole anyway."""

    def whole(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers, exc_info]
            return lambda data: None  # the legacy write(): not used by the stack's apps

        answer = app(environ, start)
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        status, headers, exc_info = started
        if environ.get("REQUEST_METHOD") == "HEAD":
            # waitress sends whatever the app returns, also to a HEAD: the client would read those
            # bytes as the start of its next answer on the connection (RFC 9110 9.3.2: no body)
            if not any(name.lower() == "content-length" for name, _ in headers):
                headers = [*headers, ("Content-Length", str(len(body)))]
            body = b""
        start_response(status, headers, exc_info)
        return [body]

    return whole


class WsgiServer:
    """`app` on `host`:`port` (0: any free port), bound at once and answering from `serve()`:
    until then connections wait in the port's backlog."""

    def __init__(
        self,
        name: str,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        serve: bool = True,
        threads: int = THREADS,
    ) -> None:
        self.name = name
        self._sockets: dict[int, Any] = {}  # waitress's socket map: the listener and its connections
        self.server: Any = waitress.create_server(
            _answered_whole(app),
            map=self._sockets,
            host=host,
            port=port,
            threads=threads,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=IDLE_SECONDS,
            ident=name,
        )
        self.port: int = int(self.server.effective_port)
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        if serve:
            self.serve()

    def serve(self) -> None:
        """Start answering."""
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket and every open connection, then stop the worker threads (a
        request still being answered, such as an SQS long poll, is abandoned: its thread is a
        daemon and ends when the app returns)."""
        if self.thread.is_alive():
            # closed from waitress's I/O loop (woken by its trigger), which then ends: its map is
            # empty; from here the loop would sleep out its select() first
            self.server.trigger.pull_trigger(self._close_sockets)
            self.thread.join(timeout=timeout)
        self._close_sockets()  # not served yet, or the loop did not answer in time
        self.server.task_dispatcher.shutdown(timeout=min(timeout, 0.5))

    def _close_sockets(self) -> None:
        with contextlib.suppress(OSError):
            wasyncore.close_all(self._sockets)

"""Every local HTTP server (the gateway, the embedded AWS, the product stand-in, the mailbox): a WSGI
app on a thread-per-connection HTTP/1.1 server that keeps connections open between requests.

Why not werkzeug's development server: it closes every connection ("Connection: close", its
serving.py: it cannot drain a request body before the next request line), so every boto3 call
of every function environment, every poll and every gateway request paid a new TCP connection and
a new server thread. Why not waitress: its one I/O loop walks every open connection at each
wake-up, and the emulator keeps one or two per function environment open: under the benchmark's
load that loop took over a quarter of the emulator's CPU. Here a connection's thread blocks in
`recv` between requests and costs nothing; the request and its body are read whole (the apps are
small JSON APIs), the answer goes out with its Content-Length in one write.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("shop_local.serving")

# How often an accept loop checks for stop() (here and in each function environment's Runtime API):
# http.server's default, 0.5 s, is how long every stop of one waited, and a stack stops many.
STOP_POLL_SECONDS = 0.05
# A connection left open by a client that went away without closing it ends after this long.
IDLE_SECONDS = 600.0
NO_BODY_STATUSES = (204, 304)
HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


def read_body(environ: dict[str, Any]) -> bytes:
    """A WSGI request's body, put back (a new stream) for the next reader of `environ`: middleware
    that looks at the body (faults, the emulator's fast path) before the app reads it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class _Handler(BaseHTTPRequestHandler):
    """One connection: requests in turn, each handed to the server's WSGI app."""

    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the answer is one write; no delayed-ACK wait either way
    timeout = IDLE_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the gateway logs its own request lines

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("%s: " + format, self.server.name, *args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method goes to the app
            return self._run_app
        raise AttributeError(name)

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),  # PEP 3333: the path's bytes as latin-1
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _run_app(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # No client of the local stack sends one; say so rather than misread the stream (and
            # close: the unread chunks are not a next request).
            self.close_connection = True
            self._send(
                411,
                "Length Required",
                [("Content-Type", "application/json")],
                b'{"message": "Content-Length required"}',
            )
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(self._environ(body), start_response)
            try:
                for chunk in result:
                    written.append(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            status, headers = started
        except Exception:
            log.exception("%s: the app failed on %s %s", self.server.name, self.command, self.path)
            status, headers = "500 Internal Server Error", [("Content-Type", "application/json")]
            written[:] = [b'{"message": "Internal server error"}']
            self.close_connection = True
        code_text, _, reason = status.partition(" ")
        self._send(int(code_text), reason, headers, b"".join(written))

    def _send(self, code: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        lines = [f"{self.protocol_version} {code} {reason}"]
        declared = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                declared = value
            if lowered not in HOP_BY_HOP:
                lines.append(f"{name}: {value}")
        if self.command == "HEAD" or code in NO_BODY_STATUSES or code < 200:
            if declared is not None and code not in NO_BODY_STATUSES:
                lines.append(f"Content-Length: {declared}")
            payload = b""
        else:
            lines.append(f"Content-Length: {len(payload)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + payload)  # headers and body: one write


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, name: str, app: Any, address: tuple[str, int]) -> None:
        self.name = name
        self.app = app
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self.connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a client hung up
            log.exception("%s: error on a connection from %s", self.name, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)  # its thread's recv returns: the thread ends


class WsgiServer:
    """`app` on `host`:`port` (0: any free port), bound at once and answering from `serve()`:
    until then connections wait in the port's backlog."""

    def __init__(
        self, name: str, app: Any, host: str = "127.0.0.1", port: int = 0, *, serve: bool = True
    ) -> None:
        self.name = name
        self.server = _Server(name, app, (host, port))
        self.port: int = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(STOP_POLL_SECONDS,), name=name, daemon=True
        )
        if serve:
            self.serve()

    def serve(self) -> None:
        """Start answering."""
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close the listening socket and every open connection (a request still
        being answered is abandoned: its thread is a daemon)."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=timeout)
        self.server.server_close()
        self.server.close_connections()

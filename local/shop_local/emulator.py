"""The embedded AWS: moto's server app, in this process, behind the fault-injection middleware.

Requests reach moto one at a time (`Serialised`): the functions now run in processes of their own
and call the emulator concurrently, and moto's backends are not safe under concurrent callers
(two DynamoDB transactions on one table interleave and both commit). Real AWS is concurrent, so
this costs only emulator throughput, never behaviour. SQS long polls are the exception: they wait
inside moto, and holding the lock through that wait would stall every other caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from shop_local.faults import AwsFaultMiddleware, FaultBook


class Serialised:
    """WSGI middleware: one request at a time through `app` (its response read inside the lock)."""

    LONG_POLLS = ("AmazonSQS.ReceiveMessage",)

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") in self.LONG_POLLS:
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def _faster_sqs() -> None:
    """Two shortcuts in moto's SQS for the embedded emulator, with the same results.

    moto reads the clock through datetime arithmetic for every message it looks at (visible?
    delayed?), and it builds every queue attribute (counting the queue's messages, O(backlog)) to
    read one: once per message sent and, for the retention check, once per message received. With
    a few hundred messages queued (the e-mail benchmark queues 1,000) each SQS call took tens of
    milliseconds, all of it under the emulator's lock."""
    from moto.core import utils
    from moto.sqs import models

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    backend = models.SQSBackend
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def _dispatcher() -> Any:
    """moto's dispatcher, remembering the list of its service modules: moto lists its package
    folder (a directory listing and a stat per entry) on every request to find the service."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = frozenset(backends.list_of_moto_modules())

    class Dispatcher(DomainDispatcherApplication):
        def get_backend_for_host(self, host: str | None) -> Any:
            if host is not None and (host == "moto_api" or host in modules):
                return host
            return super().get_backend_for_host(host)

    return Dispatcher


class EmbeddedMoto:
    """moto's WSGI app served by werkzeug's threaded server on a loopback port."""

    def __init__(self, book: FaultBook, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app

        _faster_sqs()
        app = AwsFaultMiddleware(Serialised(_dispatcher()(create_backend_app)), book)
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port: int = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> EmbeddedMoto:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @staticmethod
    def forget_shard_iterator(account_id: str, region: str) -> Any:
        """A function that drops a used DynamoDB stream iterator from moto's memory."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        def forget(iterator: str) -> None:
            dynamodbstreams_backends[account_id][region].shard_iterators.pop(iterator, None)

        return forget

    @staticmethod
    def ses_messages(account_id: str, region: str) -> list[Any]:
        """Every message moto's SES accepted (SendEmail, SendRawEmail, SES v2), oldest first."""
        from moto.ses.models import ses_backends

        return list(ses_backends[account_id][region].sent_messages)

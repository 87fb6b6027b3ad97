"""The embedded AWS: moto's server app, in this process, behind the fault-injection middleware."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from shop_local.faults import AwsFaultMiddleware, FaultBook


class EmbeddedMoto:
    """moto's WSGI app served by werkzeug's threaded server on a loopback port."""

    def __init__(self, book: FaultBook, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        app = AwsFaultMiddleware(DomainDispatcherApplication(create_backend_app), book)
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

"""The mailbox of an outside emulator (`AWS_ENDPOINT_URL`) read over HTTP, against a server that
answers as a moto server does: no LocalStack `/_aws/ses`, and a `/moto-api/data.json` dump that
fails now and then (moto walks every tracked model while the functions change them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sam_runner.mail import RemoteMailbox

RAW = (
    "From: shop@example.com\r\nTo: ada@example.com\r\nSubject: Your order ORD-2026-000001\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nThank you.\r\n"
)


class MotoLike:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.dumps = 0

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        if request.path != "/moto-api/data.json":
            return Response("<Error><Code>NoSuchBucket</Code></Error>", status=404)(environ, start_response)
        self.dumps += 1
        if self.dumps <= self.failures:
            return Response("RuntimeError: dictionary changed size during iteration", status=500)(
                environ, start_response
            )
        body = {
            "ses": {
                "RawMessage": [
                    {
                        "id": "m1",
                        "raw_data": RAW,
                        "destinations": ["ada@example.com"],
                        "source": "shop@example.com",
                    }
                ]
            }
        }
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(app: MotoLike) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def test_a_dump_that_fails_once_is_read_again(serve) -> None:  # type: ignore[no-untyped-def]
    app = MotoLike(failures=1)
    (mail,) = RemoteMailbox(serve(app)).emails()
    assert mail["to"] == ["ada@example.com"]
    assert mail["subject"] == "Your order ORD-2026-000001"
    assert app.dumps == 2


def test_a_dump_that_keeps_failing_is_an_error(serve) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="500"):
        RemoteMailbox(serve(MotoLike(failures=100))).emails()

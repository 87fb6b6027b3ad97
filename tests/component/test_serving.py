"""The local HTTP server every part of the stack uses (`sam_runner.serving.WsgiServer`, waitress):
what the stack relies on, over real sockets."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sam_runner.serving import WsgiServer


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the app failed at /fail")
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/ignore-body":  # answers without reading the request body
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ignored"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) or -1)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", path)])
    return [environ["REQUEST_METHOD"].encode(), b" ", body, b" ", environ["QUERY_STRING"].encode()]


@pytest.fixture
def server() -> Iterator[WsgiServer]:
    served = WsgiServer("test", app)
    try:
        yield served
    finally:
        served.stop()


def connect(server: WsgiServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)


def test_one_connection_serves_requests_in_turn(server: WsgiServer) -> None:
    connection = connect(server)
    answers, sockets = [], set()
    for n in range(3):
        connection.request("POST", f"/echo%20{n}?n={n}", body=f"body {n}".encode())
        response = connection.getresponse()
        answers.append((response.status, response.getheader("X-Path"), response.read()))
        assert response.getheader("Connection") != "close"  # kept open
        sockets.add(id(connection.sock))
    assert answers == [(200, f"/echo {n}", f"POST body {n} n={n}".encode()) for n in range(3)]
    assert len(sockets) == 1  # one TCP connection for the three


def test_a_body_the_app_did_not_read_does_not_reach_the_next_request(server: WsgiServer) -> None:
    connection = connect(server)
    connection.request("POST", "/ignore-body", body=b"GET /not-a-request HTTP/1.1\r\n\r\n")
    assert connection.getresponse().read() == b"ignored"
    connection.request("GET", "/next")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"GET  ")


def test_head_and_204_answers_have_no_body(server: WsgiServer) -> None:
    connection = connect(server)
    connection.request("HEAD", "/echo")
    head = connection.getresponse()
    assert (head.status, head.read()) == (200, b"")
    connection.request("GET", "/empty")
    empty = connection.getresponse()
    assert (empty.status, empty.read()) == (204, b"")
    connection.request("GET", "/echo")  # the connection is still in step
    assert connection.getresponse().read() == b"GET  "


def test_an_app_that_fails_answers_500_without_its_traceback_and_the_server_goes_on(
    server: WsgiServer,
) -> None:
    connection = connect(server)
    connection.request("GET", "/fail")
    response = connection.getresponse()
    assert response.status == 500
    assert b"the app failed" not in response.read()
    again = connect(server)
    again.request("GET", "/echo")
    assert again.getresponse().read() == b"GET  "


def test_a_chunked_request_body_reaches_the_app_whole(server: WsgiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        response = http.client.HTTPResponse(raw)
        response.begin()
        assert (response.status, response.read()) == (200, b"POST abcde ")


def test_a_port_bound_before_serve_answers_once_served() -> None:
    """The stack binds the API's port first and serves it once the gateway is ready: a request
    sent in between waits in the backlog and is answered, not refused."""
    served = WsgiServer("test", app, serve=False)
    try:
        connection = connect(served)
        connection.connect()  # accepted by the kernel's backlog
        served.serve()
        connection.request("GET", "/echo")
        assert connection.getresponse().read() == b"GET  "
    finally:
        served.stop()


def test_stop_closes_the_connections_left_open_at_once() -> None:
    served = WsgiServer("test", app)
    connection = connect(served)
    connection.request("GET", "/echo")
    assert connection.getresponse().read() == b"GET  "
    served.stop()
    assert not served.thread.is_alive()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.request("GET", "/echo")
        connection.getresponse()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=1)

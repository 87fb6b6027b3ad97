"""The unit tier keeps its promise: nothing here can reach a service."""

from __future__ import annotations

import socket

import pytest
import redis
from pytest_socket import SocketBlockedError


def test_no_socket_can_be_opened() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)


def test_redis_cannot_be_reached() -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.2)
    with pytest.raises((SocketBlockedError, redis.ConnectionError)):
        client.ping()


@pytest.mark.parametrize("fixture", ["redis_url", "aws", "product_api", "stack"])
def test_the_service_fixtures_are_refused(fixture: str, request: pytest.FixtureRequest) -> None:
    """A unit test that asks for a service is told where it belongs instead of quietly connecting."""
    with pytest.raises(pytest.fail.Exception, match="tests/component"):
        request.getfixturevalue(fixture)

"""The unit tier: no service at all, so these tests run anywhere in seconds.

Every test here runs with sockets blocked (pytest-socket: no TCP, no UDP, no Unix sockets), and the
fixtures of tests/conftest.py that need a service (Redis, moto, the product API stand-in, the local
stack) fail at once: a test that needs one belongs in tests/component or tests/integration.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    """pytest-socket's `socket_disabled`: creating any socket raises SocketBlockedError."""


def _needs_a_service(request: pytest.FixtureRequest) -> None:
    pytest.fail(f"`{request.fixturename}` needs a service: move {request.node.nodeid} to tests/component")


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> None:
    _needs_a_service(request)


@pytest.fixture
def aws(request: pytest.FixtureRequest) -> None:
    _needs_a_service(request)


@pytest.fixture
def product_api(request: pytest.FixtureRequest) -> None:
    _needs_a_service(request)


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> None:
    _needs_a_service(request)

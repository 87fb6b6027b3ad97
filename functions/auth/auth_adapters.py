"""The auth function's adapters (`auth_ports`), one set per container, shared by the API handler's
modules and the authorizer. Kept apart from the services so that the authorizer can use it without
importing them (cold start), and imports nothing until first used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auth_ports import AuthAdapters

_adapters: AuthAdapters | None = None


def adapters() -> AuthAdapters:
    """The DynamoDB adapters, built on first use and kept for the container's life (they hold no
    connection: the clients are cached in `shop_shared.aws`). Unit tests set `_adapters` to fakes."""
    global _adapters  # noqa: PLW0603
    if _adapters is None:
        from auth_dynamodb import DynamoSessions, DynamoUsers
        from auth_ports import AuthAdapters

        _adapters = AuthAdapters(users=DynamoUsers(), sessions=DynamoSessions())
    return _adapters

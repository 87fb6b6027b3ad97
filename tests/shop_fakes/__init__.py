"""In-memory fakes of the ports (`functions/orders/orders_ports.py`, `functions/notifications`'s
`Mailer`, ...) for the unit tests: they behave like the real adapters (conditions, retry safety,
ordering), they are not steered by flags. `tests/component/test_*_contract.py` runs the same tests
against each fake and its real adapter, so that the two cannot drift.

Importable as `shop_fakes` because `tests/` is on sys.path (pytest inserts the directory of the
root `tests/conftest.py`, which has no `__init__.py`)."""

from shop_fakes.auth import InMemorySessions, InMemoryUsers, UsersTable, fake_adapters

__all__ = ["InMemorySessions", "InMemoryUsers", "UsersTable", "fake_adapters"]

"""Integration tests: real HTTP against the whole local stack (`stack`, from tests/conftest.py).

- `stack`: the session's `shop_local.testing.ShopStack` (one subprocess for the whole run).
- `user`: a fresh customer, registered and logged in over HTTP:
  `{"user": {...}, "token": "...", "headers": {"Authorization": "Bearer ..."}, "username",
  "password", "email"}`. Call `stack.new_user()` for more.
- `no_faults`: clears injected faults after the test (use it in tests that inject faults).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shop_local.testing import ShopStack


@pytest.fixture
def user(stack: ShopStack) -> dict[str, Any]:
    return stack.new_user()


@pytest.fixture
def no_faults(stack: ShopStack) -> Iterator[ShopStack]:
    stack.clear_faults()
    yield stack
    stack.clear_faults()

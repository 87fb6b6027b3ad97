"""What DynamoDB does to the values it stores, for the fakes of every port on a table."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any


def stored(value: Any) -> Any:
    """What DynamoDB gives back for `value`: every number a Decimal (10.00 -> Decimal('10.00'),
    compared by value), lists, maps and sets copied (the caller's objects are not the stored ones)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stored(item) for item in value]
    if isinstance(value, AbstractSet):
        return {stored(item) for item in value}
    return copy.deepcopy(value)

"""JSON in and out. Money is Decimal inside the system and a JSON number with two places outside."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel

TWO_PLACES = Decimal("0.01")


def money(value: Decimal | int | float | str) -> Decimal:
    """Exact money: a Decimal rounded half-up to cents (floats go through str to stay exact)."""
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        # A two-place Decimal's float has a shortest repr equal to its digits (59.98 -> "59.98"),
        # so clients get a plain JSON number that is still exact.
        exponent = obj.as_tuple().exponent
        # Integral Decimals with no places (DynamoDB numbers such as quantities) stay integers.
        return int(obj) if isinstance(exponent, int) and exponent >= 0 else float(obj)
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="python")
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False)

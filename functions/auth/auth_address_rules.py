"""The default-address rule, with no AWS: which address is the default after a change.

- The first address is the default, whatever the request says.
- An address added or updated with `is_default: true` becomes the default (the old one is unset).
- The default stays the default until another address takes its place (`is_default: false` on
  the default itself changes nothing: an account with addresses always has a default).
- Deleting the default promotes the newest remaining address (by `created_at`); deleting the last
  address leaves no default.

The profile's `default_address_id` is the single source of truth; `auth_service` and
`auth_profiles` write what this returns, conditionally on the pointer they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Added:
    address_id: str
    wants_default: bool = False


@dataclass(frozen=True)
class Updated:
    address_id: str
    wants_default: bool = False


@dataclass(frozen=True)
class Deleted:
    address_id: str


AddressChange = Added | Updated | Deleted


def next_default(
    current: str | None, addresses: Iterable[Mapping[str, Any]], change: AddressChange
) -> str | None:
    """The default address id after `change`. `current` is the default before it; `addresses` are
    the address book before it (`id` and `created_at` are read; only needed for a deletion)."""
    if isinstance(change, Added):
        return change.address_id if change.wants_default or not current else current
    if isinstance(change, Updated):
        return change.address_id if change.wants_default else current
    if change.address_id != current:
        return current
    remaining = [address for address in addresses if str(address["id"]) != change.address_id]
    if not remaining:
        return None
    return str(max(remaining, key=lambda address: str(address.get("created_at", "")))["id"])

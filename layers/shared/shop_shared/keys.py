"""DynamoDB key layout of the users and orders tables (one place, so every service agrees).

Users table (`pk`, `sk`):
  USER#{user_id}        PROFILE             the user (with password hash, role, is_active)
  USER#{user_id}        ADDRESS#{addr_id}   an address of that user
  USER#{user_id}        SESSION#{sid}       a login session: hashed refresh token, TTL `expires_at`
  TOKEN#{sha256}        RESET | VERIFY      a password-reset or e-mail verification token (hashed), TTL
  USERNAME#{lowercase}  GUARD               uniqueness guard, holds user_id
  EMAIL#{lowercase}     GUARD               uniqueness guard, holds user_id
  The guards also carry `search_pk` = SEARCH and `search_sk` = the lowercased username or e-mail:
  GSI `UserSearch` (search_pk, search_sk) serves the admin's prefix search with one Query.

Orders table (`pk`, `sk`):
  ORDER#{order_id}      ORDER               the order with its items; GSI `ByUser` on (user_id, created_at),
                                            GSI `ByStatus` on (status_shard, order_seq): the staff queue
                                            (keys built by functions/orders/orders_rules.py)
  COUNTER#ORDER#{year}  COUNTER             the year's order-number counter (UpdateItem ADD)
"""

from __future__ import annotations

PROFILE = "PROFILE"
GUARD = "GUARD"
ORDER_SK = "ORDER"
COUNTER_SK = "COUNTER"
ORDERS_BY_USER_INDEX = "ByUser"
ORDERS_BY_STATUS_INDEX = "ByStatus"
USER_SEARCH_INDEX = "UserSearch"
SEARCH_PARTITION = "SEARCH"


def user_key(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": PROFILE}


def address_key(user_id: str, address_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"ADDRESS#{address_id}"}


def session_key(user_id: str, session_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"SESSION#{session_id}"}


def one_time_token_key(token_hash: str, purpose: str) -> dict[str, str]:
    """A single-use token's item, by the SHA-256 of the token; `purpose`: RESET or VERIFY."""
    return {"pk": f"TOKEN#{token_hash}", "sk": purpose}


def username_guard_key(username: str) -> dict[str, str]:
    return {"pk": f"USERNAME#{username.lower()}", "sk": GUARD}


def email_guard_key(email: str) -> dict[str, str]:
    return {"pk": f"EMAIL#{email.lower()}", "sk": GUARD}


def search_attributes(value: str) -> dict[str, str]:
    """What puts a guard item in the `UserSearch` index, sorted by its lowercased value."""
    return {"search_pk": SEARCH_PARTITION, "search_sk": value.lower()}


def order_key(order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{order_id}", "sk": ORDER_SK}


def order_counter_key(year: int) -> dict[str, str]:
    return {"pk": f"COUNTER#ORDER#{year}", "sk": COUNTER_SK}

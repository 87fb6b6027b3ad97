"""The local stack's admin user (`SHOP_ADMIN_PASSWORD`): local-only, never deployed.

`ensure_admin` runs in the local stack's own process with the auth function's code (its folder
and the layer are on the project's path) and the auth function's variables; the deployed system
has no such step (an operator promotes a user).
"""

from __future__ import annotations

import auth_service
from shop_shared import keys
from shop_shared.errors import Conflict
from shop_shared.models import RegisterRequest
from shop_shared.passwords import hash_password


def ensure_admin(username: str, password: str, email: str) -> None:
    """Make sure an admin `username` exists with this password: create it, or reset the password
    and role of the existing user (idempotent; the local stack calls it with SHOP_ADMIN_PASSWORD)."""
    request = RegisterRequest(
        username=username, email=email, first_name="Admin", last_name="User", password=password
    )
    for _ in range(2):
        user_id = auth_service._user_id_for(username)
        if user_id is not None:
            auth_service._table().update_item(
                Key=keys.user_key(user_id),
                UpdateExpression="SET password_hash = :hash, #role = :admin, is_active = :true",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#role": "role"},
                ExpressionAttributeValues={
                    ":hash": hash_password(request.password),
                    ":admin": "admin",
                    ":true": True,
                },
            )
            return
        try:
            auth_service.register(request, role="admin")
            return
        except Conflict as exc:
            if exc.code != "username_taken":  # the e-mail belongs to someone else
                raise
            # created concurrently: update it on the next round
    raise RuntimeError(f"could not create or update the admin user {username!r}")

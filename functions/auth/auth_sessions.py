"""Login sessions: refresh tokens, rotation with reuse detection, logout and revocation.

A session is an item in the user's partition (`USER#{id}` / `SESSION#{sid}`, `shop_shared.keys`):
the SHA-256 of its current refresh token, the hashes it rotated away from (`used_hashes`), the
user's token version when it was created, and `expires_at` (epoch seconds, the table's TTL
attribute: DynamoDB deletes it some time after; every read checks the time itself).

A refresh token is `{user_id}.{sid}.{secret}`: the ids find the item with one GetItem, the secret
(256 random bits) is stored hashed only. Presenting the current one rotates it; presenting one
from `used_hashes` means two parties hold the session's tokens (one of them stole it), so the
whole session ends (RFC 9700 §4.14.2, refresh token rotation).

Revocation of access tokens is in the profile, read by the authorizer's one GetItem
(`shop_shared.tokens.revocation`): `token_version` (bumped by a password change or reset, a
deactivation: every older token and session dies) and `ended_sessions` (the sessions logged out
while their access tokens may still be alive).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shop_shared import aws, keys
from shop_shared.config import get_settings
from shop_shared.errors import Unauthorized
from shop_shared.models import TokenResponse
from shop_shared.tokens import digest, issue_token, jwt_secret, new_secret

INVALID_REFRESH = "Invalid or expired refresh token"


@dataclass(frozen=True)
class RefreshToken:
    user_id: str
    session_id: str
    secret: str

    def __str__(self) -> str:
        return f"{self.user_id}.{self.session_id}.{self.secret}"

    @classmethod
    def parse(cls, text: str) -> RefreshToken:
        parts = text.strip().split(".")
        if len(parts) != 3 or not all(parts):
            raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
        return cls(*parts)


def _table() -> Any:
    return aws.table(get_settings().users_table)


def _now() -> int:
    return int(time.time())


def _access_token(profile: dict[str, Any], session_id: str) -> tuple[str, int]:
    settings = get_settings()
    token, claims = issue_token(
        user_id=str(profile["id"]),
        username=str(profile["username"]),
        email=str(profile["email"]),
        role=str(profile.get("role", "customer")),
        secret=jwt_secret(),
        ttl_seconds=settings.jwt_ttl_seconds,
        sid=session_id,
        ver=int(profile.get("token_version", 0)),
    )
    return token, claims.exp - claims.iat


def start(profile: dict[str, Any]) -> TokenResponse:
    """A new session for this (authenticated) user: its first refresh token and an access token."""
    session_id = uuid.uuid4().hex
    token = RefreshToken(str(profile["id"]), session_id, new_secret())
    item = {
        **keys.session_key(token.user_id, session_id),
        "session_id": session_id,
        "user_id": token.user_id,
        "refresh_hash": digest(token.secret),
        "token_version": int(profile.get("token_version", 0)),
        "created_at": _now(),
        "expires_at": _now() + get_settings().refresh_ttl_seconds,
    }
    # Unconditional: the key is fresh and random, so a retried put only writes the same item again.
    _table().put_item(Item=item)
    access, expires_in = _access_token(profile, session_id)
    return TokenResponse(access_token=access, refresh_token=str(token), expires_in=expires_in)


def refresh(text: str, profile_of: Any) -> TokenResponse:
    """Rotate a session's refresh token. `profile_of(user_id)` reads the user as stored now."""
    token = RefreshToken.parse(text)
    session = (
        _table()
        .get_item(Key=keys.session_key(token.user_id, token.session_id), ConsistentRead=True)
        .get("Item")
    )
    if session is None or int(session["expires_at"]) <= _now():
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    presented = digest(token.secret)
    if presented != session["refresh_hash"]:
        if presented in set(session.get("used_hashes") or ()):
            end(token.user_id, token.session_id)  # a used token again: stolen, end the session
            raise Unauthorized(
                "Refresh token was already used; the session has ended", code="refresh_token_reused"
            )
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")

    profile = profile_of(token.user_id)
    if (
        profile is None
        or profile.get("is_active") is not True
        or int(profile.get("token_version", 0)) != int(session.get("token_version", 0))
    ):
        end(token.user_id, token.session_id)  # revoked since (password change, deactivation)
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")

    following = RefreshToken(token.user_id, token.session_id, new_secret())
    following_hash = digest(following.secret)
    try:
        _table().update_item(
            Key=keys.session_key(token.user_id, token.session_id),
            UpdateExpression="SET refresh_hash = :next ADD used_hashes :used",
            ConditionExpression="refresh_hash = :presented AND expires_at > :now",
            ExpressionAttributeValues={
                ":next": following_hash,
                ":presented": presented,
                ":used": {presented},
                ":now": _now(),
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        response: dict[str, Any] = dict(exc.response)
        stored = (response.get("Item") or {}).get("refresh_hash", {}).get("S")
        if stored != following_hash:  # not our own retried write: a concurrent use of one token
            end(token.user_id, token.session_id)
            raise Unauthorized(
                "Refresh token was already used; the session has ended", code="refresh_token_reused"
            ) from None
    access, expires_in = _access_token(profile, token.session_id)
    return TokenResponse(access_token=access, refresh_token=str(following), expires_in=expires_in)


def logout(user_id: str, text: str) -> None:
    """End the caller's session that this refresh token belongs to (its access tokens too)."""
    token = RefreshToken.parse(text)
    if token.user_id != user_id:
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    key = keys.session_key(token.user_id, token.session_id)
    session = _table().get_item(Key=key, ConsistentRead=True).get("Item")
    presented = digest(token.secret)
    if session is None or (
        presented != session["refresh_hash"] and presented not in set(session.get("used_hashes") or ())
    ):
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    end(token.user_id, token.session_id)


def end(user_id: str, session_id: str) -> None:
    """End one session: its refresh token stops working, and so do its access tokens (listed in the
    profile's `ended_sessions` until the last of them has expired). Idempotent."""
    table = _table()
    table.delete_item(Key=keys.session_key(user_id, session_id))
    now = _now()
    until = now + get_settings().jwt_ttl_seconds
    profile = table.update_item(
        Key=keys.user_key(user_id),
        UpdateExpression="ADD ended_sessions :ended",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":ended": {f"{session_id}:{until}"}},
        ReturnValues="ALL_NEW",
    ).get("Attributes", {})
    # Forget the entries whose access tokens have all expired (a separate update: one expression
    # may not ADD and DELETE the same attribute). Losing this race only leaves a stale entry.
    stale = {
        entry for entry in profile.get("ended_sessions") or () if int(str(entry).rsplit(":", 1)[1]) <= now
    }
    if stale:
        table.update_item(
            Key=keys.user_key(user_id),
            UpdateExpression="DELETE ended_sessions :stale",
            ExpressionAttributeValues={":stale": stale},
        )


def end_all(user_id: str) -> None:
    """Delete every session of the user. Callers bump the token version first, which already
    refuses them all (`refresh` compares it); this removes them at once instead of at their TTL."""
    table = _table()
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :session)",
        "ExpressionAttributeValues": {":pk": f"USER#{user_id}", ":session": "SESSION#"},
        "ProjectionExpression": "pk, sk",
    }
    with table.batch_writer() as batch:
        while True:
            page = table.query(**arguments)
            for item in page.get("Items", []):
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

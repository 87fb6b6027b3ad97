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

from auth_adapters import adapters
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
        "session_id": session_id,
        "user_id": token.user_id,
        "refresh_hash": digest(token.secret),
        "token_version": int(profile.get("token_version", 0)),
        "created_at": _now(),
        "expires_at": _now() + get_settings().refresh_ttl_seconds,
    }
    adapters().sessions.start(item)
    access, expires_in = _access_token(profile, session_id)
    return TokenResponse(access_token=access, refresh_token=str(token), expires_in=expires_in)


def refresh(text: str, profile_of: Any) -> TokenResponse:
    """Rotate a session's refresh token. `profile_of(user_id)` reads the user as stored now."""
    token = RefreshToken.parse(text)
    sessions = adapters().sessions
    session = sessions.get(token.user_id, token.session_id)
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
    rotated = sessions.rotate(
        token.user_id, token.session_id, presented=presented, following=digest(following.secret), now=_now()
    )
    if not rotated:  # a concurrent use of one token (our own retried write counts as rotated)
        end(token.user_id, token.session_id)
        raise Unauthorized(
            "Refresh token was already used; the session has ended", code="refresh_token_reused"
        )
    access, expires_in = _access_token(profile, token.session_id)
    return TokenResponse(access_token=access, refresh_token=str(following), expires_in=expires_in)


def logout(user_id: str, text: str) -> None:
    """End the caller's session that this refresh token belongs to (its access tokens too)."""
    token = RefreshToken.parse(text)
    if token.user_id != user_id:
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    session = adapters().sessions.get(token.user_id, token.session_id)
    presented = digest(token.secret)
    if session is None or (
        presented != session["refresh_hash"] and presented not in set(session.get("used_hashes") or ())
    ):
        raise Unauthorized(INVALID_REFRESH, code="invalid_refresh_token")
    end(token.user_id, token.session_id)


def end(user_id: str, session_id: str) -> None:
    """End one session: its refresh token stops working, and so do its access tokens (listed in the
    profile's `ended_sessions` until the last of them has expired). Idempotent."""
    now = _now()
    until = now + get_settings().jwt_ttl_seconds
    sessions = adapters().sessions
    ended = sessions.end(user_id, session_id, ended=f"{session_id}:{until}")
    # Forget the entries whose access tokens have all expired. Losing this race only leaves a
    # stale entry.
    stale = {entry for entry in ended if int(entry.rsplit(":", 1)[1]) <= now}
    if stale:
        sessions.forget_ended(user_id, stale)


def end_all(user_id: str) -> None:
    """Delete every session of the user. Callers bump the token version first, which already
    refuses them all (`refresh` compares it); this removes them at once instead of at their TTL."""
    adapters().sessions.end_all(user_id)

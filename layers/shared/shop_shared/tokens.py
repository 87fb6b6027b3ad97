"""JWT access tokens (HS256), signed with a secret from Secrets Manager (never a literal in code)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import jwt

from shop_shared.config import get_settings
from shop_shared.errors import Unauthorized

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "user_id", "username", "email", "role"]
ROLES = ("customer", "admin")
SECRET_CACHE_SECONDS = 300


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    username: str
    email: str
    role: str
    iat: int
    exp: int
    jti: str = ""
    sid: str = ""  # the session the token was issued for (empty: issued before sessions existed)
    ver: int = 0  # the user's token version when issued: bumping it revokes every older token

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def issue_token(
    *,
    user_id: str,
    username: str,
    email: str,
    role: str,
    secret: str,
    ttl_seconds: int,
    now: int | None = None,
    sid: str = "",
    ver: int = 0,
) -> tuple[str, TokenClaims]:
    issued_at = int(time.time()) if now is None else now
    claims = TokenClaims(
        user_id=user_id,
        username=username,
        email=email,
        role=role,
        iat=issued_at,
        exp=issued_at + ttl_seconds,
        jti=uuid.uuid4().hex,
        sid=sid,
        ver=ver,
    )
    return jwt.encode(claims.as_dict(), secret, algorithm=ALGORITHM), claims


def decode_token(token: str, secret: str) -> TokenClaims:
    """Verify signature, algorithm (HS256 only, so `alg: none` is refused), expiry and claims."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token", code="invalid_token") from exc
    if payload.get("role") not in ROLES:
        raise Unauthorized("Invalid token", code="invalid_token")
    try:
        return TokenClaims(
            user_id=str(payload["user_id"]),
            username=str(payload["username"]),
            email=str(payload["email"]),
            role=str(payload["role"]),
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
            jti=str(payload.get("jti", "")),
            sid=str(payload.get("sid", "")),
            ver=int(payload.get("ver", 0)),
        )
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Invalid token", code="invalid_token") from exc


def revocation(claims: TokenClaims, profile: Mapping[str, Any] | None) -> str | None:
    """Why a validly signed token is refused, given its user's profile as stored now (the fields
    of REVOCATION_FIELDS), or None. Shared by the authorizer and verify-token, so both agree."""
    if profile is None:
        return "unknown_user"
    if profile.get("is_active") is not True:
        return "inactive_user"
    if int(profile.get("token_version", 0)) != claims.ver:
        return "revoked_token"  # a password change or reset, a deactivation, "log out everywhere"
    if claims.sid and claims.sid in ended_sessions(profile):
        return "ended_session"  # logged out
    return None


# What `revocation` reads from the profile (one GetItem's projection).
REVOCATION_FIELDS = ("is_active", "token_version", "ended_sessions")


def ended_sessions(profile: Mapping[str, Any]) -> set[str]:
    """The ids of the sessions logged out while their access tokens may still be alive. Stored as
    a string set of `{sid}:{epoch when its last access token expires}` (see auth_sessions)."""
    return {str(entry).split(":", 1)[0] for entry in profile.get("ended_sessions") or ()}


def new_secret() -> str:
    """An opaque token's secret part: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """How an opaque token is stored: its SHA-256 (the token has 256 bits of entropy, so a fast
    hash is enough; a leaked table gives no usable token)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    if not authorization:
        raise Unauthorized("Missing bearer token", code="missing_token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="invalid_token")
    return token.strip()


def jwt_secret() -> str:
    """The signing secret, fetched from Secrets Manager once per container and refreshed every 5 minutes."""
    from aws_lambda_powertools.utilities import parameters

    arn = get_settings().jwt_secret_arn
    if not arn:
        raise RuntimeError("JWT_SECRET_ARN is not set")
    secret = parameters.get_secret(arn, max_age=SECRET_CACHE_SECONDS)
    if not isinstance(secret, str) or len(secret) < 32:
        raise RuntimeError("the JWT secret must be a string of at least 32 characters")
    return secret

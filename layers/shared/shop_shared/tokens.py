"""JWT access tokens (HS256), signed with a secret from Secrets Manager (never a literal in code)."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import jwt

from shop_shared import aws
from shop_shared.config import get_settings
from shop_shared.errors import Unauthorized

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

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
        )
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Invalid token", code="invalid_token") from exc


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401."""
    if not authorization:
        raise Unauthorized("Missing bearer token", code="missing_token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="invalid_token")
    return token.strip()


@cache
def _secrets() -> SecretsProvider:
    """Powertools' provider on our Secrets Manager client (short timeouts), not on its default
    client, whose 60 s timeouts outlast the authorizer."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def jwt_secret() -> str:
    """The signing secret, fetched from Secrets Manager once per container and refreshed every 5 minutes."""
    arn = get_settings().jwt_secret_arn
    if not arn:
        raise RuntimeError("JWT_SECRET_ARN is not set")
    secret = _secrets().get(arn, max_age=SECRET_CACHE_SECONDS)
    if not isinstance(secret, str) or len(secret) < 32:
        raise RuntimeError("the JWT secret must be a string of at least 32 characters")
    return secret

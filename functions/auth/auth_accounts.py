"""E-mail verification, password change and password reset.

Single-use tokens (verification, reset) are 256 random bits sent in an e-mail link; only their
SHA-256 is stored, as `TOKEN#{sha256}` / `VERIFY` or `RESET` (`shop_shared.keys`) with the user's
id and `expires_at` (the table's TTL attribute; every read checks the time itself). Using one is a
transaction that deletes it on condition that it still exists, so it works once.

A password change or reset bumps the profile's `token_version`: every access token issued before
is refused (authorizer, verify-token) and every session's refresh token too (`auth_sessions`).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

import auth_emails
import auth_sessions
import login_throttle
from auth_adapters import adapters
from shop_shared.config import get_settings
from shop_shared.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unprocessable
from shop_shared.passwords import hash_password, verify_password, weakness
from shop_shared.tokens import digest, new_secret

logger = Logger(service="auth", child=True)

VERIFY, RESET = "VERIFY", "RESET"
INVALID_TOKEN = "This link is invalid or has expired"  # noqa: S105 - a message
RESEND_LIMIT, RESEND_WINDOW_SECONDS = 3, 3600
# A reset request answers no sooner than this, whether or not the account exists, so the time
# taken (a GetItem for nobody; a PutItem and an SES call for a user) tells nothing.
RESET_ANSWER_FLOOR_SECONDS = 0.6


def _now() -> int:
    return int(time.time())


def _profile(user_id: str, *fields: str) -> dict[str, Any] | None:
    return adapters().users.get_profile(user_id, fields, consistent=True)


def _issue(purpose: str, ttl_seconds: int, **fields: Any) -> str:
    token = new_secret()
    adapters().users.issue_token(purpose, digest(token), fields, expires_at=_now() + ttl_seconds)
    return token


def _find(purpose: str, token: str) -> tuple[str, dict[str, Any]]:
    """The token's hash and item; 400 for an unknown, used or expired token (DynamoDB deletes
    expired items some time after: the time is checked here)."""
    token_hash = digest(token.strip())
    item = adapters().users.find_token(purpose, token_hash)
    if item is None or int(item["expires_at"]) <= _now():
        raise BadRequest(INVALID_TOKEN, code="invalid_token")
    return token_hash, item


def _check_password(password: str, profile: dict[str, Any]) -> None:
    problem = weakness(password, username=str(profile["username"]), email=str(profile["email"]))
    if problem is not None:
        raise Unprocessable(problem, code="weak_password")


# --- e-mail verification -----------------------------------------------------------------------


def send_verification(profile: dict[str, Any]) -> None:
    """A verification link for the profile's current e-mail. A failure to store the link or to send
    it is logged and counted, not raised: the account exists either way (a 500 here left a
    registration that looked failed, issue 26 item 7), and the user can ask for the e-mail again."""
    settings = get_settings()
    try:
        token = _issue(
            VERIFY,
            settings.email_verification_ttl_seconds,
            user_id=str(profile["id"]),
            email=str(profile["email"]),
        )
        auth_emails.send(
            "verify_email",
            to=str(profile["email"]),
            first_name=str(profile.get("first_name", "")),
            token=token,
        )
    except (ClientError, BotoCoreError) as exc:  # DynamoDB or SES refused, or could not be reached
        auth_emails.report_failure("verify_email", exc)


def notify_email_changed(profile: dict[str, Any], new_email: str) -> None:
    """Tell the old address that the account's e-mail changed (the owner learns of a takeover).
    A failure to send is logged and counted, not raised: the change is made."""
    try:
        auth_emails.send(
            "email_changed",
            to=str(profile["email"]),
            first_name=str(profile.get("first_name", "")),
            new_email=new_email,
        )
    except (ClientError, BotoCoreError) as exc:
        auth_emails.report_failure("email_changed", exc)


def verify_email(token: str) -> str:
    """Mark the e-mail the token was sent to as verified; returns the user id. 400 for a bad, used
    or expired token, or one sent to an address the user has since changed."""
    token_hash, item = _find(VERIFY, token)
    user_id = str(item["user_id"])
    if not adapters().users.use_verify_token(token_hash, user_id, email=str(item["email"])):
        profile = _profile(user_id, "email", "email_verified")
        # A retried call whose first attempt went through: the address is verified, say so.
        if not (profile and profile.get("email_verified") is True and profile.get("email") == item["email"]):
            raise BadRequest(INVALID_TOKEN, code="invalid_token")
    return user_id


def resend_verification(user_id: str) -> None:
    profile = _profile(user_id, "id", "email", "first_name", "email_verified")
    if profile is None:
        raise NotFound("User not found", code="user_not_found")
    if profile.get("email_verified") is True:
        raise Conflict("Your e-mail address is already verified", code="email_already_verified")
    _limit_resends(user_id)
    send_verification(profile)


def _limit_resends(user_id: str) -> None:
    """At most RESEND_LIMIT resends per hour per user (one MULTI; Redis down: not limited)."""
    import redis

    from shop_shared.redis_client import get_redis

    key = f"verify_resend:{user_id}"
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, RESEND_WINDOW_SECONDS, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("resend limiter unavailable, not limiting", extra={"error": type(exc).__name__})
        return
    if int(count) > RESEND_LIMIT:
        raise TooManyRequests(
            "Too many verification e-mails, try again later",
            retry_after=int(ttl) if int(ttl) > 0 else RESEND_WINDOW_SECONDS,
            code="too_many_verification_emails",
        )


# --- password change and reset -----------------------------------------------------------------


def check_current_password(profile: dict[str, Any], password: str, *, address: str) -> None:
    """403 `wrong_password` unless `password` is the profile's; limited like login
    (`login_throttle`, per user and client address): a stolen access token must not make the
    password change an unlimited password oracle (issue 26, item 6)."""
    user_id = str(profile["id"])
    retry_after = login_throttle.check(user_id, address, scope=login_throttle.PASSWORD_CHECK)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many wrong passwords, try again later",
            retry_after=retry_after,
            code="too_many_password_attempts",
        )
    if not verify_password(str(profile["password_hash"]), password):
        login_throttle.failed(user_id, scope=login_throttle.PASSWORD_CHECK)
        raise Forbidden("Current password is wrong", code="wrong_password")
    login_throttle.succeeded(user_id, address, scope=login_throttle.PASSWORD_CHECK)


def change_password(
    user_id: str, current_password: str, new_password: str, *, address: str = "unknown"
) -> None:
    profile = _profile(user_id, "id", "username", "email", "password_hash", "token_version")
    if profile is None:
        raise NotFound("User not found", code="user_not_found")
    check_current_password(profile, current_password, address=address)
    _check_password(new_password, profile)
    adapters().users.update_profile(
        user_id, {"password_hash": hash_password(new_password)}, revoke_tokens=True
    )
    auth_sessions.end_all(user_id)


def request_password_reset(email: str, *, send: bool = True) -> None:
    """Send a reset link if an active account has this e-mail and has verified it (and `send`: the
    address's reset e-mails are not spent, `mail_counters`); the same answer and time otherwise.
    Unverified: nobody proved they read that mailbox (it may be an address a stolen token just
    set, issue 26, item 3)."""
    started = time.monotonic()
    try:
        owner = adapters().users.user_id_for_email(email) if send else None
        profile = (
            _profile(owner, "id", "email", "first_name", "is_active", "email_verified", "token_version")
            if owner
            else None
        )
        if profile is not None and profile.get("is_active") is True and profile.get("email_verified") is True:
            settings = get_settings()
            token = _issue(
                RESET,
                settings.password_reset_ttl_seconds,
                user_id=str(profile["id"]),
                token_version=int(profile.get("token_version", 0)),
            )
            auth_emails.send(
                "password_reset",
                to=str(profile["email"]),
                first_name=str(profile.get("first_name", "")),
                token=token,
            )
    except (ClientError, BotoCoreError) as exc:
        # Answered like success too: an error here must not reveal that the account exists.
        auth_emails.report_failure("password_reset", exc)
    time.sleep(max(0.0, RESET_ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))


def confirm_password_reset(token: str, new_password: str) -> None:
    token_hash, item = _find(RESET, token)
    user_id = str(item["user_id"])
    profile = _profile(user_id, "id", "username", "email", "token_version")
    if profile is None:
        raise BadRequest(INVALID_TOKEN, code="invalid_token")
    _check_password(new_password, profile)  # before the token is used: the user may try again
    # The token was issued for this token version: a reset or password change since voids it.
    if not adapters().users.use_reset_token(
        token_hash,
        user_id,
        token_version=int(item.get("token_version", 0)),
        password_hash=hash_password(new_password),
    ):
        raise BadRequest(INVALID_TOKEN, code="invalid_token")
    auth_sessions.end_all(user_id)

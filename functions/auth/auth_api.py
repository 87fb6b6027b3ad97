"""AuthFunction: the auth routes of the contract. Thin: parse (pydantic, through the resolver),
find the caller (the authorizer's context), call `auth_service`, count what matters."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

import auth_accounts
import auth_profiles
import auth_service
import auth_sessions
import mail_counters
from auth_service import AddressList, TokenUser
from shop_shared.api import api_handler, current_caller, make_resolver
from shop_shared.errors import Conflict, Forbidden, TooManyRequests, Unauthorized
from shop_shared.models import (
    Address,
    AddressRequest,
    LoginRequest,
    PasswordChangeRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    User,
    UserPage,
    UserPatch,
    VerifyEmailRequest,
)
from shop_shared.observability import observability

logger, metrics, tracer = observability("auth")
app = make_resolver(logger)

UserId = Annotated[str, Path(min_length=1, max_length=64)]


class ErrorBody(BaseModel):
    """Every error answer (DESIGN part 1): a message for people and a stable code."""

    message: str
    code: str


ERRORS = {
    400: "Bad request (invalid JSON, an invalid or used link token, an invalid cursor)",
    401: "Missing, invalid, expired or revoked token; wrong credentials",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflict (username or e-mail taken, already verified)",
    422: "Invalid body or parameters; `weak_password` for a password the rule refuses",
    429: "Rate limited: see Retry-After",
}


def _responses(success: int, *errors: int) -> dict[int, OpenAPIResponse]:
    """The route's documented answers: its success (schema from the return type) and its errors."""
    answers: dict[int, OpenAPIResponse] = {success: {"description": "Success"}}
    for status in errors:
        answers[status] = {
            "description": ERRORS[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return answers


AddressId = Annotated[str, Path(min_length=1, max_length=64)]


def _client_address() -> str:
    return app.current_event.request_context.identity.source_ip or "unknown"


@app.post(
    "/auth/register",
    status_code=201,
    summary="Register a user",
    responses=_responses(201, 409, 422, 429),
    tags=["auth"],
)
def register(body: Annotated[RegisterRequest, Body()]) -> User:
    mail_counters.admit_client(_client_address())
    try:
        user = auth_service.register(body)
    except Conflict as exc:
        metrics.add_metric(name="RegistrationConflict", unit=MetricUnit.Count, value=1)
        logger.info("registration refused", extra={"code": exc.code})
        raise
    metrics.add_metric(name="UserRegistered", unit=MetricUnit.Count, value=1)
    logger.info("user registered", extra={"user_id": user.id})
    return user


@app.post(
    "/auth/login", summary="Log in: a bearer token", responses=_responses(200, 401, 422, 429), tags=["auth"]
)
def login(body: Annotated[LoginRequest, Body()]) -> TokenResponse:
    try:
        address = app.current_event.request_context.identity.source_ip or "unknown"
        token = auth_service.login(body.username, body.password, address=address)
    except Unauthorized:
        metrics.add_metric(name="LoginFailed", unit=MetricUnit.Count, value=1)
        raise
    except TooManyRequests:
        metrics.add_metric(name="LoginRateLimited", unit=MetricUnit.Count, value=1)
        logger.warning("login rate limited")
        raise
    metrics.add_metric(name="LoginSucceeded", unit=MetricUnit.Count, value=1)
    return token


@app.post(
    "/auth/refresh",
    summary="A new access token for the session's refresh token",
    responses=_responses(200, 401, 422),
    tags=["auth"],
)
def refresh(body: Annotated[RefreshRequest, Body()]) -> TokenResponse:
    try:
        return auth_service.refresh(body.refresh_token)
    except Unauthorized as exc:
        metrics.add_metric(name="RefreshRejected", unit=MetricUnit.Count, value=1)
        if exc.code == "refresh_token_reused":
            logger.warning("refresh token reused: session ended")
        raise


@app.post(
    "/auth/logout",
    status_code=204,
    summary="End the session of this refresh token",
    responses=_responses(204, 401, 422),
    tags=["auth"],
)
def logout(body: Annotated[RefreshRequest, Body()]) -> Response[None]:
    auth_sessions.logout(current_caller(app).user_id, body.refresh_token)
    return Response(status_code=204)


@app.put(
    "/auth/user/<user_id>/password",
    status_code=204,
    summary="Change your password (ends every session)",
    responses=_responses(204, 401, 403, 422),
    tags=["auth"],
)
def change_password(user_id: UserId, body: Annotated[PasswordChangeRequest, Body()]) -> Response[None]:
    if current_caller(app).user_id != user_id:
        raise Forbidden("You may only change your own password", code="forbidden")
    address = app.current_event.request_context.identity.source_ip or "unknown"
    auth_accounts.change_password(user_id, body.current_password, body.new_password, address=address)
    metrics.add_metric(name="PasswordChanged", unit=MetricUnit.Count, value=1)
    return Response(status_code=204)


@app.post(
    "/auth/password-reset",
    status_code=202,
    summary="E-mail a password reset link (202 whether or not the account exists)",
    responses=_responses(202, 422, 429),
    tags=["auth"],
)
def request_password_reset(body: Annotated[PasswordResetRequest, Body()]) -> Response[None]:
    mail_counters.admit_client(_client_address())
    auth_accounts.request_password_reset(body.email, send=mail_counters.may_mail_recipient(body.email))
    return Response(status_code=202)


@app.post(
    "/auth/password-reset/confirm",
    status_code=204,
    summary="Set a new password with a reset token (ends every session)",
    responses=_responses(204, 400, 422),
    tags=["auth"],
)
def confirm_password_reset(body: Annotated[PasswordResetConfirm, Body()]) -> Response[None]:
    auth_accounts.confirm_password_reset(body.token, body.new_password)
    metrics.add_metric(name="PasswordReset", unit=MetricUnit.Count, value=1)
    return Response(status_code=204)


@app.post(
    "/auth/verify-email",
    summary="Verify the e-mail address a link was sent to",
    responses=_responses(200, 400, 422),
    tags=["auth"],
)
def verify_email(body: Annotated[VerifyEmailRequest, Body()]) -> User:
    user_id = auth_accounts.verify_email(body.token)
    metrics.add_metric(name="EmailVerified", unit=MetricUnit.Count, value=1)
    return auth_service.read_user(user_id)


@app.post(
    "/auth/verify-email/resend",
    status_code=202,
    summary="Send the verification e-mail again (rate-limited)",
    responses=_responses(202, 401, 409, 429),
    tags=["auth"],
)
def resend_verification() -> Response[None]:
    mail_counters.admit_client(_client_address())
    auth_accounts.resend_verification(current_caller(app).user_id)
    return Response(status_code=202)


@app.post(
    "/auth/verify-token",
    summary="The bearer token's user, or 401",
    responses=_responses(200, 401),
    tags=["auth"],
)
def verify_token() -> TokenUser:
    # A public route that checks the token itself (signature, expiry, user still active).
    try:
        return auth_service.verify_token(app.current_event.headers.get("Authorization"))
    except Unauthorized as exc:
        metrics.add_metric(name="TokenRejected", unit=MetricUnit.Count, value=1)
        logger.info("token rejected", extra={"code": exc.code})
        raise


@app.get(
    "/auth/user/<user_id>",
    summary="A user (that user or an admin)",
    responses=_responses(200, 401, 403, 404),
    tags=["auth"],
)
def get_user(user_id: UserId) -> User:
    return auth_service.get_user(current_caller(app), user_id)


@app.get(
    "/auth/user/<user_id>/addresses",
    summary="A user's addresses (that user or an admin)",
    responses=_responses(200, 401, 403, 404),
    tags=["auth"],
)
def list_addresses(user_id: UserId) -> AddressList:
    return auth_service.list_addresses(current_caller(app), user_id)


@app.post(
    "/auth/user/<user_id>/addresses",
    status_code=201,
    summary="Add an address (that user)",
    responses=_responses(201, 401, 403, 404, 422),
    tags=["auth"],
)
def add_address(user_id: UserId, body: Annotated[AddressRequest, Body()]) -> Address:
    address = auth_service.add_address(current_caller(app), user_id, body)
    metrics.add_metric(name="AddressAdded", unit=MetricUnit.Count, value=1)
    return address


@app.patch(
    "/auth/user/<user_id>",
    summary="Change a user: names and e-mail (that user); is_active and role too (admin)",
    responses=_responses(200, 401, 403, 404, 409, 422),
    tags=["auth"],
)
def update_user(user_id: UserId, body: Annotated[UserPatch, Body()]) -> User:
    address = app.current_event.request_context.identity.source_ip or "unknown"
    return auth_profiles.update_user(current_caller(app), user_id, body, address=address)


@app.put(
    "/auth/user/<user_id>/addresses/<address_id>",
    summary="Change an address (that user)",
    responses=_responses(200, 401, 403, 404, 422),
    tags=["auth"],
)
def update_address(
    user_id: UserId, address_id: AddressId, body: Annotated[AddressRequest, Body()]
) -> Address:
    return auth_profiles.update_address(current_caller(app), user_id, address_id, body)


@app.delete(
    "/auth/user/<user_id>/addresses/<address_id>",
    status_code=204,
    summary="Delete an address (the newest remaining one becomes the default)",
    responses=_responses(204, 401, 403, 404),
    tags=["auth"],
)
def delete_address(user_id: UserId, address_id: AddressId) -> Response[None]:
    auth_profiles.delete_address(current_caller(app), user_id, address_id)
    return Response(status_code=204)


@app.get(
    "/auth/users",
    summary="Find users by username or e-mail prefix (admin)",
    responses=_responses(200, 400, 401, 403, 422),
    tags=["auth"],
)
def search_users(
    query: Annotated[str, Query(max_length=254)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next: Annotated[str | None, Query(max_length=2048)] = None,
) -> UserPage:
    return auth_profiles.search_users(current_caller(app), query, limit, next)


lambda_handler = api_handler(app, logger, metrics, tracer)

"""AuthFunction: the auth routes of the contract. Thin: parse (pydantic, through the resolver),
find the caller (the authorizer's context), call `auth_service`, count what matters."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit

import auth_service
from auth_service import AddressList, TokenUser
from shop_shared.api import api_handler, current_caller, make_resolver
from shop_shared.errors import Conflict, TooManyRequests, Unauthorized
from shop_shared.models import (
    Address,
    AddressRequest,
    LoginRequest,
    RegisterRequest,
    TokenResponse,
    User,
)
from shop_shared.observability import observability

logger, metrics, tracer = observability("auth")
app = make_resolver(logger)

UserId = Annotated[str, Path(min_length=1, max_length=64)]


@app.post("/auth/register", status_code=201, summary="Register a user", tags=["auth"])
def register(body: Annotated[RegisterRequest, Body()]) -> User:
    try:
        user = auth_service.register(body)
    except Conflict as exc:
        metrics.add_metric(name="RegistrationConflict", unit=MetricUnit.Count, value=1)
        logger.info("registration refused", extra={"code": exc.code})
        raise
    metrics.add_metric(name="UserRegistered", unit=MetricUnit.Count, value=1)
    logger.info("user registered", extra={"user_id": user.id})
    return user


@app.post("/auth/login", summary="Log in: a bearer token", tags=["auth"])
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


@app.post("/auth/verify-token", summary="The bearer token's user, or 401", tags=["auth"])
def verify_token() -> TokenUser:
    # A public route that checks the token itself (signature, expiry, user still active).
    try:
        return auth_service.verify_token(app.current_event.headers.get("Authorization"))
    except Unauthorized as exc:
        metrics.add_metric(name="TokenRejected", unit=MetricUnit.Count, value=1)
        logger.info("token rejected", extra={"code": exc.code})
        raise


@app.get("/auth/user/<user_id>", summary="A user (that user or an admin)", tags=["auth"])
def get_user(user_id: UserId) -> User:
    return auth_service.get_user(current_caller(app), user_id)


@app.get(
    "/auth/user/<user_id>/addresses", summary="A user's addresses (that user or an admin)", tags=["auth"]
)
def list_addresses(user_id: UserId) -> AddressList:
    return auth_service.list_addresses(current_caller(app), user_id)


@app.post(
    "/auth/user/<user_id>/addresses", status_code=201, summary="Add an address (that user)", tags=["auth"]
)
def add_address(user_id: UserId, body: Annotated[AddressRequest, Body()]) -> Address:
    address = auth_service.add_address(current_caller(app), user_id, body)
    metrics.add_metric(name="AddressAdded", unit=MetricUnit.Count, value=1)
    return address


lambda_handler = api_handler(app, logger, metrics, tracer)

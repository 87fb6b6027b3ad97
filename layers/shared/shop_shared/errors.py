"""Errors a client can be told about. Domain code raises these; `shop_shared.api` turns them into
the contract's JSON error responses: `{"message": ..., "code": ...}` with the right status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class EmailNotVerified(Forbidden):
    """Only a user whose e-mail address is verified may order (DESIGN "Accounts and sessions")."""

    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__("Verify your e-mail address before placing an order", code=self.code)


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class TooManyRequests(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, code=code, headers={"Retry-After": str(self.retry_after)})


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"

"""One error base class: every rejection carries a status, a machine-readable code and the field."""

from __future__ import annotations

from typing import Any


class BoomerangError(Exception):
    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field)

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(BoomerangError):
    status_code = 400
    code = "invalid_request"


class Unauthorized(BoomerangError):
    status_code = 401
    code = "unauthorized"


class Forbidden(BoomerangError):
    status_code = 403
    code = "forbidden"


class NotFound(BoomerangError):
    status_code = 404
    code = "not_found"


class PayloadTooLarge(BoomerangError):
    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(BoomerangError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}
